/** gold.transactions_latest: the transactions dataset deduplicated (a view, no files). */
import type { TableColumn } from '../../engine/contract/index.ts';
import { latestIngestOrder, type GoldView } from '../../engine/gold/index.ts';

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
