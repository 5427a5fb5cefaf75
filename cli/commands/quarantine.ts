/** `lake quarantine`: what was rejected and why — a summary, or the rejected rows themselves. */
import type { Command } from 'commander';
import type { QuarantineOptions } from '../actions/quarantine.ts';
import type { Io } from '../io.ts';
import { addAwsOptions, addFormatOption, addLakeOption, positiveInteger } from '../options.ts';

export function registerQuarantine(program: Command, io: Io): void {
  const command = program
    .command('quarantine')
    .summary('browse rejected rows and files, and why they were rejected')
    .description(
      'Browse what ingestion rejected. Without filters: rejected rows by reason and by source, and the files rejected whole. With --reason or --source (or --rows): the rejected rows themselves, with the original record and an explanation per failed rule.',
    )
    .option('--reason <code>', 'only rows rejected for this reason (e.g. INVALID_AMOUNT)')
    .option('--source <key>', 'only rows from this source (its bronze key, or the file name)')
    .option('--dataset <name>', 'only this dataset (default: all)')
    .option('--rows', 'list rejected rows even without --reason/--source')
    .option('--limit <n>', 'rows to list at most', positiveInteger('--limit'), 20);
  addFormatOption(command);
  addLakeOption(command);
  addAwsOptions(command);
  command
    .addHelpText(
      'after',
      `
Examples:
  $ npx lake quarantine
  $ npx lake quarantine --reason INVALID_TIMESTAMP --limit 5
  $ npx lake quarantine --source transactions/2024-01.csv --format csv > rejected.csv`,
    )
    .action(async (options: QuarantineOptions) =>
      (await import('../actions/quarantine.ts')).quarantineAction(options, io),
    );
}
