import { Aws, Duration, Lazy } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as actions from 'aws-cdk-lib/aws-cloudwatch-actions';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as kms from 'aws-cdk-lib/aws-kms';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as subscriptions from 'aws-cdk-lib/aws-sns-subscriptions';
import { Construct } from 'constructs';
import type { LakeFanOut } from '../fan-out/lake-fan-out.ts';
import type { LakeIngestion } from '../ingestion/lake-ingestion.ts';
import { INGEST_METRIC as M, INGEST_METRICS, type IngestMetric } from '../../wiring/names.ts';

/** The ingest handler's EMF metrics (Powertools), each with the dimensions `service` and `dataset`. */
export { INGEST_METRICS, type IngestMetric };

export interface LakeMonitoringProps {
  readonly ingestion: LakeIngestion;
  /** Datasets (contract names) that get a quarantine-rate alarm and dashboard row. */
  readonly datasets: readonly string[];
  /** Key that encrypts the alarm topic; CloudWatch is allowed to use it. */
  readonly encryptionKey: kms.IKey;
  /**
   * Prefix of alarm and dashboard names.
   * @default 'medallion'
   */
  readonly namePrefix?: string;
  /**
   * Topic to notify. Pass one to route alarms into an existing on-call channel.
   * @default - a new topic encrypted with the lake key
   */
  readonly alarmTopic?: sns.ITopic;
  /**
   * Email addresses subscribed to the alarm topic (each must confirm the subscription).
   * @default - none
   */
  readonly alarmEmails?: readonly string[];
  /**
   * Age of the oldest queued message that raises an alarm: ingestion is stuck or far behind.
   * @default Duration.minutes(30)
   */
  readonly maxMessageAge?: Duration;
  /**
   * Share of a dataset's rows quarantined, in percent, above which an alarm is raised.
   * @default 1
   */
  readonly quarantineRateThresholdPercent?: number;
  /**
   * Athena workgroups whose scanned bytes the dashboard shows.
   * @default - none
   */
  readonly workgroupNames?: readonly string[];
}

const FIVE_MINUTES = Duration.minutes(5);
const FIFTEEN_MINUTES = Duration.minutes(15);

/** Alarms on the ingestion path and the data's quality, an SNS topic for them, and a dashboard. */
export class LakeMonitoring extends Construct {
  readonly alarmTopic: sns.ITopic;
  readonly dlqDepthAlarm: cloudwatch.Alarm;
  readonly oldestMessageAgeAlarm: cloudwatch.Alarm;
  readonly errorsAlarm: cloudwatch.Alarm;
  readonly throttlesAlarm: cloudwatch.Alarm;
  readonly ingestFailuresAlarm: cloudwatch.Alarm;
  readonly filesRejectedAlarm: cloudwatch.Alarm;
  readonly quarantineRateAlarms: ReadonlyMap<string, cloudwatch.Alarm>;
  /** Set by `monitorFanOut`. */
  fanOutFailedAlarm?: cloudwatch.Alarm;
  readonly dashboard: cloudwatch.Dashboard;
  private readonly ingestion: LakeIngestion;
  private readonly notify: actions.SnsAction;
  /** ARNs of the alarms allowed to publish to the topic (its policy names each one). */
  private readonly alarmArns: string[] = [];

