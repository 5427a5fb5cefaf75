import type { ColumnContract, DatasetContract, ScalarType } from './types.ts';

/** A column of a table as the catalog (Glue/Hive) and the Parquet files see it. */
export interface TableColumn {
  name: string;
  /** Hive/Glue type string: `string`, `decimal(18,2)`, `timestamp`, `array<string>` … */
  hiveType: string;
  comment: string;
}

export function hiveType(type: ScalarType): string {
  switch (type.kind) {
    case 'decimal':
      return `decimal(${type.precision},${type.scale})`;
    default:
      return type.kind;
  }
}

/** DuckDB type written to Parquet. Timestamps are millisecond precision (what Athena's Hive tables read). */
export function duckdbType(type: ScalarType): string {
  switch (type.kind) {
    case 'string':
      return 'VARCHAR';
    case 'int':
      return 'INTEGER';
    case 'bigint':
      return 'BIGINT';
    case 'double':
      return 'DOUBLE';
    case 'decimal':
      return `DECIMAL(${type.precision},${type.scale})`;
    case 'boolean':
      return 'BOOLEAN';
    case 'date':
      return 'DATE';
    case 'timestamp':
      return 'TIMESTAMP_MS';
  }
}

/** Lineage columns appended to every silver row. */
export const LINEAGE_COLUMNS: readonly TableColumn[] = [
  { name: 'source_key', hiveType: 'string', comment: 'Bronze object key the row came from' },
  { name: 'source_version', hiveType: 'string', comment: 'Bronze object version id (or ETag when unversioned)' },
  {
    name: 'ingest_run_id',
    hiveType: 'string',
    comment: 'Deterministic id of the ingest run (source identity + contract version)',
  },
  { name: 'ingested_at', hiveType: 'timestamp', comment: 'When the source object landed in bronze (UTC)' },
  {
    name: 'contract_version',
    hiveType: 'string',
    comment:
      'Version of the dataset contract the row was validated with (NULL in files written before the column existed)',
  },
];

/** Columns of a quarantine table: one row per rejected record or file. */
export const QUARANTINE_COLUMNS: readonly TableColumn[] = [
  {
    name: 'dataset',
    hiveType: 'string',
    comment: 'Dataset the source belongs to (unknown_dataset when no contract owns the key)',
  },
  { name: 'source_bucket', hiveType: 'string', comment: 'Bronze bucket' },
  { name: 'source_key', hiveType: 'string', comment: 'Bronze object key' },
  { name: 'source_version', hiveType: 'string', comment: 'Bronze object version id or ETag' },
  { name: 'ingest_run_id', hiveType: 'string', comment: 'Ingest run id' },
  {
    name: 'record_number',
    hiveType: 'bigint',
    comment: '1-based data record number in the source (NULL for a whole-file rejection)',
  },
  { name: 'reasons', hiveType: 'array<string>', comment: 'Every reason code that applies' },
  { name: 'details', hiveType: 'array<string>', comment: 'Human-readable explanation per failed rule' },
  {
    name: 'raw_record',
    hiveType: 'string',
    comment:
      'Original field values as a JSON object keyed by source header, or the raw text of a malformed record (of one the reader rejects, its first 2,048 characters; details say when it was cut)',
  },
  { name: 'ingested_at', hiveType: 'timestamp', comment: 'When the source object landed in bronze (UTC)' },
];

/** Columns written to silver (PII `drop` columns are left out), without partition keys. */
export function silverColumns(contract: DatasetContract): TableColumn[] {
  return [
    ...contract.columns
      .filter((c) => c.pii !== 'drop')
      .map((c) => ({
        name: c.name,
        hiveType: c.pii === 'hash' ? 'string' : hiveType(c.type),
        comment: columnComment(c),
      })),
    ...LINEAGE_COLUMNS,
  ];
}

/** Partition keys: always `string`, as Athena recommends for Glue partitions. */
export function partitionColumns(contract: DatasetContract): TableColumn[] {
  return contract.partitionBy.map((p) => ({
    name: p.name,
    hiveType: 'string',
    comment: `${p.transform} of ${p.source} (UTC)`,
  }));
}

function columnComment(c: ColumnContract): string {
  const pii = c.pii === 'hash' ? ' [PII: SHA-256 hashed]' : '';
  return `${c.description}${pii}`.slice(0, 255);
}
