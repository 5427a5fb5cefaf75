/**
 * Erasure (right to be forgotten): removes every silver and quarantine row matching `<column> = <value>` of
 * one dataset. Each file holding matching rows is rewritten without them and put back under its own key (a
 * reader sees the old file or the new one, never neither: nothing is deleted). The manifests of the sources
 * whose rows went record how many (so `rows_in = rows_valid + rows_quarantined` stays explained), which also
 * makes the next gold refresh recompute their months; and an audit record — who, when, the predicate with
 * its value hashed, every file rewritten, rows removed per source — goes to `_audit/erasures/` in silver.
 */
import { createHash, createHmac, randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { createGunzip } from 'node:zlib';
import type { DuckDBConnection } from '@duckdb/node-api';
import type { ContractRegistry } from '../contract/load.ts';
import { duckdbType } from '../contract/schema.ts';
import type { ColumnContract, DatasetContract } from '../contract/types.ts';
import { asCount, queryRows, withDuckDb } from '../duckdb.ts';
import { ERASURES_PREFIX, erasureRecordKey, quarantineRecordsPrefix, silverTablePrefix } from '../layout.ts';
import type { Manifest, ManifestErasure } from '../manifest.ts';
import { ObjectChangedError, type ObjectStore, type Zone } from '../ports.ts';
import { ident, SILVER_CODEC, silverValueSql, sqlString } from '../sql.ts';
import {
  downloadTagged,
  editSilverRecord,
  listParquet,
  MAINTENANCE_ROW_GROUP_SIZE,
  monthOfKey,
  putJson,
} from './files.ts';
import { readManifests, readSilverRecord } from '../manifest-reader.ts';
import { parseEqualityPredicate, PredicateError, type EqualityPredicate } from './predicate.ts';
import { isGzip } from '../spool.ts';

export interface EraseOptions {
  store: ObjectStore;
  contracts: ContractRegistry;
  dataset: string;
  /**
   * `<column> = <value>`; for a `hash` PII column the raw value (hashed here with `piiSalt`); for a `drop`
   * column the raw value, searched for in whole rejected files only (nothing else holds it).
   */
  where: string;
  /** The lake's salt of PII `hash` columns (the one its ingests use). @default '' */
  piiSalt?: string;
  /** Who asked (recorded). */
  requestedBy: string;
  /** Report what would change, write nothing. */
  dryRun?: boolean;
  /** Scratch directory for copies of the files. @default os.tmpdir() */
  workDir?: string;
  /** Called after each file is scanned (progress). */
  onFile?: (key: string, index: number, total: number) => void;
}

export interface ErasedFile {
  zone: Extract<Zone, 'silver' | 'quarantine'>;
  key: string;
  /** `rewritten` without the rows; `deleted`: a whole rejected file kept in quarantine as it came, holding the value. */
  action: 'rewritten' | 'deleted';
  rows_before: number;
  rows_removed: number;
  /** Earlier versions of the file (a versioned bucket's copies of the old bytes) permanently deleted. */
  earlier_versions_deleted: number;
}

export interface ErasedSource {
  run_id: string;
  source_id: string | null;
  source_key: string | null;
  rows_valid_removed: number;
  rows_quarantined_removed: number;
}

/** The erasure record (also the result; a dry run's has `dry_run: true` and is not written). */
export interface ErasureRecord {
  record_version: 1;
  erasure_id: string;
  dataset: string;
  status: 'dry_run' | 'started' | 'completed';
  dry_run: boolean;
  requested_by: string;
  started_at: string;
  finished_at: string | null;
  /** The predicate without its value: the column, `=`, and a keyed hash of the value. */
  predicate: { column: string; operator: '='; value_hash: string; value_hash_algorithm: string; pii: string };
  files: ErasedFile[];
  rows_removed: { silver: number; quarantine: number };
  sources: ErasedSource[];
  /** Months whose silver rows changed (gold recomputes from the earliest). */
  months: string[];
  /** Whole rejected files kept in quarantine are raw bytes: not rewritten; see docs/runbook.md. */
  bronze: string;
}

export const BRONZE_ERASURE_POLICY =
  'bronze is immutable and not rewritten: it expires by its lifecycle rule before the legal deadline (docs/runbook.md, "Erasure requests"); a replay of an erased source before then must be followed by the same erasure again';

/** Keyed hash of the value: the salt as key when the lake has one, so a guessable value is not revealed by the record. */
function valueHash(
  dataset: string,
  predicate: EqualityPredicate,
  salt: string,
): { value_hash: string; value_hash_algorithm: string } {
  const text = `${dataset}\n${predicate.column.name}\n${predicate.value}`;
  return salt
    ? {
        value_hash: createHmac('sha256', salt).update(text).digest('hex'),
        value_hash_algorithm: 'hmac-sha256(pii salt, dataset\\ncolumn\\nvalue)',
      }
    : {
        value_hash: createHash('sha256').update(text).digest('hex'),
        value_hash_algorithm: 'sha256(dataset\\ncolumn\\nvalue)',
      };
}

/** The value as silver stores it (typed, hashed for `hash` PII), as SQL text; a PredicateError when the type refuses it. */
async function silverValue(db: DuckDBConnection, predicate: EqualityPredicate, salt: string): Promise<string> {
  const [row] = await queryRows(
    db,
    `SELECT CAST(value AS VARCHAR) AS v FROM (${silverValueSql(predicate.column, sqlString(predicate.value), salt)})`,
  );
  const v = row?.v;
  if (typeof v !== 'string')
    throw new PredicateError(
      `"${predicate.value}" is not a valid ${predicate.column.typeText} for column ${predicate.column.name}`,
    );
  return `CAST(${sqlString(v)} AS ${duckdbType(predicate.column.type)})`;
}

/** Silver: the typed column equals the value. */
const silverMatch = (column: ColumnContract, value: string): string => `(${ident(column.name)} = ${value})`;

/**
 * Quarantine rows hold the record as it came (`raw_record`): a JSON object of the source's fields, or the raw
 * line when it could not be parsed. A record matches when a field named like the column (name or alias, any
 * case) holds the value, or — raw lines — when the value stands in it as a whole field. PII columns are
 * redacted in quarantine records, so only non-PII columns are matched there (whole rejected files are not
 * redacted: see eraseRejectedFileCopies).
 */
function quarantineMatch(predicate: EqualityPredicate): string | undefined {
  if (predicate.column.pii !== 'none') return undefined;
  const names = [predicate.column.name, ...predicate.column.aliases].map((n) => sqlString(n.toLowerCase())).join(', ');
  const value = sqlString(predicate.value.trim());
  const escaped = predicate.value.trim().replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  const field = sqlString(`(^|[,;|\\t"\\s])${escaped}($|[,;|\\t"\\s])`);
  return `(CASE WHEN json_valid(raw_record) AND json_type(raw_record) = 'OBJECT'
    THEN len(list_filter(json_keys(raw_record), k -> lower(k) IN (${names}) AND trim(json_extract_string(raw_record, '$."' || replace(k, '"', '\\"') || '"')) = ${value})) > 0
    ELSE coalesce(regexp_matches(raw_record, ${field}), false) END)`;
}

/** Text of a stored file, gunzipped when it is gzip. */
async function* textOf(stream: Readable): AsyncIterable<string> {
  const iterator = stream[Symbol.asyncIterator]() as AsyncIterator<Buffer>;
  const first = await iterator.next();
  if (first.done) return;
  const head = first.value;
  const whole = Readable.from(
    (async function* () {
      yield head;
      for (let next = await iterator.next(); !next.done; next = await iterator.next()) yield next.value;
    })(),
  );
  if (!isGzip(head)) {
    for await (const chunk of whole) yield (chunk as Buffer).toString('utf8');
    return;
  }
  // `pipe` forwards no error: the source destroyed while `whole` still reads ahead (`rawHolds` stops at the first
  // match) failed `whole` with "Premature close" and no listener — an uncaught error event (a CI run's erase test).
  const gunzip = createGunzip();
  whole.once('error', (e) => gunzip.destroy(e));
  for await (const chunk of whole.pipe(gunzip)) yield (chunk as Buffer).toString('utf8');
}

/** Past this much text a kept copy is not read further and counts as holding the value (a rejected gzip bomb). */
const RAW_SCAN_LIMIT = 1024 ** 3;

/** Whether raw bytes (CSV or JSON Lines, gzip opened) hold `value` as a whole field. */
async function rawHolds(stream: Readable, value: string): Promise<boolean> {
  const escaped = value.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  const field = new RegExp(`(^|[,;|\\t"\\s])${escaped}($|[,;|\\t"\\s])`, 'm');
  let tail = '';
  let seen = 0;
  try {
    for await (const text of textOf(stream)) {
      const window = tail + text;
      if (field.test(window)) return true;
      seen += text.length;
      if (seen > RAW_SCAN_LIMIT) return true;
      tail = window.slice(-Math.max(value.length * 2, 64));
    }
    return false;
  } finally {
    stream.destroy();
  }
}

/**
 * Whole rejected files are kept in quarantine byte for byte (`<dataset>/files/…`): one holding the value is
 * deleted (a copy of bronze; its quarantine record with the reason stays). Such a copy is the raw input, PII
 * included, so it is searched for the raw value whatever the column's PII class. Its manifest and the record
 * note it before it is deleted, so an interruption in between is finished by running the erasure again.
 */
async function eraseRejectedFileCopies(
  store: ObjectStore,
  dataset: string,
  value: string,
  record: ErasureRecord,
  dryRun: boolean,
  manifests: Map<string, { key: string; manifest: Manifest }>,
  saveRecord: () => Promise<void>,
): Promise<void> {
  const deletedBefore = record.files.filter((f) => f.action === 'deleted');
  if (!dryRun && store.purgeEarlierVersions)
    for (const f of deletedBefore) f.earlier_versions_deleted += await store.purgeEarlierVersions('quarantine', f.key); // resumed: may not have been purged
  for await (const o of store.list('quarantine', `${dataset}/files/`)) {
    if (!(await rawHolds(await store.getStream('quarantine', o.key), value))) continue;
    let entry = deletedBefore.find((f) => f.key === o.key);
    if (!entry) {
      entry = {
        zone: 'quarantine',
        key: o.key,
        action: 'deleted',
        rows_before: 0,
        rows_removed: 0,
        earlier_versions_deleted: 0,
      };
      record.files.push(entry);
    }
    if (dryRun) continue;
    // Its manifest records the erasure too, so a redelivery of the same object does not put the copy back.
    const owner = [...manifests.values()].find((e) => e.manifest.quarantine.file_key === o.key);
    if (owner)
      await recordInManifests(
        store,
        manifests,
        {
          erasure_id: record.erasure_id,
          erased_at: record.started_at,
          record_key: erasureRecordKey(dataset, record.erasure_id),
        },
        new Map([[owner.manifest.run_id, { valid: 0, quarantined: 0 }]]),
        fileId('quarantine', o.key),
      );
    await saveRecord();
    await store.delete('quarantine', [o.key]);
    if (store.purgeEarlierVersions)
      entry.earlier_versions_deleted += await store.purgeEarlierVersions('quarantine', o.key);
  }
}

/** How a manifest's erasure entry names a file whose removed rows it counts. */
const fileId = (zone: Zone, key: string): string => `${zone}/${key}`;

/**
 * The record of an earlier run of the same erasure (dataset, column, value hash) that did not finish — its
 * status still `started` — so this run resumes it under its id instead of counting its files again.
 */
async function unfinishedRecord(
  store: ObjectStore,
  dataset: string,
  predicate: ErasureRecord['predicate'],
): Promise<ErasureRecord | undefined> {
  let found: ErasureRecord | undefined;
  for await (const o of store.list('silver', `${ERASURES_PREFIX}${dataset}/`)) {
    const r = await readSilverRecord<ErasureRecord>(store, o.key);
    if (r?.status !== 'started' || r.dataset !== dataset || r.dry_run) continue;
    const p = r.predicate;
    if (
      p.column !== predicate.column ||
      p.value_hash !== predicate.value_hash ||
      p.value_hash_algorithm !== predicate.value_hash_algorithm
    )
      continue;
    if (!found || r.started_at > found.started_at) found = r;
  }
  return found;
}

function newErasureId(now: Date): string {
  return `${now
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d+Z$/, 'Z')}-${randomBytes(4).toString('hex')}`;
}

interface Scan {
  total: number;
  removed: number;
  byRun: Map<string, { removed: number; sourceKey: string | null }>;
}

async function scanFile(db: DuckDBConnection, path: string, match: string): Promise<Scan> {
  const file = `read_parquet(${sqlString(path)}, hive_partitioning = false)`;
  const rows = await queryRows(
    db,
    `SELECT ingest_run_id, any_value(source_key) AS source_key, count(*) AS n, count(*) FILTER (WHERE ${match}) AS m FROM ${file} GROUP BY ingest_run_id`,
  );
  const byRun = new Map<string, { removed: number; sourceKey: string | null }>();
  let total = 0;
  let removed = 0;
  for (const r of rows) {
    total += asCount(r.n);
    const m = asCount(r.m);
    removed += m;
    if (m > 0)
      byRun.set(String(r.ingest_run_id), {
        removed: m,
        sourceKey: typeof r.source_key === 'string' ? r.source_key : null,
      });
  }
  return { total, removed, byRun };
}

/** Writes the file without the matching rows and checks the count. */
async function rewriteWithout(
  db: DuckDBConnection,
  path: string,
  match: string,
  out: string,
  expected: number,
): Promise<void> {
  const file = `read_parquet(${sqlString(path)}, hive_partitioning = false)`;
  await db.run(
    `COPY (SELECT * FROM ${file} WHERE ${match} IS NOT TRUE) TO ${sqlString(out)} (FORMAT parquet, ${SILVER_CODEC}, ROW_GROUP_SIZE ${MAINTENANCE_ROW_GROUP_SIZE})`,
  );
  const [check] = await queryRows(db, `SELECT count(*) AS n FROM read_parquet(${sqlString(out)})`);
  if (asCount(check?.n) !== expected)
    throw new Error(
      `erasure: the rewrite of ${path} holds ${asCount(check?.n)} rows, expected ${expected}; nothing was replaced`,
    );
}

/**
 * Adds the counts of one file to the manifests of the runs it touched (read, add, write over exactly the manifest
 * read: `editSilverRecord`). Idempotent per erasure id and file: a file already counted under this erasure is not
 * counted again.
 */
async function recordInManifests(
  store: ObjectStore,
  manifests: Map<string, { key: string; manifest: Manifest }>,
  erasure: Pick<ManifestErasure, 'erasure_id' | 'erased_at' | 'record_key'>,
  byRun: Map<string, { valid: number; quarantined: number }>,
  file: string,
): Promise<void> {
  for (const [run, counts] of byRun) {
    const entry = manifests.get(run);
    if (!entry) continue; // rows of an attempt no manifest describes: counted in the record's sources only
    const updated = await editSilverRecord<Manifest>(store, entry.key, (there) => {
      const current = there ?? structuredClone(entry.manifest); // edited below: a retry must start from the original
      if (current.run_id !== run) return undefined; // re-ingested since: its rows are counted by the new run's manifest
      const erasures = current.erasures ?? [];
      let mine = erasures.find((e) => e.erasure_id === erasure.erasure_id);
      if (!mine) {
        mine = { ...erasure, rows_valid_removed: 0, rows_quarantined_removed: 0, files: [] };
        erasures.push(mine);
      }
      if (mine.files?.includes(file)) return undefined; // counted by an interrupted run of this erasure
      mine.rows_valid_removed += counts.valid;
      mine.rows_quarantined_removed += counts.quarantined;
      mine.files = [...(mine.files ?? []), file];
      return { ...current, erasures };
    });
    if (updated?.run_id === run) entry.manifest = updated;
  }
}

/**
 * Erases the rows matching `where` from the dataset's silver and quarantine. Data problems (unknown column,
 * a value the column's type refuses, another operator) throw PredicateError before anything is read.
 * Files are done one at a time: an interrupted erasure leaves every file either old or new. Each file's
 * removal is noted in the manifests of its sources and in the record (status `started`) before the file is
 * replaced, so running the same erasure again resumes that record under its id: it replaces the files not yet
 * replaced, counts each file once, and every manifest ends up recording the erasure (which keeps a re-ingest
 * of the same run from bringing the rows back).
 */
export async function eraseRows(options: EraseOptions): Promise<ErasureRecord> {
  const { store } = options;
  const contract: DatasetContract | undefined = options.contracts.get(options.dataset);
  if (!contract) throw new PredicateError(`unknown dataset "${options.dataset}"`);
  const predicate = parseEqualityPredicate(options.where, contract);
  const salt = options.piiSalt ?? '';
  const now = new Date();
  const predicateRecord: ErasureRecord['predicate'] = {
    column: predicate.column.name,
    operator: '=',
    ...valueHash(contract.name, predicate, salt),
    pii: predicate.column.pii,
  };
  const scratchRoot = options.workDir ?? tmpdir();
  await mkdir(scratchRoot, { recursive: true });
  const work = await mkdtemp(join(scratchRoot, 'lake-erase-'));
  try {
    return await withDuckDb({ tempDirectory: join(work, 'spill') }, 'erasure', async (db) => {
      // A dropped PII column is in no silver file and redacted in quarantine records: only whole rejected
      // files (raw input) can hold its value. Any other value is checked against the column's type first.
      const value = predicate.column.pii === 'drop' ? undefined : await silverValue(db, predicate, salt);
      const resumed = options.dryRun ? undefined : await unfinishedRecord(store, contract.name, predicateRecord);
      const erasureId = resumed?.erasure_id ?? newErasureId(now);
      const startedAt = resumed?.started_at ?? now.toISOString();
      const recordKey = erasureRecordKey(contract.name, erasureId);
      const record: ErasureRecord = resumed ?? {
        record_version: 1,
        erasure_id: erasureId,
        dataset: contract.name,
        status: options.dryRun ? 'dry_run' : 'started',
        dry_run: options.dryRun ?? false,
        requested_by: options.requestedBy,
        started_at: startedAt,
        finished_at: null,
        predicate: predicateRecord,
        files: [],
        rows_removed: { silver: 0, quarantine: 0 },
        sources: [],
        months: [],
        bronze: BRONZE_ERASURE_POLICY,
      };
      const targets: Array<{ zone: 'silver' | 'quarantine'; key: string; match: string }> = [];
      if (value !== undefined)
        for (const o of await listParquet(store, 'silver', silverTablePrefix(contract.name)))
          targets.push({ zone: 'silver', key: o.key, match: silverMatch(predicate.column, value) });
      const qMatch = quarantineMatch(predicate);
      if (qMatch)
        for (const o of await listParquet(store, 'quarantine', quarantineRecordsPrefix(contract.name)))
          targets.push({ zone: 'quarantine', key: o.key, match: qMatch });

      const manifests = new Map(
        (await readManifests(store, { dataset: contract.name, onDamaged: 'skip' })).map((e) => [e.manifest.run_id, e]),
      );
      const sources = new Map<string, ErasedSource>(record.sources.map((s) => [s.run_id, s]));
      const months = new Set<string>(record.months);
      const saveRecord = async (): Promise<void> => {
        record.sources = [...sources.values()].sort((a, b) => (a.source_key ?? '').localeCompare(b.source_key ?? ''));
        record.months = [...months].sort();
        if (!options.dryRun) await putJson(store, 'silver', recordKey, record);
      };
      const erasure = { erasure_id: erasureId, erased_at: startedAt, record_key: recordKey };
      await saveRecord();
      for (const [i, target] of targets.entries()) {
        const copy = await downloadTagged(store, target.zone, target.key, work);
        if (!copy) continue; // gone since it was listed (a replaced run's file an ingest removed): nothing to erase
        const { path } = copy;
        try {
          const scan = await scanFile(db, path, target.match);
          options.onFile?.(target.key, i, targets.length);
          // Counted by an interrupted run of this erasure (resumed): not counted again.
          let entry = record.files.find((f) => f.zone === target.zone && f.key === target.key);
          if (scan.removed === 0) {
            // Replaced before the interruption, maybe not purged: the earlier versions hold the rows.
            if (entry && !options.dryRun && store.purgeEarlierVersions)
              entry.earlier_versions_deleted += await store.purgeEarlierVersions(target.zone, target.key);
            continue;
          }
          const counts = new Map<string, { valid: number; quarantined: number }>();
          for (const [run, { removed }] of scan.byRun)
            counts.set(
              run,
              target.zone === 'silver' ? { valid: removed, quarantined: 0 } : { valid: 0, quarantined: removed },
            );
          if (!entry) {
            entry = {
              zone: target.zone,
              key: target.key,
              action: 'rewritten',
              rows_before: scan.total,
              rows_removed: scan.removed,
              earlier_versions_deleted: 0,
            };
            record.files.push(entry);
            record.rows_removed[target.zone] += scan.removed;
            const month = target.zone === 'silver' ? monthOfKey(target.key) : undefined;
            if (month) months.add(month);
            for (const [run, { removed, sourceKey }] of scan.byRun) {
              const manifest = manifests.get(run)?.manifest;
              const s = sources.get(run) ?? {
                run_id: run,
                source_id: manifest?.source_id ?? null,
                source_key: manifest?.source.key ?? sourceKey,
                rows_valid_removed: 0,
                rows_quarantined_removed: 0,
              };
              if (target.zone === 'silver') s.rows_valid_removed += removed;
              else s.rows_quarantined_removed += removed;
              sources.set(run, s);
            }
          }
          if (options.dryRun) continue;
          // The manifests and the record first, then the file: an interruption after the swap still leaves
          // the erasure recorded (a re-ingest keeps the rows out), and the resumed run counts nothing twice.
          await recordInManifests(store, manifests, erasure, counts, fileId(target.zone, target.key));
          await saveRecord();
          const out = `${path}.erased.parquet`;
          await rewriteWithout(db, path, target.match, out, scan.total - scan.removed);
          // Same key: replaced, never absent — and only over exactly the bytes scanned (an ingest may be removing a
          // replaced run's rows from this shared file at once: a plain put would lose one change or the other).
          try {
            await store.putFile(target.zone, target.key, out, 'application/vnd.apache.parquet', { ifMatch: copy.etag });
          } catch (e) {
            if (!(e instanceof ObjectChangedError)) throw e;
            throw new Error(
              `${target.zone}/${target.key} was replaced while the erasure rewrote it (an ingest removing a replaced run's rows from a shared file); it was left as it is: run the same erasure again (it resumes this record)`,
            );
          }
          await rm(out, { force: true });
          // A versioned bucket keeps the replaced bytes as an earlier version: those hold the erased rows too.
          if (store.purgeEarlierVersions)
            entry.earlier_versions_deleted += await store.purgeEarlierVersions(target.zone, target.key);
        } finally {
          await rm(path, { force: true });
        }
      }
      await eraseRejectedFileCopies(
        store,
        contract.name,
        predicate.value.trim(),
        record,
        options.dryRun ?? false,
        manifests,
        saveRecord,
      );
      record.sources = [...sources.values()].sort((a, b) => (a.source_key ?? '').localeCompare(b.source_key ?? ''));
      record.months = [...months].sort();
      record.finished_at = new Date().toISOString();
      if (!options.dryRun) {
        record.status = 'completed';
        await putJson(store, 'silver', recordKey, record);
      }
      return record;
    });
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}
