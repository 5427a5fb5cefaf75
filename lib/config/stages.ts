import { Duration, Size } from 'aws-cdk-lib';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as s3 from 'aws-cdk-lib/aws-s3';
import type { IngestionOptions } from '../data-lake.ts';
import type { LakeRetention } from '../storage/retention.ts';

const GIB = 1024 ** 3;

export type StageName = 'dev' | 'prod';

/** Everything that differs between stages, in one typed place. */
export interface StageConfig {
  readonly stageName: StageName;
  /** Prefix of physical names (`medallion-dev-analysts`; Glue: `medallion_dev_silver`). */
  readonly namePrefix: string;
  /** Whether `cdk destroy` may delete data (buckets with objects, key, databases, logs). */
  readonly allowDestroy: boolean;
  /**
   * Object Lock on bronze (governance mode in prod): every new raw file version is immutable for the retention.
   * Irreversible once deployed; `-c bronzeObjectLock=off` leaves it off (a stack deployed before it existed).
   */
  readonly bronzeObjectLock?: s3.ObjectLockRetention;
  readonly retention: LakeRetention;
  /** Per-query bytes-scanned cutoff of each Athena workgroup. */
  readonly scanCutoffBytes: { readonly analysts: number; readonly platform: number };
  readonly ingestion: IngestionOptions;
  /** Alarm routing: emails here or via `-c alarmEmails=a@x,b@y`, or an existing topic via `-c alarmTopicArn=…`. */
  readonly alarmEmails: readonly string[];
  /** An existing SNS topic to notify instead of a new one. */
  readonly alarmTopicArn?: string;
  /** Age of the oldest queued bronze object that raises an alarm. */
  readonly maxMessageAge: Duration;
  /**
   * Who may assume the stack's `AnalystsRole`: IAM role or user ARNs (an IAM Identity Center permission set's
   * `AWSReservedSSO_…` role, say) and SAML provider ARNs (console federation). Empty: no `AnalystsRole`; grant
   * existing roles with `DataLake.grantAnalystAccess` instead. Also `-c analystPrincipals=arn1,arn2`.
   */
  readonly analystPrincipalArns: readonly string[];
  /**
   * Lake Formation administrators (IAM role/user ARNs); any turns on the lake's Lake Formation option
   * (`DataLakeProps.lakeFormation`). Also `-c lakeFormationAdmins=arn1,arn2`.
   * @default - none: no Lake Formation
   */
  readonly lakeFormationAdmins?: readonly string[];
}

export const STAGES: Readonly<Record<StageName, StageConfig>> = {
  dev: {
    stageName: 'dev',
    namePrefix: 'medallion-dev',
    allowDestroy: true,
    retention: {
      noncurrentVersionExpirationDays: 7,
      quarantineExpirationDays: 30,
      athenaResultsExpirationDays: 7,
      accessLogsExpirationDays: 30,
    },
    scanCutoffBytes: { analysts: 1 * GIB, platform: 10 * GIB },
    ingestion: {
      memorySize: 1024,
      ephemeralStorageSize: Size.mebibytes(4096),
      timeout: Duration.minutes(5),
      batchSize: 5,
      maxConcurrency: 2,
      logLevel: 'DEBUG',
      logRetention: logs.RetentionDays.ONE_MONTH,
    },
    alarmEmails: [],
    maxMessageAge: Duration.minutes(30),
    analystPrincipalArns: [],
  },
  prod: {
    stageName: 'prod',
    namePrefix: 'medallion-prod',
    allowDestroy: false,
    // Raw files are the replayable system of record: each version is locked for a year (governance mode, so
    // an administrator holding s3:BypassGovernanceRetention can still remove one), and bronze keeps replaced
    // versions exactly as long.
    bronzeObjectLock: s3.ObjectLockRetention.governance(Duration.days(365)),
    retention: {
      bronzeNoncurrentVersionExpirationDays: 365,
      noncurrentVersionExpirationDays: 90,
      quarantineExpirationDays: 365,
      athenaResultsExpirationDays: 30,
      // PCI DSS 10.7: keep audit trails for at least a year.
      accessLogsExpirationDays: 400,
    },
    scanCutoffBytes: { analysts: 10 * GIB, platform: 100 * GIB },
    ingestion: {
      memorySize: 1024,
      ephemeralStorageSize: Size.mebibytes(4096),
      timeout: Duration.minutes(5),
      batchSize: 5,
      maxConcurrency: 10,
      reservedConcurrentExecutions: 10,
      logLevel: 'INFO',
      logRetention: logs.RetentionDays.ONE_YEAR,
    },
    alarmEmails: [],
    maxMessageAge: Duration.minutes(30),
    analystPrincipalArns: [],
  },
};

/** The stage named by `-c stage=…` (default `dev`), with alarm routing taken from context. */
export function stageFromContext(tryGetContext: (key: string) => unknown): StageConfig {
  const name = tryGetContext('stage') ?? 'dev';
  if (typeof name !== 'string' || !(name in STAGES)) {
    throw new Error(`unknown stage ${JSON.stringify(name)}: use -c stage=${Object.keys(STAGES).join('|')}`);
  }
  const stage = STAGES[name as StageName];
  const emails = contextList(tryGetContext('alarmEmails'));
  const topicArn = tryGetContext('alarmTopicArn');
  const lock = tryGetContext('bronzeObjectLock');
  if (lock !== undefined && lock !== 'off')
    throw new Error(`bronzeObjectLock: only "off" can be given on the command line (got ${JSON.stringify(lock)})`);
  const analysts = contextList(tryGetContext('analystPrincipals'));
  for (const arn of analysts) {
    if (!/^arn:aws[a-z-]*:iam::\d{12}:(role|user|saml-provider)\/.+$/.test(arn)) {
      throw new Error(`analystPrincipals: ${JSON.stringify(arn)} is not an IAM role, user or SAML provider ARN`);
    }
  }
  return {
    ...stage,
    bronzeObjectLock: lock === 'off' ? undefined : stage.bronzeObjectLock,
    alarmEmails: [...stage.alarmEmails, ...emails],
    analystPrincipalArns: [...stage.analystPrincipalArns, ...analysts],
    lakeFormationAdmins: [...(stage.lakeFormationAdmins ?? []), ...contextList(tryGetContext('lakeFormationAdmins'))],
    alarmTopicArn: typeof topicArn === 'string' && topicArn !== '' ? topicArn : undefined,
  };
}

function contextList(value: unknown): string[] {
  if (value === undefined || value === '') return [];
  if (Array.isArray(value)) return value.map(String);
  return String(value)
    .split(',')
    .map((v) => v.trim())
    .filter(Boolean);
}
