import { Readable } from 'node:stream';
import type { S3Client } from '@aws-sdk/client-s3';
import type { Context, SQSEvent, SQSRecord } from 'aws-lambda';
import { afterEach, beforeAll, beforeEach, describe, expect, it, jest } from '@jest/globals';
import { ContractRegistry, type Manifest, parseContract, type SourceRef } from '../../../engine/contract/index.ts';
import type { IngestConfig } from '../../../lambdas/ingest/config.ts';
import type { IngestDependencies, IngestFn } from '../../../lambdas/ingest/ingest-object.ts';
import type { IngestHandler } from '../../../lambdas/ingest/process.ts';
import { S3ObjectStore } from '../../../adapters/aws/s3-store.ts';

// Telemetry singletons read the environment when first imported.
process.env.LOG_LEVEL = 'SILENT';
process.env.POWERTOOLS_METRICS_NAMESPACE = 'MedallionLakeTest';
process.env.POWERTOOLS_SERVICE_NAME = 'ingest-test';
let createIngestHandler: (get: () => IngestDependencies) => IngestHandler;
let MIN_REMAINING_MS_TO_START: number;
beforeAll(async () => {
  ({ createIngestHandler, MIN_REMAINING_MS_TO_START } = await import('../../../lambdas/ingest/process.ts'));
});

const config: IngestConfig = {
  contractsDir: '/nowhere',
  bronzeBucket: 'bronze',
  silverBucket: 'silver',
  quarantineBucket: 'quarantine',
  glueSilverDatabase: 'silver_db',
  glueQuarantineDatabase: 'quarantine_db',
  workDir: '/tmp',
  duckdbMemoryLimit: undefined,
  piiSaltSecretArn: undefined,
  maxUncompressedBytes: undefined,
  threads: undefined,
  eventBusName: undefined,
};

const contracts = new ContractRegistry([
  parseContract(
    { name: 'transactions', version: '1.0.0', columns: [{ name: 'id', type: 'string' }] },
    'transactions.json',
  ),
]);

function manifestFor(source: SourceRef, overrides: Partial<Manifest> = {}): Manifest {
  return {
    manifest_version: 1,
    dataset: 'transactions',
    contract_version: '1.0.0',
    run_id: 'run-1',
    source_id: 'src-1',
    source: { bucket: source.bucket, key: source.key, version_id: source.versionId ?? null, etag: source.etag ?? null },
    status: 'succeeded',
    rows_in: 10,
    rows_valid: 8,
    rows_quarantined: 2,
    reasons: { MISSING_REQUIRED: 2 },
    partitions: [],
    quarantine: { records_key: null, file_key: null, file_reason: null, file_detail: null },
    columns: { matched: {}, ignored: [] },
    bytes_in: 123,
    bytes_in_uncompressed: 123,
    bytes_out: 99,
    compression: 'none',
    ingested_at: '2024-03-01T00:00:00.000Z',
    started_at: '2024-03-01T00:00:00.000Z',
    finished_at: '2024-03-01T00:00:01.000Z',
    duration_ms: 1000,
    engine: { name: 'test', version: '0', rejects_in_chunks: false },
    ...overrides,
  };
}

interface Harness {
  deps: IngestDependencies;
  ingested: SourceRef[];
  /** The PII salt each engine call was given. */
  salts: Array<string | undefined>;
  s3Calls: Record<string, unknown>[];
}

function harness(options: { ingest?: IngestFn; missingKeys?: string[] } = {}): Harness {
  const ingested: SourceRef[] = [];
  const salts: Array<string | undefined> = [];
  const s3Calls: Record<string, unknown>[] = [];
  const s3 = {
    send: async (command: { input: Record<string, unknown> }) => {
      s3Calls.push(command.input);
      if (options.missingKeys?.includes(String(command.input.Key))) {
        throw Object.assign(new Error('The specified key does not exist.'), {
          name: 'NoSuchKey',
          $metadata: { httpStatusCode: 404 },
        });
      }
      return {
        Body: Readable.from([Buffer.from('id\n1\n')]),
        ETag: '"etag-1"',
        VersionId: 'null',
        LastModified: new Date('2024-03-01T00:00:00Z'),
        ContentLength: 5,
      };
    },
  } as unknown as S3Client;
  const ingest: IngestFn =
    options.ingest ??
    (async (source, body) => {
      for await (const _chunk of body) {
        // drain, as the engine does
      }
      ingested.push(source);
      return manifestFor(source);
    });
  const deps: IngestDependencies = {
    config,
    store: new S3ObjectStore(s3, { bronze: config.bronzeBucket }),
    catalog: { addPartitions: async () => {} },
    contracts,
    piiSalt: async () => 'salt-for-tests',
    ingest: async (source, body, opts) => {
      salts.push(opts.piiSalt);
      const m = await ingest(source, body, opts);
      if (options.ingest) ingested.push(source);
      return m;
    },
  };
  return { deps, ingested, salts, s3Calls };
}

