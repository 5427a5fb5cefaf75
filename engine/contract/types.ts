/**
 * A dataset contract: the single source of truth for one dataset.
 * Validation, the Parquet schema, the Glue table, the data dictionary and the tests derive from it.
 */

export type ScalarType =
  | { kind: 'string' }
  | { kind: 'int' }
  | { kind: 'bigint' }
  | { kind: 'double' }
  | { kind: 'decimal'; precision: number; scale: number }
  | { kind: 'boolean' }
  | { kind: 'date' }
  | { kind: 'timestamp' };

/** How a column is treated because it holds personal data. */
export type PiiClass = 'none' | 'hash' | 'drop';

export interface ColumnChecks {
  /** The value must be one of these (exact, case-sensitive). */
  allowedValues?: string[];
  /** The raw value must fully match this regular expression (RE2 syntax). */
  pattern?: string;
  /** Inclusive bounds on the typed value (numbers, or ISO dates/timestamps for temporal columns). */
  min?: number | string;
  max?: number | string;
  /** Maximum length in characters of a string value. */
  maxLength?: number;
}

export interface ColumnContract {
  /** Silver name: lower snake_case. */
  name: string;
  type: ScalarType;
  /** The declared type as written in the contract file, e.g. `decimal(18,2)`. */
  typeText: string;
  required: boolean;
  /** Source header names that map to this column (the name itself always matches). */
  aliases: string[];
  checks: ColumnChecks;
  pii: PiiClass;
  /** Reason code used when the value is present but fails its type or checks. */
  invalidReason: string;
  description: string;
}

export type PartitionTransform = 'year' | 'month' | 'day' | 'identity';

export interface PartitionField {
  /** Partition key name as it appears in Hive paths (`year=2024`). */
  name: string;
  /** The column it is derived from. */
  source: string;
  transform: PartitionTransform;
}

export type SourceFormat = 'csv' | 'jsonl';

export interface SourceSpec {
  format: SourceFormat;
  /** CSV only. @default ',' */
  delimiter: string;
}

export interface DatasetContract {
  name: string;
  version: string;
  description: string;
  owner: string;
  /** Bronze key prefix this dataset owns, e.g. `transactions/`. */
  bronzePrefix: string;
  source: SourceSpec;
  columns: ColumnContract[];
  partitionBy: PartitionField[];
  /** Path of the file the contract was loaded from (for error messages). */
  file: string;
}
