/**
 * What the gold layer holds, described once so the catalog (Glue), the local lake (DuckDB views) and the docs
 * agree. Tables are Hive-partitioned Parquet; views are SQL over silver/gold (VIRTUAL_VIEW in Glue).
 */
import type { TableColumn } from '../contract/schema.ts';
import { latestIngestOrder } from './sql.ts';

export interface GoldTable {
  /** Database qualifier used in SQL (`gold.<name>`); on AWS the stage's gold Glue database. */
  database: 'gold';
  name: string;
  description: string;
  /** Silver dataset the table is built from. */
  sourceDataset: string;
  /** Data columns, in file order (partition keys are not stored in the files). */
  columns: readonly TableColumn[];
  /** Hive partition keys, typed `string` like silver's. */
  partitionKeys: readonly TableColumn[];
  /** Prefix of the table inside the gold zone. */
  locationPrefix: string;
  /** Bump when the build SQL changes what a row holds: the next refresh is then a full rebuild. */
  buildVersion: string;
}

export interface GoldView {
  database: 'gold';
  name: string;
  description: string;
  /** Silver dataset the view reads. */
  sourceDataset: string;
  /** Output columns (Hive types, for the Glue table's storage descriptor and the Presto view definition). */
  columns: readonly TableColumn[];
  /** The view body, naming tables `silver.<dataset>` / `gold.<table>` (rewrite to Glue database names on AWS). */
  sql: string;
}

const MONTH_KEYS: readonly TableColumn[] = [
  { name: 'year', hiveType: 'string', comment: 'Calendar year of the balance month (UTC), e.g. 2024' },
  { name: 'month', hiveType: 'string', comment: 'Calendar month of the balance month (UTC), zero-padded, e.g. 01' },
];

export const ACCOUNT_MONTHLY_BALANCE: GoldTable = {
  database: 'gold',
  name: 'account_monthly_balance',
  description:
    'One row per account per month, from the account’s first month with a transaction to the latest month in silver ' +
    '(months without activity carry the balance forward). Built from deduplicated silver.transactions (latest ingest wins).',
  sourceDataset: 'transactions',
  columns: [
    { name: 'account_id', hiveType: 'string', comment: 'Account the balance belongs to' },
    { name: 'net_flow', hiveType: 'decimal(38,2)', comment: 'Sum of the month’s transaction amounts (0 in a month without activity)' },
    { name: 'txn_count', hiveType: 'bigint', comment: 'Number of distinct transactions in the month' },
    { name: 'closing_balance', hiveType: 'decimal(38,2)', comment: 'Balance at the end of the month: all transactions up to and including it' },
    { name: 'first_txn_month', hiveType: 'string', comment: 'YYYY-MM of the account’s first transaction' },
    { name: 'last_txn_month', hiveType: 'string', comment: 'YYYY-MM of the account’s latest transaction up to this month' },
  ],
  partitionKeys: MONTH_KEYS,
  locationPrefix: 'account_monthly_balance/',
  buildVersion: '1',
};

const TRANSACTIONS_LATEST_COLUMNS: readonly TableColumn[] = [
  { name: 'transaction_id', hiveType: 'string', comment: 'Producer’s transaction identifier (unique in this view)' },
  { name: 'account_id', hiveType: 'string', comment: 'Account the transaction belongs to' },
  { name: 'amount', hiveType: 'decimal(18,2)', comment: 'Signed amount: credits positive, debits negative' },
  { name: 'currency', hiveType: 'string', comment: 'ISO-4217 currency code' },
  { name: 'transaction_timestamp', hiveType: 'timestamp', comment: 'When the transaction was booked (UTC)' },
  { name: 'source_key', hiveType: 'string', comment: 'Bronze object key of the winning version' },
  { name: 'source_version', hiveType: 'string', comment: 'Bronze object version of the winning version' },
  { name: 'ingest_run_id', hiveType: 'string', comment: 'Ingest run of the winning version' },
  { name: 'ingested_at', hiveType: 'timestamp', comment: 'When the winning version landed in bronze (UTC)' },
  { name: 'year', hiveType: 'string', comment: 'Partition year of the winning version' },
  { name: 'month', hiveType: 'string', comment: 'Partition month of the winning version' },
];

export const TRANSACTIONS_LATEST: GoldView = {
  database: 'gold',
  name: 'transactions_latest',
  sourceDataset: 'transactions',
  description:
    'silver.transactions deduplicated: one row per transaction_id, the latest ingest wins. Reads all silver partitions ' +
    '(a later re-send may move a transaction to another month), so filter on year/month does not prune: prefer ' +
    'queries/deduplicated_transactions.sql for a month range.',
  columns: TRANSACTIONS_LATEST_COLUMNS,
  sql: [
    'SELECT r.transaction_id, r.account_id, r.amount, r.currency, r.transaction_timestamp,',
    '       r.source_key, r.source_version, r.ingest_run_id, r.ingested_at, r.year, r.month',
    'FROM (',
    '  SELECT t.transaction_id, t.account_id, t.amount, t.currency, t.transaction_timestamp,',
    '         t.source_key, t.source_version, t.ingest_run_id, t.ingested_at, t.year, t.month,',
    `         ROW_NUMBER() OVER (PARTITION BY t.transaction_id ORDER BY ${latestIngestOrder('t')}) AS version_rank`,
    '  FROM silver.transactions t',
    ') r',
    'WHERE r.version_rank = 1',
  ].join('\n'),
};

export const GOLD_TABLES: readonly GoldTable[] = [ACCOUNT_MONTHLY_BALANCE];
export const GOLD_VIEWS: readonly GoldView[] = [TRANSACTIONS_LATEST];

/** Key prefix of one month's partition in the local lake (and the canonical S3 layout). */
export function goldPartitionPrefix(table: GoldTable, year: string, month: string): string {
  return `${table.locationPrefix}year=${year}/month=${month}/`;
}

/** Refresh bookkeeping lives beside the tables under `_state/` (Athena skips `_` names). */
export function goldStateKey(table: GoldTable): string {
  return `_state/${table.name}.json`;
}
