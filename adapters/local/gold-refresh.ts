/**
 * Refreshes the local lake's gold tables with DuckDB: the gold refresh use case (`refreshGold`, engine/gold)
 * with an executor that computes the
 * affected months once, writes each month to a staging file and then renames it over the month's single
 * Parquet file. rename(2) replaces atomically, so a reader sees the old month or the new one, never a gap;
 * nothing is deleted before its replacement exists. Re-running with no new manifests does nothing.
 */
import { mkdir, readFile, readdir, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { QueryEngine } from '../../engine/contract/index.ts';
import {
  monthPartition,
  refreshGold,
  sqlString,
  type GoldExecutor,
  type GoldRefreshPlan,
  type GoldTable,
  type MonthKey,
} from '../../engine/gold/index.ts';
import { withFileLock, type HeldLock, type LockHolder } from './file-lock.ts';
import { ownerToken } from './process-owner.ts';
import { LocalObjectStore } from './local-store.ts';
import { goldTableDir, localGoldStatements } from './gold-views.ts';

export interface LocalGoldRefreshOptions {
  lakeDir: string;
  /**
   * DuckDB over the lake with a `silver` schema (year/month read as VARCHAR). One connection: the refresh
   * uses a temporary table. The `gold` views are recreated on it at the end.
   */
  engine: QueryEngine;
  /** The table refreshed (e.g. `DEFAULT_GOLD_TABLE` of datasets/). */
  table: GoldTable;
  log?: (message: string) => void;
  /** How long to wait while another process refreshes. @default 0 (fail at once with LockBusyError) */
  lockWaitMs?: number;
  /** A lock not touched for this long is abandoned (its holder crashed elsewhere). @default DEFAULT_LOCK_STALE_MS */
  lockStaleMs?: number;
  /** Told when another refresh holds the lock and this one waits. */
  onWait?: (holder: LockHolder | undefined) => void;
}

export interface LocalGoldRefreshResult {
  plan: GoldRefreshPlan;
  /** Rows written per month. */
  rows: Record<MonthKey, number>;
}

/** Single file per month partition: a refresh replaces it whole. */
export const GOLD_PART_FILE = 'part-00000.parquet';
const STAGE_TABLE = 'gold_refresh_rows';

/**
 * Brings gold up to date under the table's lock. A refresh first records that it was requested; the holder
 * of the lock, after each pass, runs another when a request arrived during the pass. So a refresh that
 * waited for the lock in vain (LockBusyError) is still done: by the holder, which will see its manifests.
 * A lock left by a crashed refresh is taken over (see file-lock.ts).
 */
export async function refreshGoldLocal(options: LocalGoldRefreshOptions): Promise<LocalGoldRefreshResult> {
  const { table } = options;
  const stateDir = join(options.lakeDir, 'gold', '_state');
  await mkdir(stateDir, { recursive: true });
  const request = join(stateDir, `${table.name}.requested`);
  const aside = `${request}.${ownerToken()}.tmp`;
  await writeFile(aside, `${Date.now()}\n`);
  await rename(aside, request); // whole, so the holder never reads half a time

  const lock = join(stateDir, `${table.name}.lock`);
  return withFileLock(
    lock,
    async (held) => {
      // Under the lock no other refresh is staging: whatever is here was left by a crashed one and is never read.
      await rm(join(options.lakeDir, 'gold', '_staging', table.name), { recursive: true, force: true });
      let passStarted = Date.now();
      let result = await refreshPass(options, table, held);
      // Requests that arrived during a pass get another one (a requester that gave up waiting relies on it),
      // within a bound: a stream of requests must not keep the lock from its waiters for ever.
      const holdUntil = Date.now() + MAX_HOLD_MS;
      while (Date.now() < holdUntil && (await requestedSince(request, passStarted))) {
        passStarted = Date.now();
        const again = await refreshPass(options, table, held);
        result = {
          plan: again.plan.kind === 'noop' ? result.plan : again.plan,
          rows: { ...result.rows, ...again.rows },
        };
      }
      return result;
    },
    { waitMs: options.lockWaitMs ?? 0, staleMs: options.lockStaleMs, onWait: options.onWait },
  );
}

/** Whether a refresh was requested at or after `since` (ms). */
/** How long one holder keeps serving new refresh requests before it lets the lock go. */
const MAX_HOLD_MS = 120_000;

async function requestedSince(request: string, since: number): Promise<boolean> {
  const requestedAt = Number((await readFile(request, 'utf8').catch(() => '0')).trim());
  return requestedAt >= since;
}

async function refreshPass(
  options: LocalGoldRefreshOptions,
  table: GoldTable,
  held: HeldLock,
): Promise<LocalGoldRefreshResult> {
  const { lakeDir, engine } = options;
  const store = new LocalObjectStore(lakeDir);
  const executor: GoldExecutor<Record<MonthKey, number>> = {
    apply: async (plan) => {
      const rows: Record<MonthKey, number> = {};
      if (plan.sql) await writeMonths(options, table, plan, rows, held);
      await held.assertHeld(); // the state names what this pass wrote: never over a newer holder's
      for (const k of plan.dropMonths) await rm(monthDir(lakeDir, table, k), { recursive: true, force: true });
      return rows;
    },
    settle: async () => {
      for (const statement of await localGoldStatements(lakeDir)) await engine.query(statement);
    },
  };
  const { plan, outcome } = await refreshGold({ table, store, engine, executor, log: options.log });
  return { plan, rows: outcome };
}

function monthDir(lakeDir: string, table: GoldTable, k: MonthKey): string {
  const { year, month } = monthPartition(k);
  return join(goldTableDir(lakeDir, table), `year=${year}`, `month=${month}`);
}

async function writeMonths(
  options: LocalGoldRefreshOptions,
  table: GoldTable,
  plan: GoldRefreshPlan,
  rows: Record<MonthKey, number>,
  held: HeldLock,
): Promise<void> {
  const { lakeDir, engine } = options;
  const staging = join(lakeDir, 'gold', '_staging', table.name, plan.refreshId);
  await rm(staging, { recursive: true, force: true });
  await mkdir(staging, { recursive: true });
  const columns = table.columns.map((c) => c.name).join(', ');
  const order = table.sortedBy?.length ? ` ORDER BY ${table.sortedBy.join(', ')}` : '';
  try {
    await engine.query(`CREATE OR REPLACE TEMP TABLE ${STAGE_TABLE} AS ${plan.sql}`);
    const counts = await engine.query(`SELECT year, month, COUNT(*) AS n FROM ${STAGE_TABLE} GROUP BY year, month`);
    for (const r of counts.rows) rows[`${String(r.year)}-${String(r.month)}`] = Number(r.n);
    for (const k of plan.months) {
      if (!rows[k]) continue;
      const { year, month } = monthPartition(k);
      const file = join(staging, `${k}.parquet`);
      await engine.query(
        `COPY (SELECT ${columns} FROM ${STAGE_TABLE} WHERE year = ${sqlString(year)} AND month = ${sqlString(month)}${order}) ` +
          `TO ${sqlString(file)} (FORMAT parquet, COMPRESSION zstd)`,
      );
    }
    // Swap only once every month is staged, and only while still holding the lock: a failure above, or a
    // takeover, leaves gold exactly as it was.
    await held.assertHeld();
    for (const k of plan.months) {
      const dir = monthDir(lakeDir, table, k);
      if (!rows[k]) {
        await rm(dir, { recursive: true, force: true });
        continue;
      }
      await mkdir(dir, { recursive: true });
      await rename(join(staging, `${k}.parquet`), join(dir, GOLD_PART_FILE));
      for (const name of await readdir(dir))
        if (name !== GOLD_PART_FILE) await rm(join(dir, name), { recursive: true, force: true });
    }
  } finally {
    await engine.query(`DROP TABLE IF EXISTS ${STAGE_TABLE}`);
    await rm(staging, { recursive: true, force: true });
  }
}
