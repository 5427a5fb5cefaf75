/**
 * The names that tie the deployed parts together, in one place for both sides: the CDK app (`lib/`) sets or
 * reads them, the functions (`lambdas/`) and the CLI (`cli/`) read or set them. Renaming one here renames it
 * everywhere; spelling one as a bare string on either side is how they drift apart.
 */

/** The ingest function's EMF metrics (namespace and `service` from the function's environment). */
export const INGEST_METRIC = {
  RowsIn: 'RowsIn',
  RowsValid: 'RowsValid',
  RowsQuarantined: 'RowsQuarantined',
  BytesIn: 'BytesIn',
  DurationMs: 'DurationMs',
  SecondsToQueryable: 'SecondsToQueryable',
  FilesRejected: 'FilesRejected',
  /** Objects whose ingest failed (the message goes back to the queue). Lambda's Errors metric stays 0 with partial batch responses. */
  IngestFailures: 'IngestFailures',
} as const;
export type IngestMetric = (typeof INGEST_METRIC)[keyof typeof INGEST_METRIC];
export const INGEST_METRICS: readonly IngestMetric[] = Object.values(INGEST_METRIC);

/** Outputs of the lake's stack (lib/medallion-lake-stack.ts), read by `lake … --aws` (cli/aws/stack.ts). */
export const STACK_OUTPUT = {
  bronzeBucket: 'BronzeBucketName',
  silverBucket: 'SilverBucketName',
  goldBucket: 'GoldBucketName',
  quarantineBucket: 'QuarantineBucketName',
  athenaResultsBucket: 'AthenaResultsBucketName',
  silverDatabase: 'SilverDatabaseName',
  goldDatabase: 'GoldDatabaseName',
  quarantineDatabase: 'QuarantineDatabaseName',
  analystsWorkgroup: 'AnalystsWorkgroupName',
  platformWorkgroup: 'PlatformWorkgroupName',
  ingestQueueUrl: 'IngestQueueUrl',
  deadLetterQueueUrl: 'DeadLetterQueueUrl',
  ingestFunctionName: 'IngestFunctionName',
  /** Only when the stack creates an analysts role. */
  analystsRoleArn: 'AnalystsRoleArn',
  /** Only when the lake fans large objects out (the default). */
  fanOutStateMachineArn: 'FanOutStateMachineArn',
} as const;

/** The ingest function's environment (lib/ingestion sets it, lambdas/ingest/config.ts reads it). */
export const INGEST_ENV = {
  contractsDir: 'CONTRACTS_DIR',
  bronzeBucket: 'BRONZE_BUCKET',
  silverBucket: 'SILVER_BUCKET',
  quarantineBucket: 'QUARANTINE_BUCKET',
  glueSilverDatabase: 'GLUE_SILVER_DATABASE',
  glueQuarantineDatabase: 'GLUE_QUARANTINE_DATABASE',
  workDir: 'WORK_DIR',
  duckdbMemoryLimit: 'DUCKDB_MEMORY_LIMIT',
  maxUncompressedBytes: 'MAX_UNCOMPRESSED_BYTES',
  threads: 'INGEST_THREADS',
  piiSaltSecretArn: 'PII_SALT_SECRET_ARN',
  /** The EventBridge bus of `Ingest Completed`/`Ingest Rejected` events; none publishes nothing. */
  eventBusName: 'EVENT_BUS_NAME',
  /** The fan-out state machine (lib/fan-out); none ingests every object inline. */
  fanOutStateMachineArn: 'FAN_OUT_STATE_MACHINE_ARN',
  fanOutMinBytes: 'FAN_OUT_MIN_BYTES',
  fanOutChunkBytes: 'FAN_OUT_CHUNK_BYTES',
} as const;

/** The gold-refresh function's environment (lib/gold sets it, lambdas/gold-refresh/config.ts reads it). */
export const GOLD_REFRESH_ENV = {
  silverBucket: 'SILVER_BUCKET',
  goldBucket: 'GOLD_BUCKET',
  glueSilverDatabase: 'GLUE_SILVER_DATABASE',
  glueGoldDatabase: 'GLUE_GOLD_DATABASE',
  glueQuarantineDatabase: 'GLUE_QUARANTINE_DATABASE',
  athenaWorkgroup: 'ATHENA_WORKGROUP',
  cleanupGraceSeconds: 'CLEANUP_GRACE_SECONDS',
} as const;

/** The scheduled compaction function's environment (lib/maintenance sets it, lambdas/compaction reads it). */
export const COMPACTION_ENV = {
  contractsDir: 'CONTRACTS_DIR',
  silverBucket: 'SILVER_BUCKET',
  workDir: 'WORK_DIR',
  /** Comma-separated datasets to compact; every contract's when empty. */
  datasets: 'COMPACTION_DATASETS',
  targetBytes: 'COMPACTION_TARGET_BYTES',
} as const;
