import { Duration, Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { DataLake } from '../../lib/data-lake.ts';
import { GOLD_REFRESH_MESSAGE_GROUP } from '../../lib/gold/lake-gold-refresh.ts';
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

beforeAll(() => {
  dev = synthLake({ context: { stage: 'dev' } });
});
afterAll(removeSynthOutputs);

const ids = () => {
  const refresh = dev.stack.lake.goldRefresh;
  if (!refresh) throw new Error('no gold refresh in the lake');
  return {
    fn: logicalId(refresh.function),
    queue: logicalId(refresh.queue),
    dlq: logicalId(refresh.deadLetterQueue),
    deliveryDlq: logicalId(refresh.deliveryDeadLetterQueue),
    rule: logicalId(refresh.rule),
    silver: logicalId(dev.stack.lake.storage.bucket('silver')),
    gold: logicalId(dev.stack.lake.storage.bucket('gold')),
  };
};
const resource = (id: string) => dev.template.toJSON().Resources[id] as { Properties: Record<string, unknown> };

describe('trigger: silver _manifests/ → EventBridge → FIFO queue', () => {
  it('matches object-created events of the silver bucket under _manifests/ only', () => {
    const { rule, silver, queue, deliveryDlq } = ids();
    const { Tags: _tags, ...properties } = resource(rule).Properties;
    expect(properties).toEqual({
      Description: 'Ingest manifests created in the silver bucket, to the gold-refresh queue',
      State: 'ENABLED',
      EventPattern: {
        source: ['aws.s3'],
        'detail-type': ['Object Created'],
        detail: { bucket: { name: [{ Ref: silver }] }, object: { key: [{ prefix: '_manifests/' }] } },
      },
      Targets: [
        {
          Id: 'Target0',
          Arn: { 'Fn::GetAtt': [queue, 'Arn'] },
          SqsParameters: { MessageGroupId: GOLD_REFRESH_MESSAGE_GROUP },
          DeadLetterConfig: { Arn: { 'Fn::GetAtt': [deliveryDlq, 'Arn'] } },
        },
      ],
    });
  });

  it('turns on EventBridge notifications of the silver bucket (native property, no custom resource)', () => {
    expect(resource(ids().silver).Properties.NotificationConfiguration).toEqual({
      EventBridgeConfiguration: { EventBridgeEnabled: true },
    });
    dev.template.resourceCountIs('Custom::S3BucketNotifications', 0);
  });

  it('runs refreshes one at a time: a FIFO queue fed with a single message group, and a FIFO DLQ after 5 receives', () => {
    const { queue, dlq } = ids();
    expect(resource(queue).Properties).toMatchObject({
      FifoQueue: true,
      ContentBasedDeduplication: true,
      SqsManagedSseEnabled: true,
      VisibilityTimeout: 15 * 60 * 6,
      RedrivePolicy: { deadLetterTargetArn: { 'Fn::GetAtt': [dlq, 'Arn'] }, maxReceiveCount: 5 },
    });
    expect(resource(dlq).Properties).toMatchObject({
      FifoQueue: true,
      SqsManagedSseEnabled: true,
      MessageRetentionPeriod: 14 * 24 * 3600,
    });
  });

  it('lets only its rule send to the queue, over TLS only', () => {
    const { queue, rule } = ids();
    dev.template.hasResourceProperties('AWS::SQS::QueuePolicy', {
      Queues: [{ Ref: queue }],
      PolicyDocument: {
        Statement: [
          Match.objectLike({
            Effect: 'Deny',
            Action: 'sqs:*',
            Condition: { Bool: { 'aws:SecureTransport': 'false' } },
          }),
          {
            Effect: 'Allow',
            Principal: { Service: 'events.amazonaws.com' },
            Action: ['sqs:GetQueueAttributes', 'sqs:GetQueueUrl', 'sqs:SendMessage'],
            Resource: { 'Fn::GetAtt': [queue, 'Arn'] },
            Condition: { ArnEquals: { 'aws:SourceArn': { 'Fn::GetAtt': [rule, 'Arn'] } } },
          },
        ],
      },
    });
  });
});

describe('function', () => {
  it('is fed by the FIFO queue in batches of 10, with partial batch responses', () => {
    const { fn, queue } = ids();
    const mappings = Object.values(dev.template.findResources('AWS::Lambda::EventSourceMapping')).filter(
      (m) => render(m.Properties.FunctionName) === `\${${fn}}`,
    );
    expect(mappings).toHaveLength(1);
    expect(mappings[0]?.Properties).toMatchObject({
      EventSourceArn: { 'Fn::GetAtt': [queue, 'Arn'] },
      BatchSize: 10,
      FunctionResponseTypes: ['ReportBatchItemFailures'],
    });
    expect(mappings[0]?.Properties.MaximumBatchingWindowInSeconds).toBeUndefined(); // not allowed on FIFO sources
  });

  it('runs on Athena in the platform workgroup, with the stage’s databases and buckets', () => {
    const { fn, silver, gold } = ids();
    const names = dev.stack.lake.catalog.databaseNames;
    expect(resource(fn).Properties).toMatchObject({
      Runtime: 'nodejs24.x',
      Handler: 'index.handler',
      Timeout: 900,
      MemorySize: 512,
      TracingConfig: { Mode: 'Active' },
      Environment: {
        Variables: {
          SILVER_BUCKET: { Ref: silver },
          GOLD_BUCKET: { Ref: gold },
          GLUE_SILVER_DATABASE: names.silver,
          GLUE_GOLD_DATABASE: names.gold,
          GLUE_QUARANTINE_DATABASE: names.quarantine,
          ATHENA_WORKGROUP: dev.stack.lake.query.workgroupName('platform'),
          CLEANUP_GRACE_SECONDS: '1800',
          // Named after the stage, like the ingest function's: dev and prod in one account and region log and
          // trace under different services (issue 12).
          POWERTOOLS_SERVICE_NAME: 'medallion-dev-gold-refresh',
        },
      },
    });
  });

  it('alarms on both dead-letter queues and on function errors, into the lake’s alarm topic', () => {
    const { dlq, deliveryDlq } = ids();
    const topic = logicalId(dev.stack.lake.monitoring.alarmTopic);
    for (const queue of [dlq, deliveryDlq]) {
      dev.template.hasResourceProperties('AWS::CloudWatch::Alarm', {
        MetricName: 'ApproximateNumberOfMessagesVisible',
        Dimensions: [{ Name: 'QueueName', Value: { 'Fn::GetAtt': [queue, 'QueueName'] } }],
        Threshold: 1,
        AlarmActions: [{ Ref: topic }],
      });
    }
    dev.template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      MetricName: 'Errors',
      Namespace: 'AWS/Lambda',
      Dimensions: [{ Name: 'FunctionName', Value: { Ref: ids().fn } }],
      AlarmActions: [{ Ref: topic }],
    });
  });
});

