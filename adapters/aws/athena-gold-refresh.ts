/**
 * Refreshes a gold table on AWS: the gold refresh use case (`refreshGold`, engine/gold) executed with Athena,
 * S3 and Glue.
 *
 * S3 has no rename, so the swap happens in the catalog. One refresh:
 *   1. (the use case) reads every manifest of the table's dataset and the state, probes, and plans;
 *   2. UNLOADs the plan's rows once, partitioned by year/month, to `<table prefix>refresh=<refreshId>/`
 *      (the id is a hash of the inputs: a retry of the same refresh uses the same prefix). UNLOAD wants an
 *      empty prefix: when no partition points into it yet, it is emptied first; when one does, an earlier
 *      attempt finished the UNLOAD and the refresh resumes at step 3;
 *   3. records the locations it is about to replace (`_state/<table>.retired.json`), then points each
 *      month's Glue partition at `refresh=<refreshId>/year=YYYY/month=MM/` (update, or create for a new
 *      month), and deletes the partitions of months that no longer exist;
 *   4. writes the state, then deletes `refresh=` month prefixes no partition points at: retired ones once
 *      they have been retired for `cleanupGraceMs` (queries started before the swap may still read them),
 *      never-referenced ones (a superseded attempt) at once.
 * Nothing a partition points at is ever deleted. The caller must not run two refreshes of a table at once.
 */
import type { GlueClient } from '@aws-sdk/client-glue';
import { readJson, type ObjectStore, type QueryEngine } from '../../engine/contract/index.ts';
import {
  refreshGold,
  sqlString,
  type GoldExecutor,
  type GoldRefreshPlan,
  type GoldTable,
  type MonthKey,
} from '../../engine/gold/index.ts';
import { GoldPartitions } from './gold-partitions.ts';

export interface AthenaGoldRefreshOptions {
  /** Athena (AthenaQueryEngine) in the platform workgroup; SQL names `silver.` / `gold.` logically. */
  engine: QueryEngine;
  /** Reads the silver manifests, reads and writes the gold zone. */
  store: ObjectStore;
  glue: GlueClient;
  /** The stage's gold Glue database. */
  goldDatabase: string;
  /** The gold bucket (the UNLOAD target and partition locations). */
  goldBucket: string;
  /** The table refreshed (e.g. `DEFAULT_GOLD_TABLE` of datasets/). */
  table: GoldTable;
  /**
   * How long a replaced month prefix is kept after its partition was repointed, so queries planned before
   * the swap can finish reading it. It is deleted by the first refresh after that.
   * @default 30 minutes (Athena's default DML timeout)
   */
  cleanupGraceMs?: number;
  now?: () => number;
  log?: (message: string) => void;
}

export interface AthenaGoldRefreshResult {
  plan: GoldRefreshPlan;
  /** True when an earlier attempt's UNLOAD was reused. */
  resumed: boolean;
  /** Months repointed at this refresh's prefix. */
  pointed: MonthKey[];
  /** Months whose partition was deleted (dropped months and months without rows). */
  removed: MonthKey[];
  /** Keys deleted by the cleanup. */
  deletedKeys: string[];
}

/** Replaced month prefixes (relative to the bucket) and when they were replaced (ISO time). */
interface RetiredPrefixes {
  retired: Record<string, string>;
}

const MONTH_DIR = /^year=(\d{4})\/month=(\d{2})\//;

export function retiredKey(table: GoldTable): string {
  return `_state/${table.name}.retired.json`;
}

/** Where one refresh writes: `<table prefix>refresh=<id>/`. */
export function refreshPrefix(table: GoldTable, refreshId: string): string {
  return `${table.locationPrefix}refresh=${refreshId}/`;
}

/** The UNLOAD that writes a plan's rows, partitioned by year/month, under `s3://<bucket>/<prefix>`. */
export function unloadSql(selectSql: string, bucket: string, prefix: string): string {
  return `UNLOAD (${selectSql})\nTO ${sqlString(`s3://${bucket}/${prefix}`)}\nWITH (format = 'PARQUET', compression = 'ZSTD', partitioned_by = ARRAY['year', 'month'])`;
}

export async function refreshGoldAthena(options: AthenaGoldRefreshOptions): Promise<AthenaGoldRefreshResult> {
  const { plan, outcome } = await refreshGold({ ...options, executor: athenaExecutor(options) });
  return { plan, ...outcome };
}

type AthenaOutcome = Omit<AthenaGoldRefreshResult, 'plan'>;