function s3Body(key: string, bucket = 'bronze', size = 5): string {
  return JSON.stringify({
    Records: [
      {
        eventSource: 'aws:s3',
        eventName: 'ObjectCreated:Put',
        eventTime: new Date(Date.now() - 5_000).toISOString(),
        s3: { bucket: { name: bucket }, object: { key, size, eTag: 'etag-1' } },
      },
    ],
  });
}

function sqsEvent(bodies: string[], queueArn = 'arn:aws:sqs:eu-west-1:123456789012:ingest'): SQSEvent {
  return {
    Records: bodies.map((body, i): SQSRecord => ({
      messageId: `m${i + 1}`,
      receiptHandle: `r${i + 1}`,
      body,
      attributes: {
        ApproximateReceiveCount: '1',
        SentTimestamp: '0',
        SenderId: 's',
        ApproximateFirstReceiveTimestamp: '0',
      },
      messageAttributes: {},
      md5OfBody: '',
      eventSource: 'aws:sqs',
      eventSourceARN: queueArn,
      awsRegion: 'eu-west-1',
    })),
  };
}

function context(remainingMs = 600_000): Context {
  return {
    functionName: 'ingest',
    functionVersion: '$LATEST',
    invokedFunctionArn: 'arn:aws:lambda:eu-west-1:123456789012:function:ingest',
    memoryLimitInMB: '1024',
    awsRequestId: 'req-1',
    logGroupName: '/aws/lambda/ingest',
    logStreamName: 's',
    callbackWaitsForEmptyEventLoop: false,
    getRemainingTimeInMillis: () => remainingMs,
    done: () => {},
    fail: () => {},
    succeed: () => {},
  };
}

const throttling = (): Error =>
  Object.assign(new Error('Rate exceeded'), { name: 'ThrottlingException', $metadata: { httpStatusCode: 400 } });

/** Everything the function printed (EMF documents, logs) during the current test. */
let stdout: string[] = [];
beforeEach(() => {
  stdout = [];
  jest.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
    stdout.push(String(chunk));
    return true;
  });
});
afterEach(() => {
  jest.restoreAllMocks();
});

describe('SQS batches', () => {
  it('reports only the failing messages: garbage and a transient failure, not the good object', async () => {
    const h = harness({
      ingest: async (source) => {
        if (source.key.includes('throttled')) throw throttling();
        return manifestFor(source);
      },
    });
    const handle = createIngestHandler(() => h.deps);
    const result = await handle(
      sqsEvent([s3Body('transactions/good.csv'), 'garbage', s3Body('transactions/throttled.csv')]),
      context(),
    );
    expect(result).toEqual({ batchItemFailures: [{ itemIdentifier: 'm2' }, { itemIdentifier: 'm3' }] });
    expect(h.ingested.map((s) => s.key)).toEqual(['transactions/good.csv']);
  });

  it('every line logged while a message is processed carries its keys, also those logged after an await', async () => {
    const { logger } = await import('../../../lambdas/ingest/telemetry.ts');
    logger.setLogLevel('INFO');
    try {
      const h = harness();
      await createIngestHandler(() => h.deps)(sqsEvent([s3Body('transactions/a.csv')]), context());
    } finally {
      logger.setLogLevel('SILENT');
    }
    const lines = stdout
      .flatMap((l) => l.split('\n'))
      .filter((l) => l.startsWith('{') && !l.includes('"_aws"'))
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    // Logged once the object is ingested: after the S3 read and the engine, both awaited.
    const ingested = lines.find((l) => l.message === 'object ingested');
    expect(ingested).toMatchObject({ message_id: 'm1', receive_count: 1, source_key: 'transactions/a.csv' });
  });

  it('records the identity S3 returned (ETag, LastModified), decodes the key, and treats version "null" as none', async () => {
    const h = harness();
    await createIngestHandler(() => h.deps)(sqsEvent([s3Body('transactions/a+b%C3%BC.csv')]), context());
    expect(h.s3Calls[0]).toMatchObject({ Bucket: 'bronze', Key: 'transactions/a bü.csv' });
    expect(h.ingested[0]).toMatchObject({
      key: 'transactions/a bü.csv',
      etag: '"etag-1"',
      versionId: undefined,
      size: 5,
    });
    expect(h.ingested[0]?.lastModified?.toISOString()).toBe('2024-03-01T00:00:00.000Z');
  });

  it("gives the engine the deployment's PII salt", async () => {
    const h = harness();
    await createIngestHandler(() => h.deps)(
      sqsEvent([s3Body('transactions/a.csv'), s3Body('transactions/b.csv')]),
      context(),
    );
    expect(h.salts).toEqual(['salt-for-tests', 'salt-for-tests']);
  });

  it('succeeds without work for s3:TestEvent, deleted objects and other buckets', async () => {
    const h = harness({ missingKeys: ['transactions/gone.csv'] });
    const testEvent = JSON.stringify({ Service: 'Amazon S3', Event: 's3:TestEvent', Bucket: 'bronze' });
    const result = await createIngestHandler(() => h.deps)(
      sqsEvent([testEvent, s3Body('transactions/gone.csv'), s3Body('transactions/x.csv', 'someone-elses-bucket')]),
      context(),
    );
    expect(result).toEqual({ batchItemFailures: [] });
    expect(h.ingested).toEqual([]);
  });

  it('fails every message when the configuration is broken, naming the cause', async () => {
    const handle = createIngestHandler(() => {
      throw new Error('missing environment variables: SILVER_BUCKET');
    });
    expect(await handle(sqsEvent([s3Body('transactions/a.csv'), s3Body('transactions/b.csv')]), context())).toEqual({
      batchItemFailures: [{ itemIdentifier: 'm1' }, { itemIdentifier: 'm2' }],
    });
  });

  it('returns unstarted messages to the queue when time runs short, but always starts the first', async () => {
    const h = harness();
    const result = await createIngestHandler(() => h.deps)(
      sqsEvent([s3Body('transactions/a.csv'), s3Body('transactions/b.csv')]),
      context(MIN_REMAINING_MS_TO_START - 1),
    );
    expect(result).toEqual({ batchItemFailures: [{ itemIdentifier: 'm2' }] });
    expect(h.ingested.map((s) => s.key)).toEqual(['transactions/a.csv']);
  });

  it('does not start a further message whose object may not fit in the time left (a timeout would fail the batch)', async () => {
    const h = harness();
    const twoGigabytes = 2 * 1024 ** 3;
    const result = await createIngestHandler(() => h.deps)(
      sqsEvent([
        s3Body('transactions/a.csv'),
        s3Body('transactions/huge.csv', 'bronze', twoGigabytes),
        s3Body('transactions/c.csv'),
      ]),
      context(MIN_REMAINING_MS_TO_START + 60_000),
    );
    expect(result).toEqual({ batchItemFailures: [{ itemIdentifier: 'm2' }] });
    expect(h.ingested.map((s) => s.key)).toEqual(['transactions/a.csv', 'transactions/c.csv']);
  });

  it('on a FIFO queue, fails everything after the first failure to keep order', async () => {
    const h = harness();
    const result = await createIngestHandler(() => h.deps)(
      sqsEvent(['garbage', s3Body('transactions/b.csv')], 'arn:aws:sqs:eu-west-1:123456789012:ingest.fifo'),
      context(),
    );
    expect(result).toEqual({ batchItemFailures: [{ itemIdentifier: 'm1' }, { itemIdentifier: 'm2' }] });
    expect(h.ingested).toEqual([]);
  });
});

