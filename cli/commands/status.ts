/** `lake status`: datasets, partitions, row counts, latest ingests, quarantine rate, freshness. */
import type { Command } from 'commander';
import type { Io } from '../io.ts';
import {
  addAwsOptions,
  addJsonOption,
  addLakeOption,
  type AwsOptions,
  type JsonOptions,
  type LakeOptions,
} from '../options.ts';

export function registerStatus(program: Command, io: Io): void {
  const command = program
    .command('status')
    .summary('datasets, partitions, row counts, latest ingests, quarantine rate, freshness')
    .description(
      "Show what the local lake holds: datasets and their partitions, row counts, the latest ingests, quarantine rates against the 1% alert threshold, freshness, and whether gold is up to date, and maintenance (erase, compact) that stopped part-way with the command that finishes it. With --aws: the deployed lake's unfinished maintenance and maintenance leases (the rest of its status is on the CloudWatch dashboard).",
    );
  addLakeOption(command);
  addJsonOption(command, 'the status');
  addAwsOptions(command);
  command.action(async (options: LakeOptions & JsonOptions & AwsOptions) =>
    (await import('../actions/status.ts')).statusAction(options, io),
  );
}
