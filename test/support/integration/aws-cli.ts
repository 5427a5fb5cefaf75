/** Runs the `lake` CLI in AWS mode against the emulated lake: stack outputs from a file, the emulator's endpoint. */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { STACK_OUTPUTS } from '../../../cli/aws/stack.ts';
import { lake as runLake, type CliResult } from '../e2e/cli.ts';
import type { LakeFixture } from './lake-fixture.ts';

export const STACK = 'MedallionLake-it';
export const WORKGROUPS = { analysts: 'medallion-it-analysts', platform: 'medallion-it-platform' };

/** The stack outputs of the emulated lake, by output key, as `cdk deploy --outputs-file` writes them. */
export function stackOutputsOf(fx: LakeFixture): Record<string, string> {
  const values: Record<keyof typeof STACK_OUTPUTS, string> = {
    bronzeBucket: fx.lake.buckets.bronze,
    silverBucket: fx.lake.buckets.silver,
    goldBucket: 'medallion-it-gold',
    quarantineBucket: fx.lake.buckets.quarantine,
    silverDatabase: fx.lake.glue.silverDatabase,
    goldDatabase: 'medallion_it_gold',
    quarantineDatabase: fx.lake.glue.quarantineDatabase ?? 'medallion_it_quarantine',
    analystsWorkgroup: WORKGROUPS.analysts,
    platformWorkgroup: WORKGROUPS.platform,
    ingestQueueUrl: fx.lake.queue.url,
    deadLetterQueueUrl: fx.lake.deadLetterQueue.url,
  };
  return Object.fromEntries(
    Object.entries(STACK_OUTPUTS).map(([field, key]) => [key, values[field as keyof typeof STACK_OUTPUTS]]),
  );
}

/** The AWS environment of a CLI run against the emulator. */
export function emulatorEnv(fx: LakeFixture): Record<string, string> {
  return {
    AWS_ENDPOINT_URL: fx.lake.endpoint,
    AWS_REGION: fx.lake.region,
    AWS_ACCESS_KEY_ID: fx.lake.accountId,
    AWS_SECRET_ACCESS_KEY: 'moto',
    AWS_PROFILE: '',
  };
}

/** `extraOutputs`: stack outputs beyond the lake's own (the fan-out state machine's ARN, say). */
export function awsCli(
  fx: LakeFixture,
  args: string[],
  extraEnv: Record<string, string> = {},
  extraOutputs: Record<string, string> = {},
): Promise<CliResult> {
  const file = join(fx.scratchDir, 'outputs.json');
  writeFileSync(file, JSON.stringify({ [STACK]: { ...stackOutputsOf(fx), ...extraOutputs } }));
  const env = { ...emulatorEnv(fx), ...extraEnv };
  return runLake([...args, '--aws', '--stack', STACK, '--outputs-file', file], { cwd: fx.scratchDir, env });
}