describe('direct invocations', () => {
  it('ingests a direct S3 event and an EventBridge event, and throws on failure', async () => {
    const h = harness();
    const handle = createIngestHandler(() => h.deps);
    expect(await handle(JSON.parse(s3Body('transactions/direct.csv')), context())).toBeUndefined();
    await handle(
      {
        source: 'aws.s3',
        'detail-type': 'Object Created',
        time: '2024-03-01T00:00:00Z',
        detail: { bucket: { name: 'bronze' }, object: { key: 'transactions/eb file.csv' } },
      },
      context(),
    );
    expect(h.ingested.map((s) => s.key)).toEqual(['transactions/direct.csv', 'transactions/eb file.csv']);
    await expect(handle({ hello: 'world' }, context())).rejects.toThrow(/unrecognized event/);
    const failing = harness({ ingest: async () => Promise.reject(throttling()) });
    await expect(
      createIngestHandler(() => failing.deps)(JSON.parse(s3Body('transactions/t.csv')), context()),
    ).rejects.toThrow(/Rate exceeded/);
  });
});

describe('EMF metrics', () => {
  it('publishes the alarm metrics with exactly the service and dataset dimensions', async () => {
    const h = harness();
    await createIngestHandler(() => h.deps)(sqsEvent([s3Body('transactions/a.csv')]), context());
    const emf = stdout
      .flatMap((l) => l.split('\n'))
      .filter((l) => l.includes('"_aws"'))
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(emf).toHaveLength(1);
    const doc = emf[0] as {
      _aws: {
        CloudWatchMetrics: { Namespace: string; Dimensions: string[][]; Metrics: { Name: string; Unit: string }[] }[];
      };
    } & Record<string, unknown>;
    const [directive] = doc._aws.CloudWatchMetrics;
    expect(directive?.Namespace).toBe('MedallionLakeTest');
    expect(directive?.Dimensions).toEqual([['service', 'dataset']]);
    expect(directive?.Metrics.map((m) => m.Name).sort()).toEqual(
      ['BytesIn', 'DurationMs', 'FilesRejected', 'RowsIn', 'RowsQuarantined', 'RowsValid', 'SecondsToQueryable'].sort(),
    );
    expect(doc).toMatchObject({
      service: 'ingest-test',
      dataset: 'transactions',
      RowsIn: 10,
      RowsValid: 8,
      RowsQuarantined: 2,
      BytesIn: 123,
      FilesRejected: 0,
    });
    expect(doc.SecondsToQueryable as number).toBeGreaterThanOrEqual(5);
  });
});