  constructor(scope: Construct, id: string, props: LakeMonitoringProps) {
    super(scope, id);
    const prefix = props.namePrefix ?? 'medallion';
    const { ingestion } = props;
    this.ingestion = ingestion;
    this.alarmTopic = props.alarmTopic ?? this.createTopic(prefix, props.encryptionKey);
    for (const email of props.alarmEmails ?? [])
      this.alarmTopic.addSubscription(new subscriptions.EmailSubscription(email));
    this.notify = new actions.SnsAction(this.alarmTopic);
    const alarm = (id: string, alarmProps: cloudwatch.AlarmProps): cloudwatch.Alarm =>
      this.addAlarm(
        new cloudwatch.Alarm(this, id, { treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING, ...alarmProps }),
      );

    this.dlqDepthAlarm = alarm('DeadLetterQueueNotEmpty', {
      alarmName: `${prefix}-ingest-dead-letters`,
      alarmDescription:
        'Bronze objects failed ingestion repeatedly and wait in the dead-letter queue. Inspect, fix, then redrive.',
      metric: ingestion.deadLetterQueue.metricApproximateNumberOfMessagesVisible({
        period: Duration.minutes(1),
        statistic: 'Maximum',
      }),
      threshold: 1,
      evaluationPeriods: 1,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
    });
    const maxAge = props.maxMessageAge ?? Duration.minutes(30);
    this.oldestMessageAgeAlarm = alarm('OldestMessageTooOld', {
      alarmName: `${prefix}-ingest-backlog-age`,
      alarmDescription: `A bronze object has waited more than ${maxAge.toHumanString()} to be ingested.`,
      metric: ingestion.queue.metricApproximateAgeOfOldestMessage({ period: FIVE_MINUTES, statistic: 'Maximum' }),
      threshold: maxAge.toSeconds(),
      evaluationPeriods: 1,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
    });
    this.errorsAlarm = alarm('FunctionErrors', {
      alarmName: `${prefix}-ingest-errors`,
      alarmDescription: 'The ingest function failed (crash, timeout or out of memory); its messages will be retried.',
      metric: ingestion.function.metricErrors({ period: FIVE_MINUTES, statistic: 'Sum' }),
      threshold: 1,
      evaluationPeriods: 1,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
    });
    this.throttlesAlarm = alarm('FunctionThrottles', {
      alarmName: `${prefix}-ingest-throttles`,
      alarmDescription: 'The ingest function was throttled: account or reserved concurrency is exhausted.',
      metric: ingestion.function.metricThrottles({ period: FIVE_MINUTES, statistic: 'Sum' }),
      threshold: 1,
      evaluationPeriods: 1,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
    });

    // With partial batch responses a failed object does not fail the invocation: Lambda's Errors stays 0.
    this.ingestFailuresAlarm = alarm('IngestFailures', {
      alarmName: `${prefix}-ingest-object-failures`,
      alarmDescription:
        'Ingesting a bronze object failed (any dataset); its message returns to the queue and is retried.',
      metric: this.acrossDatasets(M.IngestFailures),
      threshold: 1,
      evaluationPeriods: 1,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
    });
    this.filesRejectedAlarm = alarm('FilesRejected', {
      alarmName: `${prefix}-files-rejected`,
      alarmDescription:
        'A whole bronze file was rejected into quarantine (unknown dataset, unreadable, or header mismatch).',
      metric: this.acrossDatasets(M.FilesRejected),
      threshold: 1,
      evaluationPeriods: 1,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
    });

    const threshold = props.quarantineRateThresholdPercent ?? 1;
    this.quarantineRateAlarms = new Map(
      props.datasets.map((dataset) => [
        dataset,
        alarm(`QuarantineRate-${dataset}`, {
          alarmName: `${prefix}-quarantine-rate-${dataset}`,
          alarmDescription: `More than ${threshold}% of ${dataset} rows were quarantined in 15 minutes: a producer or the contract changed.`,
          metric: this.quarantineRate(dataset),
          threshold,
          evaluationPeriods: 1,
          comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
        }),
      ]),
    );

    this.dashboard = new cloudwatch.Dashboard(this, 'Dashboard', {
      dashboardName: `${prefix}-lake`,
      defaultInterval: Duration.days(1),
    });
    this.addWidgets(props.datasets, props.workgroupNames ?? []);
  }

  /**
   * Routes an alarm's state changes (ALARM and OK) to the alarm topic. When the topic was created here, its
   * policy lets CloudWatch publish for exactly the alarms added this way (`aws:SourceArn`), from this account
   * (`aws:SourceAccount`); an existing topic passed as `alarmTopic` must allow that itself.
   */
  addAlarm(alarm: cloudwatch.Alarm): cloudwatch.Alarm {
    alarm.addAlarmAction(this.notify);
    alarm.addOkAction(this.notify);
    this.alarmArns.push(alarm.alarmArn);
    return alarm;
  }

