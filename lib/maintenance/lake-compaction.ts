import { Duration, RemovalPolicy, Size } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as actions from 'aws-cdk-lib/aws-cloudwatch-actions';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as nodejs from 'aws-cdk-lib/aws-lambda-nodejs';
import * as logs from 'aws-cdk-lib/aws-logs';
import type * as sns from 'aws-cdk-lib/aws-sns';
import { Construct } from 'constructs';
import { join, resolve } from 'node:path';
import {
  COMPACTED_PREFIX,
  COMPACTIONS_PREFIX,
  ENGINE_PROCESS_ENV,
  maintenanceLeaseKey,
  MANIFESTS_PREFIX,
  PENDING_PREFIX,
} from '../../engine/contract/index.ts';
import type { LakeCatalog } from '../catalog/lake-catalog.ts';
import { acknowledge, acknowledgeInlinePolicies } from '../compliance/acknowledgments.ts';
import { encryptedLogGroup, ingestBundling, lakeFunctionDefaults } from '../functions/index.ts';
import { FUNCTION_CONTRACTS_DIR } from '../ingestion/lake-ingestion.ts';
import type { LakeStorage } from '../storage/lake-storage.ts';
import { COMPACTION_ENV } from '../../wiring/names.ts';

const REPO_ROOT = resolve(import.meta.dirname, '../..');
const E = COMPACTION_ENV;

/** On the 3rd of each month at 02:00 UTC: the previous month has closed and its late files have landed. */
export const DEFAULT_COMPACTION_SCHEDULE = events.Schedule.cron({ minute: '0', hour: '2', day: '3' });

export interface LakeCompactionProps {
  readonly storage: LakeStorage;
  /** Its silver tables are the datasets compacted (their location prefixes are the only data it touches). */
  readonly catalog: LakeCatalog;
  /**
   * When the compaction runs.
   * @default DEFAULT_COMPACTION_SCHEDULE - the 3rd of each month, 02:00 UTC
   */
  readonly schedule?: events.Schedule;
  /**
   * Datasets compacted (silver tables of `catalog`).
   * @default - every silver table
   */
  readonly datasets?: readonly string[];
  /**
   * About the size of a compacted file, in bytes.
   * @default - the engine's DEFAULT_COMPACTION_TARGET_BYTES (128 MiB)
   */
  readonly targetBytes?: number;
  /**
   * Contracts bundled with the function.
   * @default - contracts/ of this repository
   */
  readonly contractsDir?: string;
  /**
   * Prefix of physical names (the log group `/<prefix>/compaction`, the alarm name).
   * @default 'medallion'
   */
  readonly namePrefix?: string;
  /**
   * The handler's source file (exporting `handler`).
   * @default - lambdas/compaction/handler.ts of this repository
   */
  readonly entry?: string;
  /**
   * Directory with package-lock.json and node_modules.
   * @default - this repository's root
   */
  readonly projectRoot?: string;
  /**
   * Function timeout. No group starts in its last two minutes; the groups left are taken by the next run.
   * @default Duration.minutes(15)
   */
  readonly timeout?: Duration;
  /**
   * Memory of the function (DuckDB rewrites the files, spilling to /tmp).
   * @default 2048
   */
  readonly memorySize?: number;
  /**
   * /tmp of the function: each group's inputs and compacted file are staged there.
   * @default Size.mebibytes(4096)
   */
  readonly ephemeralStorageSize?: Size;
  /**
   * Topic the alarm notifies.
   * @default - an alarm without actions
   */
  readonly alarmTopic?: sns.ITopic;
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
 * Scheduled compaction of silver: an EventBridge schedule invokes a function running the engine's compaction
 * use case (the one `lake compact --aws` runs) on each dataset, under the dataset's maintenance lease. It may
 * read, write and delete the datasets' table files, their manifests and the compaction records, read the
 * ingests' intent records, and hold the leases — nothing else (no bronze, quarantine, gold or catalog).
 */
export class LakeCompaction extends Construct {
  readonly function: nodejs.NodejsFunction;
  readonly rule: events.Rule;
  readonly logGroup: logs.LogGroup;
  readonly alarms: readonly cloudwatch.Alarm[];
  readonly datasets: readonly string[];

