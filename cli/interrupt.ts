/**
 * Ctrl-C: commands register what must happen before the process ends (cancel an Athena query, finish the
 * file being ingested). A second Ctrl-C ends the process at once.
 */
import { ExitCode } from './errors.ts';

type Handler = () => Promise<void> | void;

const handlers = new Set<Handler>();
let interrupted = false;

export function onInterrupt(handler: Handler): () => void {
  handlers.add(handler);
  return () => handlers.delete(handler);
}

/**
 * Installs the SIGINT/SIGTERM handling: with no handler registered the process ends at once (130); otherwise
 * the handlers run and the command ends itself (watch finishes its file and exits 0).
 */
export function installInterruptHandling(note: (text: string) => void): void {
  const onSignal = (signal: NodeJS.Signals) => {
    if (interrupted) process.exit(ExitCode.INTERRUPTED);
    interrupted = true;
    const pending = [...handlers];
    if (pending.length === 0) {
      note(`\ninterrupted (${signal})\n`);
      process.exit(ExitCode.INTERRUPTED);
    }
    void Promise.allSettled(pending.map(async (h) => h()));
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
}
