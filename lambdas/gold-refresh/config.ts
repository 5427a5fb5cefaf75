/** The gold-refresh function's settings, from the environment the infrastructure sets. */
import type { DatabaseNames } from '../../engine/gold/index.ts';

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

const REQUIRED = ['SILVER_BUCKET', 'GOLD_BUCKET', 'GLUE_SILVER_DATABASE', 'GLUE_GOLD_DATABASE', 'GLUE_QUARANTINE_DATABASE', 'ATHENA_WORKGROUP'] as const;

export function readGoldRefreshConfig(env: Record<string, string | undefined> = process.env): GoldRefreshConfig {
  const missing = REQUIRED.filter((name) => !env[name]?.trim());
  if (missing.length > 0) throw new Error(`missing environment variables: ${missing.join(', ')}`);
  const value = (name: (typeof REQUIRED)[number]): string => (env[name] as string).trim();
  const grace = env.CLEANUP_GRACE_SECONDS?.trim();
  if (grace !== undefined && grace !== '' && !/^\d+$/.test(grace)) throw new Error(`CLEANUP_GRACE_SECONDS must be whole seconds (got ${grace})`);
  return {
    silverBucket: value('SILVER_BUCKET'),
    goldBucket: value('GOLD_BUCKET'),
    databases: { silver: value('GLUE_SILVER_DATABASE'), gold: value('GLUE_GOLD_DATABASE'), quarantine: value('GLUE_QUARANTINE_DATABASE') },
    workGroup: value('ATHENA_WORKGROUP'),
    cleanupGraceMs: grace ? Number(grace) * 1000 : undefined,
  };
}
