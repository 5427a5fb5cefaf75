/**
 * Planning a refresh of a month-partitioned gold table from the ingest manifests. Pure: no storage, no engine.
 *
 * A change in month M may change M and every later month (a running balance does), so a refresh rewrites the
 * contiguous run from the earliest affected month to the latest month in silver. The earliest affected month
 * is the earliest of: months the new (or re-run) sources wrote, months a re-run source wrote before, and months
 * holding other versions of the new sources' records (by the table's `recordKey`) (a re-send can move a transaction between
 * months; `supersededMonthsSql` finds them). Executors run it in two steps:
 *   1. `pendingSources` → if `supersededMonthsSql` returns SQL, run it and `parseSupersededMonths` the rows;
 *   2. `planGoldRefresh` → write `plan.months` from `plan.sql`, swap them in, then save `plan.nextState`.
 */
import { createHash } from 'node:crypto';
import { reflectedRun, type Manifest } from '../manifest.ts';
import type { Row } from '../ports.ts';
import { isMonthKey, maxMonth, minMonth, monthKey, monthRange, nextMonth, type MonthKey } from './months.ts';
import { monthSetPredicate, sqlString } from './sql.ts';
import type { GoldTable } from './tables.ts';

/** What a gold table already reflects. Stored as JSON beside the table (`goldStateKey`). */
export interface GoldState {
  state_version: 1;
  table: string;
  build_version: string;
  refresh_id: string;
  /** Months the table holds (dense, first..last); null when it holds none. */
  first_month: MonthKey | null;
  last_month: MonthKey | null;
  /** Every source reflected, by source_id: its run (with its erasures, see `reflectedRun`) and the months it wrote rows to. */
  sources: Record<string, { run_id: string; months: MonthKey[] }>;
}

export interface PendingSources {
  table: GoldTable;
  /** True when the whole table must be rebuilt (no state yet, or the build changed). */
  full: boolean;
  /** Manifests of the table's dataset not yet reflected, or re-run since (another run_id). */
  manifests: Manifest[];
}

export interface GoldRefreshPlan {
  table: GoldTable;
  kind: 'full' | 'incremental' | 'noop';
  /** Deterministic id of this refresh: same inputs, same id (and the same staging prefix on S3). */
  refreshId: string;
  /** Months to (re)write: contiguous and ascending; empty for a no-op. */
  months: MonthKey[];
  /** SELECT yielding the rows of exactly `months`, partition keys last; null for a no-op. */
  sql: string | null;
  /** Months the table held that no longer exist (remove after the swap). */
  dropMonths: MonthKey[];
  /** Why the first month was chosen, for logs. */
  because: string;
  nextState: GoldState;
}

/**
 * Months of stale files of the source a removal took away since gold last looked (`settled`): gold counted their rows,
 * so they are recomputed — but they hold none of the source's rows (not in `manifestMonths`, nor in the table's range).
 */
export function settledMonths(m: Manifest): MonthKey[] {
  return [...new Set((m.settled?.months ?? []).filter(isMonthKey))].sort();
}

/** Months a manifest wrote rows to. */
export function manifestMonths(m: Manifest): MonthKey[] {
  if (m.status !== 'succeeded') return [];
  const months = m.partitions
    .filter((p) => p.rows > 0)
    .map((p) => {
      const { year, month } = p.values;
      if (year === undefined || month === undefined)
        throw new Error(`manifest ${m.source_id}: partition without year/month: ${p.prefix}`);
      return monthKey(year, month);
    });
  return [...new Set(months)].sort();
}

function relevant(manifests: readonly Manifest[], table: GoldTable): Manifest[] {
  return manifests
    .filter((m) => m.dataset === table.sourceDataset)
    .sort((a, b) => a.source_id.localeCompare(b.source_id));
}

function needsFullBuild(state: GoldState | undefined, table: GoldTable): boolean {
  return !state || state.table !== table.name || state.build_version !== table.buildVersion;
}

export function pendingSources(
  manifests: readonly Manifest[],
  state: GoldState | undefined,
  table: GoldTable,
): PendingSources {
  const all = relevant(manifests, table);
  if (needsFullBuild(state, table)) return { table, full: true, manifests: all };
  const known = state?.sources ?? {};
  return { table, full: false, manifests: all.filter((m) => known[m.source_id]?.run_id !== reflectedRun(m)) };
}

/**
 * Months of silver rows that share a record key (`table.recordKey`) with a row of a pending source. Only the
 * pending side is pruned to its partitions: other versions may sit in any month, so the outer side reads every
 * partition (the key and the partition keys only). Undefined when no probe is needed.
 */
