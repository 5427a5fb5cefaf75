/** Where a command writes: results to stdout, progress and warnings to stderr, each styled for its stream. */
import { Progress } from './ui/progress.ts';
import { colorWanted, makeStyle, type Style } from './ui/style.ts';

export interface Io {
  /** Styling for stdout. */
  style: Style;
  /** Styling for stderr. */
  errStyle: Style;
  /** A result: tables, summaries, JSON. */
  print(text: string): void;
  /** Status and warnings, kept out of stdout so `--json` output and pipes stay clean. */
  note(text: string): void;
  progress(unit?: 'bytes' | 'items'): Progress;
}

export function processIo(): Io {
  return {
    style: makeStyle(colorWanted(process.stdout)),
    errStyle: makeStyle(colorWanted(process.stderr)),
    print: (text) => void process.stdout.write(text),
    note: (text) => void process.stderr.write(text),
    progress: (unit) => new Progress({ stream: process.stderr, unit }),
  };
}
