/**
 * Compaction: a partition's many small producer files become few files of about a target size, with the
 * same rows (checked with EXCEPT ALL both ways before anything is switched) and their lineage columns as they
 * were. Only files a manifest names are compacted (an abandoned attempt's files are left to its next ingest).
 *
 * The switch, per group of files: an intent record, the compacted file (named by its inputs, never by a
 * source id), a second look — every input still there, unchanged, and still named by the same run's manifest,
 * else the compacted file is removed and the group left as it was (a concurrent ingest won) — then the
 * manifests are repointed at the compacted file, the inputs deleted and the intent removed. Between the upload
 * and the deletes a reader may see the group's rows twice (S3 has no multi-object switch; documented). An
 * intent left by a crash is finished (or undone) by the next compaction of the dataset.
 *
 * Compacted files are not compacted again, so a second run with nothing new does nothing.
 */
import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { DuckDBConnection } from '@duckdb/node-api';
import type { ContractRegistry } from '../contract/load.ts';
import { asCount, queryRows, withDuckDb } from '../duckdb.ts';
import {
  COMPACTED_PREFIX,
  COMPACTIONS_PREFIX,
  compactedFileName,
  compactedRecordKey,
  compactionIntentKey,
  isCompactedFile,
  pendingKeyOfManifest,
  silverTablePrefix,
} from '../layout.ts';
import type { Manifest, PendingIngest } from '../manifest.ts';
import type { ObjectStore, StoredObject } from '../ports.ts';
import { SILVER_CODEC, sqlString } from '../sql.ts';
import { download, editSilverRecord, folderOf, listParquet, MAINTENANCE_ROW_GROUP_SIZE, putJson } from './files.ts';
import { parseSilverRecord, readManifests, readSilverRecord } from '../manifest-reader.ts';
import { isLiveIntent } from '../intent.ts';
import { MaintenanceInputError } from './predicate.ts';
import { removeRunFromFile } from './rewrite.ts';

/** About the size of a compacted file. Athena reads files of 128 MB–1 GB best; a month of this lake is far less. */
export const DEFAULT_COMPACTION_TARGET_BYTES = 128 * 1024 * 1024;

export interface CompactOptions {
  store: ObjectStore;
  contracts: ContractRegistry;
  dataset: string;
  /** Only this partition, e.g. `year=2024/month=01`. */
  partition?: string;
  /** Inputs are grouped up to this many bytes. @default DEFAULT_COMPACTION_TARGET_BYTES */
  targetBytes?: number;
  dryRun?: boolean;
  /** Scratch directory. @default os.tmpdir() */
  workDir?: string;
  /** Fault injection: runs after the compacted file is uploaded and before the second look. */
  beforeSwitch?: (group: CompactedGroup) => Promise<void>;
  /**
   * Asked before each group, interrupted compaction to recover and compacted file to repair: false stops the run
   * there (what was not started is left for the next run,
   * `stopped` says so). A scheduled run ends this way before its time is up, never in the middle of a switch.
   * @default always true
   */
  continueWhile?: () => boolean;
  /** Fault injection: runs after the second look found the group unchanged, before the manifests are repointed. */
  afterSecondLook?: (group: CompactedGroup) => Promise<void>;
}

export interface CompactedGroup {
  partition: string;
  compaction_id: string;
  file: string;
  inputs: string[];
  rows: number;
  bytes_before: number;
  bytes_after: number | null;
  /** `changed`: an input or its manifest changed meanwhile, or an ingest of an input's source is in flight (its `_pending/` intent record); nothing was switched. */
  status: 'compacted' | 'would_compact' | 'changed';
}

