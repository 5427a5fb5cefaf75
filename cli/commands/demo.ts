/** `lake demo`: the whole lake on this machine in seconds — generate, ingest, quarantine, gold, the answer. */
import type { Command } from 'commander';
import type { DemoOptions } from '../actions/demo.ts';
import type { Io } from '../io.ts';
import { addJsonOption, addLakeOption, addThreadsOption, positiveInteger } from '../options.ts';

export function registerDemo(program: Command, io: Io): void {
  const command = program
    .command('demo')
    .summary('a local lake with four months of transactions, in seconds, offline')
    .description(
      'Generate realistic transactions for January–April 2024 (several accounts, about 1% bad rows of every kind, two header styles, gzip, a late file with re-sent rows, a partner file missing a column), ingest them with the same engine as the AWS Lambda, and print the quarantine summary and the Q1 2024 month-end balances. Running it again changes nothing: ingestion is idempotent.',
    )
    .option('--fresh', 'delete the lake first and start from an empty one')
    .option('--rows <n>', 'transactions per month', positiveInteger('--rows'), 15_000)
    .option('--accounts <n>', 'number of accounts', positiveInteger('--accounts'), 8);
  addLakeOption(command);
  addThreadsOption(command);
  addJsonOption(command, 'a summary');
  command.action(async (options: DemoOptions) => (await import('../actions/demo.ts')).demoAction(options, io));
}
