/** `lake erase`: remove a person's rows (right to be forgotten) from silver, quarantine and gold (the behaviour is in actions/erase.ts). */
import { Option, type Command } from 'commander';
import type { AwsEraseOptions } from '../aws/maintenance.ts';
import type { Io } from '../io.ts';
import { addAwsOptions, addJsonOption, addLakeOption } from '../options.ts';

export function registerErase(program: Command, io: Io): void {
  const command = program
    .command('erase')
    .summary('erase the rows matching <column> = <value> (right to be forgotten)')
    .description(
      'Remove every silver and quarantine row of a dataset where one contract column equals a value, rewrite the files that held them (never deleting one before its replacement exists), recompute the gold months they fed, and write an erasure record (who, when, the predicate with its value hashed, files rewritten, rows removed per source) to silver/_audit/erasures/. For a hash PII column give the raw value: it is hashed with the lake salt as the ingest does. Bronze is not rewritten (see docs/runbook.md, "Erasure requests").',
    )
    .requiredOption('--dataset <name>', 'the dataset')
    .requiredOption(
      '--where <predicate>',
      `"<column> = <value>": one contract column, one value (quote a value with spaces: "email = 'a b'")`,
    )
    .option('--dry-run', 'show what would be removed, change nothing')
    .option(
      '--requested-by <who>',
      'who asked for the erasure, for the record (default: your user name and host; AWS mode: your AWS identity)',
    );
  addLakeOption(command);
  addJsonOption(command, 'the erasure record');
  addAwsOptions(command);
  command.addOption(
    new Option(
      '--pii-salt-secret <arn>',
      "AWS mode: the PII salt secret (the ingest function's PII_SALT_SECRET_ARN), to erase by a hash PII column",
    )
      .env('LAKE_PII_SALT_SECRET')
      .helpGroup('AWS mode:'),
  );
  command.addHelpText(
    'after',
    `
Examples:
  $ npx lake erase --dataset transactions --where "account_id = 'ACC001'" --dry-run
  $ npx lake erase --dataset transactions --where "account_id = 'ACC001'" --requested-by "ticket DPO-42"`,
  );
  command.action(async (options: AwsEraseOptions) => (await import('../actions/erase.ts')).eraseAction(options, io));
}