export interface CompactionReport {
  dataset: string;
  dry_run: boolean;
  partitions: number;
  files_before: number;
  files_after: number;
  groups: CompactedGroup[];
  /** Intents of interrupted compactions finished (`finished`) or undone (`undone`) first. */
  /**
   * An interrupted compaction met while an ingest of one of its sources is in flight (its `_pending/` intent
   * record) is undone if it had not switched yet, else `deferred`: the next run finishes it.
   */
  recovered: Array<{ compaction_id: string; outcome: 'finished' | 'undone' | 'left' | 'deferred' }>;
  /** Runs of compacted files whose rows a later ingest moved back to its own files (removed) or whose manifest lost the compacted file (repointed). */
  repaired: Array<{ file: string; run_id: string; action: 'kept' | 'removed' | 'dropped' | 'repointed' | 'unknown' }>;
  /** Files no manifest names (an unfinished ingest's): not compacted. */
  unowned: string[];
  /** Present when `continueWhile` stopped the run: the groups not started are left for the next run. */
  stopped?: string;
}

interface CompactionIntent {
  compaction_id: string;
  dataset: string;
  partition: string;
  file: string;
  inputs: Array<{ key: string; size: number; run_id: string; manifest_key: string }>;
  rows: number;
  started_at: string;
  /**
   * The compacted file's size as uploaded: a recovery that finds another size knows the file was rewritten since (a
   * replay removing its source's earlier rows, an erasure) and does not finish the switch onto it. Absent in intents
   * of earlier versions.
   */
  file_bytes?: number;
}

type Owners = Map<string, { key: string; manifest: Manifest }>;

function owners(manifests: ReadonlyArray<{ key: string; manifest: Manifest }>): Owners {
  const out: Owners = new Map();
  for (const entry of manifests) for (const p of entry.manifest.partitions) for (const f of p.files) out.set(f, entry);
  return out;
}

function checkPartition(partition: string | undefined, names: readonly string[], dataset: string): string | undefined {
  if (partition === undefined) return undefined;
  const trimmed = partition.replace(/^\/+|\/+$/g, '');
  const parts = trimmed.split('/');
  const ok =
    parts.length > 0 &&
    parts.length <= names.length &&
    parts.every((p, i) => new RegExp(`^${names[i]}=[A-Za-z0-9_.-]+$`).test(p));
  if (!ok)
    throw new MaintenanceInputError(
      `--partition "${partition}" is not a partition of ${dataset}: use ${names.map((n) => `${n}=…`).join('/') || '(the dataset is not partitioned)'}, e.g. ${names.map((n) => (n === 'year' ? `${n}=2024` : `${n}=01`)).join('/')}`,
    );
  return `${trimmed}/`;
}

/** Greedy groups of consecutive files up to `target` bytes; only groups of two or more are worth rewriting. */
function groupsOf(files: readonly StoredObject[], target: number): StoredObject[][] {
  const groups: StoredObject[][] = [];
  let current: StoredObject[] = [];
  let bytes = 0;
  for (const f of files) {
    if (current.length && bytes + f.size > target) {
      groups.push(current);
      current = [];
      bytes = 0;
    }
    current.push(f);
    bytes += f.size;
  }
  if (current.length) groups.push(current);
  return groups.filter((g) => g.length > 1);
}

const parquetList = (paths: readonly string[]): string =>
  `read_parquet([${paths.map(sqlString).join(', ')}], hive_partitioning = false, union_by_name = true)`;

/** Writes the inputs as one file and proves it holds the same rows: counts, and EXCEPT ALL both ways. */
async function writeCompacted(db: DuckDBConnection, inputs: readonly string[], out: string): Promise<number> {
  await db.run(
    `COPY (SELECT * FROM ${parquetList(inputs)}) TO ${sqlString(out)} (FORMAT parquet, ${SILVER_CODEC}, ROW_GROUP_SIZE ${MAINTENANCE_ROW_GROUP_SIZE})`,
  );
  const [counts] = await queryRows(
    db,
    `SELECT (SELECT count(*) FROM ${parquetList(inputs)}) AS rows_in, (SELECT count(*) FROM read_parquet(${sqlString(out)})) AS rows_out,
      (SELECT count(*) FROM (SELECT * FROM ${parquetList(inputs)} EXCEPT ALL SELECT * FROM read_parquet(${sqlString(out)}))) AS missing,
      (SELECT count(*) FROM (SELECT * FROM read_parquet(${sqlString(out)}) EXCEPT ALL SELECT * FROM ${parquetList(inputs)})) AS extra`,
  );
  const rowsIn = asCount(counts?.rows_in);
  if (asCount(counts?.rows_out) !== rowsIn || asCount(counts?.missing) !== 0 || asCount(counts?.extra) !== 0) {
    throw new Error(
      `compaction: the compacted file differs from its ${inputs.length} inputs (rows ${rowsIn} in, ${asCount(counts?.rows_out)} out, ${asCount(counts?.missing)} missing, ${asCount(counts?.extra)} extra); nothing was switched`,
    );
  }
  return rowsIn;
}

