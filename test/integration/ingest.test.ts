/**
 * The ingest path as CDK deploys it: an upload to bronze → moto delivers the event through the template's
 * EventBridge (or notification) configuration → the ingest queue → the *bundled* function, driven like the
 * SQS event source mapping → silver Parquet, quarantine, manifest, Glue partitions.
 */
import {
  CreateQueueCommand,
  DeleteMessageCommand,
  GetQueueAttributesCommand,
  PurgeQueueCommand,
  SendMessageCommand,
} from '@aws-sdk/client-sqs';
import { PutBucketNotificationConfigurationCommand } from '@aws-sdk/client-s3';
import { createSocket } from 'node:dgram';
import { readdirSync } from 'node:fs';
import { describe, expect, it } from '@jest/globals';
import { invokeInChild } from '../support/integration/child-invoke.ts';
import { invokeWith, lambdaContext, receive, sqsEventFrom } from '../support/integration/lambda-runtime.ts';
import {
  drain,
  emfDocuments,
  getManifests,
  gluePartitions,
  jsonLines,
  listKeys,
  putBronze,
  quarantineRows,
  queueDepth,
  silverRows,
  skipReason,
  useLake,
  type LakeFixture,
} from '../support/integration/lake-fixture.ts';

const HEADER = 'TransactionID,CustomerID,TransactionAmount,Currency,TransactionTimestamp';
const csv = (...rows: string[]): string => [HEADER, ...rows].join('\n') + '\n';

const MIXED_CSV = csv(
  'T1,C1,10.50,EUR,2024-01-15T10:00:00Z',
  'T2,C2,-3.25,USD,2024-01-31T23:59:59.999Z',
  'T3,C3,100.00,GBP,2024-02-01T00:00:00Z',
  'T4,C4,1.005,EUR,2024-02-02T00:00:00Z',
  'T5,C5,5.00,XXX,2024-02-03T00:00:00Z',
  'T6,,7.00,EUR,2024-02-04T00:00:00Z',
);

type Row = Record<string, unknown>;
const pick = (rows: Row[], ...columns: string[]): unknown[][] => rows.map((r) => columns.map((c) => r[c]));

async function expectNoFailures(fx: LakeFixture): Promise<void> {
  const invocations = await drain(fx);
  expect(invocations.flatMap((i) => i.failed)).toEqual([]);
  expect(await queueDepth(fx, fx.lake.queue.url)).toEqual({ visible: 0, inFlight: 0 });
}

