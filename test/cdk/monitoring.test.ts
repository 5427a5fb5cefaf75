import { Match, type Template } from 'aws-cdk-lib/assertions';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { loadContracts } from '../../engine/contract/index.ts';
import type { MedallionLakeStack } from '../../lib/medallion-lake-stack.ts';
import {
  logicalId,
  removeSynthOutputs,
  render,
  skipBuiltinTemplateValidation,
  synthLake,
} from '../support/cdk/synth.ts';

skipBuiltinTemplateValidation();

const datasets = loadContracts().names();

let stack: MedallionLakeStack;
let template: Template;

beforeAll(() => {
  ({ stack, template } = synthLake({ context: { stage: 'prod', alarmEmails: 'oncall@example.com,data@example.com' } }));
});
afterAll(removeSynthOutputs);

const topicRef = () => ({ Ref: logicalId(stack.lake.monitoring.alarmTopic) });
function alarm(name: string): Record<string, unknown> {
  const found = Object.values(template.findResources('AWS::CloudWatch::Alarm')).filter(
    (a) => a.Properties.AlarmName === name,
  );
  expect(found).toHaveLength(1);
  return found[0]?.Properties as Record<string, unknown>;
}

describe('alarm topic', () => {
  it('is encrypted with the lake key and refuses non-TLS publishers', () => {
    template.hasResourceProperties('AWS::SNS::Topic', {
      KmsMasterKeyId: { 'Fn::GetAtt': [logicalId(stack.lake.storage.key), 'Arn'] },
    });
    template.hasResourceProperties('AWS::SNS::TopicPolicy', {
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } }),
        ]),
      },
    });
  });

  it('lets CloudWatch publish to it for exactly this stack’s alarms, from this account (the only Allow)', () => {
    const topic = logicalId(stack.lake.monitoring.alarmTopic);
    const policies = Object.values(template.findResources('AWS::SNS::TopicPolicy')).filter(
      (p) => JSON.stringify(p.Properties.Topics) === JSON.stringify([{ Ref: topic }]),
    );
    expect(policies).toHaveLength(1);
    const statements = policies[0]?.Properties.PolicyDocument.Statement as Record<string, unknown>[];
    const allows = statements.filter((s) => s.Effect === 'Allow');
    // Every alarm that notifies the topic (ingest and gold refresh), by its ARN.
    const notifying = Object.entries(template.findResources('AWS::CloudWatch::Alarm'))
      .filter(([, a]) => JSON.stringify(a.Properties.AlarmActions) === JSON.stringify([{ Ref: topic }]))
      .map(([id]) => ({ 'Fn::GetAtt': [id, 'Arn'] }));
    expect(notifying.length).toBeGreaterThanOrEqual(6 + datasets.length + 3);
    expect(allows).toEqual([
      {
        Sid: 'AllowCloudWatchAlarmsOfThisLake',
        Effect: 'Allow',
        Principal: { Service: 'cloudwatch.amazonaws.com' },
        Action: 'sns:Publish',
        Resource: { Ref: topic },
        Condition: {
          StringEquals: { 'aws:SourceAccount': { Ref: 'AWS::AccountId' } },
          ArnLike: { 'aws:SourceArn': expect.arrayContaining(notifying) },
        },
      },
    ]);
    const arns = (allows[0]?.Condition as { ArnLike: { 'aws:SourceArn': unknown[] } }).ArnLike['aws:SourceArn'];
    expect(arns).toHaveLength(notifying.length);
  });

  it('lets CloudWatch (of this account) use the key to publish to it', () => {
    const statements = template.toJSON().Resources[logicalId(stack.lake.storage.key)].Properties.KeyPolicy
      .Statement as Record<string, unknown>[];
    expect(statements).toContainEqual(
      expect.objectContaining({
        Principal: { Service: 'cloudwatch.amazonaws.com' },
        Action: ['kms:Decrypt', 'kms:GenerateDataKey*'],
        Condition: { StringEquals: { 'aws:SourceAccount': { Ref: 'AWS::AccountId' } } },
      }),
    );
  });

  it('subscribes the emails given by -c alarmEmails', () => {
    for (const email of ['oncall@example.com', 'data@example.com']) {
      template.hasResourceProperties('AWS::SNS::Subscription', {
        Protocol: 'email',
        Endpoint: email,
        TopicArn: topicRef(),
      });
    }
  });

  it('notifies an existing topic instead, given -c alarmTopicArn', () => {
    const existing = 'arn:aws:sns:eu-west-1:111122223333:on-call';
    const { template: routed } = synthLake({ context: { stage: 'dev', alarmTopicArn: existing } });
    routed.resourceCountIs('AWS::SNS::Topic', 0);
    routed.allResourcesProperties('AWS::CloudWatch::Alarm', { AlarmActions: [existing] });
  });
});

