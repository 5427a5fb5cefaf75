/** `lake watch DIR`: ingest files as they appear (the behaviour is in actions/watch.ts). */
import type { Command } from 'commander';
import type { WatchOptions } from '../actions/watch.ts';
import type { Io } from '../io.ts';
import { addJsonOption, addLakeOption, addThreadsOption, nonNegativeInteger, positiveInteger } from '../options.ts';

/** Clearly longer than the poll interval (1 s): a writer pausing between two polls does not get its file taken. */
export const DEFAULT_QUIET_PERIOD_MS = 5000;

export function registerWatch(program: Command, io: Io): void {
  const command = program
    .command('watch')
    .summary('ingest files as they appear in a directory (local S3 events)')
    .description(
      'Watch a directory and ingest every file that appears in it (or in its subdirectories), like S3 events drive the ingest function in AWS. Files already there are ingested first, unless the lake already holds the same bytes. A file is taken once its size and modification time have not changed for the quiet period; producers should write NAME.part (or NAME.tmp, never looked at) and rename it to NAME when complete. Stop with Ctrl-C.',
    )
    .argument('<dir>', 'the directory to watch (the landing zone)')
    .option('--dataset <name>', 'the dataset of the files (default: from folder names, or the only dataset)')
    .option('--interval <ms>', 'how often to look, in milliseconds', positiveInteger('--interval'), 1000)
    .option(
      '--quiet-period <ms>',
      'take a file once it has not changed for this long, in milliseconds',
      nonNegativeInteger('--quiet-period'),
      DEFAULT_QUIET_PERIOD_MS,
    )
    .option(
      '--once',
      'ingest what is there now, then exit (for cron jobs and scripts); files changed within the quiet period are left for the next run',
    );
  addLakeOption(command);
  addThreadsOption(command);
  addJsonOption(command, 'one manifest per line (JSON Lines)');
  command.action(async (dir: string, options: WatchOptions) =>
    (await import('../actions/watch.ts')).watchAction(dir, options, io),
  );
}