/**
 * Whether every input is still as read, still its run's file, and no ingest of its source is in flight (an
 * intent record under `_pending/`: a fan-out between plan and commit, or a one-pass ingest publishing). A
 * group touching such a source is left for the next compaction; should an ingest of the same run start after
 * this look, its publish finds the compaction in the manifest and writes nothing.
 */
async function unchanged(store: ObjectStore, intent: CompactionIntent): Promise<boolean> {
  const now = new Map<string, StoredObject>();
  for await (const o of store.list('silver', intent.partition)) now.set(o.key, o);
  for (const input of intent.inputs) {
    const there = now.get(input.key);
    if (!there || there.size !== input.size) return false;
    // The intent record first, the manifest second: a publish that passed its look at the lease before this compaction
    // took it either still has its record here, or has finished, its manifest then naming its own run. (Read the other
    // way round, one finishing between the two reads passed both: its files — the same keys — were then replaced by
    // the compacted file holding the earlier run's rows.) None starts publishing while the lease is held.
    if (await pendingFor(store, input.manifest_key)) return false;
    const manifest = await readSilverRecord<Manifest>(store, input.manifest_key);
    if (!manifest || manifest.run_id !== input.run_id || !manifest.partitions.some((p) => p.files.includes(input.key)))
      return false;
  }
  return true;
}

/**
 * Whether an ingest of the manifest's source is publishing (or abandoned): its `_pending/` intent record — unless a
 * removal's hold-only record that holds nothing any more (engine/intent.ts `isLiveIntent`). A damaged one counts.
 */
async function pendingFor(store: ObjectStore, manifestKey: string): Promise<boolean> {
  const bytes = await store.getBytes('silver', pendingKeyOfManifest(manifestKey));
  return bytes !== undefined && isLiveIntent(parseSilverRecord<PendingIngest>(bytes));
}

/** Whether an ingest of a source whose manifest is one of these is publishing (or abandoned): its `_pending/` intent record. */
async function ingestInFlight(store: ObjectStore, runs: ReadonlyArray<{ manifest_key: string }>): Promise<boolean> {
  for (const key of new Set(runs.map((r) => r.manifest_key))) {
    if (await pendingFor(store, key)) return true;
  }
  return false;
}

/** Repoints the manifests at the compacted file (idempotent), deletes the inputs, then the intent. */
async function switchOver(store: ObjectStore, intent: CompactionIntent): Promise<void> {
  for (const [key, { inputs: replaced }] of inputsByManifest(intent)) {
    // Over exactly the manifest read: a blind put would undo a change made meanwhile (an ingest's `settled`).
    await editSilverRecord<Manifest>(store, key, (manifest) => {
      if (!manifest) return undefined;
      const gone = new Set(replaced);
      const partitions = manifest.partitions.map((p) => {
        if (!p.files.some((f) => gone.has(f))) return p;
        const files = [...new Set(p.files.map((f) => (gone.has(f) ? intent.file : f)))];
        return { ...p, files };
      });
      const compactions = (manifest.compactions ?? []).filter((c) => c.compaction_id !== intent.compaction_id);
      compactions.push({
        compaction_id: intent.compaction_id,
        compacted_at: intent.started_at,
        file: intent.file,
        replaced,
      });
      return { ...manifest, partitions, compactions } satisfies Manifest;
    });
  }
  await writeCompactedRecord(store, intent);
  await store.delete(
    'silver',
    intent.inputs.map((i) => i.key),
  );
  await store.delete('silver', [compactionIntentKey(intent.dataset, intent.compaction_id)]);
}

