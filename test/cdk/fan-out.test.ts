/**
 * The fan-out state machine as synthesized: Plan → (fanned out?) → Map over the chunks → Commit, each an
 * invocation of the ingest function with retries; a valid Amazon States Language definition (asl-validator);
 * logged to an encrypted log group, traced; its role may invoke only the ingest function; the ingest function
 * may start only this state machine; an alarm on unsuccessful executions notifies the lake's topic.
 */
import { createRequire } from 'node:module';
import type { Template } from 'aws-cdk-lib/assertions';
import { afterAll, beforeAll, describe, it } from '@jest/globals';
import { expect } from '../support/expect.ts';
import {
  DEFAULT_MAINTENANCE_LEASE_TTL_MS,
  MaintenanceLeaseHeldError,
  SETTLING_HOLD_MS,
  SourceSettlingError,
} from '../../engine/index.ts';
import { MAINTENANCE_RETRY, type LakeFanOut } from '../../lib/fan-out/lake-fan-out.ts';
import type { MedallionLakeStack } from '../../lib/medallion-lake-stack.ts';
import {
  logicalId,
  removeSynthOutputs,
  render,
  roleStatements,
  skipBuiltinTemplateValidation,
  synthLake,
} from '../support/cdk/synth.ts';

skipBuiltinTemplateValidation();

type AslValidator = (
  definition: unknown,
  options?: { checkPaths?: boolean; checkArn?: boolean },
) => { isValid: boolean; errorsText: (separator?: string) => string };
const validateAsl = createRequire(import.meta.url)('asl-validator') as AslValidator;

let dev: { stack: MedallionLakeStack; template: Template };
beforeAll(() => {
  dev = synthLake({ context: { stage: 'dev' } });
});
afterAll(removeSynthOutputs);

const resources = () =>
  dev.template.toJSON().Resources as Record<string, { Type: string; Properties: Record<string, unknown> }>;
const fanOut = (): LakeFanOut => {
  const f = dev.stack.lake.fanOut;
  if (!f) throw new Error('the lake has no fan-out');
  return f;
};
const smProps = () => resources()[logicalId(fanOut().stateMachine)]!.Properties;

/** The definition with every CloudFormation reference replaced by a well-formed ARN, parsed. */
function definition(): Record<string, unknown> {
  const fnArn = 'arn:aws:lambda:eu-west-1:123456789012:function:ingest';
  const text = render(smProps().DefinitionString).replace(/\$\{[^}]+\}/g, fnArn);
  return JSON.parse(text) as Record<string, unknown>;
}
type State = Record<string, unknown> & {
  Type: string;
  Parameters?: Record<string, unknown>;
  Retry?: Array<Record<string, unknown>>;
};
const states = (d: Record<string, unknown>) => d.States as Record<string, State>;