  /**
   * An alarm on fan-out executions that failed, timed out or were aborted (a chunk failed after its retries:
   * nothing was committed; see the runbook, `lake fanout list|redrive`), and a dashboard row for them.
   */
  monitorFanOut(fanOut: LakeFanOut, prefix: string): cloudwatch.Alarm {
    const alarm = this.addAlarm(
      new cloudwatch.Alarm(this, 'FanOutFailed', {
        alarmName: `${prefix}-fan-out-failed`,
        alarmDescription:
          'A fan-out ingest of a large bronze object failed after its retries; nothing of it was committed. Inspect and redrive (runbook: "A fan-out execution failed").',
        metric: fanOut.metricUnsuccessful(),
        threshold: 1,
        evaluationPeriods: 1,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      }),
    );
    this.fanOutFailedAlarm = alarm;
    const sm = fanOut.stateMachine;
    this.dashboard.addWidgets(
      new cloudwatch.AlarmStatusWidget({ title: 'Fan-out alarms', width: 6, height: 6, alarms: [alarm] }),
      new cloudwatch.GraphWidget({
        title: 'Fan-out executions (objects too large for one invocation)',
        width: 18,
        height: 6,
        left: [sm.metricStarted(), sm.metricSucceeded(), sm.metricFailed(), sm.metricTimedOut(), sm.metricAborted()],
        right: [sm.metricTime({ statistic: 'Maximum' })],
      }),
    );
    return alarm;
  }

  /** One of the ingest handler's EMF metrics for a dataset. */
  ingestMetric(name: IngestMetric, dataset: string, options: cloudwatch.MetricOptions = {}): cloudwatch.Metric {
    return new cloudwatch.Metric({
      namespace: this.ingestion.metricsNamespace,
      metricName: name,
      dimensionsMap: { service: this.ingestion.serviceName, dataset },
      statistic: 'Sum',
      period: FIFTEEN_MINUTES,
      ...options,
    });
  }

  /** The sum of an ingest metric over every dataset (a CloudWatch Metrics Insights query). */
  acrossDatasets(name: IngestMetric): cloudwatch.MathExpression {
    const { metricsNamespace, serviceName } = this.ingestion;
    return new cloudwatch.MathExpression({
      expression: `SELECT SUM(${name}) FROM SCHEMA("${metricsNamespace}", dataset, service) WHERE service = '${serviceName}'`,
      usingMetrics: {},
      label: `${name}, all datasets`,
      period: FIVE_MINUTES,
    });
  }

  /** RowsQuarantined / RowsIn, in percent; 0 when nothing arrived. */
  quarantineRate(dataset: string): cloudwatch.MathExpression {
    return new cloudwatch.MathExpression({
      expression: 'IF(rows_in > 0, 100 * rows_quarantined / rows_in, 0)',
      usingMetrics: {
        rows_in: this.ingestMetric(M.RowsIn, dataset),
        rows_quarantined: this.ingestMetric(M.RowsQuarantined, dataset),
      },
      label: `${dataset} quarantine rate (%)`,
      period: FIFTEEN_MINUTES,
    });
  }