describe('alarms', () => {
  it('fire on any message in the dead-letter queue', () => {
    expect(alarm('medallion-prod-ingest-dead-letters')).toMatchObject({
      Namespace: 'AWS/SQS',
      MetricName: 'ApproximateNumberOfMessagesVisible',
      Dimensions: [
        { Name: 'QueueName', Value: { 'Fn::GetAtt': [logicalId(stack.lake.ingestion.deadLetterQueue), 'QueueName'] } },
      ],
      Statistic: 'Maximum',
      Threshold: 1,
      ComparisonOperator: 'GreaterThanOrEqualToThreshold',
      AlarmActions: [topicRef()],
    });
  });

  it('fire when the oldest queued message is older than 30 minutes', () => {
    expect(alarm('medallion-prod-ingest-backlog-age')).toMatchObject({
      MetricName: 'ApproximateAgeOfOldestMessage',
      Dimensions: [
        { Name: 'QueueName', Value: { 'Fn::GetAtt': [logicalId(stack.lake.ingestion.queue), 'QueueName'] } },
      ],
      Threshold: 1800,
      AlarmActions: [topicRef()],
    });
  });

  it.each([
    ['medallion-prod-ingest-errors', 'Errors'],
    ['medallion-prod-ingest-throttles', 'Throttles'],
  ])('%s: fire on any Lambda %s of the ingest function', (name, metric) => {
    expect(alarm(name)).toMatchObject({
      Namespace: 'AWS/Lambda',
      MetricName: metric,
      Dimensions: [{ Name: 'FunctionName', Value: { Ref: logicalId(stack.lake.ingestion.function) } }],
      Statistic: 'Sum',
      Threshold: 1,
      AlarmActions: [topicRef()],
    });
  });

  it.each(datasets)(
    'fire when more than 1 percent of %s rows are quarantined (RowsQuarantined / RowsIn)',
    (dataset) => {
      const props = alarm(`medallion-prod-quarantine-rate-${dataset}`);
      expect(props).toMatchObject({
        Threshold: 1,
        ComparisonOperator: 'GreaterThanThreshold',
        TreatMissingData: 'notBreaching',
        AlarmActions: [topicRef()],
      });
      const metrics = props.Metrics as Record<string, unknown>[];
      expect(metrics.find((m) => m.ReturnData !== false)?.Expression).toBe(
        'IF(rows_in > 0, 100 * rows_quarantined / rows_in, 0)',
      );
      const metric = (id: string) =>
        (metrics.find((m) => m.Id === id)?.MetricStat as { Metric: Record<string, unknown> }).Metric;
      for (const [id, name] of [
        ['rows_in', 'RowsIn'],
        ['rows_quarantined', 'RowsQuarantined'],
      ]) {
        expect(metric(id as string)).toEqual({
          Namespace: 'MedallionLake',
          MetricName: name,
          // Powertools always adds `service`; an alarm without it would never see the handler's metrics.
          Dimensions: [
            { Name: 'dataset', Value: dataset },
            { Name: 'service', Value: 'medallion-prod-ingest' },
          ],
        });
      }
    },
  );

  it.each([
    ['medallion-prod-ingest-object-failures', 'IngestFailures'],
    ['medallion-prod-files-rejected', 'FilesRejected'],
  ])(
    '%s: fire on any %s of any dataset (failures do not raise Lambda Errors with partial batch responses)',
    (name, metric) => {
      const props = alarm(name);
      expect((props.Metrics as Record<string, unknown>[])[0]?.Expression).toBe(
        `SELECT SUM(${metric}) FROM SCHEMA("MedallionLake", dataset, service) WHERE service = 'medallion-prod-ingest'`,
      );
      expect(props).toMatchObject({ Threshold: 1, AlarmActions: [topicRef()] });
    },
  );
});

describe('dev and prod in one account and region', () => {
  /** Every custom metric (namespace + dimensions) an alarm of the stage reads, and the Metrics Insights queries. */
  function customMetricsRead(t: Template): string[] {
    return Object.values(t.findResources('AWS::CloudWatch::Alarm')).flatMap((a) => {
      const props = a.Properties as Record<string, unknown>;
      const metrics = (props.Metrics as Record<string, unknown>[] | undefined) ?? [];
      return metrics.flatMap((m) => {
        if (typeof m.Expression === 'string' && m.Expression.startsWith('SELECT')) return [m.Expression];
        const metric = (
          m.MetricStat as { Metric?: { Namespace: string; MetricName: string; Dimensions: unknown } } | undefined
        )?.Metric;
        return metric && !metric.Namespace.startsWith('AWS/') ? [JSON.stringify(metric)] : [];
      });
    });
  }

  it('read different metrics: neither stage’s alarms fire on the other’s failures', () => {
    const { template: dev, stack: devStack } = synthLake({ context: { stage: 'dev' } });
    const devMetrics = customMetricsRead(dev);
    const prodMetrics = customMetricsRead(template);
    expect(devMetrics.length).toBeGreaterThan(datasets.length * 2);
    expect(devMetrics.filter((m) => prodMetrics.includes(m))).toEqual([]);
    // What the function publishes (its `service` dimension) is what its own alarms select.
    const service = (s: MedallionLakeStack, t: Template) =>
      t.toJSON().Resources[logicalId(s.lake.ingestion.function)].Properties.Environment.Variables
        .POWERTOOLS_SERVICE_NAME as string;
    expect([service(devStack, dev), service(stack, template)]).toEqual([
      'medallion-dev-ingest',
      'medallion-prod-ingest',
    ]);
    for (const m of devMetrics) expect(m).toContain('medallion-dev-ingest');
  });
});

describe('dashboard', () => {
  it('charts the queue, the function, every dataset and the workgroups', () => {
    const body = render(
      Object.values(template.findResources('AWS::CloudWatch::Dashboard'))[0]?.Properties.DashboardBody,
    );
    for (const title of [
      'Alarms',
      'Ingest queue',
      'Ingest function',
      'Athena bytes scanned per workgroup',
      ...datasets.map((d) => `${d}: rows`),
    ]) {
      expect(body).toContain(`"title":"${title}"`);
    }
    expect(body).toContain('SecondsToQueryable');
    template.hasResourceProperties('AWS::CloudWatch::Dashboard', { DashboardName: 'medallion-prod-lake' });
  });
});
