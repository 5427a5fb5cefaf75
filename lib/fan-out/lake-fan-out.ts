import { ArnFormat, Duration, RemovalPolicy, Stack, type CfnElement } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import * as tasks from 'aws-cdk-lib/aws-stepfunctions-tasks';
import { Construct } from 'constructs';
import { STAGING_PREFIX } from '../../engine/contract/index.ts';
import { acknowledge, acknowledgeInlinePolicies } from '../compliance/acknowledgments.ts';
import { encryptedLogGroup } from '../functions/index.ts';
import type { LakeStorage } from '../storage/lake-storage.ts';
import { INGEST_ENV } from '../../wiring/names.ts';

/**
 * Objects above this size are fanned out: at the ~4 MB/s the ingest function plans with on 1,024 MB
 * (`PESSIMISTIC_BYTES_PER_MS`), 1 GiB is ~4.5 minutes — the edge of its 5-minute timeout.
 */
export const DEFAULT_FAN_OUT_MIN_BYTES = 1 << 30;

export interface LakeFanOutProps {
  readonly storage: LakeStorage;
  /** The ingest function: it runs every step (`{ fanOut: 'plan' | 'chunk' | 'commit' }`) and starts executions. */
  readonly ingestFunction: lambda.IFunction;
  /**
   * Prefix of the state machine, log group and alarm names.
   * @default 'medallion'
   */
  readonly namePrefix?: string;
  /**
   * Chunks transformed at once (the inline Map's MaxConcurrency); each is one invocation of the ingest function.
   * @default 10
   */
  readonly maxConcurrency?: number;
  /**
   * Attempts of a chunk (and of the plan and commit) before the execution fails, with exponential backoff.
   * @default 3
   */
  readonly maxAttempts?: number;
  /**
   * Objects larger than this are fanned out instead of ingested in one invocation.
   * @default DEFAULT_FAN_OUT_MIN_BYTES (1 GiB)
   */
  readonly minBytes?: number;
  /**
   * Text per chunk (a record-aligned byte range). Each chunk needs about 2.5× this in the function's /tmp.
   * @default - the engine's DEFAULT_FAN_OUT_CHUNK_BYTES (512 MiB)
   */
  readonly chunkBytes?: number;
  /**
   * Longest an execution may run before it times out (and fails, alarmed). The default outlasts a plan and a
   * commit that each wait out a maintenance lease (MAINTENANCE_RETRY: ~3 h each), plus the chunks.
   * @default Duration.hours(12)
   */
  readonly timeout?: Duration;
  /** @default logs.RetentionDays.THREE_MONTHS */
  readonly logRetention?: logs.RetentionDays;
  /** @default false (RETAIN) */
  readonly allowDestroy?: boolean;
}

/**
 * The retry of a step refused by a dataset's maintenance lease, or by a removal of the source's stale files in progress
 * (`SourceSettlingError`, held for at most 15 minutes; the Lambda error type is the engine error's `name`): every 5,
 * 10, 20, then 30 minutes, 185 minutes in all — past the lease's 2 h expiry.
 */
export const MAINTENANCE_RETRY: sfn.RetryProps = {
  errors: ['MaintenanceLeaseHeldError', 'SourceSettlingError'],
  maxAttempts: 8,
  interval: Duration.minutes(5),
  backoffRate: 2,
  maxDelay: Duration.minutes(30),
  jitterStrategy: sfn.JitterType.NONE,
};

/**
 * The fan-out of objects too large for one invocation: a Step Functions state machine — Plan → (fanned
 * out?) → Map over the chunks → Commit — every step an invocation of the ingest function. Logged (ALL, to a
 * log group encrypted with the lake key), traced with X-Ray, its role allowed to invoke that one function.
 */
export class LakeFanOut extends Construct {
  readonly stateMachine: sfn.StateMachine;
  readonly logGroup: logs.LogGroup;
  readonly stateMachineName: string;
  readonly minBytes: number;
  readonly chunkBytes: number | undefined;
  readonly maxConcurrency: number;