/** The record of what the intent's compacted file holds: the runs of its inputs. */
async function writeCompactedRecord(store: ObjectStore, intent: CompactionIntent): Promise<void> {
  const runs = [
    ...new Map(intent.inputs.map((i) => [i.run_id, { run_id: i.run_id, manifest_key: i.manifest_key }])).values(),
  ];
  await putJson(store, 'silver', compactedRecordKey(intent.dataset, intent.compaction_id), {
    compaction_id: intent.compaction_id,
    file: intent.file,
    runs,
  } satisfies CompactedRecord);
}

/** What a compacted file holds: the runs whose rows it took over (kept while the file exists). */
interface CompactedRecord {
  compaction_id: string;
  file: string;
  runs: Array<{ run_id: string; manifest_key: string }>;
}

const named = (manifest: Manifest, file: string): boolean => manifest.partitions.some((p) => p.files.includes(file));

async function exists(store: ObjectStore, key: string): Promise<boolean> {
  for await (const o of store.list('silver', key)) if (o.key === key) return true;
  return false;
}

/**
 * Keeps a compacted file holding only rows its runs' manifests account for. A run re-ingested since under
 * another run id (or the same run written again by an ingest that raced the switch, with its own files) has its
 * rows elsewhere: they are removed from the compacted file. A manifest naming files that are gone (an ingest
 * wrote it over the compaction's) is pointed at the compacted file again. Returns what it did, per run.
 */
async function repair(
  store: ObjectStore,
  record: CompactedRecord,
  workDir: string,
): Promise<Array<{ run_id: string; action: 'kept' | 'removed' | 'dropped' | 'repointed' | 'unknown' }>> {
  const actions: Array<{ run_id: string; action: 'kept' | 'removed' | 'dropped' | 'repointed' | 'unknown' }> = [];
  const keep: CompactedRecord['runs'] = [];
  for (const run of record.runs) {
    const manifest = await readSilverRecord<Manifest>(store, run.manifest_key);
    if (!manifest) {
      keep.push(run);
      actions.push({ run_id: run.run_id, action: 'unknown' });
      continue;
    }
    const here = folderOf(record.file);
    const listedHere = manifest.partitions.flatMap((p) => p.files).filter((f) => folderOf(f) === here);
    if (manifest.run_id === run.run_id && listedHere.includes(record.file)) {
      keep.push(run);
      actions.push({ run_id: run.run_id, action: 'kept' });
      continue;
    }
    const missing: string[] = [];
    if (manifest.run_id === run.run_id) for (const f of listedHere) if (!(await exists(store, f))) missing.push(f);
    if (missing.length) {
      await editSilverRecord<Manifest>(store, run.manifest_key, (now) => {
        // Read again (over exactly this one): the files it still names that are gone point at the compacted file.
        const gone = new Set(now?.run_id === run.run_id ? missing.filter((f) => named(now, f)) : []);
        if (!now || gone.size === 0) return undefined;
        const partitions = now.partitions.map((p) => ({
          ...p,
          files: [...new Set(p.files.map((f) => (gone.has(f) ? record.file : f)))],
        }));
        const compactions = [
          ...(now.compactions ?? []).filter((c) => c.compaction_id !== record.compaction_id),
          {
            compaction_id: record.compaction_id,
            compacted_at: new Date().toISOString(),
            file: record.file,
            replaced: [...gone],
          },
        ];
        return { ...now, partitions, compactions } satisfies Manifest;
      });
      keep.push(run);
      actions.push({ run_id: run.run_id, action: 'repointed' });
      continue;
    }
    // Another run of the source, or the same run in its own files again: the rows here are its old copy.
    const { removed } = await removeRunFromFile(store, record.file, run.run_id, workDir);
    actions.push({ run_id: run.run_id, action: removed > 0 ? 'removed' : 'dropped' });
  }
  const recordKey = compactedRecordKey(record.file.split('/')[0] as string, record.compaction_id);
  if (keep.length === 0) {
    await store.delete('silver', [record.file]);
    await store.delete('silver', [recordKey]);
  } else if (keep.length !== record.runs.length) await putJson(store, 'silver', recordKey, { ...record, runs: keep });
  return actions;
}

