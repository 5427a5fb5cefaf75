/** The local lake: its directory, storage, catalog, contracts and query engine, opened once per command. */
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { LocalCatalog } from '../../adapters/local/local-catalog.ts';
import { LocalEventLog } from '../../adapters/local/event-log.ts';
import { LocalObjectStore } from '../../adapters/local/local-store.ts';
import { LocalQueryEngine } from '../../adapters/local/duckdb-query-engine.ts';
import type { LockHolder } from '../../adapters/local/file-lock.ts';
import { refreshGoldLocal, type LocalGoldRefreshResult } from '../../adapters/local/gold-refresh.ts';
import {
  type ContractRegistry,
  loadContracts,
  type Manifest,
  manifestKey,
  readManifests,
  sourceId,
  UNKNOWN_DATASET,
} from '../../engine/contract/index.ts';
import { UserError } from '../errors.ts';
import { claimWorkDir } from './work-dir.ts';
import { DEFAULT_GOLD_TABLE } from '../../datasets/index.ts';

/** The bucket name local sources carry: constant, so a lake directory can move without changing source ids. */
export const LOCAL_BRONZE_BUCKET = 'bronze';

/**
 * The salt of PII `hash` columns in a local lake: none (the local lake is a developer's copy; the deployed
 * lake's salt is a Secrets Manager secret). Ingest and erasure use the same one, so an erasure finds the hashes.
 */
export const LOCAL_PII_SALT = '';

/** Contracts come from the repository's `contracts/`, or `$LAKE_CONTRACTS_DIR`. */
export function loadLakeContracts(): ContractRegistry {
  return loadContracts(process.env.LAKE_CONTRACTS_DIR || undefined);
}

/**
 * DuckDB's memory limit for the gold refresh an ingest runs: the engine's own (128 MB), so `lake ingest`
 * stays within the memory bound `npm run bench` measures for the engine. Beyond it DuckDB spills to the
 * lake's scratch directory (a refresh over 8.7M rows: peak RSS 690 MB at DuckDB's 512 MB, 280 MB at 128 MB).
 */
export const GOLD_REFRESH_MEMORY_LIMIT = '128MB';

/** How long an ingest waits for another process's gold refresh before leaving its refresh to that one. */
export function goldLockWaitMs(env = process.env): number {
  const fromEnv = Number(env.LAKE_GOLD_LOCK_WAIT_MS);
  return env.LAKE_GOLD_LOCK_WAIT_MS && Number.isFinite(fromEnv) && fromEnv >= 0 ? fromEnv : 120_000;
}

export interface GoldRefreshOptions {
  onWait?: (holder: LockHolder | undefined) => void;
  /** How long to wait for another process's refresh. @default goldLockWaitMs() */
  lockWaitMs?: number;
}

export class LocalLake {
  readonly store: LocalObjectStore;
  readonly catalog: LocalCatalog;
  /** Every ingest's event, appended to `_events/<dataset>.jsonl`. */
  readonly events: LocalEventLog;

  constructor(
    readonly dir: string,
    readonly contracts: ContractRegistry,
    /** Chunks of a large file the engine transforms at once (`--threads`): every core unless capped. */
    readonly threads: number = availableParallelism(),
  ) {
    this.store = new LocalObjectStore(dir);
    this.catalog = new LocalCatalog(dir);
    this.events = new LocalEventLog(dir);
  }

  static open(dir: string, options: { threads?: number } = {}): LocalLake {
    return new LocalLake(dir, loadLakeContracts(), options.threads);
  }

  bronzePath(key: string): string {
    return this.store.path('bronze', key);
  }

  zonePath(zone: 'bronze' | 'silver' | 'gold' | 'quarantine', key = ''): string {
    return join(this.dir, zone, ...key.split('/').filter(Boolean));
  }

  /** The dataset by name, or a helpful error. */
  dataset(name: string): string {
    if (this.contracts.get(name)) return name;
    const known = this.contracts.names();
    throw new UserError(
      `unknown dataset "${name}"`,
      known.length ? `known datasets: ${known.join(', ')}` : 'no dataset contracts are defined (contracts/*.json)',
    );
  }

  /** Every ingest's manifest, newest first. A torn manifest is not a completed ingest: status reports only those. */
  async manifests(dataset?: string): Promise<Manifest[]> {
    const entries = await readManifests(this.store, { dataset, onDamaged: 'skip' });
    return entries.map((e) => e.manifest).sort((a, b) => b.finished_at.localeCompare(a.finished_at));
  }

  /** Whether the ingest of these bytes under `key` finished: its manifest exists (the engine's completion marker). */
  async hasManifest(key: string, md5: string): Promise<boolean> {
    const dataset = this.contracts.forKey(key)?.name ?? UNKNOWN_DATASET;
    const id = sourceId({ bucket: LOCAL_BRONZE_BUCKET, key, etag: md5 });
    return (await this.store.getBytes('silver', manifestKey(dataset, id))) !== undefined;
  }

  openQueryEngine(): Promise<LocalQueryEngine> {
    return LocalQueryEngine.open({ root: this.dir, contracts: this.contracts });
  }

  /** DuckDB for a gold refresh: the engine's memory bound, spilling into `scratch`. */
  openGoldRefreshEngine(scratch: string): Promise<LocalQueryEngine> {
    return LocalQueryEngine.open({
      root: this.dir,
      contracts: this.contracts,
      memoryLimit: GOLD_REFRESH_MEMORY_LIMIT,
      tempDirectory: scratch,
    });
  }

  /**
   * Brings gold up to date with silver (incremental; nothing to do is cheap), within the engine's memory
   * bound. Waits up to goldLockWaitMs() (2 minutes; `LAKE_GOLD_LOCK_WAIT_MS`) for another process's refresh; throws LockBusyError if that one
   * outlasts the wait (it then does this refresh too, see refreshGoldLocal).
   */
  async refreshGold(options: GoldRefreshOptions = {}): Promise<LocalGoldRefreshResult> {
    const scratch = await claimWorkDir(this.dir, { command: 'gold refresh' });
    try {
      const engine = await this.openGoldRefreshEngine(scratch.path);
      try {
        return await refreshGoldLocal({
          table: DEFAULT_GOLD_TABLE,
          lakeDir: this.dir,
          engine,
          lockWaitMs: options.lockWaitMs ?? goldLockWaitMs(),
          onWait: options.onWait,
        });
      } finally {
        await engine.close();
      }
    } finally {
      await scratch.release();
    }
  }
}
