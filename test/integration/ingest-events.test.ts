/**
 * Producer feedback on the emulator: the bundled ingest function publishes each ingest's outcome with the real
 * EventBridge client (PutEvents on the default bus, as the template's EVENT_BUS_NAME says); a subscriber's rule
 * (source medallion.lake) delivers it to an SQS queue, where it is read back as a subscriber would.
 */
import { EventBridgeClient, PutRuleCommand, PutTargetsCommand } from '@aws-sdk/client-eventbridge';
import { CreateQueueCommand, GetQueueAttributesCommand, ReceiveMessageCommand } from '@aws-sdk/client-sqs';
import { describe, expect, it } from '@jest/globals';
import {
  drain,
  getManifests,
  putBronze,
  skipReason,
  useLake,
  type LakeFixture,
} from '../support/integration/lake-fixture.ts';

const HEADER = 'TransactionID,CustomerID,TransactionAmount,Currency,TransactionTimestamp';

/** A subscriber: a queue and a rule on the default bus for every lake event. Returns the queue URL. */
async function subscribe(fx: LakeFixture): Promise<string> {
  const { QueueUrl } = await fx.clients.sqs.send(new CreateQueueCommand({ QueueName: 'producer-feedback' }));
  const attributes = await fx.clients.sqs.send(
    new GetQueueAttributesCommand({ QueueUrl, AttributeNames: ['QueueArn'] }),
  );
  const events = new EventBridgeClient({
    endpoint: fx.lake.endpoint,
    region: fx.lake.region,
    credentials: { accessKeyId: fx.lake.accountId, secretAccessKey: 'moto' },
  });
  await events.send(
    new PutRuleCommand({
      Name: 'payments-data-feedback',
      EventPattern: JSON.stringify({ source: ['medallion.lake'] }),
    }),
  );
  await events.send(
    new PutTargetsCommand({
      Rule: 'payments-data-feedback',
      Targets: [{ Id: 'queue', Arn: attributes.Attributes?.QueueArn }],
    }),
  );
  return QueueUrl as string;
}

async function received(fx: LakeFixture, queueUrl: string, count: number): Promise<Record<string, unknown>[]> {
  const bodies: Record<string, unknown>[] = [];
  for (let attempt = 0; attempt < 10 && bodies.length < count; attempt++) {
    const { Messages } = await fx.clients.sqs.send(
      new ReceiveMessageCommand({ QueueUrl: queueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 1 }),
    );
    for (const m of Messages ?? []) bodies.push(JSON.parse(m.Body ?? '{}') as Record<string, unknown>);
  }
  return bodies;
}

(skipReason ? describe.skip : describe)('ingest events on EventBridge (emulated)', () => {
  const lake = useLake();

  it('publishes Ingest Completed and Ingest Rejected with counts by reason, read back through a subscriber rule', async () => {
    const fx = lake();
    expect(fx.lake.fn.environment.EVENT_BUS_NAME).toBe('default');
    const queueUrl = await subscribe(fx);
    await putBronze(
      fx,
      'transactions/feedback/mixed.csv',
      [HEADER, 'T1,C1,10.50,EUR,2024-01-15T10:00:00Z', 'T2,C2,1.005,EUR,2024-01-16T00:00:00Z'].join('\n') + '\n',
    );
    await putBronze(fx, 'transactions/feedback/bad-header.csv', 'id,amount\n1,2\n');
    const invocations = await drain(fx);
    expect(invocations.flatMap((i) => i.failed)).toEqual([]);

    const events = await received(fx, queueUrl, 2);
    const byKey = new Map(events.map((e) => [(e.detail as { source: { key: string } }).source.key, e]));
    expect(events).toHaveLength(2);
    const manifests = await getManifests(fx, 'transactions');
    const mixed = manifests.find((m) => m.source.key === 'transactions/feedback/mixed.csv');
    expect(byKey.get('transactions/feedback/mixed.csv')).toMatchObject({
      source: 'medallion.lake',
      'detail-type': 'Ingest Completed',
      detail: {
        dataset: 'transactions',
        owner: 'payments-data',
        status: 'completed_with_rejects',
        manifest_key: `_manifests/transactions/${mixed?.source_id}.json`,
        run_id: mixed?.run_id,
        contract_version: '1.0.0',
        rows_in: 2,
        rows_valid: 1,
        rows_quarantined: 1,
        reasons: { INVALID_AMOUNT: 1 },
      },
    });
    expect(byKey.get('transactions/feedback/bad-header.csv')).toMatchObject({
      'detail-type': 'Ingest Rejected',
      detail: { status: 'rejected', file_reason: 'MISSING_COLUMNS', reasons: { MISSING_COLUMNS: 1 } },
    });
  });
});
