/**
 * The gold refresh as one use case, whatever runs it: read the table's manifests and state, probe for superseded
 * months when the planner asks, plan, let the executor write and swap the months in, save the state, let the
 * executor finish (views, cleanup). Two executors: DuckDB on a directory (adapters/local/gold-refresh.ts) and
 * Athena + Glue on S3 (adapters/aws/athena-gold-refresh.ts). Storage only through the `ObjectStore` port.
 */
import { readJson, readManifests } from '../manifest-reader.ts';
import type { ObjectStore, QueryEngine } from '../ports.ts';
import {
  parseSupersededMonths,
  pendingSources,
  planGoldRefresh,
  supersededMonthsSql,
  type GoldRefreshPlan,
  type GoldState,
} from './plan.ts';
import { goldStateKey, type GoldTable } from './tables.ts';

/** Writes a plan to gold in one place (DuckDB files, Athena UNLOAD + Glue partitions). */
export interface GoldExecutor<Outcome> {
  /** Writes `plan.months` from `plan.sql` and swaps them in, removes `plan.dropMonths`. Before the state is saved. */
  apply(plan: GoldRefreshPlan, state: GoldState | undefined): Promise<Outcome>;
  /** After the state is saved: what may only follow it (recreating views, deleting retired files). */
  settle?(plan: GoldRefreshPlan, outcome: Outcome): Promise<void>;
}

export interface GoldRefreshInput<Outcome> {
  table: GoldTable;
  /** Reads the silver manifests, reads and writes the gold state. */
  store: ObjectStore;
  /** Runs the superseded-months probe (SQL naming `silver.<dataset>`). */
  engine: QueryEngine;
  executor: GoldExecutor<Outcome>;
  log?: (message: string) => void;
}

export interface GoldRefreshRun<Outcome> {
  plan: GoldRefreshPlan;
  outcome: Outcome;
}

/** One refresh of one table. The caller makes sure no other refresh of the table runs at the same time. */
export async function refreshGold<Outcome>(input: GoldRefreshInput<Outcome>): Promise<GoldRefreshRun<Outcome>> {
  const { table, store, engine, executor } = input;
  const manifests = (await readManifests(store, { dataset: table.sourceDataset, onDamaged: 'throw' })).map(
    (e) => e.manifest,
  );
  const state = await readGoldState(store, table);
  const probe = supersededMonthsSql(pendingSources(manifests, state, table));
  const supersededMonths = probe ? parseSupersededMonths((await engine.query(probe)).rows) : [];
  const plan = planGoldRefresh({ manifests, state, supersededMonths, table });
  input.log?.(
    `gold ${table.name}: ${plan.kind} ${plan.months.join(',') || '-'} (${plan.because}) refresh=${plan.refreshId}`,
  );
  const outcome = await executor.apply(plan, state);
  if (plan.kind !== 'noop' || JSON.stringify(state) !== JSON.stringify(plan.nextState)) {
    await store.putBytes(
      'gold',
      goldStateKey(table),
      `${JSON.stringify(plan.nextState, null, 2)}\n`,
      'application/json',
    );
  }
  await executor.settle?.(plan, outcome);
  return { plan, outcome };
}

export function readGoldState(store: ObjectStore, table: GoldTable): Promise<GoldState | undefined> {
  return readJson<GoldState>(store, 'gold', goldStateKey(table));
}