/** An interrupted compaction: finished when its file is there and its inputs' runs are as they were; undone while every input is still there. */
async function recover(
  store: ObjectStore,
  intent: CompactionIntent,
): Promise<'finished' | 'undone' | 'left' | 'deferred'> {
  const present = new Set<string>();
  let fileBytes: number | undefined;
  for await (const o of store.list('silver', intent.partition)) {
    present.add(o.key);
    if (o.key === intent.file) fileBytes = o.size;
  }
  const intentKey = compactionIntentKey(intent.dataset, intent.compaction_id);
  if (!present.has(intent.file)) {
    await store.delete('silver', [intentKey]);
    return 'undone';
  }
  if (await ingestInFlight(store, intent.inputs)) {
    // Not switched yet (every input there, no manifest names the file): undone, so no reader sees its rows twice.
    let named = false;
    for (const key of new Set(intent.inputs.map((i) => i.manifest_key))) {
      const manifest = await readSilverRecord<Manifest>(store, key);
      if (manifest?.partitions.some((p) => p.files.includes(intent.file))) named = true;
    }
    if (!named && intent.inputs.every((i) => present.has(i.key))) {
      await store.delete('silver', [intent.file]);
      await store.delete('silver', [intentKey]);
      return 'undone';
    }
    return 'deferred';
  }
  let runsAsRead = true;
  for (const input of intent.inputs) {
    const manifest = await readSilverRecord<Manifest>(store, input.manifest_key);
    if (!manifest || manifest.run_id !== input.run_id) runsAsRead = false;
  }
  // Every run as read, and the file as written: the switch is finished. A file rewritten since may miss rows of a
  // run as read (replayed under another contract, which removed its rows from the file, then back under the first:
  // the same run id again): resolved manifest by manifest instead.
  if (runsAsRead && (intent.file_bytes === undefined || fileBytes === intent.file_bytes)) {
    await switchOver(store, intent);
    return 'finished';
  }
  return undo(store, intent, present);
}

/**
 * Resolves a compaction whose sources changed since it began, manifest by manifest:
 * - a manifest of the run the compaction read, pointed at the compacted file by the stopped switch: named at its inputs
 *   again when they are all there (deleting the file alone left it naming a missing file, its inputs named by
 *   nothing); when the switch had begun deleting them, the file holds that run's rows (the only copy of the deleted
 *   ones): the manifest keeps naming it, and its remaining inputs go (their rows are in the file);
 * - a source re-ingested since under another run keeps its own files; the earlier run's inputs its new manifest does
 *   not name (that publish did not see them: the manifest it read named the compacted file) are deleted — they
 *   brought back rows the new run had removed;
 * - a manifest that cannot be read may name the file: nothing at all is done (`left`, reported on every run).
 * The compacted file goes when no manifest names it (`undone`); one still named stays with its record, and the repair
 * that follows removes from it the rows of runs no longer naming it (`finished`).
 */
