/** Everything `lake status` reports about a local lake, gathered as data (the command renders it). */
import { type GoldState, goldStateKey, pendingSources, sqlString } from '../../engine/gold/index.ts';
import {
  type Manifest,
  PENDING_PREFIX,
  type PendingIngest,
  type QueryEngine,
  silverTablePrefix,
} from '../../engine/contract/index.ts';
import { unfinishedMaintenance } from '../../engine/index.ts';
import { maintenanceAttention, type MaintenanceAttention } from '../maintenance-status.ts';
import { localLeaseHolderGone } from './maintenance-lease.ts';
import { openConflicts, type ConflictRecord } from './conflicts.ts';
import { lakeFlag } from './lake-dir.ts';
import type { LocalLake } from './lake.ts';
import { activeWork, type WorkOwner } from './work-dir.ts';
import { GOLD_TABLES } from '../../datasets/index.ts';

/** The alert threshold of the case: more than 1% of received rows quarantined. */
export const QUARANTINE_ALERT_RATE = 0.01;
export const QUARANTINE_ALERT_TEXT = '1%';

export interface PartitionStatus {
  values: Record<string, string>;
  rows: number;
  files: number;
  /** In catalog.json: what Athena would see through Glue. */
  registered: boolean;
}

export interface DatasetStatus {
  name: string;
  contract_version: string;
  partitions: PartitionStatus[];
  rows: number;
  files: number;
  sources: number;
  rejected_files: number;
  rows_in: number;
  rows_valid: number;
  rows_quarantined: number;
  quarantine_rate: number;
  above_alert_threshold: boolean;
  last_ingest: string | null;
  newest_record: string | null;
}

export interface GoldStatus {
  table: string;
  first_month: string | null;
  last_month: string | null;
  /** Every finished ingest is reflected, and no ingest of its source dataset is unfinished. */
  up_to_date: boolean;
  pending_sources: number;
  /** Ingests of its source dataset whose rows are in silver but not (yet) described by a manifest. */
  unfinished_sources: number;
}

export interface UnfinishedIngest {
  dataset: string;
  source: string;
  started_at: string;
  silver_files: number;
  /** `in flight`: a running process is ingesting the source; `abandoned`: none is (it crashed or was killed). */
  state: 'in flight' | 'abandoned';
}

export interface BronzeNotIngested {
  key: string;
  size: number;
  landed: string;
  /** `in flight`: a running process is ingesting it; `not ingested`: no manifest and no one ingesting it. */
  state: 'in flight' | 'not ingested';
}

export interface LakeStatus {
  lake: string;
  datasets: DatasetStatus[];
  latest_ingests: Array<
    Pick<
      Manifest,
      'dataset' | 'status' | 'rows_in' | 'rows_valid' | 'rows_quarantined' | 'finished_at' | 'duration_ms'
    > & { source: string }
  >;
  gold: GoldStatus[];
  /** Ingests that started publishing and have not finished: their files are in silver without a manifest. */
  unfinished_ingests: UnfinishedIngest[];
  /** Bronze objects no manifest describes: copied into the lake, never (or not yet) ingested. */
  bronze_not_ingested: BronzeNotIngested[];
  /** Files `lake watch` refused because bronze holds a different version of their name. */
  refused_files: ConflictRecord[];
  /** Compactions and erasures that stopped part-way (or run now), with the command that finishes each. */
  unfinished_maintenance: MaintenanceAttention[];
}

async function datasetStatus(
  lake: LocalLake,
  engine: QueryEngine,
  name: string,
  manifests: Manifest[],
): Promise<DatasetStatus> {
  const contract = lake.contracts.get(name);
  if (!contract) throw new Error(`no contract for ${name}`);
  const keys = contract.partitionBy.map((p) => p.name);
  const registered = new Set((await lake.catalog.partitions(name)).map((p) => p.values.join('/')));
  const partitions: PartitionStatus[] = [];
  if (keys.length) {
    const select = keys.map((k) => `"${k}"`).join(', ');
    const result = await engine
      .query(
        `SELECT ${select}, count(*) AS row_count, count(DISTINCT filename) AS file_count FROM read_parquet(${sqlString(
          `${lake.zonePath('silver', silverTablePrefix(name))}/**/*.parquet`,
        )}, hive_partitioning = true, hive_types_autocast = false, filename = true, union_by_name = true) GROUP BY ${select} ORDER BY ${select}`,
      )
      .catch((e: Error) => {
        if (/No files found/i.test(e.message)) return { columns: [], rows: [] };
        throw e;
      });
    for (const r of result.rows) {
      const values = Object.fromEntries(keys.map((k) => [k, String(r[k])]));
      partitions.push({
        values,
        rows: Number(r.row_count),
        files: Number(r.file_count),
        registered: registered.has(keys.map((k) => values[k]).join('/')),
      });
    }
  }
  const source = contract.partitionBy[0]?.source;
  const newest = source
    ? (await engine.query(`SELECT CAST(max("${source}") AS VARCHAR) AS newest FROM silver."${name}"`)).rows[0]?.newest
    : undefined;
  const rowsIn = manifests.reduce((s, m) => s + m.rows_in, 0);
  const rowsQuarantined = manifests.reduce((s, m) => s + m.rows_quarantined, 0);
  const rate = rowsIn ? rowsQuarantined / rowsIn : 0;
  return {
    name,
    contract_version: contract.version,
    partitions,
    rows: partitions.reduce((s, p) => s + p.rows, 0),
    files: partitions.reduce((s, p) => s + p.files, 0),
    sources: manifests.length,
    rejected_files: manifests.filter((m) => m.status === 'rejected').length,
    rows_in: rowsIn,
    rows_valid: manifests.reduce((s, m) => s + m.rows_valid, 0),
    rows_quarantined: rowsQuarantined,
    quarantine_rate: rate,
    above_alert_threshold: rate > QUARANTINE_ALERT_RATE,
    last_ingest: manifests[0]?.finished_at ?? null,
    newest_record: typeof newest === 'string' ? newest : null,
  };
}

