/**
 * The Glue partitions of one gold table: read where each month points, create / repoint / delete months.
 * Used by the Athena gold refresh, which swaps months by repointing their partitions (S3 has no rename).
 */
import {
  BatchCreatePartitionCommand,
  BatchDeletePartitionCommand,
  BatchUpdatePartitionCommand,
  GetPartitionsCommand,
  GetTableCommand,
  type GlueClient,
  type PartitionError,
  type StorageDescriptor,
} from '@aws-sdk/client-glue';
import { monthKey, type MonthKey, monthPartition } from '../../engine/gold/index.ts';
import { describeAwsError, isTransientError } from './aws-errors.ts';
import { GlueCatalogError, PARTITION_BATCH_SIZE, RETRYABLE_ENTRY_CODES } from './glue-catalog.ts';

/** Glue's limit of partitions per BatchDeletePartition request. */
export const DELETE_PARTITION_BATCH_SIZE = 25;

export class GoldPartitions {
  private descriptor: StorageDescriptor | undefined;

  constructor(
    readonly client: GlueClient,
    readonly database: string,
    readonly table: string,
  ) {}

  /** Where each month's partition points now (`s3://…/`), by month key. Partitions that are not year/month are ignored. */
  async locations(): Promise<Map<MonthKey, string>> {
    const out = new Map<MonthKey, string>();
    let token: string | undefined;
    do {
      const page = await this.call('GetPartitions', () =>
        this.client.send(
          new GetPartitionsCommand({ DatabaseName: this.database, TableName: this.table, NextToken: token }),
        ),
      );
      for (const p of page.Partitions ?? []) {
        const [year, month] = p.Values ?? [];
        const location = p.StorageDescriptor?.Location;
        if (year && month && location) out.set(monthKey(year, month), location);
      }
      token = page.NextToken;
    } while (token);
    return out;
  }

  /** Points each month at its location: BatchUpdatePartition for months in `existing`, BatchCreatePartition otherwise. */
  async point(targets: ReadonlyMap<MonthKey, string>, existing: ReadonlySet<MonthKey>): Promise<void> {
    const sd = await this.storageDescriptor();
    const input = (k: MonthKey, location: string) => {
      const { year, month } = monthPartition(k);
      return { Values: [year, month], StorageDescriptor: { ...sd, Location: location } };
    };
    const updates = [...targets].filter(([k]) => existing.has(k));
    const creates = [...targets].filter(([k]) => !existing.has(k));
    for (const batch of chunks(updates, PARTITION_BATCH_SIZE)) {
      const response = await this.call('BatchUpdatePartition', () =>
        this.client.send(
          new BatchUpdatePartitionCommand({
            DatabaseName: this.database,
            TableName: this.table,
            Entries: batch.map(([k, location]) => {
              const partition = input(k, location);
              return { PartitionValueList: partition.Values, PartitionInput: partition };
            }),
          }),
        ),
      );
      this.check(
        'BatchUpdatePartition',
        (response.Errors ?? []).map((e) => ({
          values: e.PartitionValueList ?? [],
          code: e.ErrorDetail?.ErrorCode,
          message: e.ErrorDetail?.ErrorMessage,
        })),
      );
    }
    for (const batch of chunks(creates, PARTITION_BATCH_SIZE)) {
      const response = await this.call('BatchCreatePartition', () =>
        this.client.send(
          new BatchCreatePartitionCommand({
            DatabaseName: this.database,
            TableName: this.table,
            PartitionInputList: batch.map(([k, location]) => input(k, location)),
          }),
        ),
      );
      this.check('BatchCreatePartition', entryErrors(response.Errors));
    }
  }

  /** Deletes the months' partitions (missing ones are success). */
  async remove(months: readonly MonthKey[]): Promise<void> {
    for (const batch of chunks(months, DELETE_PARTITION_BATCH_SIZE)) {
      const response = await this.call('BatchDeletePartition', () =>
        this.client.send(
          new BatchDeletePartitionCommand({
            DatabaseName: this.database,
            TableName: this.table,
            PartitionsToDelete: batch.map((k) => {
              const { year, month } = monthPartition(k);
              return { Values: [year, month] };
            }),
          }),
        ),
      );
      this.check(
        'BatchDeletePartition',
        entryErrors(response.Errors).filter((e) => e.code !== 'EntityNotFoundException'),
      );
    }
  }

  private async storageDescriptor(): Promise<StorageDescriptor> {
    if (!this.descriptor) {
      const response = await this.call('GetTable', () =>
        this.client.send(new GetTableCommand({ DatabaseName: this.database, Name: this.table })),
      );
      const sd = response.Table?.StorageDescriptor;
      if (!sd) throw new GlueCatalogError(`Glue table ${this.database}.${this.table} has no StorageDescriptor`, false);
      this.descriptor = sd;
    }
    return this.descriptor;
  }

  private check(
    operation: string,
    errors: ReadonlyArray<{ values: readonly string[]; code?: string; message?: string }>,
  ): void {
    if (errors.length === 0) return;
    const detail = errors
      .map((e) => `[${e.values.join(', ')}] ${e.code ?? 'UnknownError'}: ${e.message ?? ''}`.trim())
      .join('; ');
    const transient = errors.every((e) => RETRYABLE_ENTRY_CODES.has(e.code ?? ''));
    throw new GlueCatalogError(`Glue ${operation} on ${this.database}.${this.table} failed for: ${detail}`, transient);
  }

  private async call<T>(operation: string, run: () => Promise<T>): Promise<T> {
    try {
      return await run();
    } catch (error) {
      throw new GlueCatalogError(
        `Glue ${operation} on ${this.database}.${this.table} failed: ${describeAwsError(error)}`,
        isTransientError(error),
        error,
      );
    }
  }
}

function entryErrors(
  errors: PartitionError[] | undefined,
): Array<{ values: string[]; code?: string; message?: string }> {
  return (errors ?? []).map((e) => ({
    values: e.PartitionValues ?? [],
    code: e.ErrorDetail?.ErrorCode,
    message: e.ErrorDetail?.ErrorMessage,
  }));
}

function chunks<T>(items: readonly T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}
