/**
 * SQL fragments shared by the gold build and the query files. Everything here is in the subset that
 * Athena engine v3 (Trino) and DuckDB run identically (see docs/analyst-guide.md).
 */
import type { MonthKey } from './months.ts';
import { sqlString } from '../sql.ts';

/**
 * "Latest ingest wins" for a record (e.g. a transaction_id): latest `ingested_at` (when the source landed in bronze), then
 * source_key/source_version so ties between two sources are decided the same way on every run, then the row's
 * own values so that two copies inside one file are resolved deterministically too.
 * NULLS LAST is spelled out: the engines' defaults for DESC are not guaranteed to agree.
 * The `.sql` files in queries/ repeat this ordering; a unit test keeps them in step with this constant.
 */
export function latestIngestOrder(alias: string): string {
  return ['ingested_at', 'source_key', 'source_version', 'transaction_timestamp', 'amount', 'account_id', 'currency']
    .map((c) => `${alias}.${c} DESC NULLS LAST`)
    .join(', ');
}

export { sqlString };

/**
 * A predicate on the string partition keys that both engines use to skip partitions: a year range (a plain
 * column domain, which every planner pushes down) and the exact month range on `year || '-' || month`.
 */
export function monthRangePredicate(alias: string, first: MonthKey, last: MonthKey): string {
  return (
    `${alias}.year BETWEEN ${sqlString(first.slice(0, 4))} AND ${sqlString(last.slice(0, 4))} ` +
    `AND ${alias}.year || '-' || ${alias}.month BETWEEN ${sqlString(first)} AND ${sqlString(last)}`
  );
}

/** `IN (…)` over month keys, for partition pruning on an explicit set of months. */
export function monthSetPredicate(alias: string, months: readonly MonthKey[]): string {
  return `${alias}.year || '-' || ${alias}.month IN (${months.map(sqlString).join(', ')})`;
}