export function supersededMonthsSql(pending: PendingSources): string | undefined {
  if (pending.full) return undefined;
  const withRows = pending.manifests.filter((m) => manifestMonths(m).length > 0);
  if (withRows.length === 0) return undefined;
  const months = [...new Set(withRows.flatMap(manifestMonths))].sort();
  const runs = withRows.map((m) => sqlString(m.run_id)).join(', ');
  const dataset = pending.table.sourceDataset;
  const key = pending.table.recordKey; // a contract column name: a plain identifier
  return `SELECT DISTINCT o.year, o.month
FROM silver.${dataset} o
WHERE o.${key} IN (
  SELECT n.${key}
  FROM silver.${dataset} n
  WHERE ${monthSetPredicate('n', months)} AND n.ingest_run_id IN (${runs})
)`;
}

export function parseSupersededMonths(rows: readonly Row[]): MonthKey[] {
  return rows.map((r) => monthKey(String(r.year), String(r.month))).sort();
}

export interface PlanInput {
  /** Every manifest of the lake (all datasets are fine: others are ignored). */
  manifests: readonly Manifest[];
  state: GoldState | undefined;
  /** Result of `supersededMonthsSql`, when it returned SQL. */
  supersededMonths?: readonly MonthKey[];
  table: GoldTable;
}

export function planGoldRefresh(input: PlanInput): GoldRefreshPlan {
  const table = input.table;
  const state = input.state;
  const all = relevant(input.manifests, table);
  const pending = pendingSources(input.manifests, state, table);
  const allMonths = all.flatMap(manifestMonths);
  const first = minMonth(allMonths) ?? null;
  const last = maxMonth(allMonths) ?? null;

  let from: MonthKey | undefined;
  let because: string;
  if (pending.full) {
    from = first ?? undefined;
    because = state
      ? `build changed (${state.build_version} → ${table.buildVersion}): full rebuild`
      : 'no gold state: full build';
  } else {
    const previous = state?.sources ?? {};
    const touched = pending.manifests.flatMap((m) => [
      ...manifestMonths(m),
      // A removal gold has reflected already (the manifest copied forward by an erasure since) is not one again.
      ...(previous[m.source_id]?.run_id.includes(`+settled@${m.settled?.settled_at}`) ? [] : settledMonths(m)),
      ...(previous[m.source_id]?.months ?? []),
    ]);
    const superseded = input.supersededMonths ?? [];
    const grown = state?.last_month && last && last > state.last_month ? [nextMonth(state.last_month)] : [];
    from = minMonth([...touched, ...superseded, ...grown]);
    because = from
      ? `earliest affected month ${from} (sources wrote ${fmt(touched)}; other versions in ${fmt(superseded)}; new months from ${fmt(grown)})`
      : 'nothing new';
  }
  // Months before the first month with data hold nothing any more: they are dropped, not rebuilt.
  if (from && first && from < first) from = first;
  const months = from && last && from <= last ? monthRange(from, last) : [];
  const kept = first && last ? new Set(monthRange(first, last)) : new Set<MonthKey>();
  const held = state?.first_month && state.last_month ? monthRange(state.first_month, state.last_month) : [];
  const dropMonths = held.filter((k) => !kept.has(k));

  const sources: GoldState['sources'] = {};
  for (const m of all) sources[m.source_id] = { run_id: reflectedRun(m), months: manifestMonths(m) };
  const refreshId = createHash('sha256')
    .update(JSON.stringify({ table: table.name, build: table.buildVersion, sources, months }))
    .digest('hex')
    .slice(0, 16);
  const kind = months.length === 0 && dropMonths.length === 0 ? 'noop' : pending.full ? 'full' : 'incremental';
  const [firstMonth] = months;
  const lastMonth = months[months.length - 1];
  return {
    table,
    kind,
    refreshId,
    months,
    sql: firstMonth && lastMonth ? table.buildSql(firstMonth, lastMonth) : null,
    dropMonths,
    because,
    nextState: {
      state_version: 1,
      table: table.name,
      build_version: table.buildVersion,
      refresh_id: kind === 'noop' && state ? state.refresh_id : refreshId,
      first_month: first,
      last_month: last,
      sources,
    },
  };
}

function fmt(months: readonly MonthKey[]): string {
  const unique = [...new Set(months)].sort();
  return unique.length ? unique.join(',') : '-';
}
