/** The ingest function's settings, from the environment the infrastructure sets. */
import { tmpdir } from 'node:os';
import { INGEST_ENV } from '../../wiring/names.ts';

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
  /** Objects expected to give more text than this are fanned out (when a state machine is set): a gzip counts as `GZIP_ROUTING_EXPANSION` (10) × its size (lambdas/ingest/routing.ts). */
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

const E = INGEST_ENV;
const REQUIRED = [E.contractsDir, E.bronzeBucket, E.silverBucket, E.quarantineBucket, E.glueSilverDatabase] as const;

function positiveInteger(env: Record<string, string | undefined>, name: string): number | undefined {
  const raw = env[name]?.trim();
  if (!raw) return undefined;
  const value = Number(raw);
  if (!Number.isSafeInteger(value) || value <= 0)
    throw new ConfigError(`${name} must be a positive integer (got "${raw}")`);
  return value;
}

export function readConfig(env: Record<string, string | undefined> = process.env): IngestConfig {
  const missing = REQUIRED.filter((name) => !env[name]?.trim());
  if (missing.length > 0) throw new ConfigError(`missing environment variables: ${missing.join(', ')}`);
  const value = (name: (typeof REQUIRED)[number]): string => (env[name] as string).trim();
  return {
    contractsDir: value(E.contractsDir),
    bronzeBucket: value(E.bronzeBucket),
    silverBucket: value(E.silverBucket),
    quarantineBucket: value(E.quarantineBucket),
    glueSilverDatabase: value(E.glueSilverDatabase),
    glueQuarantineDatabase: env[E.glueQuarantineDatabase]?.trim() || undefined,
    workDir: env[E.workDir]?.trim() || tmpdir(),
    duckdbMemoryLimit: env[E.duckdbMemoryLimit]?.trim() || undefined,
    piiSaltSecretArn: env[E.piiSaltSecretArn]?.trim() || undefined,
    eventBusName: env[E.eventBusName]?.trim() || undefined,
    maxUncompressedBytes: positiveInteger(env, E.maxUncompressedBytes),
    threads: positiveInteger(env, E.threads),
    fanOutStateMachineArn: env[E.fanOutStateMachineArn]?.trim() || undefined,
    fanOutMinBytes: positiveInteger(env, E.fanOutMinBytes),
    fanOutChunkBytes: positiveInteger(env, E.fanOutChunkBytes),
  };
}
