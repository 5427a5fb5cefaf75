import { Duration, Stack } from 'aws-cdk-lib';
import { Match, type Template } from 'aws-cdk-lib/assertions';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { DataLake } from '../../lib/data-lake.ts';
import { VISIBILITY_TIMEOUT_FACTOR } from '../../lib/functions/index.ts';
import type { MedallionLakeStack } from '../../lib/medallion-lake-stack.ts';
import {
  logicalId,
  removeSynthOutputs,
  render,
  skipBuiltinTemplateValidation,
  synthLake,
  testApp,
} from '../support/cdk/synth.ts';

skipBuiltinTemplateValidation();

let dev: { stack: MedallionLakeStack; template: Template };
let prod: { stack: MedallionLakeStack; template: Template };

beforeAll(() => {
  dev = synthLake({ context: { stage: 'dev' } });
  prod = synthLake({ context: { stage: 'prod' } });
});
afterAll(removeSynthOutputs);

const ids = (stack: MedallionLakeStack) => {
  const { ingestion, storage } = stack.lake;
  return {
    fn: logicalId(ingestion.function),
    queue: logicalId(ingestion.queue),
    dlq: logicalId(ingestion.deadLetterQueue),
    rule: logicalId(ingestion.rule),
    bronze: logicalId(storage.bucket('bronze')),
    key: logicalId(storage.key),
    logGroup: logicalId(ingestion.logGroup),
  };
};
const functionProps = (t: { stack: MedallionLakeStack; template: Template }) =>
  t.template.toJSON().Resources[ids(t.stack).fn].Properties;

