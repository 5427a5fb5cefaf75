/** The ingest function's settings, from the environment the infrastructure sets. */
import { tmpdir } from 'node:os';

export interface IngestConfig {
  contractsDir: string;
  bronzeBucket: string;
  silverBucket: string;
  quarantineBucket: string;
  glueSilverDatabase: string;
  /** Read for completeness: quarantine tables are unpartitioned, so the function registers nothing there today. */
  glueQuarantineDatabase: string | undefined;
  /** Scratch space (Lambda: /tmp). Each object gets its own subdirectory, removed afterwards. */
  workDir: string;
  /** DuckDB memory limit, e.g. `512MB`; the engine's default when unset. */
  duckdbMemoryLimit: string | undefined;
  /** Chunks of a large object transformed at once (one per vCPU); the engine's default (1) when unset. */
  threads: number | undefined;
  /** Largest decompressed size of a gzip source (/tmp must hold it); the engine's default when unset. */
  maxUncompressedBytes: number | undefined;
  /** Secrets Manager secret salting PII `hash` columns; required when a contract hashes PII. */
  piiSaltSecretArn: string | undefined;
  /** The fan-out state machine: objects larger than `fanOutMinBytes` start an execution of it instead of an inline ingest. Unset: never. */
  fanOutStateMachineArn?: string;
  /** Objects larger than this are fanned out (when a state machine is set). */
  fanOutMinBytes?: number;
  /** Text per fan-out chunk; the engine's default when unset. */
  fanOutChunkBytes?: number;
  /** EventBridge bus (name or ARN) for `Ingest Completed`/`Ingest Rejected` events; none published when unset. */
  eventBusName: string | undefined;
}

export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConfigError';
  }
}

const REQUIRED = ['CONTRACTS_DIR', 'BRONZE_BUCKET', 'SILVER_BUCKET', 'QUARANTINE_BUCKET', 'GLUE_SILVER_DATABASE'] as const;

function positiveInteger(env: Record<string, string | undefined>, name: string): number | undefined {
  const raw = env[name]?.trim();
  if (!raw) return undefined;
  const value = Number(raw);
  if (!Number.isSafeInteger(value) || value <= 0) throw new ConfigError(`${name} must be a positive integer (got "${raw}")`);
  return value;
}

export function readConfig(env: Record<string, string | undefined> = process.env): IngestConfig {
  const missing = REQUIRED.filter((name) => !env[name]?.trim());
  if (missing.length > 0) throw new ConfigError(`missing environment variables: ${missing.join(', ')}`);
  const value = (name: (typeof REQUIRED)[number]): string => (env[name] as string).trim();
  return {
    contractsDir: value('CONTRACTS_DIR'),
    bronzeBucket: value('BRONZE_BUCKET'),
    silverBucket: value('SILVER_BUCKET'),
    quarantineBucket: value('QUARANTINE_BUCKET'),
    glueSilverDatabase: value('GLUE_SILVER_DATABASE'),
    glueQuarantineDatabase: env.GLUE_QUARANTINE_DATABASE?.trim() || undefined,
    workDir: env.WORK_DIR?.trim() || tmpdir(),
    duckdbMemoryLimit: env.DUCKDB_MEMORY_LIMIT?.trim() || undefined,
    piiSaltSecretArn: env.PII_SALT_SECRET_ARN?.trim() || undefined,
    eventBusName: env.EVENT_BUS_NAME?.trim() || undefined,
    maxUncompressedBytes: positiveInteger(env, 'MAX_UNCOMPRESSED_BYTES'),
    threads: positiveInteger(env, 'INGEST_THREADS'),
    fanOutStateMachineArn: env.FAN_OUT_STATE_MACHINE_ARN?.trim() || undefined,
    fanOutMinBytes: positiveInteger(env, 'FAN_OUT_MIN_BYTES'),
    fanOutChunkBytes: positiveInteger(env, 'FAN_OUT_CHUNK_BYTES'),
  };
}
