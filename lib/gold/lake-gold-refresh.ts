import { Duration, RemovalPolicy } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as actions from 'aws-cdk-lib/aws-cloudwatch-actions';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { SqsEventSource } from 'aws-cdk-lib/aws-lambda-event-sources';
import * as nodejs from 'aws-cdk-lib/aws-lambda-nodejs';
import * as logs from 'aws-cdk-lib/aws-logs';
import type * as sns from 'aws-cdk-lib/aws-sns';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { join, resolve } from 'node:path';
import { MANIFESTS_PREFIX } from '../../engine/contract/index.ts';
import { type GoldTable } from '../../engine/gold/index.ts';
import type { LakeCatalog } from '../catalog/lake-catalog.ts';
import { acknowledge, acknowledgeInlinePolicies } from '../compliance/acknowledgments.ts';
import {
  encryptedLogGroup,
  esmBundling,
  lakeFunctionDefaults,
  MIN_MAX_RECEIVE_COUNT,
  validateMaxReceiveCount,
  VISIBILITY_TIMEOUT_FACTOR,
} from '../functions/index.ts';
import type { LakeQuery } from '../query/lake-query.ts';
import type { LakeStorage } from '../storage/lake-storage.ts';
import { ACCOUNT_MONTHLY_BALANCE } from '../../datasets/index.ts';
import { GOLD_REFRESH_ENV } from '../../wiring/names.ts';

const REPO_ROOT = resolve(import.meta.dirname, '../..');
const E = GOLD_REFRESH_ENV;

/** The one FIFO message group: every refresh of the lake's gold runs strictly one after another. */
export const GOLD_REFRESH_MESSAGE_GROUP = 'gold-refresh';

export interface LakeGoldRefreshProps {
  readonly storage: LakeStorage;
  readonly catalog: LakeCatalog;
  /** Its platform workgroup runs the refresh queries. */
  readonly query: LakeQuery;
  /**
   * The gold table refreshed (must be registered in `catalog`).
   * @default ACCOUNT_MONTHLY_BALANCE
   */
  readonly table?: GoldTable;
  /**
   * Prefix of physical names (the log group `/<prefix>/gold-refresh`, alarm names).
   * @default 'medallion'
   */
  readonly namePrefix?: string;
  /**
   * The handler's source file (exporting `handler`).
   * @default - lambdas/gold-refresh/handler.ts of this repository
   */
  readonly entry?: string;
  /**
   * Directory with package-lock.json and node_modules.
   * @default - this repository's root
   */
  readonly projectRoot?: string;
  /**
   * Function timeout: the refresh waits for its Athena queries. The queue's visibility timeout is 6× this.
   * @default Duration.minutes(15)
   */
  readonly timeout?: Duration;
  /**
   * Memory of the function (it only waits on Athena, Glue and S3).
   * @default 512
   */
  readonly memorySize?: number;
  /**
   * Deliveries of a message before it moves to the dead-letter queue; at least `MIN_MAX_RECEIVE_COUNT` (5).
   * @default 5
   */
  readonly maxReceiveCount?: number;
  /**
   * How long a replaced month's files are kept after its partition was repointed (queries planned before the
   * swap may still read them); they are deleted by the first refresh after that.
   * @default Duration.minutes(30)
   */
  readonly cleanupGrace?: Duration;
  /**
   * Concurrency reserved for (and capping) the function. The FIFO queue's single message group already runs
   * one refresh at a time; reserving 1 also stops manual invocations from racing it.
   * @default - none reserved
   */
  readonly reservedConcurrentExecutions?: number;
  /**
   * Topic the alarms notify.
   * @default - alarms without actions
   */
  readonly alarmTopic?: sns.ITopic;
  /**
   * Powertools log level (`LOG_LEVEL`).
   * @default 'INFO'
   */
  readonly logLevel?: 'DEBUG' | 'INFO' | 'WARN' | 'ERROR';
  /**
   * Retention of the function's logs.
   * @default logs.RetentionDays.THREE_MONTHS
   */
  readonly logRetention?: logs.RetentionDays;
  /**
   * Whether `cdk destroy` deletes the function's logs.
   * @default false
   */
  readonly allowDestroy?: boolean;
}

/**
 * Silver `_manifests/` object-created events → EventBridge rule → SQS FIFO queue (one message group, so
 * refreshes never race; a dead-letter queue) → the gold-refresh function, which plans from all manifests and
 * rewrites the affected months of a gold table with Athena UNLOAD, then repoints their Glue partitions.
 */