describe('fan-out state machine', () => {
  it('passes asl-validator (schema, JSON paths, transitions, terminal states, ARNs)', () => {
    const result = validateAsl(definition());
    expect(result.errorsText(), 'asl-validator').toBe('');
    expect(result.isValid).toBe(true);
  });

  it('the validator is not vacuous: a definition with a dangling transition fails it', () => {
    const d = definition();
    (states(d).Plan as State).Next = 'Nowhere';
    expect(validateAsl(d).isValid).toBe(false);
  });

  it('is Plan → Choice → Map (max concurrency 10) of Chunk → Commit, every step the ingest function with retries', () => {
    const d = definition();
    expect(d.StartAt).toBe('Plan');
    const s = states(d);
    expect(s.Plan).toMatchObject({
      Type: 'Task',
      Next: 'Fanned out?',
      ResultPath: '$.plan',
      Parameters: { fanOut: 'plan', 'source.$': '$.source' },
    });
    expect(s['Fanned out?']).toMatchObject({
      Type: 'Choice',
      Choices: [{ Variable: '$.plan.fanned_out', BooleanEquals: true, Next: 'Chunks' }],
      Default: 'Ingested in one pass',
    });
    const map = s.Chunks as State & { ItemProcessor: { StartAt: string; States: Record<string, State> } };
    expect(map).toMatchObject({
      Type: 'Map',
      ItemsPath: '$.plan.chunks',
      MaxConcurrency: 10,
      ResultPath: null,
      Next: 'Commit',
    });
    expect(map.ItemSelector).toEqual({
      'dataset.$': '$.plan.dataset',
      'sourceId.$': '$.plan.source_id',
      'index.$': '$$.Map.Item.Value.index',
    });
    const chunk = map.ItemProcessor.States.Chunk as State;
    expect(chunk).toMatchObject({
      Type: 'Task',
      End: true,
      Parameters: { fanOut: 'chunk', 'dataset.$': '$.dataset', 'sourceId.$': '$.sourceId', 'index.$': '$.index' },
    });
    expect(s.Commit).toMatchObject({
      Type: 'Task',
      End: true,
      Parameters: {
        fanOut: 'commit',
        'dataset.$': '$.plan.dataset',
        'sourceId.$': '$.plan.source_id',
        'runId.$': '$.plan.run_id',
      },
    });
    const anyError = {
      ErrorEquals: ['States.ALL'],
      MaxAttempts: 2,
      IntervalSeconds: 10,
      BackoffRate: 2,
      JitterStrategy: 'FULL',
    };
    for (const task of [s.Plan, chunk, s.Commit] as State[]) {
      // The function itself (the response payload is the step's result), the ingest function and no other.
      expect(task.Resource).toBe('arn:aws:lambda:eu-west-1:123456789012:function:ingest');
    }
    expect(chunk.Retry).toEqual([anyError]);
    // The steps that publish wait out a maintenance lease first (a retrier matches before States.ALL).
    const leaseHeld = {
      ErrorEquals: ['MaintenanceLeaseHeldError', 'SourceSettlingError'],
      MaxAttempts: 8,
      IntervalSeconds: 300,
      BackoffRate: 2,
      MaxDelaySeconds: 1800,
      JitterStrategy: 'NONE',
    };
    expect(s.Plan?.Retry).toEqual([leaseHeld, anyError]);
    expect(s.Commit?.Retry).toEqual([leaseHeld, anyError]);
  });

  it("a step refused by a maintenance lease, or by a removal in progress, is retried for longer than the lease's 2 h and the removal's hold, under the engine errors' names", () => {
    const lease = {
      lease_version: 1 as const,
      dataset: 'transactions',
      lease_id: 'l-1',
      operation: 'compact' as const,
      holder: 'ops',
      acquired_at: '2024-01-01T00:00:00.000Z',
      expires_at: '2024-01-01T02:00:00.000Z',
    };
    // The Lambda error type Step Functions matches is the thrown error's `name`.
    expect(new MaintenanceLeaseHeldError(lease, 'the commit').name).toBe(MAINTENANCE_RETRY.errors?.[0]);
    expect(new SourceSettlingError('k', undefined).name).toBe(MAINTENANCE_RETRY.errors?.[1]);
    let waited = 0;
    let delay = MAINTENANCE_RETRY.interval?.toSeconds() ?? 0;
    for (let retry = 0; retry < (MAINTENANCE_RETRY.maxAttempts ?? 0); retry++) {
      waited += Math.min(delay, MAINTENANCE_RETRY.maxDelay?.toSeconds() ?? Infinity);
      delay *= MAINTENANCE_RETRY.backoffRate ?? 1;
    }
    expect(waited).toBeGreaterThan(DEFAULT_MAINTENANCE_LEASE_TTL_MS / 1000);
    expect(waited).toBeGreaterThan(SETTLING_HOLD_MS / 1000);
    // The plan and the commit may each wait out a lease: the execution must not time out first.
    expect(definition().TimeoutSeconds).toBeGreaterThan(2 * waited + 3600);
  });

  it('logs every event to a log group encrypted with the lake key, is traced, and times out after 12 hours', () => {
    const props = smProps();
    expect(props.TracingConfiguration).toEqual({ Enabled: true });
    expect(props.StateMachineName).toBe(fanOut().stateMachineName);
    const logging = props.LoggingConfiguration as {
      Level: string;
      IncludeExecutionData: boolean;
      Destinations: unknown[];
    };
    expect(logging).toMatchObject({ Level: 'ALL', IncludeExecutionData: false });
    expect(render(logging.Destinations)).toContain(logicalId(fanOut().logGroup));
    const logGroup = resources()[logicalId(fanOut().logGroup)]!.Properties;
    expect(render(logGroup.KmsKeyId)).toBe(`\${${logicalId(dev.stack.lake.storage.key)}.Arn}`);
    expect(String(logGroup.LogGroupName)).toMatch(/^\/aws\/vendedlogs\/states\//);
    expect(definition().TimeoutSeconds).toBe(12 * 3600);
  });

  it("the state machine's role may invoke the ingest function (and its versions) and nothing else of Lambda", () => {
    const fn = logicalId(dev.stack.lake.ingestion.function);
    const statements = roleStatements(dev.template, logicalId(fanOut().stateMachine.role));
    const lambda = statements.filter((s) => s.actions.some((a) => a.startsWith('lambda:')));
    expect(lambda).toEqual([
      expect.objectContaining({
        effect: 'Allow',
        actions: ['lambda:InvokeFunction'],
        resources: [`\${${fn}.Arn}`, `\${${fn}.Arn}:*`],
      }),
    ]);
    expect(statements.flatMap((s) => s.actions).filter((a) => a.startsWith('s3:') || a.startsWith('glue:'))).toEqual(
      [],
    );
  });

  it('the ingest function routes large objects to it: its ARN and threshold in the environment, StartExecution on it alone, staging read/write', () => {
    const fnProps = resources()[logicalId(dev.stack.lake.ingestion.function)]!.Properties as {
      Environment: { Variables: Record<string, unknown> };
    };
    const vars = fnProps.Environment.Variables;
    expect(render(vars.FAN_OUT_STATE_MACHINE_ARN)).toMatch(
      new RegExp(`:states:.*:stateMachine:${fanOut().stateMachineName}$`),
    );
    expect(vars.FAN_OUT_MIN_BYTES).toBe(String(1 << 30));
    const role = dev.stack.lake.ingestion.function.role;
    if (!role) throw new Error('the ingest function has no role');
    const statements = roleStatements(dev.template, logicalId(role));
    const start = statements.filter((s) => s.actions.some((a) => a.startsWith('states:')));
    expect(start).toHaveLength(1);
    expect(start[0]).toMatchObject({ effect: 'Allow', actions: ['states:StartExecution'] });
    expect(start[0]!.resources).toEqual([render(vars.FAN_OUT_STATE_MACHINE_ARN)]);
    const silver = logicalId(dev.stack.lake.storage.bucket('silver'));
    const staging = statements
      .filter((s) => s.resources.includes(`\${${silver}.Arn}/_staging/*`))
      .flatMap((s) => s.actions);
    expect(staging).toEqual(expect.arrayContaining(['s3:GetObject', 's3:PutObject', 's3:DeleteObject']));
  });

  it('an alarm on failed, timed-out or aborted executions notifies the alarm topic and is on the dashboard', () => {
    const alarm = dev.stack.lake.monitoring.fanOutFailedAlarm;
    expect(alarm).toBeDefined();
    const props = resources()[logicalId(alarm!)]!.Properties as {
      Metrics: Array<{ Expression?: string; MetricStat?: { Metric: { MetricName: string } } }>;
      AlarmActions: unknown[];
      Threshold: number;
    };
    expect(props.Metrics.find((m) => m.Expression)?.Expression).toBe('failed + timedOut + aborted');
    expect(props.Metrics.flatMap((m) => (m.MetricStat ? [m.MetricStat.Metric.MetricName] : [])).sort()).toEqual([
      'ExecutionsAborted',
      'ExecutionsFailed',
      'ExecutionsTimedOut',
    ]);
    expect(props.Threshold).toBe(1);
    expect(render(props.AlarmActions)).toContain(logicalId(dev.stack.lake.monitoring.alarmTopic));
    const dashboard = Object.values(resources()).find((r) => r.Type === 'AWS::CloudWatch::Dashboard')!;
    expect(render(dashboard.Properties.DashboardBody)).toContain('Fan-out executions');
  });

  it('refuses a Map concurrency outside 1–40', () => {
    expect(() =>
      synthLake({ context: { stage: 'dev' }, overrides: { lake: { fanOut: { maxConcurrency: 0 } } } }),
    ).toThrow(/maxConcurrency must be 1–40/);
  });
});