/** Steps 2–4: UNLOAD once, record what is replaced, repoint the partitions; after the state, clean up. */
function athenaExecutor(options: AthenaGoldRefreshOptions): GoldExecutor<AthenaOutcome> {
  const { engine, store, goldBucket, table } = options;
  const now = options.now ?? Date.now;
  const log = options.log ?? (() => {});
  const partitions = new GoldPartitions(options.glue, options.goldDatabase, table.name);
  const url = (key: string) => `s3://${goldBucket}/${key}`;
  let retired: RetiredPrefixes = { retired: {} };
  return {
    apply: async (plan) => {
      const before = await partitions.locations();
      const target = refreshPrefix(table, plan.refreshId);
      const outcome: AthenaOutcome = { resumed: false, pointed: [], removed: [], deletedKeys: [] };
      const targets = new Map<MonthKey, string>();
      let remove: MonthKey[] = [...plan.dropMonths];
      if (plan.sql) {
        outcome.resumed = [...before.values()].some((l) => l.startsWith(url(target)));
        if (!outcome.resumed) {
          await deleteAll(store, await keysUnder(store, target)); // a failed attempt's partial output; nothing points at it
          await engine.query(unloadSql(plan.sql, goldBucket, target));
        }
        const written = new Set(
          (await keysUnder(store, target)).map((k) => monthOf(k.slice(target.length))).filter((k) => k !== undefined),
        );
        // Every account with data has a row in the latest month: an UNLOAD without it wrote nothing usable.
        const lastMonth = plan.months[plan.months.length - 1];
        if (lastMonth && !written.has(lastMonth)) {
          throw new Error(
            `UNLOAD to s3://${goldBucket}/${target} wrote no rows for ${lastMonth}, the latest month: refusing to repoint gold (nothing changed)`,
          );
        }
        for (const k of plan.months) {
          if (written.has(k)) targets.set(k, url(`${target}${monthDir(k)}`));
          else remove.push(k); // no account has a row that month
        }
      }
      remove = remove.filter((k) => before.has(k));

      // Record what is about to be replaced before replacing it, so a crash right after the swap leaks nothing.
      retired = (await readJson<RetiredPrefixes>(store, 'gold', retiredKey(table))) ?? { retired: {} };
      const stamp = new Date(now()).toISOString();
      const ours = url(`${table.locationPrefix}refresh=`);
      for (const k of [...targets.keys(), ...remove]) {
        const old = before.get(k);
        if (old && old !== targets.get(k) && old.startsWith(ours)) retired.retired[old.slice(url('').length)] ??= stamp;
      }
      await store.putBytes('gold', retiredKey(table), `${JSON.stringify(retired, null, 2)}\n`, 'application/json');

      await partitions.point(targets, new Set(before.keys()));
      await partitions.remove(remove);
      outcome.pointed = [...targets.keys()];
      outcome.removed = remove;
      return outcome;
    },
    settle: async (_plan, outcome) => {
      outcome.deletedKeys = await cleanUp(options, table, retired, url);
      log(
        `gold ${table.name}: pointed ${outcome.pointed.join(',') || '-'}, removed ${outcome.removed.join(',') || '-'}, deleted ${outcome.deletedKeys.length} old objects`,
      );
    },
  };
}

/** Deletes `refresh=` month prefixes no partition points at (retired ones only after the grace period). */
async function cleanUp(
  options: AthenaGoldRefreshOptions,
  table: GoldTable,
  retired: RetiredPrefixes,
  url: (key: string) => string,
): Promise<string[]> {
  const { store } = options;
  const now = (options.now ?? Date.now)();
  const grace = options.cleanupGraceMs ?? 30 * 60_000;
  const referenced = [
    ...(await new GoldPartitions(options.glue, options.goldDatabase, table.name).locations()).values(),
  ];
  const groups = new Map<string, string[]>();
  for (const key of await keysUnder(store, `${table.locationPrefix}refresh=`)) {
    const group = groupOf(table, key);
    groups.set(group, [...(groups.get(group) ?? []), key]);
  }
  const doomed: string[] = [];
  for (const [group, keys] of groups) {
    if (referenced.some((l) => l.startsWith(url(group)))) continue;
    const since = retired.retired[group];
    if (since !== undefined && Date.parse(since) + grace > now) continue;
    doomed.push(...keys);
    delete retired.retired[group];
  }
  for (const group of Object.keys(retired.retired)) if (!groups.has(group)) delete retired.retired[group]; // already gone
  await deleteAll(store, doomed);
  await store.putBytes('gold', retiredKey(table), `${JSON.stringify(retired, null, 2)}\n`, 'application/json');
  return doomed;
}

/** `<prefix>refresh=<id>/year=YYYY/month=MM/` for a month file, else `<prefix>refresh=<id>/`. */
function groupOf(table: GoldTable, key: string): string {
  const rest = key.slice(table.locationPrefix.length);
  const slash = rest.indexOf('/');
  const root = `${table.locationPrefix}${rest.slice(0, slash + 1)}`;
  const month = MONTH_DIR.exec(rest.slice(slash + 1));
  return month ? `${root}${month[0]}` : root;
}

function monthOf(relative: string): MonthKey | undefined {
  const m = MONTH_DIR.exec(relative);
  return m ? `${m[1]}-${m[2]}` : undefined;
}

function monthDir(k: MonthKey): string {
  return `year=${k.slice(0, 4)}/month=${k.slice(5, 7)}/`;
}

async function keysUnder(store: ObjectStore, prefix: string): Promise<string[]> {
  const keys: string[] = [];
  for await (const o of store.list('gold', prefix)) keys.push(o.key);
  return keys;
}

async function deleteAll(store: ObjectStore, keys: readonly string[]): Promise<void> {
  if (keys.length > 0) await store.delete('gold', keys);
}
