/**
 * Failures that retrying may fix are retried by SQS and end in the dead-letter queue after the template's
 * maxReceiveCount; one failing message never fails its batch-mates. moto delivers and redrives for real;
 * only the S3 503 comes from a hand-rolled proxy (moto cannot throttle).
 */
import { DeleteMessageCommand, SendMessageCommand } from '@aws-sdk/client-sqs';
import { afterAll, describe, expect, it } from '@jest/globals';
import { startFaultProxy, s3SlowDown, type FaultProxy } from '../support/integration/fault-proxy.ts';
import { receive } from '../support/integration/lambda-runtime.ts';
import {
  drain,
  emfDocuments,
  getManifests,
  jsonLines,
  putBronze,
  queueDepth,
  silverRows,
  skipReason,
  useLake,
} from '../support/integration/lake-fixture.ts';

const CSV =
  'TransactionID,CustomerID,TransactionAmount,Currency,TransactionTimestamp\nT1,C1,1.00,EUR,2024-03-01T00:00:00Z\n';

(skipReason ? describe.skip : describe)('poison messages end in the dead-letter queue', () => {
  let proxy: FaultProxy | undefined;
  const lake = useLake({
    functionEndpoint: async (moto) => {
      proxy = await startFaultProxy(moto);
      return proxy.endpoint;
    },
  });
  afterAll(async () => proxy?.close());

  it('a message that is not an event is retried maxReceiveCount times, then moved to the DLQ', async () => {
    const fx = lake();
    await fx.clients.sqs.send(
      new SendMessageCommand({ QueueUrl: fx.lake.queue.url, MessageBody: 'this is not an S3 event' }),
    );
    const invocations = await drain(fx, { retryImmediately: true });

    expect(invocations).toHaveLength(fx.lake.queue.maxReceiveCount);
    expect(invocations.map((i) => i.failed.length)).toEqual(Array(fx.lake.queue.maxReceiveCount).fill(1));
    expect(await queueDepth(fx, fx.lake.queue.url)).toEqual({ visible: 0, inFlight: 0 });
    const dead = await receive(fx.clients.sqs, fx.lake.deadLetterQueue.url, 10);
    expect(dead.map((m) => m.Body)).toEqual(['this is not an S3 event']);
    const errors = jsonLines(fx.output).filter((l) => l.level === 'ERROR');
    expect(errors).toHaveLength(fx.lake.queue.maxReceiveCount);
    expect(JSON.stringify(errors[0])).toContain('unrecognized event');
  });

  it('a transient S3 failure fails only its own message, which lands in the DLQ and ingests once redriven', async () => {
    const fx = lake();
    const badKey = 'transactions/slow down please.csv';
    proxy!.setRule((req) =>
      req.method === 'GET' && decodeURIComponent(req.url ?? '').includes(badKey) ? s3SlowDown : undefined,
    );
    try {
      await putBronze(fx, badKey, CSV);
      await putBronze(fx, 'transactions/fine.csv', CSV.replace('T1,C1', 'T2,C2'));
      const invocations = await drain(fx, { retryImmediately: true });

      // Same batch, partial failure: fine.csv succeeded at once; the throttled one failed maxReceiveCount times.
      expect(invocations[0]!.messages).toHaveLength(2);
      expect(invocations.map((i) => i.failed.length)).toEqual(Array(fx.lake.queue.maxReceiveCount).fill(1));
      expect((await silverRows(fx, 'transactions')).map((r) => r.source_key)).toEqual(['transactions/fine.csv']);
      const errors = jsonLines(fx.output).filter((l) => l.level === 'ERROR');
      expect(errors.map((e) => [e.message, e.source_key, e.transient])).toEqual(
        Array(fx.lake.queue.maxReceiveCount).fill(['object failed', badKey, true]),
      );
      expect(JSON.stringify(errors[0])).toContain('SlowDown (HTTP 503)');
      expect(emfDocuments(fx.output).filter((d) => d.IngestFailures === 1)).toHaveLength(fx.lake.queue.maxReceiveCount);
      // The SDK itself retried each GetObject before the message failed.
      expect(proxy!.faulted.length).toBeGreaterThan(fx.lake.queue.maxReceiveCount);
    } finally {
      proxy!.setRule(undefined);
    }

    const dead = await receive(fx.clients.sqs, fx.lake.deadLetterQueue.url, 10);
    expect(dead).toHaveLength(1);
    expect(JSON.parse(dead[0]!.Body!).detail.object.key).toBe(badKey);

    // Redrive (moto lacks StartMessageMoveTask): back to the source queue, then it ingests normally.
    await fx.clients.sqs.send(new SendMessageCommand({ QueueUrl: fx.lake.queue.url, MessageBody: dead[0]!.Body! }));
    await fx.clients.sqs.send(
      new DeleteMessageCommand({ QueueUrl: fx.lake.deadLetterQueue.url, ReceiptHandle: dead[0]!.ReceiptHandle! }),
    );
    expect((await drain(fx)).flatMap((i) => i.failed)).toEqual([]);
    expect((await silverRows(fx, 'transactions')).map((r) => r.source_key)).toEqual([badKey, 'transactions/fine.csv']);
    expect(await getManifests(fx, 'transactions')).toHaveLength(2);
  });
});
