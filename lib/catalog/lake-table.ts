import { RemovalPolicy, Stack } from 'aws-cdk-lib';
import * as glue from 'aws-cdk-lib/aws-glue';
import type * as s3 from 'aws-cdk-lib/aws-s3';
import { Construct } from 'constructs';
import type { TableColumn } from '../../engine/contract/index.ts';
import type { TableSpec } from './table-spec.ts';

export const PARQUET_SERDE = 'org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe';
export const PARQUET_INPUT_FORMAT = 'org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat';
export const PARQUET_OUTPUT_FORMAT = 'org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat';

const NAME = /^[a-z][a-z0-9_]*$/;

export interface LakeTableProps {
  readonly database: glue.IDatabase;
  readonly bucket: s3.IBucket;
  readonly spec: TableSpec;
  /**
   * What `cdk destroy` does to the table (and with it, its registered partitions).
   * @default RemovalPolicy.RETAIN
   */
  readonly removalPolicy?: RemovalPolicy;
}

/**
 * An external Parquet table (Hive SerDe, `EXTERNAL_TABLE`) over one prefix of a zone bucket.
 * Partitions are registered by whoever writes them; no crawler, no partition projection.
 */
export class LakeTable extends Construct {
  readonly tableName: string;
  /** Key prefix of the table's files in its bucket. */
  readonly locationPrefix: string;
  /** The bucket holding the table's files. */
  readonly bucket: s3.IBucket;
  readonly tableArn: string;

  constructor(scope: Construct, id: string, props: LakeTableProps) {
    super(scope, id);
    const { spec, database, bucket } = props;
    this.tableName = spec.name;
    this.bucket = bucket;
    this.locationPrefix = validateTableSpec(spec);

    const table = new glue.CfnTable(this, 'Resource', {
      catalogId: database.catalog.catalogId,
      databaseName: database.databaseName,
      tableInput: {
        name: spec.name,
        description: spec.description || undefined,
        tableType: 'EXTERNAL_TABLE',
        parameters: { classification: 'parquet', EXTERNAL: 'TRUE' },
        partitionKeys: (spec.partitionKeys ?? []).map(glueColumn),
        storageDescriptor: {
          columns: spec.columns.map(glueColumn),
          location: `s3://${bucket.bucketName}/${this.locationPrefix}`,
          inputFormat: PARQUET_INPUT_FORMAT,
          outputFormat: PARQUET_OUTPUT_FORMAT,
          serdeInfo: { serializationLibrary: PARQUET_SERDE, parameters: { 'serialization.format': '1' } },
          compressed: false,
          storedAsSubDirectories: false,
        },
      },
    });
    table.applyRemovalPolicy(props.removalPolicy ?? RemovalPolicy.RETAIN);
    this.tableArn = Stack.of(this).formatArn({
      service: 'glue',
      resource: 'table',
      resourceName: `${database.databaseName}/${spec.name}`,
    });
  }
}

function glueColumn(column: TableColumn): glue.CfnTable.ColumnProperty {
  return { name: column.name, type: column.hiveType, comment: column.comment || undefined };
}

/** Checks what Glue and Athena would reject or mangle; returns the table's location prefix. */
export function validateTableSpec(spec: TableSpec): string {
  const prefix = spec.locationPrefix ?? `${spec.name}/`;
  if (!NAME.test(spec.name)) throw new Error(`table name "${spec.name}" must be lower snake_case`);
  if (spec.columns.length === 0) throw new Error(`table ${spec.name} needs at least one column`);
  const names = [...spec.columns, ...(spec.partitionKeys ?? [])].map((c) => c.name);
  for (const name of names) {
    if (!NAME.test(name)) throw new Error(`column "${name}" of table ${spec.name} must be lower snake_case`);
  }
  const duplicate = names.find((n, i) => names.indexOf(n) !== i);
  if (duplicate) throw new Error(`column "${duplicate}" appears twice in table ${spec.name}`);
  if (!prefix.endsWith('/') || prefix.startsWith('/') || prefix.startsWith('_')) {
    throw new Error(
      `prefix "${prefix}" of table ${spec.name} must end in "/" and not start with "/" or "_" (Athena skips "_" paths)`,
    );
  }
  return prefix;
}
