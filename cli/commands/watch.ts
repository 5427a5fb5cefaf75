/** `lake watch DIR`: ingest files as they appear (the behaviour is in actions/watch.ts). */
import type { Command } from 'commander';
import type { WatchOptions } from '../actions/watch.ts';
import type { Io } from '../io.ts';
import { addJsonOption, addLakeOption, positiveInteger } from '../options.ts';

export function registerWatch(program: Command, io: Io): void {
  const command = program
    .command('watch')
    .summary('ingest files as they appear in a directory (local S3 events)')
    .description(
      'Watch a directory and ingest every file that appears in it (or in its subdirectories), like S3 events drive the ingest function in AWS. Files already there are ingested first, unless the lake already holds the same bytes. A file is taken once it has stopped changing. Stop with Ctrl-C.',
    )
    .argument('<dir>', 'the directory to watch (the landing zone)')
    .option('--dataset <name>', 'the dataset of the files (default: from folder names, or the only dataset)')
    .option('--interval <ms>', 'how often to look, in milliseconds', positiveInteger('--interval'), 1000)
    .option('--once', 'ingest what is there now, then exit (for cron jobs and scripts)');
  addLakeOption(command);
  addJsonOption(command, 'one manifest per line (JSON Lines)');
  command.action(async (dir: string, options: WatchOptions) => (await import('../actions/watch.ts')).watchAction(dir, options, io));
}
