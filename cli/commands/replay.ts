/** `lake replay`: re-ingest bronze objects (the behaviour is in actions/replay.ts). */
import type { Command } from 'commander';
import type { ReplayOptions } from '../actions/replay.ts';
import type { Io } from '../io.ts';
import { addAwsOptions, addJsonOption, addLakeOption, addThreadsOption } from '../options.ts';

export function registerReplay(program: Command, io: Io): void {
  const command = program
    .command('replay')
    .summary('re-ingest bronze objects (idempotent: no duplicates)')
    .description(
      'Re-ingest objects that are already in bronze, e.g. after fixing a contract or the engine, or after a failure. Each object keeps its identity (key and version), so its outputs are rewritten in place: replaying never duplicates rows. In AWS mode the objects are re-announced to the ingest queue.',
    )
    .option('--prefix <prefix>', 'only bronze keys starting with this (e.g. transactions/2024-)')
    .option('--since <when>', 'only objects that landed at or after this time (2024-05-01, 2024-05-01T12:00Z, 2h, 3d)')
    .option('--dataset <name>', "only this dataset's bronze prefix")
    .option('--dry-run', 'list what would be replayed, change nothing');
  addLakeOption(command);
  addThreadsOption(command);
  addJsonOption(command, 'the manifests');
  addAwsOptions(command);
  command.action(async (options: ReplayOptions) => (await import('../actions/replay.ts')).replayAction(options, io));
}
