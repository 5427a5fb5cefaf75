/** The end of the demo: where the files are, and what to try next. */
import { join } from 'node:path';
import type { LocalLake } from '../local/lake.ts';
import { displayPath, lakeFlag } from '../local/lake-dir.ts';
import type { Style } from '../ui/style.ts';
import { renderPairs } from '../ui/table.ts';

export function whereThingsAre(lake: LocalLake, style: Style, indent: string): string {
  const dir = (zone: 'bronze' | 'silver' | 'gold' | 'quarantine', key: string) =>
    `${displayPath(lake.zonePath(zone, key))}/`;
  return renderPairs(
    [
      [dir('bronze', 'transactions'), 'the source files exactly as received (raw input is never changed)'],
      [dir('silver', 'transactions'), 'typed Parquet, partitioned year=/month='],
      [dir('silver', '_manifests'), 'one manifest per ingest: counts, reasons, lineage'],
      [dir('quarantine', 'transactions'), 'rejected rows (records/) and rejected files (files/)'],
      [dir('gold', 'account_monthly_balance'), 'balance per account and month'],
      [displayPath(join(lake.dir, 'catalog.json')), 'registered partitions (the local Glue catalog)'],
      [displayPath(lake.events.path('transactions')), 'one event per ingest, as EventBridge would deliver it'],
    ],
    { style, indent },
  );
}

export function tryNext(lake: LocalLake, style: Style, indent: string): string {
  const at = lakeFlag(lake.dir);
  return [
    `npx lake status${at}`,
    `npx lake quarantine${at} --reason INVALID_TIMESTAMP`,
    `npx lake query${at} --file month_end_balances --param to_month=2024-04`,
    `npx lake query${at} "SELECT currency, count(*) AS n, sum(amount) AS total FROM silver.transactions GROUP BY currency ORDER BY n DESC"`,
    `npx lake replay${at}             ${style.dim('# re-ingest bronze: same rows, no duplicates')}`,
    `npx lake watch ./landing${at}    ${style.dim('# then drop CSV files into ./landing')}`,
    'npx lake --help',
  ]
    .map((line) => `${indent}${line}\n`)
    .join('');
}