async function undo(
  store: ObjectStore,
  intent: CompactionIntent,
  present: ReadonlySet<string>,
): Promise<'undone' | 'finished' | 'left'> {
  // Every manifest read before anything is changed: one that cannot be read may name the file, and an undo done in
  // part (some manifests pointed back, their rows then repaired out of the file) would be finished onto a file
  // without them once it reads again.
  const manifests: Array<[string, { run: string; inputs: string[] }, Manifest]> = [];
  for (const [key, group] of inputsByManifest(intent)) {
    const manifest = await readSilverRecord<Manifest>(store, key);
    if (!manifest) return 'left';
    manifests.push([key, group, manifest]);
  }
  let kept = false;
  for (const [key, { run, inputs }, manifest] of manifests) {
    const named = new Set(manifest.partitions.flatMap((p) => p.files));
    if (manifest.run_id !== run) {
      const orphans = inputs.filter((k) => present.has(k) && !named.has(k));
      if (orphans.length) await store.delete('silver', orphans);
      if (named.has(intent.file)) kept = true;
      continue;
    }
    if (!named.has(intent.file)) continue;
    if (inputs.every((k) => present.has(k))) {
      await unswitch(store, key, inputs, intent);
      continue;
    }
    const rest = inputs.filter((k) => present.has(k) && !named.has(k));
    if (rest.length) await store.delete('silver', rest);
    kept = true;
  }
  const intentKey = compactionIntentKey(intent.dataset, intent.compaction_id);
  if (kept) {
    await writeCompactedRecord(store, intent); // written before any input was deleted: the same again
    await store.delete('silver', [intentKey]);
    return 'finished';
  }
  await store.delete('silver', [intent.file]);
  await store.delete('silver', [compactedRecordKey(intent.dataset, intent.compaction_id), intentKey]);
  return 'undone';
}

/** The intent's inputs grouped by the manifest naming them, with that manifest's run as the compaction read it. */
function inputsByManifest(intent: CompactionIntent): Map<string, { run: string; inputs: string[] }> {
  const byManifest = new Map<string, { run: string; inputs: string[] }>();
  for (const input of intent.inputs) {
    const entry = byManifest.get(input.manifest_key) ?? { run: input.run_id, inputs: [] };
    entry.inputs.push(input.key);
    byManifest.set(input.manifest_key, entry);
  }
  return byManifest;
}

/** A manifest the stopped switch pointed at the compacted file names its inputs again (every one still there). */
async function unswitch(
  store: ObjectStore,
  key: string,
  inputs: readonly string[],
  intent: CompactionIntent,
): Promise<void> {
  await editSilverRecord<Manifest>(store, key, (manifest) => {
    if (!manifest?.partitions.some((p) => p.files.includes(intent.file))) return undefined;
    const partitions = manifest.partitions.map((p) =>
      p.files.includes(intent.file)
        ? { ...p, files: [...new Set(p.files.flatMap((f) => (f === intent.file ? inputs : [f])))] }
        : p,
    );
    const { compactions: all, ...rest } = manifest;
    const compactions = (all ?? []).filter((c) => c.compaction_id !== intent.compaction_id);
    return { ...rest, partitions, ...(compactions.length ? { compactions } : {}) } satisfies Manifest;
  });
}

