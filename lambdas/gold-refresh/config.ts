/** The gold-refresh function's settings, from the environment the infrastructure sets. */
import type { DatabaseNames } from '../../engine/gold/index.ts';
import { GOLD_REFRESH_ENV } from '../../wiring/names.ts';

export interface GoldRefreshConfig {
  silverBucket: string;
  goldBucket: string;
  /** Glue database of each logical database named in SQL. */
  databases: DatabaseNames;
  /** Athena workgroup the refresh queries run in (the platform workgroup). */
  workGroup: string;
  /** How long replaced month prefixes are kept before deletion. */
  cleanupGraceMs: number | undefined;
}

const E = GOLD_REFRESH_ENV;
const REQUIRED = [
  E.silverBucket,
  E.goldBucket,
  E.glueSilverDatabase,
  E.glueGoldDatabase,
  E.glueQuarantineDatabase,
  E.athenaWorkgroup,
] as const;

export function readGoldRefreshConfig(env: Record<string, string | undefined> = process.env): GoldRefreshConfig {
  const missing = REQUIRED.filter((name) => !env[name]?.trim());
  if (missing.length > 0) throw new Error(`missing environment variables: ${missing.join(', ')}`);
  const value = (name: (typeof REQUIRED)[number]): string => (env[name] as string).trim();
  const grace = env[E.cleanupGraceSeconds]?.trim();
  if (grace !== undefined && grace !== '' && !/^\d+$/.test(grace))
    throw new Error(`${E.cleanupGraceSeconds} must be whole seconds (got ${grace})`);
  return {
    silverBucket: value(E.silverBucket),
    goldBucket: value(E.goldBucket),
    databases: {
      silver: value(E.glueSilverDatabase),
      gold: value(E.glueGoldDatabase),
      quarantine: value(E.glueQuarantineDatabase),
    },
    workGroup: value(E.athenaWorkgroup),
    cleanupGraceMs: grace ? Number(grace) * 1000 : undefined,
  };
}
