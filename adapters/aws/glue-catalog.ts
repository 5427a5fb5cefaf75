import {
  BatchCreatePartitionCommand,
  BatchUpdatePartitionCommand,
  GetPartitionsCommand,
  GetTableCommand,
  type Column,
  type GlueClient,
  type Partition,
  type PartitionInput,
  type StorageDescriptor,
} from '@aws-sdk/client-glue';
import type { Catalog, PartitionSpec } from '../../engine/contract/index.ts';
import { awsErrorCode, describeAwsError, isTransientError } from './aws-errors.ts';
import { withBackoff, type BackoffPolicy } from './retry.ts';

/** Glue's limit of partitions per BatchCreatePartition request. */
export const PARTITION_BATCH_SIZE = 100;

/** Per-partition error codes in a Batch{Create,Update,Delete}Partition response that a later attempt can clear. */
export const RETRYABLE_ENTRY_CODES = new Set([
  'ThrottlingException',
  'InternalServiceException',
  'OperationTimeoutException',
  'ConcurrentModificationException',
]);

/** A Glue call failed. Names the table and, where known, the partitions; `transient` says whether a retry can succeed. */
export class GlueCatalogError extends Error {
  constructor(
    message: string,
    readonly transient: boolean,
    override readonly cause?: unknown,
  ) {
    super(message);
    this.name = 'GlueCatalogError';
  }
}

export interface GlueCatalogOptions {
  /** Database that holds one table per dataset, named like the dataset. */
  database: string;
  /** Bucket of the silver zone: partition locations are `s3://<bucket>/<partition prefix>`. */
  bucket: string;
  /** How long a table's StorageDescriptor is reused before GetTable is called again. @default 300000 */
  tableCacheTtlMs?: number;
  backoff?: BackoffPolicy;
  now?: () => number;
}

interface CachedTable {
  storageDescriptor: StorageDescriptor;
  partitionKeyCount: number;
  fetchedAt: number;
}

/** A column list as name:type, the part of a schema readers compare (comments are ignored). */
export function columnSignature(columns: readonly Column[] | undefined): string {
  return (columns ?? [])
    .map((c) => `${(c.Name ?? '').toLowerCase()}:${(c.Type ?? '').toLowerCase().replace(/\s+/g, '')}`)
    .join(',');
}

/**
 * Registers silver partitions in the Glue Data Catalog, so Athena can query new data at once (no crawler).
 * Keeps existing partitions' column lists equal to the table's: a deployed contract change (an additive
 * column) updates the table, and the first registration after it — per table and column list, in each
 * runtime — updates every partition whose columns differ (else Athena can fail with
 * HIVE_PARTITION_SCHEMA_MISMATCH and new columns stay invisible in old partitions).
 */
export class GlueCatalog implements Catalog {
  private readonly tables = new Map<string, CachedTable>();
  /** Per table, the column signature every partition was last brought to by this runtime. */
  private readonly repaired = new Map<string, string>();
  private readonly now: () => number;

  constructor(
    readonly client: GlueClient,
    readonly options: GlueCatalogOptions,
  ) {
    this.now = options.now ?? Date.now;
  }

  async addPartitions(dataset: string, partitions: readonly PartitionSpec[]): Promise<void> {
    if (partitions.length === 0) return;
    const table = await this.table(dataset);
    for (const p of partitions) {
      if (p.values.length !== table.partitionKeyCount) {
        throw new GlueCatalogError(
          `partition ${p.prefix} has ${p.values.length} values but Glue table ${this.options.database}.${dataset} has ${table.partitionKeyCount} partition keys`,
          false,
        );
      }
    }
    const inputs = partitions.map((p) => this.partitionInput(p, table.storageDescriptor));
    for (let start = 0; start < inputs.length; start += PARTITION_BATCH_SIZE) {
      await this.createBatch(dataset, inputs.slice(start, start + PARTITION_BATCH_SIZE));
    }
    await this.repairPartitions(dataset, table);
  }

  /**
   * Updates every partition of the table whose column list differs from the table's (keeping its location
   * and parameters). Returns the values of the partitions updated. Runs once per table and column list.
   */
  async repairPartitions(dataset: string, table?: CachedTable): Promise<string[][]> {
    const t = table ?? (await this.table(dataset));
    const signature = columnSignature(t.storageDescriptor.Columns);
    if (t.partitionKeyCount === 0 || this.repaired.get(dataset) === signature) return [];
    const stale: Partition[] = [];
    let nextToken: string | undefined;
    do {
      const page = await this.call(`GetPartitions ${this.options.database}.${dataset}`, () =>
        this.client.send(
          new GetPartitionsCommand({ DatabaseName: this.options.database, TableName: dataset, NextToken: nextToken }),
        ),
      );
      for (const p of page.Partitions ?? [])
        if (columnSignature(p.StorageDescriptor?.Columns) !== signature) stale.push(p);
      nextToken = page.NextToken;
    } while (nextToken);
    for (let start = 0; start < stale.length; start += PARTITION_BATCH_SIZE) {
      const batch = stale.slice(start, start + PARTITION_BATCH_SIZE);
      const label = `BatchUpdatePartition ${this.options.database}.${dataset} (${batch.length} partitions)`;
      const response = await this.call(label, () =>
        this.client.send(
          new BatchUpdatePartitionCommand({
            DatabaseName: this.options.database,
            TableName: dataset,
            Entries: batch.map((p) => ({
              PartitionValueList: p.Values ?? [],
              PartitionInput: {
                Values: p.Values ?? [],
                Parameters: p.Parameters,
                StorageDescriptor: { ...t.storageDescriptor, Location: p.StorageDescriptor?.Location },
              },
            })),
          }),
        ),
      );
      const errors = (response.Errors ?? []).map(
        (e) =>
          `[${(e.PartitionValueList ?? []).join(', ')}] ${e.ErrorDetail?.ErrorCode ?? 'UnknownError'}: ${e.ErrorDetail?.ErrorMessage ?? ''}`,
      );
      if (errors.length > 0) {
        const transient = (response.Errors ?? []).every((e) =>
          RETRYABLE_ENTRY_CODES.has(e.ErrorDetail?.ErrorCode ?? ''),
        );
        throw new GlueCatalogError(`Glue ${label} failed for: ${errors.join('; ')}`, transient);
      }
    }
    this.repaired.set(dataset, signature);
    return stale.map((p) => p.Values ?? []);
  }

