/** gold.account_monthly_balance: the monthly per-account balance of the transactions dataset. */
import type { TableColumn } from '../../engine/contract/index.ts';
import {
  latestIngestOrder,
  monthPartition,
  monthRange,
  sqlString,
  type GoldTable,
  type MonthKey,
} from '../../engine/gold/index.ts';

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
    {
      name: 'net_flow',
      hiveType: 'decimal(38,2)',
      comment: 'Sum of the month’s transaction amounts (0 in a month without activity)',
    },
    { name: 'txn_count', hiveType: 'bigint', comment: 'Number of distinct transactions in the month' },
    {
      name: 'closing_balance',
      hiveType: 'decimal(38,2)',
      comment: 'Balance at the end of the month: all transactions up to and including it',
    },
    { name: 'first_txn_month', hiveType: 'string', comment: 'YYYY-MM of the account’s first transaction' },
    {
      name: 'last_txn_month',
      hiveType: 'string',
      comment: 'YYYY-MM of the account’s latest transaction up to this month',
    },
  ],
  partitionKeys: MONTH_KEYS,
  locationPrefix: 'account_monthly_balance/',
  buildVersion: '1',
  recordKey: 'transaction_id',
  sortedBy: ['account_id'],
  buildSql: accountMonthlyBalanceSql,
};

/**
 * Rows of `gold.account_monthly_balance` for every month from `first` to `last`, partition keys last (the
 * order UNLOAD … partitioned_by and COPY … PARTITION_BY expect).
 *
 * Deduplication is global (a re-send may move a transaction to another month), so this reads the narrow
 * dedup columns of every silver partition; what it writes is limited to the requested months. Opening
 * balances are recomputed from silver rather than read from the previous gold month, so a refresh never
 * carries forward an earlier wrong figure.
 */
function accountMonthlyBalanceSql(first: MonthKey, last: MonthKey): string {
  const months = monthRange(first, last);
  const values = months
    .map((k) => {
      const { year, month } = monthPartition(k);
      return `(${sqlString(year)}, ${sqlString(month)})`;
    })
    .join(', ');
  const zero = 'CAST(0 AS decimal(38,2))';
  return `WITH ranked AS (
  SELECT t.account_id, t.amount, t.year || '-' || t.month AS month_key,
         ROW_NUMBER() OVER (PARTITION BY t.transaction_id ORDER BY ${latestIngestOrder('t')}) AS version_rank
  FROM silver.transactions t
),
activity AS (
  SELECT r.account_id, r.month_key, CAST(SUM(r.amount) AS decimal(38,2)) AS net_flow, COUNT(*) AS txn_count
  FROM ranked r
  WHERE r.version_rank = 1 AND r.month_key <= ${sqlString(last)}
  GROUP BY r.account_id, r.month_key
),
accounts AS (
  SELECT a.account_id,
         MIN(a.month_key) AS first_txn_month,
         CAST(SUM(CASE WHEN a.month_key < ${sqlString(first)} THEN a.net_flow ELSE ${zero} END) AS decimal(38,2)) AS opening_balance,
         MAX(CASE WHEN a.month_key < ${sqlString(first)} THEN a.month_key END) AS last_txn_month_before
  FROM activity a
  GROUP BY a.account_id
),
target_months (year, month) AS (VALUES ${values}),
grid AS (
  SELECT ac.account_id, ac.first_txn_month, ac.opening_balance, ac.last_txn_month_before,
         m.year, m.month, m.year || '-' || m.month AS month_key
  FROM accounts ac
  CROSS JOIN target_months m
  WHERE ac.first_txn_month <= (m.year || '-' || m.month)
),
filled AS (
  SELECT g.account_id, g.first_txn_month, g.opening_balance, g.last_txn_month_before, g.year, g.month, g.month_key,
         COALESCE(a.net_flow, ${zero}) AS net_flow,
         COALESCE(a.txn_count, CAST(0 AS bigint)) AS txn_count,
         a.month_key AS active_month
  FROM grid g
  LEFT JOIN activity a ON a.account_id = g.account_id AND a.month_key = g.month_key
)
SELECT f.account_id,
       f.net_flow,
       f.txn_count,
       CAST(f.opening_balance + SUM(f.net_flow) OVER (
         PARTITION BY f.account_id ORDER BY f.month_key ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS decimal(38,2)) AS closing_balance,
       f.first_txn_month,
       COALESCE(MAX(f.active_month) OVER (
         PARTITION BY f.account_id ORDER BY f.month_key ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW), f.last_txn_month_before) AS last_txn_month,
       f.year,
       f.month
FROM filled f`;
}
