import type {
  BatchCreatePartitionCommandInput,
  BatchUpdatePartitionCommandInput,
  GetTableCommandOutput,
  GlueClient,
  Partition,
} from '@aws-sdk/client-glue';
import { describe, expect, it } from '@jest/globals';
import { GlueCatalog, GlueCatalogError } from '../../../../adapters/aws/glue-catalog.ts';
import type { PartitionSpec } from '../../../../engine/contract/index.ts';

type Reply = (input: BatchCreatePartitionCommandInput) => unknown;

const table: GetTableCommandOutput = {
  $metadata: {},
  Table: {
    Name: 'transactions',
    PartitionKeys: [
      { Name: 'year', Type: 'string' },
      { Name: 'month', Type: 'string' },
    ],
    StorageDescriptor: {
      Columns: [{ Name: 'transaction_id', Type: 'string' }],
      Location: 's3://silver/transactions/',
      InputFormat: 'org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat',
      OutputFormat: 'org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat',
      SerdeInfo: { SerializationLibrary: 'org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe' },
    },
  },
};

function fakeGlue(
  replies: Reply[],
  getTable: () => unknown = () => table,
  existing: Partition[] = [],
  updateReply: () => unknown = () => ({}),
) {
  const batches: BatchCreatePartitionCommandInput[] = [];
  const updates: BatchUpdatePartitionCommandInput[] = [];
  let getTableCalls = 0;
  const client = {
    send: async (command: { constructor: { name: string }; input: unknown }) => {
      if (command.constructor.name === 'GetTableCommand') {
        getTableCalls++;
        return getTable();
      }
      if (command.constructor.name === 'GetPartitionsCommand') return { Partitions: existing };
      if (command.constructor.name === 'BatchUpdatePartitionCommand') {
        updates.push(structuredClone(command.input as BatchUpdatePartitionCommandInput));
        return updateReply();
      }
      const input = command.input as BatchCreatePartitionCommandInput;
      batches.push(structuredClone(input));
      const reply = replies.shift() ?? (() => ({}));
      return reply(input);
    },
  } as unknown as GlueClient;
  return { client, batches, updates, getTableCalls: () => getTableCalls };
}

const noSleep = { sleep: async () => {}, random: () => 0.5 };
const partitions = (n: number): PartitionSpec[] =>
  Array.from({ length: n }, (_, i) => ({
    values: ['2024', String(i + 1).padStart(3, '0')],
    prefix: `transactions/year=2024/month=${String(i + 1).padStart(3, '0')}/`,
  }));
const awsError = (name: string, status: number): Error =>
  Object.assign(new Error(name), { name, $metadata: { httpStatusCode: status } });

