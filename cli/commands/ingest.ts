/** `lake ingest <files|dirs…>`: bronze copy, silver Parquet, quarantine and manifest per file; gold refreshed. */
import type { Command } from 'commander';
import type { IngestOptions } from '../actions/ingest.ts';
import type { Io } from '../io.ts';
import { addAwsOptions, addJsonOption, addLakeOption, addThreadsOption, positiveInteger } from '../options.ts';

export function registerIngest(program: Command, io: Io): void {
  const command = program
    .command('ingest')
    .summary('ingest files: bronze copy, silver Parquet, quarantined bad rows')
    .description(
      'Ingest CSV (or .csv.gz) files. Each file is copied into bronze unchanged, its valid rows are written to silver as typed, partitioned Parquet, and bad rows go to quarantine with their reasons. Bad rows are not errors: the command succeeds and reports them. Re-ingesting the same file changes nothing.',
    )
    .argument('<paths...>', 'files or directories (read recursively; hidden and partial files are skipped)')
    .option(
      '--dataset <name>',
      'the dataset the files belong to (default: from a folder named after a dataset, or the only dataset)',
    );
  addLakeOption(command);
  addThreadsOption(command);
  addJsonOption(command, 'the manifests (one per file)');
  addAwsOptions(command);
  command
    .option('--wait', 'AWS mode: wait for the ingest Lambda to finish and report its manifest')
    .option('--timeout <seconds>', 'AWS mode: how long --wait waits', positiveInteger('--timeout'), 300)
    .addHelpText(
      'after',
      `
Where files go:
  a file argument         <dataset prefix><file name>          e.g. transactions/2024-01.csv
  a directory argument    <dataset prefix><path inside it>     e.g. transactions/2024/01/export.csv

Examples:
  $ npx lake ingest transactions-2024-01.csv
  $ npx lake ingest ./landing --dataset transactions --json | jq '.[].rows_quarantined'`,
    )
    .action(async (paths: string[], options: IngestOptions) =>
      (await import('../actions/ingest.ts')).ingestAction(paths, options, io),
    );
}