describe('ingest function', () => {
  it('runs the bundled ESM handler on the current Node.js runtime, on x86_64 to match the DuckDB binding', () => {
    expect(functionProps(dev)).toMatchObject({
      Runtime: 'nodejs24.x',
      Architectures: ['x86_64'],
      Handler: 'index.handler',
    });
  });

  it('is sized from the engine benchmark: 1024 MB, 4096 MB of /tmp, 5 minutes, traced', () => {
    expect(functionProps(prod)).toMatchObject({
      MemorySize: 1024,
      EphemeralStorage: { Size: 4096 },
      Timeout: 300,
      TracingConfig: { Mode: 'Active' },
    });
  });

  it('sets exactly the environment the handler reads', () => {
    const { Variables } = functionProps(dev).Environment as { Variables: Record<string, unknown> };
    const { storage } = dev.stack.lake;
    expect(Object.fromEntries(Object.entries(Variables).map(([k, v]) => [k, render(v)]))).toEqual({
      CONTRACTS_DIR: '/var/task/contracts',
      BRONZE_BUCKET: `\${${logicalId(storage.bucket('bronze'))}}`,
      SILVER_BUCKET: `\${${logicalId(storage.bucket('silver'))}}`,
      QUARANTINE_BUCKET: `\${${logicalId(storage.bucket('quarantine'))}}`,
      GLUE_SILVER_DATABASE: 'medallion_dev_silver',
      GLUE_QUARANTINE_DATABASE: 'medallion_dev_quarantine',
      POWERTOOLS_SERVICE_NAME: 'medallion-dev-ingest',
      POWERTOOLS_METRICS_NAMESPACE: 'MedallionLake',
      LOG_LEVEL: 'DEBUG',
      WORK_DIR: '/tmp',
      DUCKDB_MEMORY_LIMIT: '128MB',
      // 60% of the default 4,096 MiB /tmp: a gzip expanding past it is quarantined, not retried until /tmp fills.
      MAX_UNCOMPRESSED_BYTES: '2576980377',
      // 1,024 MB buys 0.58 vCPU: one chunk at a time.
      INGEST_THREADS: '1',
      // Objects over 1 GiB are fanned out to the state machine (named, not referenced: no dependency cycle).
      FAN_OUT_STATE_MACHINE_ARN:
        'arn:${AWS::Partition}:states:${AWS::Region}:${AWS::AccountId}:stateMachine:medallion-dev-fan-out',
      FAN_OUT_MIN_BYTES: '1073741824',
      EVENT_BUS_NAME: 'default',
      NODE_OPTIONS: '--enable-source-maps',
      MALLOC_ARENA_MAX: '2',
      // Room in Node's worker pool for the spool's writes beside the sessions' queries.
      UV_THREADPOOL_SIZE: '16',
    });
  });

  it('transforms a large object in as many chunks at once as the memory buys vCPUs (1,769 MB each)', () => {
    const threadsAt = (memorySize: number) => {
      const lake = synthLake({ context: { stage: 'dev' }, overrides: { lake: { ingestion: { memorySize } } } });
      return functionProps(lake).Environment.Variables.INGEST_THREADS;
    };
    expect([threadsAt(1024), threadsAt(3538), threadsAt(10240)]).toEqual(['1', '2', '5']);
  });

  it('reserves (and caps) concurrency where the stage asks for it', () => {
    expect(functionProps(prod).ReservedConcurrentExecutions).toBe(10);
    expect(functionProps(dev).ReservedConcurrentExecutions).toBeUndefined();
  });

  it('logs to its own encrypted log group with the stage retention', () => {
    const { logGroup, key } = ids(prod.stack);
    expect(functionProps(prod).LoggingConfig).toEqual({ LogGroup: { Ref: logGroup } });
    prod.template.hasResource('AWS::Logs::LogGroup', {
      Properties: {
        LogGroupName: '/medallion-prod/ingest',
        RetentionInDays: 365,
        KmsKeyId: { 'Fn::GetAtt': [key, 'Arn'] },
      },
      DeletionPolicy: 'Retain',
    });
    dev.template.hasResourceProperties('AWS::Logs::LogGroup', { RetentionInDays: 30 });
  });

  it('lets CloudWatch Logs use the lake key for this log group only', () => {
    const key = prod.template.toJSON().Resources[ids(prod.stack).key].Properties.KeyPolicy.Statement as Record<
      string,
      unknown
    >[];
    const logs = key.filter((s) => render((s.Principal as { Service?: unknown })?.Service ?? '').startsWith('logs.'));
    // One statement per log group (ingest, gold refresh, fan-out state machine), each conditioned on exactly its group.
    expect(
      logs
        .map((s) =>
          render(
            (s.Condition as { ArnEquals: Record<string, unknown> }).ArnEquals['kms:EncryptionContext:aws:logs:arn'],
          ),
        )
        .sort(),
    ).toEqual([
      'arn:${AWS::Partition}:logs:${AWS::Region}:${AWS::AccountId}:log-group:/aws/vendedlogs/states/medallion-prod-fan-out',
      'arn:${AWS::Partition}:logs:${AWS::Region}:${AWS::AccountId}:log-group:/medallion-prod/gold-refresh',
      'arn:${AWS::Partition}:logs:${AWS::Region}:${AWS::AccountId}:log-group:/medallion-prod/ingest',
    ]);
  });
});

