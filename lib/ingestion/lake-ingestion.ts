import { Duration, RemovalPolicy, Size } from 'aws-cdk-lib';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { SqsEventSource } from 'aws-cdk-lib/aws-lambda-event-sources';
import * as nodejs from 'aws-cdk-lib/aws-lambda-nodejs';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import {
  COMPACTED_FILE_PREFIX,
  ENGINE_PROCESS_ENV,
  type ContractRegistry,
  loadContracts,
  MAINTENANCE_LEASES_PREFIX,
  MANIFESTS_PREFIX,
  PENDING_PREFIX,
  UNKNOWN_DATASET,
} from '../../engine/contract/index.ts';
import { acknowledge, acknowledgeInlinePolicies } from '../compliance/acknowledgments.ts';
import { join, resolve } from 'node:path';
import type { LakeCatalog } from '../catalog/lake-catalog.ts';
import {
  encryptedLogGroup,
  ingestBundling,
  lakeFunctionDefaults,
  MIN_MAX_RECEIVE_COUNT,
  validateMaxReceiveCount,
  VISIBILITY_TIMEOUT_FACTOR,
} from '../functions/index.ts';
import type { LakeStorage } from '../storage/lake-storage.ts';
import { INGEST_ENV } from '../../wiring/names.ts';

const REPO_ROOT = resolve(import.meta.dirname, '../..');
const E = INGEST_ENV;

/** Where the contracts are inside the deployed function. */
export const FUNCTION_CONTRACTS_DIR = '/var/task/contracts';

/** Lambda gives a function one vCPU per 1,769 MB of memory. */
export const MB_PER_VCPU = 1769;

/** Share of /tmp a decompressed source may take (the compressed original and the staged Parquet need the rest). */
export const UNCOMPRESSED_SHARE_OF_TMP = 0.6;

export interface LakeIngestionProps {
  readonly storage: LakeStorage;
  readonly catalog: LakeCatalog;
  /** Directory of the dataset contracts, bundled into the function as `/var/task/contracts`. */
  readonly contractsDir: string;
  /**
   * The contracts of `contractsDir`, when the caller has loaded them already (`DataLake` loads them once).
   * @default - loaded from `contractsDir`
   */
  readonly contracts?: ContractRegistry;
  /**
   * Prefix of physical names (the log group `/<prefix>/ingest`).
   * @default 'medallion'
   */
  readonly namePrefix?: string;
  /**
   * The handler's source file (exporting `handler`).
   * @default - lambdas/ingest/handler.ts of this repository
   */
  readonly entry?: string;
  /**
   * Directory with package-lock.json and the node_modules holding the DuckDB packages.
   * @default - this repository's root
   */
  readonly projectRoot?: string;
  /**
   * Memory of the function. The engine peaks around 300 MB RSS on a 150 MB CSV; CPU scales with memory.
   * @default 1024
   */
  readonly memorySize?: number;
  /**
   * /tmp size: each input file is spooled there, and the Parquet output staged, before upload.
   * @default Size.mebibytes(4096)
   */
  readonly ephemeralStorageSize?: Size;
  /**
   * Function timeout. The queue's visibility timeout is set to 6× this.
   * @default Duration.minutes(5)
   */
  readonly timeout?: Duration;
  /**
   * Messages (bronze objects) per invocation, 1–10. Failures are reported per message.
   * @default 5
   */
  readonly batchSize?: number;
  /**
   * How long Lambda gathers messages before invoking with a partial batch.
   * @default Duration.seconds(10)
   */
  readonly maxBatchingWindow?: Duration;
  /**
   * Most concurrent invocations the queue may drive (2–1000). Bounds the load on Glue and S3 without
   * reserving account concurrency.
   * @default 5
   */
  readonly maxConcurrency?: number;
  /**
   * Concurrency reserved for (and capping) the function. Must be at least `maxConcurrency`. New accounts
   * with a concurrency quota of 10 cannot reserve any.
   * @default - none reserved
   */
  readonly reservedConcurrentExecutions?: number;
  /**
   * Deliveries of a message before it moves to the dead-letter queue; at least `MIN_MAX_RECEIVE_COUNT` (5).
   * @default 5
   */
  readonly maxReceiveCount?: number;
  /**
   * DuckDB's memory limit (`DUCKDB_MEMORY_LIMIT`), well under the function's memory. The engine spills
   * beyond it; with 128MB its peak RSS measured 316–359 MB at one session from 2M to 10M rows (docs/engine.md).
   * @default '128MB'
   */
  readonly duckdbMemoryLimit?: string;
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
   * CloudWatch namespace of the handler's EMF metrics (`POWERTOOLS_METRICS_NAMESPACE`).
   * @default 'MedallionLake'
   */
  readonly metricsNamespace?: string;
  /**
   * Powertools service name (`POWERTOOLS_SERVICE_NAME`); Powertools adds it to every metric as the
   * `service` dimension, which the alarms select. It must differ between lakes sharing an account and region
   * (dev and prod), or each lake's alarms fire on the other's metrics.
   * @default `${namePrefix}-ingest`
   */
  readonly serviceName?: string;
  /**
   * Whether `cdk destroy` deletes the function's logs.
   * @default false
   */
  readonly allowDestroy?: boolean;
  /**
   * Secret whose string value salts the SHA-256 of PII `hash` columns. The salt must never change (every
   * hash would), so a generated one is retained even when the stack is destroyed.
   * @default - a generated secret, encrypted with the lake key, when a contract hashes PII; none otherwise
   */
  readonly piiSalt?: secretsmanager.ISecret;
  /**
   * Publish an `Ingest Completed`/`Ingest Rejected` event (source `medallion.lake`) on the account's default
   * event bus after every ingest, so dataset owners can subscribe (see `ProducerFeedback`).
   * @default true
   */
  readonly publishEvents?: boolean;
}

