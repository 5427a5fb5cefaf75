import {
  type DatasetContract,
  partitionColumns,
  QUARANTINE_COLUMNS,
  quarantineRecordsPrefix,
  silverColumns,
  silverTablePrefix,
  type TableColumn,
  UNKNOWN_DATASET,
} from '../../engine/contract/index.ts';

/** The zones that have a Glue database. */
export type CatalogZone = 'silver' | 'gold' | 'quarantine';

/** A Parquet table in one zone's bucket, as the Glue Data Catalog should describe it. */
export interface TableSpec {
  /** Table name, lower snake_case (Athena lower-cases names). */
  readonly name: string;
  /**
   * Description shown in Glue and Athena.
   * @default - none
   */
  readonly description?: string;
  readonly columns: readonly TableColumn[];
  /**
   * Partition keys, typed `string` (registered explicitly, never by a crawler or projection).
   * @default - unpartitioned
   */
  readonly partitionKeys?: readonly TableColumn[];
  /**
   * Key prefix of the table's files in its zone's bucket. Must end in `/` and must not overlap another
   * table's prefix in the same zone.
   * @default `<name>/`
   */
  readonly locationPrefix?: string;
}

/** The silver table of a dataset: the contract's columns (PII handled) plus lineage, partitioned as declared. */
export function silverTableSpec(contract: DatasetContract): TableSpec {
  return {
    name: contract.name,
    description: contract.description,
    columns: silverColumns(contract),
    partitionKeys: partitionColumns(contract),
    locationPrefix: silverTablePrefix(contract.name),
  };
}

/** The quarantine table of a dataset: one row per rejected record or file, unpartitioned. */
export function quarantineTableSpec(contract: DatasetContract): TableSpec {
  return {
    name: contract.name,
    description: `Rejected records and files of ${contract.name}, with every reason`,
    columns: QUARANTINE_COLUMNS,
    locationPrefix: quarantineRecordsPrefix(contract.name),
  };
}

/** The quarantine table of files no dataset contract owns: one row per file, reason `UNKNOWN_DATASET`. */
export function unknownDatasetTableSpec(): TableSpec {
  return {
    name: UNKNOWN_DATASET,
    description:
      'Bronze files under a prefix no dataset contract owns (UNKNOWN_DATASET), one row per file; the file itself is kept under unknown_dataset/files/',
    columns: QUARANTINE_COLUMNS,
    locationPrefix: quarantineRecordsPrefix(UNKNOWN_DATASET),
  };
}
