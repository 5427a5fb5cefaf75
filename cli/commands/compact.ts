/** `lake compact`: rewrite partitions of many small silver files as few larger ones (the behaviour is in actions/compact.ts). */
import type { Command } from 'commander';
import type { CompactCommandOptions } from '../actions/compact.ts';
import type { Io } from '../io.ts';
import { addAwsOptions, addJsonOption, addLakeOption } from '../options.ts';

export function registerCompact(program: Command, io: Io): void {
  const command = program
    .command('compact')
    .summary('rewrite partitions of many small silver files as few files of a target size')
    .description(
      'Compact silver: in each partition, the files of finished ingests are grouped up to the target size and each group is rewritten as one file holding exactly the same rows (checked with EXCEPT ALL both ways before anything is switched), lineage columns included. Manifests are repointed at the new files. Compacted files are not compacted again, so running it twice changes nothing. An ingest that rewrites an input meanwhile wins: that group is left as it was.',
    )
    .option('--dataset <name>', 'only this dataset (default: every dataset)')
    .option('--partition <path>', 'only this partition, e.g. year=2024/month=01 (needs --dataset)')
    .option('--target-size <size>', 'about how large a compacted file may grow: 128MB, 512MiB, 1GB or bytes', '128MB')
    .option('--dry-run', 'show the groups that would be compacted, change nothing');
  addLakeOption(command);
  addJsonOption(command, 'the compaction report');
  addAwsOptions(command);
  command.addHelpText(
    'after',
    `
Examples:
  $ npx lake compact --dry-run
  $ npx lake compact --dataset transactions --partition year=2024/month=01 --target-size 256MB`,
  );
  command.action(async (options: CompactCommandOptions) =>
    (await import('../actions/compact.ts')).compactAction(options, io),
  );
}