describe('DataLake goldRefresh prop', () => {
  it('refuses fewer than 5 receives before the dead-letter queue', () => {
    expect(
      () => new DataLake(new Stack(testApp(), 'FewReceives'), 'Lake', { goldRefresh: { maxReceiveCount: 3 } }),
    ).toThrow(/at least 5/);
  });

  it('false: no refresh function, no rule on silver, and silver sends no events', () => {
    const stack = new Stack(testApp(), 'NoGold');
    const lake = new DataLake(stack, 'Lake', { goldRefresh: false });
    const template = Template.fromStack(stack);
    expect(lake.goldRefresh).toBeUndefined();
    template.resourceCountIs('AWS::Events::Rule', 1);
    template.resourceCountIs('AWS::Lambda::Function', 1);
    expect(
      template.toJSON().Resources[logicalId(lake.storage.bucket('silver'))].Properties.NotificationConfiguration,
    ).toBeUndefined();
  });

  it('passes tuning through: timeout sets the visibility timeout, reserved concurrency caps the function', () => {
    const stack = new Stack(testApp(), 'Tuned');
    const lake = new DataLake(stack, 'Lake', {
      goldRefresh: { timeout: Duration.minutes(5), reservedConcurrentExecutions: 1, cleanupGrace: Duration.hours(1) },
    });
    const template = Template.fromStack(stack);
    const refresh = lake.goldRefresh;
    if (!refresh) throw new Error('no gold refresh');
    expect(template.toJSON().Resources[logicalId(refresh.queue)].Properties.VisibilityTimeout).toBe(300 * 6);
    expect(template.toJSON().Resources[logicalId(refresh.function)].Properties).toMatchObject({
      Timeout: 300,
      ReservedConcurrentExecutions: 1,
      Environment: { Variables: { CLEANUP_GRACE_SECONDS: '3600' } },
    });
  });
});