export async function compactDataset(options: CompactOptions): Promise<CompactionReport> {
  const { store } = options;
  const contract = options.contracts.get(options.dataset);
  if (!contract) throw new MaintenanceInputError(`unknown dataset "${options.dataset}"`);
  const target = options.targetBytes ?? DEFAULT_COMPACTION_TARGET_BYTES;
  if (!(target > 0)) throw new MaintenanceInputError(`the target size must be positive, got ${target}`);
  const table = silverTablePrefix(contract.name);
  const only = checkPartition(
    options.partition,
    contract.partitionBy.map((p) => p.name),
    contract.name,
  );
  const scratchRoot = options.workDir ?? tmpdir();
  await mkdir(scratchRoot, { recursive: true });
  const report: CompactionReport = {
    dataset: contract.name,
    dry_run: options.dryRun ?? false,
    partitions: 0,
    files_before: 0,
    files_after: 0,
    groups: [],
    recovered: [],
    repaired: [],
    unowned: [],
  };

  // Out of time before or during the recovery and repair: nothing more is started, the next run goes on.
  const outOfTime = (): boolean => {
    if (!options.continueWhile || options.continueWhile()) return false;
    report.stopped = 'out of time: the remaining groups are left for the next run';
    return true;
  };
  if (!options.dryRun) {
    for await (const o of store.list('silver', `${COMPACTIONS_PREFIX}${contract.name}/`)) {
      if (outOfTime()) return report;
      const intent = await readSilverRecord<CompactionIntent>(store, o.key);
      if (intent) report.recovered.push({ compaction_id: intent.compaction_id, outcome: await recover(store, intent) });
      else await store.delete('silver', [o.key]);
    }
  }

  if (!options.dryRun) {
    for await (const o of store.list('silver', `${COMPACTED_PREFIX}${contract.name}/`)) {
      if (outOfTime()) return report;
      const record = await readSilverRecord<CompactedRecord>(store, o.key);
      // An ingest of one of its sources is publishing: it may rewrite this file itself; looked at next run.
      if (!record || (await ingestInFlight(store, record.runs))) continue;
      for (const a of await repair(store, record, scratchRoot))
        if (a.action === 'removed' || a.action === 'repointed') report.repaired.push({ file: record.file, ...a });
    }
  }

  const fileOwners = owners(await readManifests(store, { dataset: contract.name, onDamaged: 'skip' }));
  const files = await listParquet(store, 'silver', only ? `${table}${only}` : table);
  const folders = new Map<string, StoredObject[]>();
  for (const f of files) folders.set(folderOf(f.key), [...(folders.get(folderOf(f.key)) ?? []), f]);
  report.partitions = folders.size;
  report.files_before = files.length;

  const work = await mkdtemp(join(scratchRoot, 'lake-compact-'));
  try {
    await withDuckDb({ tempDirectory: join(work, 'spill'), memoryLimit: '128MB' }, 'compaction', async (db) => {
      for (const [folder, inFolder] of folders) {
        const candidates = inFolder.filter((f) => !isCompactedFile(f.key) && fileOwners.has(f.key));
        report.unowned.push(
          ...inFolder.filter((f) => !isCompactedFile(f.key) && !fileOwners.has(f.key)).map((f) => f.key),
        );
        for (const group of groupsOf(candidates, target)) {
          if (report.stopped) break;
          if (outOfTime()) break;
          const id = createHash('sha256')
            .update(`${contract.name}\n${group.map((f) => `${f.key}:${f.size}`).join('\n')}`)
            .digest('hex')
            .slice(0, 16);
          const result: CompactedGroup = {
            partition: folder,
            compaction_id: id,
            file: `${folder}${compactedFileName(id)}`,
            inputs: group.map((f) => f.key),
            rows: 0,
            bytes_before: group.reduce((s, f) => s + f.size, 0),
            bytes_after: null,
            status: 'would_compact',
          };
          report.groups.push(result);
          if (options.dryRun) continue;
          const paths = await Promise.all(group.map((f) => download(store, 'silver', f.key, work)));
          const out = join(work, `${id}.parquet`);
          try {
            result.rows = await writeCompacted(db, paths, out);
            result.bytes_after = (await stat(out)).size;
            const intent: CompactionIntent = {
              compaction_id: id,
              dataset: contract.name,
              partition: folder,
              file: result.file,
              inputs: group.map((f) => {
                const owner = fileOwners.get(f.key) as { key: string; manifest: Manifest };
                return { key: f.key, size: f.size, run_id: owner.manifest.run_id, manifest_key: owner.key };
              }),
              rows: result.rows,
              started_at: new Date().toISOString(),
              file_bytes: result.bytes_after,
            };
            await putJson(store, 'silver', compactionIntentKey(contract.name, id), intent);
            await store.putFile('silver', result.file, out, 'application/vnd.apache.parquet');
            await options.beforeSwitch?.(result);
            if (await unchanged(store, intent)) {
              await options.afterSecondLook?.(result);
              await switchOver(store, intent);
              result.status = 'compacted';
            } else {
              await store.delete('silver', [result.file]);
              await store.delete('silver', [compactionIntentKey(contract.name, id)]);
              result.status = 'changed';
            }
          } finally {
            await Promise.all([...paths, out].map((p) => rm(p, { force: true })));
          }
        }
      }
    });
  } finally {
    await rm(work, { recursive: true, force: true });
  }
  const switched = report.groups.filter((g) => g.status !== 'changed');
  report.files_after = report.files_before - switched.reduce((s, g) => s + g.inputs.length - 1, 0);
  return report;
}
