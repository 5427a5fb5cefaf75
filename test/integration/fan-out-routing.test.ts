/**
 * The ingest function routes an object over its fan-out threshold to the state machine instead of ingesting
 * it inline: one execution, named by the object version, so a redelivered event starts no second one; the
 * execution's input, run through the synthesized definition, ingests the object. (moto keeps the execution;
 * the steps are run here by the harness's ASL runner.)
 */
import { ListExecutionsCommand, StopExecutionCommand } from '@aws-sdk/client-sfn';
import { gzipSync } from 'node:zlib';
import { SendMessageCommand } from '@aws-sdk/client-sqs';
import { beforeAll, describe, it } from '@jest/globals';
import { expect } from '../support/expect.ts';
import { awsCli } from '../support/integration/aws-cli.ts';
import { createFanOutStateMachine, runFanOutExecution } from '../support/integration/fan-out.ts';
import {
  drain,
  getManifests,
  jsonLines,
  listKeys,
  putBronze,
  skipReason,
  useLake,
  type LakeFixture,
} from '../support/integration/lake-fixture.ts';

const MIN_BYTES = 4096;
const HEADER = 'TransactionID,CustomerID,TransactionAmount,Currency,TransactionTimestamp';
const csv = (n: number): string =>
  `${[HEADER, ...Array.from({ length: n }, (_, i) => `T${i},C${i},${i}.00,EUR,2024-01-15T10:00:00Z`)].join('\n')}\n`;