/**
 * Bronze object-created events → EventBridge rule → SQS queue (with a dead-letter queue) → the ingest
 * function, which reads bronze and writes silver, quarantine and manifests and registers partitions.
 */
/** The bus ingest events are published on. */
export const DEFAULT_EVENT_BUS = 'default';

export class LakeIngestion extends Construct {
  readonly function: nodejs.NodejsFunction;
  readonly queue: sqs.Queue;
  readonly deadLetterQueue: sqs.Queue;
  readonly rule: events.Rule;
  readonly logGroup: logs.LogGroup;
  readonly metricsNamespace: string;
  readonly serviceName: string;
  /** The PII salt secret the function reads, when a contract hashes PII or one was given. */
  readonly piiSalt: secretsmanager.ISecret | undefined;
  /** The bus ingest events go to (the account's default bus); undefined when `publishEvents` is false. */
  readonly eventBus: events.IEventBus | undefined;

  constructor(scope: Construct, id: string, props: LakeIngestionProps) {
    super(scope, id);
    const { storage, catalog } = props;
    const timeout = props.timeout ?? Duration.minutes(5);
    const batchSize = props.batchSize ?? 5;
    const maxConcurrency = props.maxConcurrency ?? 5;
    const maxReceiveCount = props.maxReceiveCount ?? MIN_MAX_RECEIVE_COUNT;
    validate({ batchSize, maxConcurrency, maxReceiveCount, reserved: props.reservedConcurrentExecutions });
    this.metricsNamespace = props.metricsNamespace ?? 'MedallionLake';
    this.serviceName = props.serviceName ?? `${props.namePrefix ?? 'medallion'}-ingest`;
    const removalPolicy = props.allowDestroy ? RemovalPolicy.DESTROY : RemovalPolicy.RETAIN;

    // Messages carry object references only (bucket, key, size, etag), never records: SQS-managed encryption
    // spares giving EventBridge a grant on the lake's data key.
    this.deadLetterQueue = new sqs.Queue(this, 'DeadLetterQueue', {
      encryption: sqs.QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      retentionPeriod: Duration.days(14),
    });
    this.queue = new sqs.Queue(this, 'Queue', {
      encryption: sqs.QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      visibilityTimeout: Duration.seconds(timeout.toSeconds() * VISIBILITY_TIMEOUT_FACTOR),
      retentionPeriod: Duration.days(4),
      deadLetterQueue: { queue: this.deadLetterQueue, maxReceiveCount },
    });

    const bronze = storage.bucket('bronze');
    this.rule = new events.Rule(this, 'BronzeObjectCreated', {
      description: 'Objects created in the bronze bucket, to the ingest queue',
      eventPattern: {
        source: ['aws.s3'],
        detailType: ['Object Created'],
        detail: { bucket: { name: [bronze.bucketName] } },
      },
    });
    this.rule.addTarget(new targets.SqsQueue(this.queue, { deadLetterQueue: this.deadLetterQueue }));

    this.logGroup = encryptedLogGroup(
      this,
      storage.key,
      `/${props.namePrefix ?? 'medallion'}/ingest`,
      props.logRetention ?? logs.RetentionDays.THREE_MONTHS,
      removalPolicy,
    );
    const role = new iam.Role(this, 'Role', {
      assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
      description: 'Ingest function: reads bronze, writes silver and quarantine, registers silver partitions',
    });
    this.logGroup.grantWrite(role);

    const hashing = (props.contracts ?? loadContracts(props.contractsDir)).contracts.filter((c) =>
      c.columns.some((col) => col.pii === 'hash'),
    );
    this.piiSalt =
      props.piiSalt ??
      (hashing.length > 0 ? generatedSalt(this, storage, `${props.namePrefix ?? 'medallion'}-pii-salt`) : undefined);

    const projectRoot = props.projectRoot ?? REPO_ROOT;
    const ephemeralStorage = props.ephemeralStorageSize ?? Size.mebibytes(4096);
    const memorySize = props.memorySize ?? 1024;
    this.function = new nodejs.NodejsFunction(this, 'Function', {
      description: 'Validates bronze files against their contract into silver Parquet and quarantine',
      ...lakeFunctionDefaults(projectRoot),
      entry: props.entry ?? join(REPO_ROOT, 'lambdas/ingest/handler.ts'),
      architecture: lambda.Architecture.X86_64,
      memorySize,
      ephemeralStorageSize: ephemeralStorage,
      timeout,
      reservedConcurrentExecutions: props.reservedConcurrentExecutions,
      role,
      logGroup: this.logGroup,
      bundling: ingestBundling({ projectRoot, contractsDir: props.contractsDir }),
      environment: {
        [E.contractsDir]: FUNCTION_CONTRACTS_DIR,
        [E.bronzeBucket]: bronze.bucketName,
        [E.silverBucket]: storage.bucket('silver').bucketName,
        [E.quarantineBucket]: storage.bucket('quarantine').bucketName,
        [E.glueSilverDatabase]: catalog.databaseNames.silver,
        [E.glueQuarantineDatabase]: catalog.databaseNames.quarantine,
        POWERTOOLS_SERVICE_NAME: this.serviceName,
        POWERTOOLS_METRICS_NAMESPACE: this.metricsNamespace,
        LOG_LEVEL: props.logLevel ?? 'INFO',
        [E.workDir]: '/tmp',
        [E.duckdbMemoryLimit]: props.duckdbMemoryLimit ?? '128MB',
        // /tmp holds the gzip, its text and the Parquet staged from it: a gzip expanding past this is refused
        // (EXPANSION_LIMIT, quarantined whole) instead of filling /tmp on every retry.
        [E.maxUncompressedBytes]: String(Math.floor(ephemeralStorage.toBytes() * UNCOMPRESSED_SHARE_OF_TMP)),
        // A large object is transformed in record-aligned chunks, this many at once: one per vCPU the memory buys.
        [E.threads]: String(Math.max(1, Math.floor(memorySize / MB_PER_VCPU))),
        ...(this.piiSalt ? { [E.piiSaltSecretArn]: this.piiSalt.secretArn } : {}),
        ...(props.publishEvents === false ? {} : { [E.eventBusName]: DEFAULT_EVENT_BUS }),
        NODE_OPTIONS: '--enable-source-maps',
        ...ENGINE_PROCESS_ENV,
      },
    });

    // Read-only on bronze, so the function can never trigger itself. (Listing the bucket makes a deleted object
    // a 404, "object gone", rather than a 403.)
    storage.grantRead(this.function, 'bronze');
    // Silver: read and write the manifests (the previous one names the files a re-run replaces); write and
    // delete each dataset's own files; read no silver data but compacted files (below). A source's first manifest does not exist yet:
    // S3 says so (404, not 403) only to a principal that may list the bucket.
    storage.grantReadWrite(this.function, 'silver', `${MANIFESTS_PREFIX}*`, { listWholeBucket: true });
    // And its intent records (the files an unfinished attempt wrote, removed by the next success).
    storage.grantReadWrite(this.function, 'silver', `${PENDING_PREFIX}*`, { listWholeBucket: true });
    // Read only: the maintenance leases its publish respects (engine/maintenance/lease.ts); erase and compact hold them.
    storage.grantRead(this.function, 'silver', `${MAINTENANCE_LEASES_PREFIX}*`, { listWholeBucket: true });
    const datasets = catalog.tables('silver').map((t) => t.tableName);
    for (const table of catalog.tables('silver')) {
      storage.grantWrite(this.function, 'silver', `${table.locationPrefix}*`);
      // The only silver data it reads: a compacted file holding rows of a run its publish replaces, rewritten without
      // them (engine/maintenance/rewrite.ts). Without it the rewrite failed with 403 after the manifest was written.
      // `<table>/*part-compacted-*`: in a partition's folder, or at the table's root for a table without partitions.
      storage.grantRead(this.function, 'silver', `${table.locationPrefix}*${COMPACTED_FILE_PREFIX}*`, {
        listWholeBucket: true, // listed whole already (above)
      });
    }
    // Quarantine: write only, under each dataset's prefix and the one for files no contract owns.
    for (const dataset of [...datasets, UNKNOWN_DATASET])
      storage.grantWrite(this.function, 'quarantine', `${dataset}/*`);
    catalog.grantAddPartitions(this.function, 'silver');
    this.piiSalt?.grantRead(this.function);
    // events:PutEvents on the default bus only (no wildcard resource).
    this.eventBus =
      props.publishEvents === false
        ? undefined
        : events.EventBus.fromEventBusName(this, 'DefaultEventBus', DEFAULT_EVENT_BUS);
    this.eventBus?.grantPutEventsTo(this.function);

    acknowledgeInlinePolicies(role);
    acknowledge(role, {
      'AwsSolutions-IAM5[Resource::*]':
        'Only xray:PutTraceSegments and xray:PutTelemetryRecords (active tracing), which support no resource-level permissions.',
    });
    acknowledge(this.function, {
      'PCI.DSS.321-LambdaInsideVPC':
        'The function has no inbound network path (it is invoked by the SQS event source) and reaches only AWS APIs over TLS with IAM-scoped credentials. Running it in a VPC needs S3, Glue, KMS, X-Ray and CloudWatch endpoints or a NAT; not in scope of this stack.',
    });

    this.function.addEventSource(
      new SqsEventSource(this.queue, {
        batchSize,
        maxBatchingWindow: props.maxBatchingWindow ?? Duration.seconds(10),
        reportBatchItemFailures: true,
        maxConcurrency,
      }),
    );
  }
}

