/** Glue behaviour moto does not produce: batch limits and per-entry errors of partition updates and deletes. */
import type { GlueClient } from '@aws-sdk/client-glue';
import { describe, expect, it } from '@jest/globals';
import { GlueCatalogError } from '../../../../adapters/aws/glue-catalog.ts';
import { DELETE_PARTITION_BATCH_SIZE, GoldPartitions } from '../../../../adapters/aws/gold-partitions.ts';

interface Call {
  command: string;
  input: Record<string, unknown>;
}

function fakeGlue(reply: (call: Call) => unknown = () => ({})) {
  const calls: Call[] = [];
  const client = {
    send: async (command: { constructor: { name: string }; input: Record<string, unknown> }) => {
      const call = { command: command.constructor.name, input: structuredClone(command.input) };
      calls.push(call);
      if (call.command === 'GetTableCommand')
        return {
          Table: {
            StorageDescriptor: {
              Columns: [{ Name: 'account_id', Type: 'string' }],
              SerdeInfo: { SerializationLibrary: 'parquet' },
            },
          },
        };
      return reply(call);
    },
  } as unknown as GlueClient;
  return { client, calls };
}

const months = (n: number) =>
  Array.from({ length: n }, (_, i) => `${2000 + Math.floor(i / 12)}-${String((i % 12) + 1).padStart(2, '0')}`);

describe('GoldPartitions', () => {
  it('updates existing months and creates new ones, each with the table’s descriptor and its own location', async () => {
    const { client, calls } = fakeGlue();
    await new GoldPartitions(client, 'gold', 't').point(
      new Map([
        ['2024-01', 's3://g/t/refresh=a/year=2024/month=01/'],
        ['2024-02', 's3://g/t/refresh=a/year=2024/month=02/'],
      ]),
      new Set(['2024-01']),
    );
    expect(calls.map((c) => c.command)).toEqual([
      'GetTableCommand',
      'BatchUpdatePartitionCommand',
      'BatchCreatePartitionCommand',
    ]);
    expect(calls[1]?.input.Entries).toEqual([
      {
        PartitionValueList: ['2024', '01'],
        PartitionInput: {
          Values: ['2024', '01'],
          StorageDescriptor: {
            Columns: [{ Name: 'account_id', Type: 'string' }],
            SerdeInfo: { SerializationLibrary: 'parquet' },
            Location: 's3://g/t/refresh=a/year=2024/month=01/',
          },
        },
      },
    ]);
    expect(calls[2]?.input.PartitionInputList).toEqual([
      {
        Values: ['2024', '02'],
        StorageDescriptor: {
          Columns: [{ Name: 'account_id', Type: 'string' }],
          SerdeInfo: { SerializationLibrary: 'parquet' },
          Location: 's3://g/t/refresh=a/year=2024/month=02/',
        },
      },
    ]);
  });

  it('deletes in batches of 25 and treats a partition that is already gone as deleted', async () => {
    const { client, calls } = fakeGlue(() => ({
      Errors: [
        {
          PartitionValues: ['2000', '01'],
          ErrorDetail: { ErrorCode: 'EntityNotFoundException', ErrorMessage: 'gone' },
        },
      ],
    }));
    await new GoldPartitions(client, 'gold', 't').remove(months(30));
    expect(calls.map((c) => (c.input.PartitionsToDelete as unknown[]).length)).toEqual([
      DELETE_PARTITION_BATCH_SIZE,
      5,
    ]);
  });

  it('fails on per-entry errors: transient for throttling, permanent otherwise, naming the months', async () => {
    const throttled = fakeGlue(() => ({
      Errors: [
        {
          PartitionValueList: ['2024', '01'],
          ErrorDetail: { ErrorCode: 'ThrottlingException', ErrorMessage: 'slow down' },
        },
      ],
    }));
    const error = await new GoldPartitions(throttled.client, 'gold', 't')
      .point(new Map([['2024-01', 's3://x/']]), new Set(['2024-01']))
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(GlueCatalogError);
    expect(error).toMatchObject({
      transient: true,
      message: expect.stringContaining('[2024, 01] ThrottlingException: slow down'),
    });

    const invalid = fakeGlue(() => ({
      Errors: [
        { PartitionValues: ['2024', '02'], ErrorDetail: { ErrorCode: 'InvalidInputException', ErrorMessage: 'bad' } },
      ],
    }));
    await expect(
      new GoldPartitions(invalid.client, 'gold', 't').point(new Map([['2024-02', 's3://x/']]), new Set()),
    ).rejects.toMatchObject({ transient: false });
  });

  it('classifies a failed call by its AWS error', async () => {
    const { client } = fakeGlue(() => {
      throw Object.assign(new Error('rate exceeded'), {
        name: 'ThrottlingException',
        $metadata: { httpStatusCode: 400 },
      });
    });
    await expect(new GoldPartitions(client, 'gold', 't').locations()).rejects.toMatchObject({
      name: 'GlueCatalogError',
      transient: true,
    });
  });
});