export class LakeGoldRefresh extends Construct {
  readonly function: nodejs.NodejsFunction;
  readonly queue: sqs.Queue;
  /** Messages the function failed `maxReceiveCount` times. */
  readonly deadLetterQueue: sqs.Queue;
  /** Events EventBridge could not deliver to the queue (EventBridge cannot use a FIFO queue as its DLQ). */
  readonly deliveryDeadLetterQueue: sqs.Queue;
  readonly rule: events.Rule;
  readonly logGroup: logs.LogGroup;
  readonly alarms: readonly cloudwatch.Alarm[];
  /** The silver dataset the gold table is built from. */
  readonly sourceDataset: string;

  constructor(scope: Construct, id: string, props: LakeGoldRefreshProps) {
    super(scope, id);
    const { storage, catalog, query } = props;
    const table = props.table ?? ACCOUNT_MONTHLY_BALANCE;
    const timeout = props.timeout ?? Duration.minutes(15);
    const maxReceiveCount = props.maxReceiveCount ?? MIN_MAX_RECEIVE_COUNT;
    validateMaxReceiveCount(maxReceiveCount);
    if (!catalog.table('gold', table.name))
      throw new Error(`gold table ${table.name} is not in the catalog: register it before refreshing it`);
    const prefix = props.namePrefix ?? 'medallion';
    const removalPolicy = props.allowDestroy ? RemovalPolicy.DESTROY : RemovalPolicy.RETAIN;

    // Messages carry object references only, never records: SQS-managed encryption.
    this.deadLetterQueue = new sqs.Queue(this, 'DeadLetterQueue', {
      fifo: true,
      encryption: sqs.QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      retentionPeriod: Duration.days(14),
    });
    this.queue = new sqs.Queue(this, 'Queue', {
      fifo: true,
      contentBasedDeduplication: true,
      encryption: sqs.QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      visibilityTimeout: Duration.seconds(timeout.toSeconds() * VISIBILITY_TIMEOUT_FACTOR),
      retentionPeriod: Duration.days(4),
      deadLetterQueue: { queue: this.deadLetterQueue, maxReceiveCount },
    });
    this.deliveryDeadLetterQueue = new sqs.Queue(this, 'DeliveryDeadLetterQueue', {
      encryption: sqs.QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      retentionPeriod: Duration.days(14),
    });
    acknowledge(this.deliveryDeadLetterQueue, {
      'AwsSolutions-SQS3':
        'This queue is itself a dead-letter queue: EventBridge delivers events it could not put on the FIFO refresh queue here (EventBridge does not accept a FIFO queue as target DLQ); it is alarmed.',
    });

    const silver = storage.bucket('silver');
    storage.enableEventBridge('silver');
    this.rule = new events.Rule(this, 'ManifestCreated', {
      description: 'Ingest manifests created in the silver bucket, to the gold-refresh queue',
      eventPattern: {
        source: ['aws.s3'],
        detailType: ['Object Created'],
        detail: { bucket: { name: [silver.bucketName] }, object: { key: events.Match.prefix(MANIFESTS_PREFIX) } },
      },
    });
    this.rule.addTarget(
      new targets.SqsQueue(this.queue, {
        messageGroupId: GOLD_REFRESH_MESSAGE_GROUP,
        deadLetterQueue: this.deliveryDeadLetterQueue,
      }),
    );

    this.logGroup = encryptedLogGroup(
      this,
      storage.key,
      `/${prefix}/gold-refresh`,
      props.logRetention ?? logs.RetentionDays.THREE_MONTHS,
      removalPolicy,
    );
    const role = new iam.Role(this, 'Role', {
      assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
      description: `Gold refresh: reads silver, runs Athena in the platform workgroup, writes gold ${table.name} and repoints its partitions`,
    });
    this.logGroup.grantWrite(role);

    const projectRoot = props.projectRoot ?? REPO_ROOT;
    this.function = new nodejs.NodejsFunction(this, 'Function', {
      description: `Refreshes gold ${table.name} from the silver manifests with Athena UNLOAD`,
      ...lakeFunctionDefaults(projectRoot),
      entry: props.entry ?? join(REPO_ROOT, 'lambdas/gold-refresh/handler.ts'),
      architecture: lambda.Architecture.ARM_64,
      memorySize: props.memorySize ?? 512,
      timeout,
      reservedConcurrentExecutions: props.reservedConcurrentExecutions,
      role,
      logGroup: this.logGroup,
      // Pure JavaScript (no DuckDB): one ESM file with the AWS SDK at the tested version, no network access.
      bundling: esmBundling(),
      environment: {
        [E.silverBucket]: silver.bucketName,
        [E.goldBucket]: storage.bucket('gold').bucketName,
        [E.glueSilverDatabase]: catalog.databaseNames.silver,
        [E.glueGoldDatabase]: catalog.databaseNames.gold,
        [E.glueQuarantineDatabase]: catalog.databaseNames.quarantine,
        [E.athenaWorkgroup]: query.workgroupName('platform'),
        [E.cleanupGraceSeconds]: String((props.cleanupGrace ?? Duration.minutes(30)).toSeconds()),
        POWERTOOLS_SERVICE_NAME: `${prefix}-gold-refresh`,
        LOG_LEVEL: props.logLevel ?? 'INFO',
        NODE_OPTIONS: '--enable-source-maps',
      },
    });

    // Silver: the source dataset's manifests (the function lists and reads them) and its table's files (Athena
    // reads them as the caller); listing only under those prefixes. Nothing else of silver.
    this.sourceDataset = table.sourceDataset;
    const source = catalog.table('silver', table.sourceDataset);
    if (!source)
      throw new Error(
        `gold table ${table.name} is built from silver.${table.sourceDataset}, which is not in the catalog`,
      );
    storage.grantRead(this.function, 'silver', `${MANIFESTS_PREFIX}${table.sourceDataset}/*`);
    storage.grantRead(this.function, 'silver', `${source.locationPrefix}*`);
    // Gold: the table's files (UNLOAD output, cleanup) and the refresh state, which does not exist before the
    // first refresh: S3 answers 404 for it (not 403) only to a principal that may list the bucket.
    storage.grantReadWrite(this.function, 'gold', `${table.locationPrefix}*`, { listWholeBucket: true });
    storage.grantReadWrite(this.function, 'gold', '_state/*', { listWholeBucket: true });
    query.grantQuery(this.function, 'platform');
    catalog.grantRead(this.function, 'silver');
    catalog.grantManagePartitions(this.function, 'gold', table.name);

    acknowledgeInlinePolicies(role);
    acknowledge(role, {
      'AwsSolutions-IAM5[Resource::*]':
        'Only xray:PutTraceSegments and xray:PutTelemetryRecords (active tracing), which support no resource-level permissions.',
    });
    acknowledge(this.function, {
      'PCI.DSS.321-LambdaInsideVPC':
        'The function has no inbound network path (it is invoked by the SQS event source) and reaches only AWS APIs over TLS with IAM-scoped credentials. Running it in a VPC needs S3, Glue, Athena, KMS, X-Ray and CloudWatch endpoints or a NAT; not in scope of this stack.',
    });

    // FIFO event sources take no batching window; a batch runs one refresh however many manifests it announces.
    this.function.addEventSource(new SqsEventSource(this.queue, { batchSize: 10, reportBatchItemFailures: true }));

    const alarm = (alarmId: string, alarmProps: cloudwatch.AlarmProps): cloudwatch.Alarm => {
      const created = new cloudwatch.Alarm(this, alarmId, {
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
        ...alarmProps,
      });
      if (props.alarmTopic) {
        created.addAlarmAction(new actions.SnsAction(props.alarmTopic));
        created.addOkAction(new actions.SnsAction(props.alarmTopic));
      }
      return created;
    };
    const depth = (queue: sqs.Queue) =>
      queue.metricApproximateNumberOfMessagesVisible({ period: Duration.minutes(1), statistic: 'Maximum' });
    const atLeastOne = {
      threshold: 1,
      evaluationPeriods: 1,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
    };
    this.alarms = [
      alarm('DeadLetterQueueNotEmpty', {
        alarmName: `${prefix}-gold-refresh-dead-letters`,
        alarmDescription: `Gold ${table.name} failed to refresh repeatedly; gold is stale. Read the function's logs, fix, then redrive (any one message triggers a full re-plan).`,
        metric: depth(this.deadLetterQueue),
        ...atLeastOne,
      }),
      alarm('DeliveryDeadLetterQueueNotEmpty', {
        alarmName: `${prefix}-gold-refresh-undelivered`,
        alarmDescription:
          'EventBridge could not put manifest events on the gold-refresh queue; gold may be stale until the next manifest.',
        metric: depth(this.deliveryDeadLetterQueue),
        ...atLeastOne,
      }),
      alarm('FunctionErrors', {
        alarmName: `${prefix}-gold-refresh-errors`,
        alarmDescription:
          'The gold-refresh function failed (Athena, Glue or S3 error, or a timeout); its batch will be retried.',
        metric: this.function.metricErrors({ period: Duration.minutes(5), statistic: 'Sum' }),
        ...atLeastOne,
      }),
    ];
  }
}