(skipReason ? describe.skip : describe)('ingest function (bundled) against the emulated lake', () => {
  const lake = useLake();

  it('is wired as the template says: events via EventBridge to a queue with a DLQ, partial batch responses', () => {
    const { lake: l } = lake();
    expect(l.delivery).toBe('eventbridge');
    expect(l.eventSource.reportBatchItemFailures).toBe(true);
    expect(l.queue.maxReceiveCount).toBeGreaterThanOrEqual(1);
    expect(l.queue.visibilityTimeout).toBeGreaterThanOrEqual(6 * l.fn.timeoutSeconds);
    // moto does not enforce queue policies: check that EventBridge may send to the queue.
    const policies = Object.values(l.resources).filter((r) => r.Type === 'AWS::SQS::QueuePolicy');
    const allowsEventBridge = policies.some(
      (p) =>
        JSON.stringify(p.Properties).includes('events.amazonaws.com') &&
        JSON.stringify(p.Properties?.Queues).includes(l.queue.logicalId),
    );
    expect(allowsEventBridge).toBe(true);
  });

  it('writes typed silver Parquet, quarantine, a manifest and Glue partitions, logs and EMF metrics', async () => {
    const fx = lake();
    const key = 'transactions/2024/batch-01.csv';
    const versionId = await putBronze(fx, key, MIXED_CSV);
    await expectNoFailures(fx);

    const rows = await silverRows(fx, 'transactions');
    expect(
      pick(rows, 'transaction_id', 'account_id', 'amount', 'currency', 'transaction_timestamp', 'year', 'month'),
    ).toEqual([
      ['T1', 'C1', '10.50', 'EUR', '2024-01-15 10:00:00', '2024', '01'],
      ['T2', 'C2', '-3.25', 'USD', '2024-01-31 23:59:59.999', '2024', '01'],
      ['T3', 'C3', '100.00', 'GBP', '2024-02-01 00:00:00', '2024', '02'],
    ]);
    const [manifest, ...others] = await getManifests(fx, 'transactions');
    expect(others).toEqual([]);
    for (const row of rows)
      expect(row).toMatchObject({ source_key: key, source_version: versionId, ingest_run_id: manifest!.run_id });

    const rejected = await quarantineRows(fx, 'transactions');
    expect(pick(rejected, 'record_number', 'reasons', 'source_key', 'source_bucket')).toEqual([
      ['4', ['INVALID_AMOUNT'], key, fx.lake.buckets.bronze],
      ['5', ['INVALID_CURRENCY'], key, fx.lake.buckets.bronze],
      ['6', ['MISSING_REQUIRED'], key, fx.lake.buckets.bronze],
    ]);
    expect(JSON.parse(String(rejected[0]!.raw_record))).toMatchObject({
      TransactionID: 'T4',
      TransactionAmount: '1.005',
    });

    expect(manifest).toMatchObject({
      dataset: 'transactions',
      status: 'succeeded',
      source: { bucket: fx.lake.buckets.bronze, key, version_id: versionId },
      rows_in: 6,
      rows_valid: 3,
      rows_quarantined: 3,
      reasons: { INVALID_AMOUNT: 1, INVALID_CURRENCY: 1, MISSING_REQUIRED: 1 },
      compression: 'none',
    });
    expect(manifest!.partitions.map((p) => [p.prefix, p.rows])).toEqual([
      ['transactions/year=2024/month=01/', 2],
      ['transactions/year=2024/month=02/', 1],
    ]);

    // Partitions registered (no crawler), each with the table's Parquet SerDe and its own location.
    const partitions = await gluePartitions(fx, 'transactions');
    expect(partitions.map((p) => [p.Values, p.StorageDescriptor?.Location])).toEqual([
      [['2024', '01'], `s3://${fx.lake.buckets.silver}/transactions/year=2024/month=01/`],
      [['2024', '02'], `s3://${fx.lake.buckets.silver}/transactions/year=2024/month=02/`],
    ]);
    expect(partitions[0]!.StorageDescriptor).toMatchObject({
      SerdeInfo: { SerializationLibrary: 'org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe' },
      InputFormat: 'org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat',
    });
    expect(partitions[0]!.StorageDescriptor?.Columns?.map((c) => c.Name)).toContain('amount');

    // The function's own telemetry: a log line with source key and run id, and one EMF document.
    const done = jsonLines(fx.output).find((l) => l.message === 'object ingested');
    expect(done).toMatchObject({
      level: 'INFO',
      source_key: key,
      run_id: manifest!.run_id,
      dataset: 'transactions',
      rows_in: 6,
    });
    const [emf, ...moreEmf] = emfDocuments(fx.output);
    expect(moreEmf).toEqual([]);
    expect(emf).toMatchObject({
      dataset: 'transactions',
      RowsIn: 6,
      RowsValid: 3,
      RowsQuarantined: 3,
      FilesRejected: 0,
      BytesIn: MIXED_CSV.length,
    });
    expect(emf!.SecondsToQueryable).toEqual(expect.any(Number));
    expect(readdirSync(fx.workDir)).toEqual([]); // /tmp left clean for the next invocation
  });

  it('traces with X-Ray when run as in Lambda (fresh process, tracing on): a subsegment per object, annotated', async () => {
    const fx = lake();
    await putBronze(fx, 'transactions/traced.csv', csv('T1,C1,1.00,EUR,2024-03-01T00:00:00Z'));
    const messages = await receive(fx.clients.sqs, fx.lake.queue.url, 10);
    // A stand-in X-Ray daemon: the SDK sends segment documents over UDP.
    const daemon = createSocket('udp4');
    const documents: string[] = [];
    daemon.on('message', (msg) => documents.push(msg.toString('utf8')));
    await new Promise<void>((resolve) => daemon.bind(0, '127.0.0.1', resolve));
    try {
      const result = await invokeInChild(fx, sqsEventFrom(fx.lake, messages), {
        AWS_EXECUTION_ENV: `AWS_Lambda_${fx.lake.fn.runtime}`,
        _X_AMZN_TRACE_ID: 'Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1',
        AWS_XRAY_DAEMON_ADDRESS: `127.0.0.1:${daemon.address().port}`,
        AWS_XRAY_CONTEXT_MISSING: 'LOG_ERROR',
      });
      expect(result.output).not.toMatch(/cannot annotate|Failed to get the current sub\/segment/i);
      expect(result.error).toBeUndefined();
      expect(result.response).toEqual({ batchItemFailures: [] });
      await new Promise((r) => setTimeout(r, 200));
    } finally {
      daemon.close();
    }
    expect(pick(await silverRows(fx, 'transactions'), 'transaction_id')).toEqual([['T1']]);
    const segments = documents.map((d) => JSON.parse(d.slice(d.indexOf('\n') + 1)) as Record<string, unknown>);
    const names = JSON.stringify(segments);
    expect(names).toContain('## index.handler'); // Powertools' captureLambdaHandler names it after _HANDLER
    expect(names).toContain('## ingest object');
    expect(names).toContain('"ColdStart":true');
    expect(names).toContain('"dataset":"transactions"');
    expect(names).toMatch(/"name":"S3"/);
    expect(names).toMatch(/"name":"Glue"/);
  });

  it('redelivery of the same event ×3 leaves the same silver objects and no duplicate rows', async () => {
    const fx = lake();
    await putBronze(fx, 'transactions/dup.csv', MIXED_CSV);
    const [message] = await receive(fx.clients.sqs, fx.lake.queue.url, 1);
    const first = await invokeWith(fx.lake, fx.clients.sqs, fx.handler, [message!]);
    expect(first.failed).toEqual([]);
    const silverAfterFirst = await listKeys(fx, fx.lake.buckets.silver);
    const rowsAfterFirst = await silverRows(fx, 'transactions');

    // At-least-once: the same notification arrives twice more (duplicate sends), each in its own invocation.
    for (let i = 0; i < 2; i++)
      await fx.clients.sqs.send(new SendMessageCommand({ QueueUrl: fx.lake.queue.url, MessageBody: message!.Body! }));
    const again = await drain(fx, { batchSize: 1 });
    expect(again.map((i) => i.failed)).toEqual([[], []]);

    expect(await listKeys(fx, fx.lake.buckets.silver)).toEqual(silverAfterFirst);
    const rows = await silverRows(fx, 'transactions');
    expect(rows).toHaveLength(3);
    expect(rows).toEqual(rowsAfterFirst);
    expect(await quarantineRows(fx, 'transactions')).toHaveLength(3);
    expect(await getManifests(fx, 'transactions')).toHaveLength(1);
    expect((await gluePartitions(fx, 'transactions')).map((p) => p.Values)).toEqual([
      ['2024', '01'],
      ['2024', '02'],
    ]);
  });

  it('out-of-order delivery: every object version is ingested exactly once, whatever the order', async () => {
    const fx = lake();
    const key = 'transactions/daily.csv';
    const v1 = await putBronze(fx, key, csv('T1,C1,10.00,EUR,2024-01-10T00:00:00Z'));
    const other = await putBronze(fx, 'transactions/other.csv', csv('T7,C7,7.00,CHF,2024-02-10T00:00:00Z'));
    const v2 = await putBronze(
      fx,
      key,
      csv('T1,C1,11.00,EUR,2024-01-10T00:00:00Z', 'T8,C8,8.00,JPY,2024-03-10T00:00:00Z'),
    );
    expect(new Set([v1, v2]).size).toBe(2);

    const messages = await receive(fx.clients.sqs, fx.lake.queue.url, 10);
    expect(messages).toHaveLength(3);
    // Newest first, then the rest; finally the first event arrives once more, late.
    for (const m of [...messages].reverse())
      expect((await invokeWith(fx.lake, fx.clients.sqs, fx.handler, [m])).failed).toEqual([]);
    await fx.clients.sqs.send(new SendMessageCommand({ QueueUrl: fx.lake.queue.url, MessageBody: messages[0]!.Body! }));
    await expectNoFailures(fx);

    const rows = await silverRows(fx, 'transactions', 'transaction_id, amount');
    expect(pick(rows, 'transaction_id', 'amount', 'source_key', 'source_version', 'month')).toEqual([
      ['T1', '10.00', key, v1, '01'],
      ['T1', '11.00', key, v2, '01'],
      ['T7', '7.00', 'transactions/other.csv', other, '02'],
      ['T8', '8.00', key, v2, '03'],
    ]);
    const manifests = await getManifests(fx, 'transactions');
    expect(manifests.map((m) => m.source.version_id).sort()).toEqual([v1, v2, other].sort());
    expect((await gluePartitions(fx, 'transactions')).map((p) => p.Values?.[1])).toEqual(['01', '02', '03']);
  });

  it('keys with spaces, plus signs and non-ASCII characters keep their exact names end to end', async () => {
    const fx = lake();
    const key = 'transactions/März 2024/Überweisungen café + Ω 東京 (1).csv';
    const emptyKey = 'transactions/leer ü ñ.csv';
    await putBronze(fx, key, csv('T1,C1,1.00,EUR,2024-03-01T00:00:00Z'));
    await putBronze(fx, emptyKey, new Uint8Array(0));
    await expectNoFailures(fx);

    expect(pick(await silverRows(fx, 'transactions'), 'transaction_id', 'source_key')).toEqual([['T1', key]]);
    const manifests = await getManifests(fx, 'transactions');
    const empty = manifests.find((m) => m.source.key === emptyKey)!;
    expect(manifests.map((m) => m.source.key).sort()).toEqual([emptyKey, key].sort());
    expect(empty).toMatchObject({ status: 'rejected', quarantine: { file_reason: 'EMPTY_FILE' } });
    expect(empty.quarantine.file_key).toMatch(/\/leer ü ñ\.csv$/);
    expect(await listKeys(fx, fx.lake.buckets.quarantine)).toContain(empty.quarantine.file_key);
  });

  it('the same object announced as S3 notification (via SQS and direct), EventBridge (via SQS and direct) is ingested once; s3:TestEvent is ignored', async () => {
    const fx = lake();
    // A probe queue receives moto's own S3 notifications (AWS's URL-encoded key format) for the same bucket.
    const { QueueUrl: probeUrl } = await fx.clients.sqs.send(
      new CreateQueueCommand({ QueueName: 'probe-s3-notifications' }),
    );
    const { Attributes } = await fx.clients.sqs.send(
      new GetQueueAttributesCommand({ QueueUrl: probeUrl, AttributeNames: ['QueueArn'] }),
    );
    await fx.clients.s3.send(
      new PutBucketNotificationConfigurationCommand({
        Bucket: fx.lake.buckets.bronze,
        NotificationConfiguration: {
          EventBridgeConfiguration: {},
          QueueConfigurations: [{ QueueArn: Attributes!.QueueArn!, Events: ['s3:ObjectCreated:*'] }],
        },
      }),
    );
    const key = 'transactions/shapes/a+b c%d ü.csv';
    await putBronze(fx, key, csv('T1,C1,1.00,EUR,2024-03-01T00:00:00Z'));

    const probe = await receive(fx.clients.sqs, probeUrl!, 10);
    const testEvent = probe.find((m) => m.Body!.includes('s3:TestEvent'))!;
    const s3Notification = probe.find((m) => m.Body!.includes('"Records"'))!;
    expect(testEvent).toBeDefined();
    expect(s3Notification.Body).toContain('a%2Bb+c%25d+%C3%BC.csv'); // what the handler must decode
    const [eventBridgeMessage] = await receive(fx.clients.sqs, fx.lake.queue.url, 10);
    await fx.clients.sqs.send(
      new DeleteMessageCommand({ QueueUrl: fx.lake.queue.url, ReceiptHandle: eventBridgeMessage!.ReceiptHandle! }),
    );

    // 1. EventBridge event and S3 notification (and the test event) through the queue.
    for (const body of [eventBridgeMessage!.Body!, s3Notification.Body!, testEvent.Body!]) {
      await fx.clients.sqs.send(new SendMessageCommand({ QueueUrl: fx.lake.queue.url, MessageBody: body }));
    }
    await expectNoFailures(fx);
    // 2. Direct invocations, as S3 or EventBridge would invoke a function.
    await expect(fx.handler(JSON.parse(s3Notification.Body!), lambdaContext(fx.lake))).resolves.toBeUndefined();
    await expect(fx.handler(JSON.parse(eventBridgeMessage!.Body!), lambdaContext(fx.lake))).resolves.toBeUndefined();
    await expect(fx.handler(JSON.parse(testEvent.Body!), lambdaContext(fx.lake))).resolves.toBeUndefined();

    expect(pick(await silverRows(fx, 'transactions'), 'transaction_id', 'source_key')).toEqual([['T1', key]]);
    expect(await getManifests(fx, 'transactions')).toHaveLength(1);
    const logs = jsonLines(fx.output);
    // Every shape really reached the object (a mis-decoded key would have been skipped as missing).
    expect(logs.filter((l) => l.message === 'object ingested').map((l) => l.origin)).toEqual([
      'eventbridge',
      's3-notification',
      's3-notification',
      'eventbridge',
    ]);
    expect(logs.filter((l) => l.message === 'object skipped')).toEqual([]);
    expect(logs.filter((l) => l.message === 'event ignored').map((l) => l.reason)).toEqual([
      'test-event',
      'test-event',
    ]);
    await fx.clients.sqs.send(new PurgeQueueCommand({ QueueUrl: probeUrl }));
  });

  it('an event naming an object bronze does not hold is a failed object (it alarms), not retried', async () => {
    const fx = lake();
    const key = 'transactions/never-uploaded.csv';
    const event = {
      version: '0',
      id: 'missing-object',
      'detail-type': 'Object Created',
      source: 'aws.s3',
      account: '123456789012',
      time: '2024-03-01T00:00:00Z',
      region: 'us-east-1',
      resources: [`arn:aws:s3:::${fx.lake.buckets.bronze}`],
      detail: {
        version: '0',
        bucket: { name: fx.lake.buckets.bronze },
        object: { key, size: 10, etag: 'd41d8cd98f00b204e9800998ecf8427e' },
        'request-id': 'r',
        requester: '123456789012',
        reason: 'PutObject',
      },
    };
    await expect(fx.handler(event, lambdaContext(fx.lake))).resolves.toBeUndefined();
    const logs = jsonLines(fx.output);
    expect(logs.filter((l) => l.message === 'object not found in bronze: nothing ingested')).toEqual([
      expect.objectContaining({ level: 'ERROR', source_key: key, origin: 'eventbridge' }),
    ]);
    expect(emfDocuments(fx.output).map((d) => d.IngestFailures)).toEqual([1]);
    expect(await getManifests(fx, 'transactions')).toEqual([]);
  });

  it('bad data never fails a message: unknown datasets and unreadable files are quarantined whole', async () => {
    const fx = lake();
    await putBronze(fx, 'not-a-dataset/feed.csv', csv('T1,C1,1.00,EUR,2024-03-01T00:00:00Z'));
    await putBronze(fx, 'transactions/binary.csv', new Uint8Array([0x50, 0x4b, 0x03, 0x04, 0x00, 0x00, 0xff, 0x00]));
    await putBronze(fx, 'transactions/wrong-columns.csv', 'foo,bar\n1,2\n');
    await expectNoFailures(fx);

    expect(await silverRows(fx, 'transactions')).toEqual([]);
    const unknown = await getManifests(fx, 'unknown_dataset');
    expect(unknown.map((m) => [m.status, m.quarantine.file_reason])).toEqual([['rejected', 'UNKNOWN_DATASET']]);
    const rejected = (await getManifests(fx, 'transactions'))
      .map((m) => [m.source.key, m.status, m.quarantine.file_reason])
      .sort();
    expect(rejected).toEqual([
      ['transactions/binary.csv', 'rejected', 'UNREADABLE'],
      ['transactions/wrong-columns.csv', 'rejected', 'MISSING_COLUMNS'],
    ]);
    const quarantined = await listKeys(fx, fx.lake.buckets.quarantine);
    for (const m of [...unknown, ...(await getManifests(fx, 'transactions'))])
      expect(quarantined).toContain(m.quarantine.file_key);
    expect(emfDocuments(fx.output).map((d) => d.FilesRejected)).toEqual([1, 1, 1]);
  });

  it('an oversize record and a wide file are accounted for, never retried into the DLQ', async () => {
    const fx = lake();
    const huge = `TXL,C1,1.00,EUR,2024-03-01T00:00:00Z,${'B'.repeat(33 << 20)}`;
    const goods = (n: number, p: string) =>
      Array.from({ length: n }, (_, i) => `${p}${i},C1,1.00,EUR,2024-03-01T00:00:00Z`);
    await putBronze(fx, 'transactions/oversize.csv', csv(...goods(1000, 'X'), huge, ...goods(1000, 'Y')));
    const extras = Array.from({ length: 400 }, (_, i) => `extra_${i}`);
    await putBronze(
      fx,
      'transactions/wide.csv',
      [[HEADER, ...extras].join(','), ['W1,C1,1.00,EUR,2024-03-01T00:00:00Z', ...extras.map(() => 'v')].join(',')].join(
        '\n',
      ) + '\n',
    );
    await expectNoFailures(fx);
    expect(await receive(fx.clients.sqs, fx.lake.deadLetterQueue.url, 10)).toEqual([]);

    const manifests = Object.fromEntries((await getManifests(fx, 'transactions')).map((m) => [m.source.key, m]));
    expect(manifests['transactions/oversize.csv']).toMatchObject({
      status: 'succeeded',
      rows_in: 2001,
      rows_valid: 2000,
      rows_quarantined: 1,
      reasons: { RECORD_TOO_LARGE: 1 },
    });
    expect(manifests['transactions/wide.csv']).toMatchObject({
      status: 'succeeded',
      rows_in: 1,
      rows_valid: 1,
      rows_quarantined: 0,
    });
    const quarantined = await quarantineRows(fx, 'transactions');
    expect(quarantined.map((r) => [r.source_key, Number(r.record_number), r.reasons])).toEqual([
      ['transactions/oversize.csv', 1001, ['RECORD_TOO_LARGE']],
    ]);
    expect((await silverRows(fx, 'transactions')).length).toBe(2001);
  });
});