  constructor(scope: Construct, id: string, props: LakeFanOutProps) {
    super(scope, id);
    const prefix = props.namePrefix ?? 'medallion';
    this.maxConcurrency = props.maxConcurrency ?? 10;
    const maxAttempts = props.maxAttempts ?? 3;
    this.minBytes = props.minBytes ?? DEFAULT_FAN_OUT_MIN_BYTES;
    this.chunkBytes = props.chunkBytes;
    validate(this.maxConcurrency, maxAttempts, this.minBytes, this.chunkBytes);
    this.stateMachineName = `${prefix}-fan-out`;
    const removalPolicy = props.allowDestroy ? RemovalPolicy.DESTROY : RemovalPolicy.RETAIN;
    // The vended-logs prefix keeps the log group out of CloudWatch Logs' size-limited resource policy.
    this.logGroup = encryptedLogGroup(
      this,
      props.storage.key,
      `/aws/vendedlogs/states/${this.stateMachineName}`,
      props.logRetention ?? logs.RetentionDays.THREE_MONTHS,
      removalPolicy,
    );

    const step = (
      name: string,
      payload: Record<string, unknown>,
      resultPath: string = sfn.JsonPath.DISCARD,
      publishes = false,
    ): sfn.TaskStateBase => {
      const task = new tasks.LambdaInvoke(this, name, {
        lambdaFunction: props.ingestFunction,
        payload: sfn.TaskInput.fromObject(payload),
        payloadResponseOnly: true,
        resultPath,
        retryOnServiceExceptions: false,
      });
      // A step that publishes (Commit, the Plan's one-pass fallback) waits out an erase or compaction of the
      // dataset: its retries outlast the maintenance lease (2 h) instead of failing the execution after 30 s.
      if (publishes) task.addRetry(MAINTENANCE_RETRY);
      return task.addRetry({
        errors: [sfn.Errors.ALL],
        maxAttempts: maxAttempts - 1,
        interval: Duration.seconds(10),
        backoffRate: 2,
        jitterStrategy: sfn.JitterType.FULL,
      });
    };

    const plan = step('Plan', { fanOut: 'plan', source: sfn.JsonPath.objectAt('$.source') }, '$.plan', true);
    const chunk = step('Chunk', {
      fanOut: 'chunk',
      dataset: sfn.JsonPath.stringAt('$.dataset'),
      sourceId: sfn.JsonPath.stringAt('$.sourceId'),
      index: sfn.JsonPath.numberAt('$.index'),
    });
    const chunks = new sfn.Map(this, 'Chunks', {
      itemsPath: '$.plan.chunks',
      maxConcurrency: this.maxConcurrency,
      itemSelector: {
        dataset: sfn.JsonPath.stringAt('$.plan.dataset'),
        sourceId: sfn.JsonPath.stringAt('$.plan.source_id'),
        index: sfn.JsonPath.numberAt('$$.Map.Item.Value.index'),
      },
      resultPath: sfn.JsonPath.DISCARD,
    }).itemProcessor(chunk);
    const commit = step(
      'Commit',
      {
        fanOut: 'commit',
        dataset: sfn.JsonPath.stringAt('$.plan.dataset'),
        sourceId: sfn.JsonPath.stringAt('$.plan.source_id'),
        runId: sfn.JsonPath.stringAt('$.plan.run_id'),
      },
      '$.commit',
      true,
    );
    const definition = plan.next(
      new sfn.Choice(this, 'Fanned out?')
        .when(sfn.Condition.booleanEquals('$.plan.fanned_out', true), chunks.next(commit))
        .otherwise(new sfn.Succeed(this, 'Ingested in one pass')),
    );
    this.stateMachine = new sfn.StateMachine(this, 'StateMachine', {
      stateMachineName: this.stateMachineName,
      definitionBody: sfn.DefinitionBody.fromChainable(definition),
      timeout: props.timeout ?? Duration.hours(12),
      tracingEnabled: true,
      logs: { destination: this.logGroup, level: sfn.LogLevel.ALL, includeExecutionData: false },
    });
    acknowledgeInlinePolicies(this.stateMachine.role);
    acknowledge(this.stateMachine.role, {
      'AwsSolutions-IAM5[Resource::*]':
        'X-Ray (PutTraceSegments, GetSamplingRules …) and CloudWatch Logs log delivery (CreateLogDelivery, DescribeResourcePolicies …) support no resource-level permissions.',
    });
    const cfnFunction = props.ingestFunction.node.defaultChild;
    if (cfnFunction) {
      const functionId = Stack.of(this).resolve((cfnFunction as CfnElement).logicalId) as string;
      acknowledge(this.stateMachine.role, {
        [`AwsSolutions-IAM5[Resource::<${functionId}.Arn>:*]`]:
          'Invoking versions and aliases of the one ingest function (what LambdaInvoke grants); no other function.',
      });
    }
  }

