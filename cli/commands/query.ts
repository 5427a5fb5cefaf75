/** `lake query`: analyst SQL over the lake, locally with DuckDB or on Athena, with the same table names. */
import type { Command } from 'commander';
import type { QueryOptions } from '../actions/query.ts';
import type { Io } from '../io.ts';
import { Option } from 'commander';
import { addAwsOptions, addFormatOption, addLakeOption, positiveInteger } from '../options.ts';

export function registerQuery(program: Command, io: Io): void {
  const command = program
    .command('query')
    .summary('run SQL over the lake (silver.*, gold.*, quarantine.*)')
    .description(
      "Run SQL over the lake. Tables have the names analysts use in Athena: silver.<dataset>, gold.<table>, quarantine.<dataset>. Locally DuckDB reads the lake directory; with --aws the query runs in the deployed lake's analysts workgroup.",
    )
    .argument('[sql]', 'the SQL (or use --sql / --file)')
    .option('--sql <sql>', 'the SQL to run')
    .option('-f, --file <file>', 'a query file: a path, or the name of one in queries/ (see --list)')
    .option(
      '-p, --param <name=value>',
      'a parameter of the query file (repeatable)',
      (v: string, all: string[]) => [...all, v],
      [] as string[],
    )
    .option('--list', 'list the query files in queries/ and their parameters')
    .option(
      '--max-rows <n>',
      'rows a table shows at most (csv and json always give all)',
      positiveInteger('--max-rows'),
      1000,
    );
  addFormatOption(command);
  addLakeOption(command);
  addAwsOptions(command);
  command.addOption(
    new Option('--workgroup <name>', 'Athena workgroup (default: analysts, or what the query file declares)')
      .choices(['analysts', 'platform'])
      .helpGroup('AWS mode:'),
  );
  command
    .addHelpText(
      'after',
      `
Examples:
  $ npx lake query "SELECT year, month, count(*) AS n FROM silver.transactions GROUP BY ALL ORDER BY ALL"
  $ npx lake query --file month_end_balances --param from_month=2024-01 --param to_month=2024-03
  $ npx lake query --file dq_quarantine_rate_by_reason --format csv > rates.csv
  $ npx lake query --aws --stack MedallionLake-dev --file month_end_balances`,
    )
    .action(async (positional: string | undefined, options: QueryOptions) =>
      (await import('../actions/query.ts')).queryAction(positional, options, io),
    );
}