  constructor(scope: Construct, id: string, props: LakeCompactionProps) {
    super(scope, id);
    const { storage, catalog } = props;
    const prefix = props.namePrefix ?? 'medallion';
    const tables = catalog.tables('silver');
    const unknown = (props.datasets ?? []).filter((d) => !tables.some((t) => t.tableName === d));
    if (unknown.length) throw new Error(`compaction datasets not in the silver catalog: ${unknown.join(', ')}`);
    const compacted = tables.filter((t) => !props.datasets || props.datasets.includes(t.tableName));
    this.datasets = compacted.map((t) => t.tableName);
    const timeout = props.timeout ?? Duration.minutes(15);

    this.logGroup = encryptedLogGroup(
      this,
      storage.key,
      `/${prefix}/compaction`,
      props.logRetention ?? logs.RetentionDays.THREE_MONTHS,
      props.allowDestroy ? RemovalPolicy.DESTROY : RemovalPolicy.RETAIN,
    );
    const role = new iam.Role(this, 'Role', {
      assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
      description: 'Scheduled compaction: rewrites small silver files of each dataset as few larger ones',
    });
    this.logGroup.grantWrite(role);
    const projectRoot = props.projectRoot ?? REPO_ROOT;
    this.function = new nodejs.NodejsFunction(this, 'Function', {
      description: 'Compacts silver partitions of many small files (scheduled)',
      ...lakeFunctionDefaults(projectRoot),
      entry: props.entry ?? join(REPO_ROOT, 'lambdas/compaction/handler.ts'),
      architecture: lambda.Architecture.X86_64,
      memorySize: props.memorySize ?? 2048,
      ephemeralStorageSize: props.ephemeralStorageSize ?? Size.mebibytes(4096),
      timeout,
      // One run at a time: the lease would refuse a second one anyway, and an expired lease of this function is
      // taken over by its next run (lambdas/compaction/process.ts): no earlier run can still be going.
      reservedConcurrentExecutions: 1,
      role,
      logGroup: this.logGroup,
      bundling: ingestBundling({ projectRoot, contractsDir: props.contractsDir ?? join(REPO_ROOT, 'contracts') }),
      environment: {
        [E.contractsDir]: FUNCTION_CONTRACTS_DIR,
        [E.silverBucket]: storage.bucket('silver').bucketName,
        [E.workDir]: '/tmp',
        [E.datasets]: this.datasets.join(','),
        ...(props.targetBytes ? { [E.targetBytes]: String(props.targetBytes) } : {}),
        POWERTOOLS_SERVICE_NAME: `${prefix}-compaction`,
        NODE_OPTIONS: '--enable-source-maps',
        ...ENGINE_PROCESS_ENV,
      },
    });

    // Listing the whole bucket: a missing record or lease must read as a 404, not a 403.
    for (const table of compacted) {
      const dataset = table.tableName;
      storage.grantReadWrite(this.function, 'silver', `${table.locationPrefix}*`, { listWholeBucket: true });
      storage.grantReadWrite(this.function, 'silver', `${MANIFESTS_PREFIX}${dataset}/*`);
      storage.grantReadWrite(this.function, 'silver', `${COMPACTIONS_PREFIX}${dataset}/*`);
      storage.grantReadWrite(this.function, 'silver', `${COMPACTED_PREFIX}${dataset}/*`);
      storage.grantReadWrite(this.function, 'silver', maintenanceLeaseKey(dataset));
      storage.grantRead(this.function, 'silver', `${PENDING_PREFIX}${dataset}/*`);
    }

    this.rule = new events.Rule(this, 'Schedule', {
      description: 'Scheduled compaction of silver',
      schedule: props.schedule ?? DEFAULT_COMPACTION_SCHEDULE,
    });
    this.rule.addTarget(new targets.LambdaFunction(this.function, { retryAttempts: 2 }));

    acknowledgeInlinePolicies(role);
    acknowledge(role, {
      'AwsSolutions-IAM5[Resource::*]':
        'Only xray:PutTraceSegments and xray:PutTelemetryRecords (active tracing), which support no resource-level permissions.',
    });
    acknowledge(this.function, {
      'PCI.DSS.321-LambdaInsideVPC':
        'The function has no inbound network path (it is invoked by its EventBridge schedule) and reaches only S3, KMS, X-Ray and CloudWatch over TLS with IAM-scoped credentials. Running it in a VPC needs their endpoints or a NAT; not in scope of this stack.',
    });

    const alarm = new cloudwatch.Alarm(this, 'FunctionErrors', {
      alarmName: `${prefix}-compaction-errors`,
      alarmDescription:
        'The scheduled compaction failed (S3 error, a timeout, or a stale maintenance lease: docs/runbook.md, "Maintenance lease"); the next schedule retries.',
      metric: this.function.metricErrors({ period: Duration.minutes(5), statistic: 'Sum' }),
      threshold: 1,
      evaluationPeriods: 1,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    });
    if (props.alarmTopic) {
      alarm.addAlarmAction(new actions.SnsAction(props.alarmTopic));
      alarm.addOkAction(new actions.SnsAction(props.alarmTopic));
    }
    this.alarms = [alarm];
  }
}