  private createTopic(prefix: string, key: kms.IKey): sns.Topic {
    // CloudWatch publishes alarms itself, so it needs the key that encrypts the topic.
    key.addToResourcePolicy(
      new iam.PolicyStatement({
        principals: [new iam.ServicePrincipal('cloudwatch.amazonaws.com')],
        actions: ['kms:Decrypt', 'kms:GenerateDataKey*'],
        resources: ['*'],
        conditions: { StringEquals: { 'aws:SourceAccount': Aws.ACCOUNT_ID } },
      }),
    );
    const topic = new sns.Topic(this, 'AlarmTopic', {
      displayName: `${prefix} data lake alarms`,
      masterKey: key,
      enforceSSL: true,
    });
    // A topic policy replaces SNS's default one: without this statement no alarm could publish (enforceSSL alone
    // is a Deny). Scoped to this account's alarms that were added to this construct, by ARN.
    topic.addToResourcePolicy(
      new iam.PolicyStatement({
        sid: 'AllowCloudWatchAlarmsOfThisLake',
        principals: [new iam.ServicePrincipal('cloudwatch.amazonaws.com')],
        actions: ['sns:Publish'],
        resources: [topic.topicArn],
        conditions: {
          StringEquals: { 'aws:SourceAccount': Aws.ACCOUNT_ID },
          ArnLike: { 'aws:SourceArn': Lazy.list({ produce: () => this.alarmArns }) },
        },
      }),
    );
    return topic;
  }

  private addWidgets(datasets: readonly string[], workgroups: readonly string[]): void {
    const { queue, deadLetterQueue } = this.ingestion;
    const fn = this.ingestion.function;
    const wide = { width: 12, height: 6 };
    this.dashboard.addWidgets(
      new cloudwatch.AlarmStatusWidget({
        title: 'Alarms',
        width: 24,
        height: 3,
        alarms: [
          this.dlqDepthAlarm,
          this.oldestMessageAgeAlarm,
          this.errorsAlarm,
          this.throttlesAlarm,
          this.ingestFailuresAlarm,
          this.filesRejectedAlarm,
          ...this.quarantineRateAlarms.values(),
        ],
      }),
    );
    this.dashboard.addWidgets(
      new cloudwatch.GraphWidget({
        title: 'Ingest queue',
        ...wide,
        left: [
          queue.metricApproximateNumberOfMessagesVisible(),
          deadLetterQueue.metricApproximateNumberOfMessagesVisible({ label: 'Dead letters' }),
        ],
        right: [queue.metricApproximateAgeOfOldestMessage({ statistic: 'Maximum' })],
      }),
      new cloudwatch.GraphWidget({
        title: 'Ingest function',
        ...wide,
        left: [fn.metricInvocations(), fn.metricErrors(), fn.metricThrottles(), this.acrossDatasets(M.IngestFailures)],
        right: [fn.metricDuration({ statistic: 'p95' }), fn.metricDuration({ statistic: 'Maximum' })],
      }),
    );
    for (const dataset of datasets) {
      this.dashboard.addWidgets(
        new cloudwatch.GraphWidget({
          title: `${dataset}: rows`,
          width: 8,
          height: 6,
          left: [
            this.ingestMetric(M.RowsIn, dataset),
            this.ingestMetric(M.RowsValid, dataset),
            this.ingestMetric(M.RowsQuarantined, dataset),
          ],
          right: [this.quarantineRate(dataset)],
        }),
        new cloudwatch.GraphWidget({
          title: `${dataset}: seconds from landing to queryable`,
          width: 8,
          height: 6,
          left: ['p50', 'p95', 'Maximum'].map((statistic) =>
            this.ingestMetric('SecondsToQueryable', dataset, { statistic }),
          ),
        }),
        new cloudwatch.GraphWidget({
          title: `${dataset}: bytes in, engine duration`,
          width: 8,
          height: 6,
          left: [this.ingestMetric('BytesIn', dataset)],
          right: [this.ingestMetric('DurationMs', dataset, { statistic: 'p95' })],
        }),
      );
    }
    if (workgroups.length > 0) {
      this.dashboard.addWidgets(
        new cloudwatch.GraphWidget({
          title: 'Athena bytes scanned per workgroup',
          width: 24,
          height: 6,
          left: workgroups.map(
            (workgroup) =>
              new cloudwatch.MathExpression({
                expression: `SUM(SEARCH('{AWS/Athena,QueryState,QueryType,WorkGroup} MetricName="ProcessedBytes" WorkGroup="${workgroup}"', 'Sum', 300))`,
                label: workgroup,
                period: FIVE_MINUTES,
              }),
          ),
        }),
      );
    }
  }
}