describe('GlueCatalog.addPartitions', () => {
  it('copies the table StorageDescriptor with the partition location and batches 100 per call', async () => {
    const glue = fakeGlue([]);
    const catalog = new GlueCatalog(glue.client, { database: 'silver_db', bucket: 'lake-silver', backoff: noSleep });
    await catalog.addPartitions('transactions', partitions(250));
    expect(glue.batches.map((b) => b.PartitionInputList?.length)).toEqual([100, 100, 50]);
    const first = glue.batches[0]!;
    expect(first).toMatchObject({ DatabaseName: 'silver_db', TableName: 'transactions' });
    expect(first.PartitionInputList?.[0]).toEqual({
      Values: ['2024', '001'],
      StorageDescriptor: {
        ...table.Table!.StorageDescriptor,
        Location: 's3://lake-silver/transactions/year=2024/month=001/',
      },
    });
    await catalog.addPartitions('transactions', partitions(1));
    expect(glue.getTableCalls()).toBe(1); // cached
  });

  it('treats AlreadyExistsException entries as success', async () => {
    const glue = fakeGlue([
      (input) => ({
        Errors: input.PartitionInputList!.map((p) => ({
          PartitionValues: p.Values,
          ErrorDetail: { ErrorCode: 'AlreadyExistsException', ErrorMessage: 'exists' },
        })),
      }),
    ]);
    await new GlueCatalog(glue.client, { database: 'db', bucket: 'b', backoff: noSleep }).addPartitions(
      'transactions',
      partitions(3),
    );
    expect(glue.batches).toHaveLength(1);
  });

  it('retries only the throttled entries', async () => {
    const glue = fakeGlue([
      () => ({
        Errors: [
          {
            PartitionValues: ['2024', '002'],
            ErrorDetail: { ErrorCode: 'ThrottlingException', ErrorMessage: 'slow down' },
          },
        ],
      }),
      () => ({}),
    ]);
    await new GlueCatalog(glue.client, { database: 'db', bucket: 'b', backoff: noSleep }).addPartitions(
      'transactions',
      partitions(3),
    );
    expect(glue.batches.map((b) => b.PartitionInputList?.map((p) => p.Values?.[1]))).toEqual([
      ['001', '002', '003'],
      ['002'],
    ]);
  });

  it('retries whole calls on throttling, 5xx and ConcurrentModification with growing delays', async () => {
    const delays: number[] = [];
    const glue = fakeGlue([
      () => Promise.reject(awsError('ThrottlingException', 400)),
      () => Promise.reject(awsError('InternalServiceException', 500)),
      () => Promise.reject(awsError('ConcurrentModificationException', 400)),
      () => ({}),
    ]);
    const backoff = { sleep: async (ms: number) => void delays.push(ms), random: () => 0.999, baseDelayMs: 100 };
    await new GlueCatalog(glue.client, { database: 'db', bucket: 'b', backoff }).addPartitions(
      'transactions',
      partitions(1),
    );
    expect(glue.batches).toHaveLength(4);
    expect(delays).toEqual([99, 199, 399]);
  });

  it('gives up after the attempts run out, as a transient error naming the table', async () => {
    const glue = fakeGlue(Array.from({ length: 10 }, () => () => Promise.reject(awsError('ThrottlingException', 400))));
    const error = await new GlueCatalog(glue.client, {
      database: 'db',
      bucket: 'b',
      backoff: { ...noSleep, attempts: 3 },
    })
      .addPartitions('transactions', partitions(1))
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(GlueCatalogError);
    expect(error).toMatchObject({
      transient: true,
      message: expect.stringMatching(/db\.transactions.*ThrottlingException/),
    });
    expect(glue.batches).toHaveLength(3);
  });

  it('throws at once on other entry errors, with the partition values and reason', async () => {
    const glue = fakeGlue([
      () => ({
        Errors: [
          {
            PartitionValues: ['2024', '001'],
            ErrorDetail: { ErrorCode: 'InvalidInputException', ErrorMessage: 'bad location' },
          },
        ],
      }),
    ]);
    const error = await new GlueCatalog(glue.client, { database: 'db', bucket: 'b', backoff: noSleep })
      .addPartitions('transactions', partitions(2))
      .catch((e: unknown) => e);
    expect(error).toMatchObject({
      transient: false,
      message: expect.stringContaining('[2024, 001] InvalidInputException: bad location'),
    });
    expect(glue.batches).toHaveLength(1);
  });

  it('names a missing table and does not retry it', async () => {
    const glue = fakeGlue([], () => Promise.reject(awsError('EntityNotFoundException', 400)));
    await expect(
      new GlueCatalog(glue.client, { database: 'db', bucket: 'b', backoff: noSleep }).addPartitions(
        'transactions',
        partitions(1),
      ),
    ).rejects.toMatchObject({
      transient: false,
      message: expect.stringContaining('Glue table db.transactions does not exist'),
    });
    expect(glue.getTableCalls()).toBe(1);
  });

  it('refuses partitions whose value count does not match the table', async () => {
    const glue = fakeGlue([]);
    await expect(
      new GlueCatalog(glue.client, { database: 'db', bucket: 'b' }).addPartitions('transactions', [
        { values: ['2024'], prefix: 'transactions/year=2024/' },
      ]),
    ).rejects.toThrow(/has 1 values but Glue table db.transactions has 2 partition keys/);
  });

  it('does nothing for no partitions', async () => {
    const glue = fakeGlue([]);
    await new GlueCatalog(glue.client, { database: 'db', bucket: 'b' }).addPartitions('transactions', []);
    expect(glue.getTableCalls()).toBe(0);
  });
});

describe('GlueCatalog partition repair (fault injection: a scripted Glue)', () => {
  const old = (month: string): Partition => ({
    Values: ['2024', month],
    Parameters: { kept: 'yes' },
    StorageDescriptor: {
      ...table.Table!.StorageDescriptor,
      Columns: [],
      Location: `s3://lake-silver/transactions/year=2024/month=${month}/`,
    },
  });
  const current = (month: string): Partition => ({
    ...old(month),
    StorageDescriptor: { ...old(month).StorageDescriptor, Columns: table.Table!.StorageDescriptor!.Columns },
  });

  it('updates only partitions whose columns differ from the table, keeping location and parameters, once per column list', async () => {
    const glue = fakeGlue([], () => table, [old('01'), current('02')]);
    const catalog = new GlueCatalog(glue.client, { database: 'silver_db', bucket: 'lake-silver', backoff: noSleep });
    await catalog.addPartitions('transactions', partitions(1));
    await catalog.addPartitions('transactions', partitions(1));
    expect(glue.updates).toHaveLength(1);
    expect(glue.updates[0]?.Entries).toEqual([
      {
        PartitionValueList: ['2024', '01'],
        PartitionInput: {
          Values: ['2024', '01'],
          Parameters: { kept: 'yes' },
          StorageDescriptor: {
            ...table.Table!.StorageDescriptor,
            Location: 's3://lake-silver/transactions/year=2024/month=01/',
          },
        },
      },
    ]);
  });

  it('fails with the partitions Glue refused, so the message is retried', async () => {
    const refused = () => ({
      Errors: [
        {
          PartitionValueList: ['2024', '01'],
          ErrorDetail: { ErrorCode: 'EntityNotFoundException', ErrorMessage: 'gone' },
        },
      ],
    });
    const glue = fakeGlue([], () => table, [old('01')], refused);
    const catalog = new GlueCatalog(glue.client, { database: 'silver_db', bucket: 'lake-silver', backoff: noSleep });
    await expect(catalog.addPartitions('transactions', partitions(1))).rejects.toMatchObject({
      name: 'GlueCatalogError',
      transient: false,
      message: expect.stringContaining('[2024, 01] EntityNotFoundException: gone'),
    });
  });
});