async function goldStatus(
  lake: LocalLake,
  manifests: Manifest[],
  unfinished: readonly UnfinishedIngest[],
): Promise<GoldStatus[]> {
  const out: GoldStatus[] = [];
  for (const table of GOLD_TABLES) {
    const bytes = await lake.store.getBytes('gold', goldStateKey(table));
    const state = bytes ? (JSON.parse(Buffer.from(bytes).toString('utf8')) as GoldState) : undefined;
    const pending = pendingSources(manifests, state, table);
    const relevant = manifests.filter((m) => m.dataset === table.sourceDataset);
    const unfinishedSources = unfinished.filter((u) => u.dataset === table.sourceDataset).length;
    out.push({
      table: `gold.${table.name}`,
      first_month: state?.first_month ?? null,
      last_month: state?.last_month ?? null,
      up_to_date:
        unfinishedSources === 0 && (relevant.length === 0 || (!pending.full && pending.manifests.length === 0)),
      pending_sources: pending.manifests.length,
      unfinished_sources: unfinishedSources,
    });
  }
  return out;
}

export async function lakeStatus(lake: LocalLake, engine: QueryEngine): Promise<LakeStatus> {
  const manifests = await lake.manifests();
  const active = await activeWork(lake.dir);
  const unfinished = await unfinishedIngests(lake, active);
  const datasets: DatasetStatus[] = [];
  for (const name of lake.contracts.names()) {
    datasets.push(
      await datasetStatus(
        lake,
        engine,
        name,
        manifests.filter((m) => m.dataset === name),
      ),
    );
  }
  return {
    lake: lake.dir,
    datasets,
    latest_ingests: manifests.slice(0, 10).map((m) => ({
      dataset: m.dataset,
      source: m.source.key,
      status: m.status,
      rows_in: m.rows_in,
      rows_valid: m.rows_valid,
      rows_quarantined: m.rows_quarantined,
      finished_at: m.finished_at,
      duration_ms: m.duration_ms,
    })),
    gold: await goldStatus(lake, manifests, unfinished),
    unfinished_ingests: unfinished,
    bronze_not_ingested: await bronzeNotIngested(lake, manifests, active),
    refused_files: await openConflicts(lake.dir),
    unfinished_maintenance: maintenanceAttention(
      await unfinishedMaintenance(lake.store, lake.contracts.names()),
      lakeFlag(lake.dir),
      () => active.some((w) => w.command === 'compact' || w.command === 'erase'),
      localLeaseHolderGone,
    ),
  };
}

function beingIngested(active: readonly WorkOwner[], key: string): boolean {
  return active.some((w) => w.source_key === key);
}

/** Bronze is create-only, so a manifest of a key describes the object under it (keys are compared, not hashes). */
async function bronzeNotIngested(
  lake: LocalLake,
  manifests: readonly Manifest[],
  active: readonly WorkOwner[],
): Promise<BronzeNotIngested[]> {
  const described = new Set(manifests.map((m) => m.source.key));
  const out: BronzeNotIngested[] = [];
  for await (const o of lake.store.list('bronze', '')) {
    if (described.has(o.key)) continue;
    out.push({
      key: o.key,
      size: o.size,
      landed: o.lastModified.toISOString(),
      state: beingIngested(active, o.key) ? 'in flight' : 'not ingested',
    });
  }
  return out;
}

async function unfinishedIngests(lake: LocalLake, active: readonly WorkOwner[]): Promise<UnfinishedIngest[]> {
  const out: UnfinishedIngest[] = [];
  for await (const o of lake.store.list('silver', PENDING_PREFIX)) {
    const bytes = await lake.store.getBytes('silver', o.key);
    if (!bytes) continue;
    let intent: PendingIngest;
    try {
      intent = JSON.parse(Buffer.from(bytes).toString('utf8')) as PendingIngest;
    } catch {
      out.push({
        dataset: '?',
        source: `${o.key} (unreadable intent record)`,
        started_at: '',
        silver_files: 0,
        state: 'abandoned',
      });
      continue;
    }
    // A removal's hold (engine/intent.ts `releaseRecord`): it names no files, and every row is in a manifest.
    if (intent.hold_only) continue;
    const source = intent.source?.key ?? o.key;
    out.push({
      dataset: intent.dataset,
      source,
      started_at: intent.started_at,
      silver_files: intent.silver_keys?.length ?? 0,
      state: beingIngested(active, source) ? 'in flight' : 'abandoned',
    });
  }
  return out;
}