describe('queue and dead-letter queue', () => {
  it('gives the queue a visibility timeout of at least 6× the function timeout', () => {
    const { queue } = ids(dev.stack);
    const visibility = dev.template.toJSON().Resources[queue].Properties.VisibilityTimeout as number;
    expect(visibility).toBe(VISIBILITY_TIMEOUT_FACTOR * (functionProps(dev).Timeout as number));
    expect(visibility).toBeGreaterThanOrEqual(6 * 300);
  });

  it('moves a message to the dead-letter queue after 5 receives (AWS guidance for Lambda event sources: ≥ 5)', () => {
    const { queue, dlq } = ids(dev.stack);
    expect(dev.template.toJSON().Resources[queue].Properties.RedrivePolicy).toEqual({
      deadLetterTargetArn: { 'Fn::GetAtt': [dlq, 'Arn'] },
      maxReceiveCount: 5,
    });
    expect(dev.template.toJSON().Resources[dlq].Properties.MessageRetentionPeriod).toBe(Duration.days(14).toSeconds());
  });

  it('encrypts both queues and refuses non-TLS access to them', () => {
    dev.template.allResourcesProperties('AWS::SQS::Queue', { SqsManagedSseEnabled: true });
    for (const queue of [ids(dev.stack).queue, ids(dev.stack).dlq]) {
      dev.template.hasResourceProperties('AWS::SQS::QueuePolicy', {
        Queues: [{ Ref: queue }],
        PolicyDocument: {
          Statement: Match.arrayWith([
            Match.objectLike({
              Effect: 'Deny',
              Action: 'sqs:*',
              Condition: { Bool: { 'aws:SecureTransport': 'false' } },
            }),
          ]),
        },
      });
    }
  });

  it('is consumed in small batches with partial batch responses and a bounded concurrency', () => {
    dev.template.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
      EventSourceArn: { 'Fn::GetAtt': [ids(dev.stack).queue, 'Arn'] },
      FunctionName: { Ref: ids(dev.stack).fn },
      BatchSize: 5,
      MaximumBatchingWindowInSeconds: 10,
      FunctionResponseTypes: ['ReportBatchItemFailures'],
      ScalingConfig: { MaximumConcurrency: 2 },
    });
    prod.template.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
      ScalingConfig: { MaximumConcurrency: 10 },
    });
  });
});

describe('event path: bronze → EventBridge → queue', () => {
  it('has one rule for ingestion, matching object-created events of the bronze bucket only', () => {
    dev.template.resourceCountIs('AWS::Events::Rule', 2); // ingestion, and the gold refresh (test/cdk/gold-refresh.test.ts)
    const { rule, bronze, queue, dlq } = ids(dev.stack);
    expect(dev.template.toJSON().Resources[rule].Properties).toMatchObject({
      State: 'ENABLED',
      EventPattern: {
        source: ['aws.s3'],
        'detail-type': ['Object Created'],
        detail: { bucket: { name: [{ Ref: bronze }] } },
      },
      Targets: [{ Arn: { 'Fn::GetAtt': [queue, 'Arn'] }, DeadLetterConfig: { Arn: { 'Fn::GetAtt': [dlq, 'Arn'] } } }],
    });
  });

  it('lets only that rule send to the queue', () => {
    const { queue, rule } = ids(dev.stack);
    dev.template.hasResourceProperties('AWS::SQS::QueuePolicy', {
      Queues: [{ Ref: queue }],
      PolicyDocument: {
        Statement: Match.arrayWith([
          {
            Effect: 'Allow',
            Principal: { Service: 'events.amazonaws.com' },
            Action: ['sqs:GetQueueAttributes', 'sqs:GetQueueUrl', 'sqs:SendMessage'],
            Resource: { 'Fn::GetAtt': [queue, 'Arn'] },
            Condition: { ArnEquals: { 'aws:SourceArn': { 'Fn::GetAtt': [rule, 'Arn'] } } },
          },
        ]),
      },
    });
  });

  it('uses no S3 notification custom resource, so the bucket depends on no consumer', () => {
    dev.template.resourceCountIs('Custom::S3BucketNotifications', 0);
    const bronze = dev.template.toJSON().Resources[ids(dev.stack).bronze];
    expect(JSON.stringify(bronze)).not.toContain(ids(dev.stack).queue);
  });
});

describe('validation', () => {
  it.each([
    [{ batchSize: 11 }, /batchSize/],
    [{ maxConcurrency: 1 }, /maxConcurrency/],
    [{ maxConcurrency: 10, reservedConcurrentExecutions: 5 }, /below maxConcurrency/],
    [{ maxReceiveCount: 0 }, /maxReceiveCount/],
    [{ maxReceiveCount: 4 }, /at least 5/],
  ])('rejects %o', (ingestion, message) => {
    expect(() => new DataLake(new Stack(testApp(), 'Invalid'), 'Lake', { ingestion })).toThrow(message);
  });
});