  /** One Glue call with backoff on transient errors, wrapped in a GlueCatalogError naming it. */
  private async call<T>(label: string, send: () => Promise<T>): Promise<T> {
    return withBackoff(
      async () => {
        try {
          return await send();
        } catch (error) {
          throw new GlueCatalogError(
            `Glue ${label} failed: ${describeAwsError(error)}`,
            isTransientError(error),
            error,
          );
        }
      },
      (error) => error instanceof GlueCatalogError && error.transient,
      this.options.backoff,
    );
  }

  /** Forgets cached table definitions (e.g. after a deployment changed a table). */
  clearCache(): void {
    this.tables.clear();
  }

  private partitionInput(partition: PartitionSpec, tableDescriptor: StorageDescriptor): PartitionInput {
    return {
      Values: [...partition.values],
      StorageDescriptor: { ...tableDescriptor, Location: `s3://${this.options.bucket}/${partition.prefix}` },
    };
  }

  private async createBatch(dataset: string, batch: PartitionInput[]): Promise<void> {
    let pending = batch;
    await withBackoff(
      async () => {
        let response;
        try {
          response = await this.client.send(
            new BatchCreatePartitionCommand({
              DatabaseName: this.options.database,
              TableName: dataset,
              PartitionInputList: pending,
            }),
          );
        } catch (error) {
          throw new GlueCatalogError(
            `Glue BatchCreatePartition on ${this.options.database}.${dataset} (${pending.length} partitions) failed: ${describeAwsError(error)}`,
            isTransientError(error),
            error,
          );
        }
        const retry: PartitionInput[] = [];
        const fatal: string[] = [];
        for (const entry of response.Errors ?? []) {
          const code = entry.ErrorDetail?.ErrorCode ?? 'UnknownError';
          if (code === 'AlreadyExistsException') continue; // registered earlier: the goal is reached
          const values = entry.PartitionValues ?? [];
          const label = `[${values.join(', ')}] ${code}: ${entry.ErrorDetail?.ErrorMessage ?? ''}`.trim();
          if (RETRYABLE_ENTRY_CODES.has(code)) {
            const input = pending.find((p) => sameValues(p.Values ?? [], values));
            if (input) retry.push(input);
            else fatal.push(`${label} (not matched to a requested partition)`);
          } else {
            fatal.push(label);
          }
        }
        if (fatal.length > 0) {
          throw new GlueCatalogError(
            `Glue BatchCreatePartition on ${this.options.database}.${dataset} rejected partitions: ${fatal.join('; ')}`,
            false,
          );
        }
        if (retry.length > 0) {
          pending = retry;
          const detail = retry.map((p) => `[${(p.Values ?? []).join(', ')}]`).join(', ');
          throw new GlueCatalogError(
            `Glue BatchCreatePartition on ${this.options.database}.${dataset}: ${retry.length} partitions not created yet: ${detail}`,
            true,
          );
        }
      },
      (error) => error instanceof GlueCatalogError && error.transient,
      this.options.backoff,
    );
  }

  private async table(dataset: string): Promise<CachedTable> {
    const cached = this.tables.get(dataset);
    const ttl = this.options.tableCacheTtlMs ?? 300_000;
    if (cached && this.now() - cached.fetchedAt < ttl) return cached;
    const response = await withBackoff(
      async () => {
        try {
          return await this.client.send(new GetTableCommand({ DatabaseName: this.options.database, Name: dataset }));
        } catch (error) {
          const missing = awsErrorCode(error) === 'EntityNotFoundException';
          throw new GlueCatalogError(
            missing
              ? `Glue table ${this.options.database}.${dataset} does not exist (is the dataset deployed?): ${describeAwsError(error)}`
              : `Glue GetTable ${this.options.database}.${dataset} failed: ${describeAwsError(error)}`,
            !missing && isTransientError(error),
            error,
          );
        }
      },
      (error) => error instanceof GlueCatalogError && error.transient,
      this.options.backoff,
    );
    const storageDescriptor = response.Table?.StorageDescriptor;
    if (!storageDescriptor)
      throw new GlueCatalogError(`Glue table ${this.options.database}.${dataset} has no StorageDescriptor`, false);
    const entry: CachedTable = {
      storageDescriptor,
      partitionKeyCount: response.Table?.PartitionKeys?.length ?? 0,
      fetchedAt: this.now(),
    };
    this.tables.set(dataset, entry);
    return entry;
  }
}

function sameValues(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((v, i) => v === b[i]);
}
