/**
 * The names both sides of a deployment share (wiring/names.ts) are the ones the template really carries: every
 * stack output AWS mode reads, every environment variable the functions read, and every metric the alarms select.
 */
import { describe, expect, it } from '@jest/globals';
import { STACK_OUTPUTS } from '../../cli/aws/stack.ts';
import { readGoldRefreshConfig } from '../../lambdas/gold-refresh/config.ts';
import { readConfig } from '../../lambdas/ingest/config.ts';
import { GOLD_REFRESH_ENV, INGEST_ENV, INGEST_METRICS, STACK_OUTPUT } from '../../wiring/names.ts';
import { synthLake } from '../support/cdk/synth.ts';

const { template } = synthLake();

function functionEnvironment(descriptionStart: string): Record<string, unknown> {
  const functions = Object.values(template.findResources('AWS::Lambda::Function')) as {
    Properties: { Description?: string; Environment?: { Variables?: Record<string, unknown> } };
  }[];
  const fn = functions.find((f) => f.Properties.Description?.startsWith(descriptionStart));
  if (!fn) throw new Error(`no function described "${descriptionStart}…"`);
  return fn.Properties.Environment?.Variables ?? {};
}

/** The template's variables with a plain string for every value (tokens resolve to objects). */
const asEnv = (variables: Record<string, unknown>): Record<string, string> =>
  Object.fromEntries(Object.entries(variables).map(([k, v]) => [k, typeof v === 'string' ? v : 'resolved-at-deploy']));

describe('wiring/names.ts against the template', () => {
  it('the stack has every output AWS mode reads, under the shared names', () => {
    const outputs = Object.keys(template.toJSON().Outputs as Record<string, unknown>);
    expect(outputs).toEqual(expect.arrayContaining(Object.values(STACK_OUTPUTS)));
    const always = Object.values(STACK_OUTPUT).filter((name) => name !== STACK_OUTPUT.analystsRoleArn);
    expect(outputs).toEqual(expect.arrayContaining(always));
  });

  it('the ingest function is given every variable its configuration reads, and reads them', () => {
    const variables = functionEnvironment('Validates bronze files');
    const optional: string[] = [INGEST_ENV.piiSaltSecretArn, INGEST_ENV.fanOutChunkBytes]; // set only when configured
    const wanted = Object.values(INGEST_ENV).filter(
      (name) => !optional.includes(name) || variables[name] !== undefined,
    );
    expect(Object.keys(variables)).toEqual(expect.arrayContaining(wanted));
    const config = readConfig(asEnv(variables));
    expect(config).toMatchObject({
      contractsDir: '/var/task/contracts',
      workDir: '/tmp',
      duckdbMemoryLimit: expect.any(String),
    });
    expect(config.threads).toBeGreaterThan(0);
    expect(config.maxUncompressedBytes).toBeGreaterThan(0);
    expect(config.fanOutStateMachineArn).toBeTruthy();
    expect(config.fanOutMinBytes).toBeGreaterThan(0);
  });

  it('the gold-refresh function is given every variable its configuration reads, and reads them', () => {
    const variables = functionEnvironment('Refreshes gold');
    expect(Object.keys(variables)).toEqual(expect.arrayContaining(Object.values(GOLD_REFRESH_ENV)));
    expect(readGoldRefreshConfig(asEnv(variables)).cleanupGraceMs).toBe(30 * 60_000);
  });

  it('the alarms and dashboard select the metrics the ingest function publishes', () => {
    const json = JSON.stringify(template.toJSON());
    for (const metric of ['RowsIn', 'RowsQuarantined', 'FilesRejected', 'IngestFailures'] as const) {
      expect(INGEST_METRICS).toContain(metric);
      expect(json).toContain(metric);
    }
  });
});