  /** The state machine's ARN from its fixed name: the ingest function may name it without a reference cycle. */
  stateMachineArn(): string {
    return Stack.of(this).formatArn({
      service: 'states',
      resource: 'stateMachine',
      resourceName: this.stateMachineName,
      arnFormat: ArnFormat.COLON_RESOURCE_NAME,
    });
  }

  /**
   * Makes the ingest function route objects above `minBytes` to the state machine: its settings, the right to
   * start executions of this one state machine, and read/write/delete on the silver staging prefix.
   */
  routeLargeObjects(ingestFunction: lambda.Function, storage: LakeStorage): void {
    ingestFunction.addEnvironment(INGEST_ENV.fanOutStateMachineArn, this.stateMachineArn());
    ingestFunction.addEnvironment(INGEST_ENV.fanOutMinBytes, String(this.minBytes));
    if (this.chunkBytes !== undefined)
      ingestFunction.addEnvironment(INGEST_ENV.fanOutChunkBytes, String(this.chunkBytes));
    ingestFunction.addToRolePolicy(
      new iam.PolicyStatement({ actions: ['states:StartExecution'], resources: [this.stateMachineArn()] }),
    );
    // Its own staged chunk outputs (copied into place by the commit); the function lists the whole bucket already.
    storage.grantReadWrite(ingestFunction, 'silver', `${STAGING_PREFIX}*`, { listWholeBucket: true });
  }

  /** Executions that failed, timed out or were aborted. */
  metricUnsuccessful(options: cloudwatch.MathExpressionOptions = {}): cloudwatch.MathExpression {
    const period = options.period ?? Duration.minutes(5);
    return new cloudwatch.MathExpression({
      expression: 'failed + timedOut + aborted',
      usingMetrics: {
        failed: this.stateMachine.metricFailed({ period, statistic: 'Sum' }),
        timedOut: this.stateMachine.metricTimedOut({ period, statistic: 'Sum' }),
        aborted: this.stateMachine.metricAborted({ period, statistic: 'Sum' }),
      },
      label: 'Fan-out executions failed, timed out or aborted',
      period,
      ...options,
    });
  }
}

function validate(maxConcurrency: number, maxAttempts: number, minBytes: number, chunkBytes: number | undefined): void {
  if (!Number.isInteger(maxConcurrency) || maxConcurrency < 1 || maxConcurrency > 40)
    throw new Error(`maxConcurrency must be 1–40, an inline Map's practical limit (got ${maxConcurrency})`);
  if (!Number.isInteger(maxAttempts) || maxAttempts < 1 || maxAttempts > 10)
    throw new Error(`maxAttempts must be 1–10 (got ${maxAttempts})`);
  if (!Number.isSafeInteger(minBytes) || minBytes < 1)
    throw new Error(`minBytes must be a whole number ≥ 1 (got ${minBytes})`);
  if (chunkBytes !== undefined && (!Number.isSafeInteger(chunkBytes) || chunkBytes < 1))
    throw new Error(`chunkBytes must be a whole number ≥ 1 (got ${chunkBytes})`);
}
