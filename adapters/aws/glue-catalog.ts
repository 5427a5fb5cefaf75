import { BatchCreatePartitionCommand, GetTableCommand, type GlueClient, type PartitionInput, type StorageDescriptor } from '@aws-sdk/client-glue';
import type { Catalog, PartitionSpec } from '../../engine/contract/index.ts';
import { awsErrorCode, describeAwsError, isTransientError } from './aws-errors.ts';
import { withBackoff, type BackoffPolicy } from './retry.ts';

/** Glue's limit of partitions per BatchCreatePartition request. */
export const PARTITION_BATCH_SIZE = 100;

/** Per-partition error codes in a BatchCreatePartition response that a later attempt can clear. */
const RETRYABLE_ENTRY_CODES = new Set(['ThrottlingException', 'InternalServiceException', 'OperationTimeoutException', 'ConcurrentModificationException']);

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

/** Registers silver partitions in the Glue Data Catalog, so Athena can query new data at once (no crawler). */
export class GlueCatalog implements Catalog {
  private readonly tables = new Map<string, CachedTable>();
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
            new BatchCreatePartitionCommand({ DatabaseName: this.options.database, TableName: dataset, PartitionInputList: pending }),
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
          throw new GlueCatalogError(`Glue BatchCreatePartition on ${this.options.database}.${dataset} rejected partitions: ${fatal.join('; ')}`, false);
        }
        if (retry.length > 0) {
          pending = retry;
          const detail = retry.map((p) => `[${(p.Values ?? []).join(', ')}]`).join(', ');
          throw new GlueCatalogError(`Glue BatchCreatePartition on ${this.options.database}.${dataset}: ${retry.length} partitions not created yet: ${detail}`, true);
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
    if (!storageDescriptor) throw new GlueCatalogError(`Glue table ${this.options.database}.${dataset} has no StorageDescriptor`, false);
    const entry: CachedTable = { storageDescriptor, partitionKeyCount: response.Table?.PartitionKeys?.length ?? 0, fetchedAt: this.now() };
    this.tables.set(dataset, entry);
    return entry;
  }
}

function sameValues(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((v, i) => v === b[i]);
}
