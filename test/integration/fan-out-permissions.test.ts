/**
 * The fan-out path's permissions proven by simulation, as permissions.test.ts does for the inline path: every
 * AWS call the bundled function makes while the synthesized state machine runs a gzip object through plan,
 * chunks and commit — ranged GetObject, staging writes and reads, CopyObject into the table, DeleteObjects of
 * the staging prefix, Glue, and S3's KMS calls — is Allowed by the template's policies (role, bucket, key).
 */
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { Recorder, type RecordedCall } from '../support/integration/iam-recorder.ts';
import { authorizationRequests } from '../support/integration/iam-requests.ts';
import { lambdaContext, receive } from '../support/integration/lambda-runtime.ts';
import { getManifests, listKeys, putBronze, skipReason, useLake } from '../support/integration/lake-fixture.ts';
import { describeDecision, TemplatePolicies, type Decision } from '../support/integration/policy-simulator.ts';
import { runStateMachine, stateMachineDefinition } from '../support/integration/state-machine.ts';
import { DeleteMessageCommand } from '@aws-sdk/client-sqs';

const HEADER = 'TransactionID,CustomerID,TransactionAmount,Currency,TransactionTimestamp';
const rows = Array.from({ length: 120 }, (_, i) =>
  i % 7 === 3
    ? `T${i},C${i},1.00,XXX,2024-02-01T00:00:00Z`
    : `T${i},C${i},${i}.25,EUR,2024-0${(i % 2) + 1}-10T00:00:00Z`,
);
const CONTENT = gzipSync(`${[HEADER, ...rows].join('\n')}\n`);

(skipReason ? describe.skip : describe)('fan-out permissions proven by simulation', () => {
  const recorder = new Recorder().install();
  afterAll(() => recorder.uninstall());
  const lake = useLake();
  beforeAll(() => {
    process.env.FAN_OUT_CHUNK_BYTES = '1024';
  });

  it('plan, chunks and commit of a gzip object: each recorded call, and S3’s KMS calls for it, is Allowed', async () => {
    const fx = lake();
    const policies = new TemplatePolicies(
      fx.stacks.map((s) => s.template),
      fx.lake.resolveContext,
    );
    const key = 'transactions/fan-out/export.csv.gz';
    const versionId = await putBronze(fx, key, CONTENT);
    for (const m of await receive(fx.clients.sqs, fx.lake.queue.url, 10, 1)) {
      await fx.clients.sqs.send(
        new DeleteMessageCommand({ QueueUrl: fx.lake.queue.url, ReceiptHandle: m.ReceiptHandle }),
      );
    }
    const stack = fx.stacks.find((s) =>
      Object.values(s.template.Resources).some((r) => r.Type === 'AWS::StepFunctions::StateMachine'),
    )!;
    const input = { source: { bucket: fx.lake.buckets.bronze, key, ...(versionId ? { versionId } : {}) } };
    const output = (await recorder.as('ingest', () =>
      runStateMachine(
        stateMachineDefinition(stack.template),
        input,
        async (payload) => (await fx.handler(payload, lambdaContext(fx.lake))) as never,
      ),
    )) as { plan: { fanned_out: boolean; chunks: unknown[] }; commit: { outcome: string } };
    expect(output.plan.fanned_out).toBe(true);
    expect(output.plan.chunks.length).toBeGreaterThan(2);
    expect(output.commit.outcome).toBe('committed');
    expect((await getManifests(fx, 'transactions'))[0]).toMatchObject({ rows_in: 120, compression: 'gzip' });

    expect(recorder.of('unattributed')).toEqual([]);
    const calls: RecordedCall[] = recorder.of('ingest');
    const operations = [...new Set(calls.map((c) => `${c.service}:${c.operation}`))];
    expect(operations).toEqual(
      expect.arrayContaining([
        'S3:GetObject',
        'S3:PutObject',
        'S3:CopyObject',
        'S3:DeleteObjects',
        'S3:ListObjectsV2',
        'Glue:BatchCreatePartition',
      ]),
    );
    expect(calls.some((c) => c.operation === 'GetObject' && typeof c.input.Range === 'string')).toBe(true);

    const silverKeys = await listKeys(fx, fx.lake.buckets.silver);
    const env = policies.requestEnvironment((b, prefix) =>
      (b === fx.lake.buckets.silver ? silverKeys : []).filter((k) => k.startsWith(prefix)),
    );
    const requests = calls.flatMap((call, index) => authorizationRequests(call, env, calls.slice(0, index)));
    const unique = [...new Map(requests.map((r) => [JSON.stringify([r.action, r.resource, r.context]), r])).values()];
    const decisions: Decision[] = [];
    for (const request of unique)
      decisions.push(await policies.evaluate(policies.functionRole(fx.lake.fn.logicalId), request));
    expect(decisions.filter((d) => d.result !== 'Allowed').map(describeDecision)).toEqual([]);
    // The copy into the table was authorized as a read of the staged object and a write of the table's key.
    expect(
      decisions.filter((d) => d.request.action === 's3:GetObject' && d.request.resource.includes('/_staging/')).length,
    ).toBeGreaterThan(0);
    expect(decisions.filter((d) => d.request.via === 's3').map((d) => d.request.action)).toEqual(
      expect.arrayContaining(['kms:Decrypt', 'kms:GenerateDataKey']),
    );
  });
});
