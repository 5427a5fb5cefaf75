/** `lake status`: datasets, partitions, row counts, latest ingests, quarantine rate, freshness. */
import type { Command } from 'commander';
import type { Io } from '../io.ts';
import { addJsonOption, addLakeOption, type JsonOptions, type LakeOptions } from '../options.ts';

export function registerStatus(program: Command, io: Io): void {
  const command = program
    .command('status')
    .summary('datasets, partitions, row counts, latest ingests, quarantine rate, freshness')
    .description(
      'Show what the local lake holds: datasets and their partitions, row counts, the latest ingests, quarantine rates against the 1% alert threshold, freshness, and whether gold is up to date.',
    );
  addLakeOption(command);
  addJsonOption(command, 'the status');
  command.action(async (options: LakeOptions & JsonOptions) =>
    (await import('../actions/status.ts')).statusAction(options, io),
  );
}
