/**
 * The fan-out state machine of the synthesized lake, for integration tests: its definition, registered in moto,
 * run step by step against the bundled function, and what two ingests of the same bytes must agree on.
 */
import { CreateStateMachineCommand, SFNClient } from '@aws-sdk/client-sfn';
import { DeleteMessageCommand } from '@aws-sdk/client-sqs';
import type { Manifest } from '../../../engine/contract/index.ts';
import { lambdaContext, receive } from './lambda-runtime.ts';
import { putBronze, quarantineRows, silverRows, type LakeFixture } from './lake-fixture.ts';
import {
  runStateMachine,
  stateMachineDefinition,
  type ExecutionTrace,
  type StateMachineDefinition,
  type TaskInvoker,
} from './state-machine.ts';

/** The definition of the stack's fan-out state machine, as synthesized. */
export function fanOutDefinition(fx: LakeFixture): StateMachineDefinition {
  const stack = fx.stacks.find((s) =>
    Object.values(s.template.Resources).some((r) => r.Type === 'AWS::StepFunctions::StateMachine'),
  );
  if (!stack) throw new Error('no stack has the fan-out state machine');
  return stateMachineDefinition(stack.template);
}

/** Creates the fan-out state machine in moto under the ARN the function is configured with. */
export async function createFanOutStateMachine(
  fx: LakeFixture,
): Promise<{ sfn: SFNClient; arn: string; definition: StateMachineDefinition }> {
  const arn = fx.lake.fn.environment.FAN_OUT_STATE_MACHINE_ARN;
  if (!arn) throw new Error('the function has no FAN_OUT_STATE_MACHINE_ARN');
  const sfn = new SFNClient({
    endpoint: fx.lake.endpoint,
    region: fx.lake.region,
    credentials: { accessKeyId: fx.lake.accountId, secretAccessKey: 'moto' },
  });
  const definition = fanOutDefinition(fx);
  await sfn.send(
    new CreateStateMachineCommand({
      name: arn.split(':').pop(),
      definition: JSON.stringify(definition),
      roleArn: `arn:aws:iam::${fx.lake.accountId}:role/fan-out`,
    }),
  );
  return { sfn, arn, definition };
}

/** Puts the object without letting its event reach the function: the state machine ingests it. */
export async function putForFanOut(
  fx: LakeFixture,
  key: string,
  body: string | Uint8Array,
): Promise<string | undefined> {
  const versionId = await putBronze(fx, key, body);
  for (const m of await receive(fx.clients.sqs, fx.lake.queue.url, 10, 1)) {
    await fx.clients.sqs.send(
      new DeleteMessageCommand({ QueueUrl: fx.lake.queue.url, ReceiptHandle: m.ReceiptHandle }),
    );
  }
  return versionId;
}

/** Runs the execution Step Functions would run for this object version, each task by the bundled function. */
export async function runFanOutExecution(
  fx: LakeFixture,
  key: string,
  versionId: string | undefined,
  options: { definition?: StateMachineDefinition; invoke?: TaskInvoker; trace?: ExecutionTrace } = {},
): Promise<Record<string, unknown>> {
  const input = { source: { bucket: fx.lake.buckets.bronze, key, ...(versionId ? { versionId } : {}) } };
  return (await runStateMachine(
    options.definition ?? fanOutDefinition(fx),
    input,
    options.invoke ?? (async (payload) => (await fx.handler(payload, lambdaContext(fx.lake))) as never),
    options.trace,
  )) as Record<string, unknown>;
}

/** The silver rows ingested from `key`, lineage that names the source aside (so two keys' rows compare equal). */
export async function silverRowsWithoutLineage(fx: LakeFixture, dataset: string, key: string, orderBy?: string) {
  return (await silverRows(fx, dataset, orderBy))
    .filter((r) => r.source_key === key)
    .map((r) => {
      const rest = { ...r };
      for (const column of ['source_key', 'source_version', 'ingest_run_id', 'ingested_at']) delete rest[column];
      return rest;
    });
}

/** The quarantine rows of `key`: number, reasons, details, raw record. */
export async function quarantineRowsOf(fx: LakeFixture, dataset: string, key: string) {
  return (await quarantineRows(fx, dataset))
    .filter((r) => r.source_key === key)
    .map((r) => [Number(r.record_number), r.reasons, r.details, r.raw_record]);
}

/** The manifest numbers the fan-out and the one-invocation path must agree on (`withExpansion`: sizes after decompression too). */
export const ingestCounts = (m: Manifest, withExpansion: boolean) => ({
  status: m.status,
  rows_in: m.rows_in,
  rows_valid: m.rows_valid,
  rows_quarantined: m.rows_quarantined,
  reasons: m.reasons,
  columns: m.columns,
  bytes_in: m.bytes_in,
  ...(withExpansion ? { bytes_in_uncompressed: m.bytes_in_uncompressed, compression: m.compression } : {}),
  partitions: m.partitions.map((p) => [p.values, p.rows]),
});