(skipReason ? describe.skip : describe)('routing objects over the fan-out threshold', () => {
  const lake = useLake();
  beforeAll(() => {
    // The template sets 1 GiB; a test-sized threshold, read by the function on its first invocation.
    process.env.FAN_OUT_MIN_BYTES = String(MIN_BYTES);
    process.env.FAN_OUT_CHUNK_BYTES = '1024';
  });

  it('starts one execution per object version (none twice), ingests nothing inline, and the execution ingests it', async () => {
    const fx = lake();
    expect(fx.lake.fn.environment.FAN_OUT_STATE_MACHINE_ARN).toMatch(/:stateMachine:/);
    const { sfn, arn, definition } = await createFanOutStateMachine(fx);

    const small = 'transactions/small.csv';
    const big = 'transactions/big.csv';
    await putBronze(fx, small, csv(3));
    const version = await putBronze(fx, big, csv(200));
    expect(csv(200).length).toBeGreaterThan(MIN_BYTES);
    expect((await drain(fx)).flatMap((i) => i.failed)).toEqual([]);

    // The small object was ingested inline, the big one only handed over.
    expect((await getManifests(fx, 'transactions')).map((m) => m.source.key)).toEqual([small]);
    const executions = async () =>
      (await sfn.send(new ListExecutionsCommand({ stateMachineArn: arn }))).executions ?? [];
    const [execution, ...more] = await executions();
    expect(more).toEqual([]);
    expect(execution!.name).toMatch(/^fan-out-[0-9a-f]{24}$/);

    // A redelivered event for the same version starts nothing.
    const redelivered = {
      source: 'aws.s3',
      'detail-type': 'Object Created',
      detail: {
        bucket: { name: fx.lake.buckets.bronze },
        object: { key: big, size: csv(200).length, ...(version ? { 'version-id': version } : {}) },
      },
    };
    await fx.clients.sqs.send(
      new SendMessageCommand({ QueueUrl: fx.lake.queue.url, MessageBody: JSON.stringify(redelivered) }),
    );
    expect((await drain(fx)).flatMap((i) => i.failed)).toEqual([]);
    expect((await executions()).map((e) => e.name)).toEqual([execution!.name]);
    // Step Functions answers a start with the name and input of a running execution with that execution.
    const routed = jsonLines(fx.output).filter(
      (l) => typeof l.message === 'string' && l.message.startsWith('object') && 'execution_arn' in l,
    );
    expect(routed).toHaveLength(2);
    expect(new Set(routed.map((l) => l.execution_arn))).toEqual(new Set([execution!.executionArn]));

    // The execution's steps, as Step Functions would run them from the input the function gave it.
    const output = (await runFanOutExecution(fx, big, version, { definition })) as { plan: { fanned_out: boolean } };
    expect(output.plan.fanned_out).toBe(true);
    const fanned = (await getManifests(fx, 'transactions')).find((m) => m.source.key === big);
    expect(fanned).toMatchObject({ status: 'succeeded', rows_in: 200, rows_valid: 200, rows_quarantined: 0 });
    expect(fanned!.engine.chunks).toBeGreaterThan(2);
    expect(await listKeys(fx, fx.lake.buckets.silver, '_staging/')).toEqual([]);
  });

  it('`lake fanout list` shows an execution that did not succeed, with its object; `redrive --restart` starts its input again', async () => {
    const fx = lake();
    const { sfn, arn } = await createFanOutStateMachine(fx);
    const key = 'transactions/aborted.csv';
    await putBronze(fx, key, csv(200));
    expect((await drain(fx)).flatMap((i) => i.failed)).toEqual([]);
    const [execution] = (await sfn.send(new ListExecutionsCommand({ stateMachineArn: arn }))).executions ?? [];
    await sfn.send(
      new StopExecutionCommand({
        executionArn: execution!.executionArn,
        error: 'States.TaskFailed',
        cause: 'chunk 3 ran out of /tmp',
      }),
    );

    const listed = await cli(fx, arn, ['fanout', 'list', '--json']);
    expect(listed.code, listed.stderr).toBe(0);
    expect(JSON.parse(listed.stdout)).toEqual([
      expect.objectContaining({ name: execution!.name, status: 'ABORTED', source_key: key }),
    ]);

    const redriven = await cli(fx, arn, ['fanout', 'redrive', execution!.name!, '--restart', '--json']);
    expect(redriven.code, redriven.stderr).toBe(0);
    expect(JSON.parse(redriven.stdout)).toMatchObject({
      restarted: true,
      execution_arn: expect.stringContaining(`${execution!.name}-restart-`),
    });
    const all = (await sfn.send(new ListExecutionsCommand({ stateMachineArn: arn }))).executions ?? [];
    expect(all).toHaveLength(2);

    const refused = await cli(fx, arn, ['fanout', 'redrive', 'fan-out-nope']);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toContain('no fan-out execution named fan-out-nope');
  });

  it('routes a gzip by the text it is expected to give, not by its compressed size', async () => {
    const fx = lake();
    const { sfn, arn } = await createFanOutStateMachine(fx);
    const gzip = gzipSync(csv(200));
    // Under the threshold as stored, over it at the documented expansion (GZIP_ROUTING_EXPANSION, 10).
    expect(gzip.length).toBeLessThan(MIN_BYTES);
    expect(gzip.length * 10).toBeGreaterThan(MIN_BYTES);
    await putBronze(fx, 'transactions/packed.csv.gz', gzip);
    expect((await drain(fx)).flatMap((i) => i.failed)).toEqual([]);

    expect(await getManifests(fx, 'transactions')).toEqual([]);
    const executions = (await sfn.send(new ListExecutionsCommand({ stateMachineArn: arn }))).executions ?? [];
    expect(executions).toHaveLength(1);
  });

  it('a routed file the plan cannot chunk, larger than one pass, is rejected whole as TOO_LARGE_FOR_ONE_PASS', async () => {
    const fx = lake();
    const { definition } = await createFanOutStateMachine(fx);
    // CRLF mixed with LF: the byte scan cannot vouch for chunk bounds, so the plan falls back to one pass.
    const key = 'transactions/mixed.csv';
    const body = csv(200).replace('\n', '\r\n');
    expect(body.length).toBeGreaterThan(MIN_BYTES);
    const version = await putBronze(fx, key, body);
    expect((await drain(fx)).flatMap((i) => i.failed)).toEqual([]);

    const output = (await runFanOutExecution(fx, key, version, { definition })) as { plan: { fanned_out: boolean } };

    expect(output.plan.fanned_out).toBe(false);
    const [manifest, ...more] = await getManifests(fx, 'transactions');
    expect(more).toEqual([]);
    expect(manifest).toMatchObject({
      status: 'rejected',
      rows_in: 0,
      quarantine: { file_reason: 'TOO_LARGE_FOR_ONE_PASS' },
    });
    expect(await listKeys(fx, fx.lake.buckets.quarantine, manifest!.quarantine.file_key!)).toEqual([
      manifest!.quarantine.file_key,
    ]);
    expect(await listKeys(fx, fx.lake.buckets.silver, '_pending/')).toEqual([]);
  });
});

/** The CLI in AWS mode, the stack outputs with the fan-out state machine's. */
function cli(fx: LakeFixture, stateMachineArn: string, args: string[]) {
  return awsCli(fx, args, {}, { FanOutStateMachineArn: stateMachineArn });
}
