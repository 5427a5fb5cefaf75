/**
 * How a gold table or view is described, once, so the catalog (Glue), the local lake (DuckDB views) and the
 * docs agree. Tables are Hive-partitioned Parquet; views are SQL over silver/gold (VIRTUAL_VIEW in Glue). The
 * lake's own tables and views are defined per dataset in `datasets/` (e.g. `datasets/transactions/`).
 */
import type { TableColumn } from '../contract/schema.ts';
import type { MonthKey } from './months.ts';

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
  /**
   * Column of the source dataset that identifies one record across its versions (a re-send may move a record to
   * another month): an incremental refresh also rebuilds the months holding other versions of pending records.
   */
  recordKey: string;
  /** Columns a month's file is sorted by where the writer controls it (the local lake). @default unsorted */
  sortedBy?: readonly string[];
  /**
   * The SELECT that (re)computes the table for every month from `first` to `last`, partition keys last (the
   * order UNLOAD … partitioned_by and COPY … PARTITION_BY expect). It names tables `silver.<dataset>`.
   */
  buildSql(first: MonthKey, last: MonthKey): string;
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

/** Key prefix of one month's partition in the local lake (and the canonical S3 layout). */
export function goldPartitionPrefix(table: GoldTable, year: string, month: string): string {
  return `${table.locationPrefix}year=${year}/month=${month}/`;
}

/** Refresh bookkeeping lives beside the tables under `_state/` (Athena skips `_` names). */
export function goldStateKey(table: GoldTable): string {
  return `_state/${table.name}.json`;
}
