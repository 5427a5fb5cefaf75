/** The local lake: its directory, storage, catalog, contracts and query engine, opened once per command. */
import { join } from 'node:path';
import { LocalCatalog } from '../../adapters/local/local-catalog.ts';
import { LocalObjectStore } from '../../adapters/local/local-store.ts';
import { LocalQueryEngine } from '../../adapters/local/duckdb-query-engine.ts';
import { refreshGoldLocal, type LocalGoldRefreshResult } from '../../adapters/local/gold-refresh.ts';
import { loadContracts, type ContractRegistry } from '../../engine/contract/load.ts';
import { MANIFESTS_PREFIX } from '../../engine/layout.ts';
import type { Manifest } from '../../engine/manifest.ts';
import { UserError } from '../errors.ts';

/** The bucket name local sources carry: constant, so a lake directory can move without changing source ids. */
export const LOCAL_BRONZE_BUCKET = 'bronze';

/** Contracts come from the repository's `contracts/`, or `$LAKE_CONTRACTS_DIR`. */
export function loadLakeContracts(): ContractRegistry {
  return loadContracts(process.env.LAKE_CONTRACTS_DIR || undefined);
}

export class LocalLake {
  readonly store: LocalObjectStore;
  readonly catalog: LocalCatalog;

  constructor(
    readonly dir: string,
    readonly contracts: ContractRegistry,
  ) {
    this.store = new LocalObjectStore(dir);
    this.catalog = new LocalCatalog(dir);
  }

  static open(dir: string): LocalLake {
    return new LocalLake(dir, loadLakeContracts());
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
    throw new UserError(`unknown dataset "${name}"`, known.length ? `known datasets: ${known.join(', ')}` : 'no dataset contracts are defined (contracts/*.json)');
  }

  /** Every ingest's manifest, newest first. */
  async manifests(dataset?: string): Promise<Manifest[]> {
    const manifests: Manifest[] = [];
    for await (const obj of this.store.list('silver', dataset ? `${MANIFESTS_PREFIX}${dataset}/` : MANIFESTS_PREFIX)) {
      if (!obj.key.endsWith('.json')) continue;
      const bytes = await this.store.getBytes('silver', obj.key);
      if (!bytes) continue;
      try {
        manifests.push(JSON.parse(Buffer.from(bytes).toString('utf8')) as Manifest);
      } catch {
        // A torn manifest is not a completed ingest; status reports only completed ones.
      }
    }
    return manifests.sort((a, b) => b.finished_at.localeCompare(a.finished_at));
  }

  openQueryEngine(): Promise<LocalQueryEngine> {
    return LocalQueryEngine.open({ root: this.dir, contracts: this.contracts });
  }

  /** Brings gold up to date with silver (incremental; nothing to do is cheap). */
  async refreshGold(engine?: LocalQueryEngine): Promise<LocalGoldRefreshResult> {
    const own = engine ?? (await this.openQueryEngine());
    try {
      return await refreshGoldLocal({ lakeDir: this.dir, engine: own });
    } finally {
      if (!engine) await own.close();
    }
  }
}