function validate(v: { batchSize: number; maxConcurrency: number; maxReceiveCount: number; reserved?: number }): void {
  if (!Number.isInteger(v.batchSize) || v.batchSize < 1 || v.batchSize > 10)
    throw new Error(`batchSize must be 1–10 (got ${v.batchSize})`);
  if (!Number.isInteger(v.maxConcurrency) || v.maxConcurrency < 2 || v.maxConcurrency > 1000) {
    throw new Error(`maxConcurrency must be 2–1000, an SQS event source limit (got ${v.maxConcurrency})`);
  }
  validateMaxReceiveCount(v.maxReceiveCount);
  if (v.reserved !== undefined && v.reserved < v.maxConcurrency) {
    throw new Error(
      `reservedConcurrentExecutions (${v.reserved}) below maxConcurrency (${v.maxConcurrency}) would throttle the queue's own invocations`,
    );
  }
}

/**
 * A fixed name: a re-created stack then fails on the retained secret instead of silently hashing with a new
 * salt (import it, or pass it as `piiSalt`).
 */
function generatedSalt(scope: Construct, storage: LakeStorage, secretName: string): secretsmanager.Secret {
  const secret = new secretsmanager.Secret(scope, 'PiiSalt', {
    secretName,
    description: 'Salt of the SHA-256 hashes of PII columns in silver. Never change it: every hash would change.',
    encryptionKey: storage.key,
    generateSecretString: { passwordLength: 48, excludePunctuation: true },
    removalPolicy: RemovalPolicy.RETAIN,
  });
  acknowledge(secret, {
    'AwsSolutions-SMG4':
      'The PII salt must not rotate: a new salt would change every hash in silver and break joins across files.',
  });
  return secret;
}
