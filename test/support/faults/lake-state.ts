/**
 * What a local lake directory holds after a fault and a recovery, read straight from the directory (not
 * through the adapters under test), and the checks every fault case makes against the test's own answer.
 */
import { createHash } from 'node:crypto';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join, relative, sep } from 'node:path';
import { expect } from '../expect.ts';
import type { Manifest } from '../../../engine/contract/index.ts';
import { readWithDuckDb } from '../duckdb-reader.ts';
import { expectedRowsCsv, type GeneratedInput } from './input.ts';

export const DATASET = 'transactions';

/** A bronze object of a case and the answer for it. */
export interface BronzeInput {
  key: string;
  input: GeneratedInput;
}

export interface LakeFiles {
  /** Silver data files (not `_manifests/`, `_pending/`), key → sha256. */
  silver: Map<string, string>;
  /** Quarantine objects, key → sha256. */
  quarantine: Map<string, string>;
  /** Manifest key → manifest. */
  manifests: Map<string, Manifest>;
  /** Intent records left in `silver/_pending/`. */
  pending: string[];
  /** `*.tmp` files anywhere in the lake (a write that never got its rename). */
  tmp: string[];
}

async function walk(dir: string): Promise<string[]> {
  let entries;
  try {
    entries = await readdir(dir, { withFileTypes: true, recursive: true });
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw e;
  }
  return entries.filter((e) => e.isFile()).map((e) => relative(dir, join(e.parentPath, e.name)).split(sep).join('/'));
}

const sha256 = (bytes: Buffer): string => createHash('sha256').update(bytes).digest('hex');

export async function readLakeFiles(lakeDir: string): Promise<LakeFiles> {
  const files: LakeFiles = { silver: new Map(), quarantine: new Map(), manifests: new Map(), pending: [], tmp: [] };
  for (const zone of ['bronze', 'silver', 'quarantine', 'gold'] as const) {
    for (const key of await walk(join(lakeDir, zone))) {
      if (key.endsWith('.tmp')) {
        files.tmp.push(`${zone}/${key}`);
        continue;
      }
      if (zone === 'bronze' || zone === 'gold') continue;
      const bytes = await readFile(join(lakeDir, zone, key));
      if (zone === 'quarantine') files.quarantine.set(key, sha256(bytes));
      else if (key.startsWith('_manifests/')) files.manifests.set(key, JSON.parse(bytes.toString('utf8')) as Manifest);
      else if (key.startsWith('_pending/')) files.pending.push(key);
      else files.silver.set(key, sha256(bytes));
    }
  }
  return files;
}

/** Scratch directories an ingest left in a work directory (`lake-ingest-*`). */
export async function scratchLeftovers(workDir: string): Promise<string[]> {
  try {
    return (await readdir(workDir)).filter((n) => n.startsWith('lake-ingest-'));
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw e;
  }
}

const sorted = (keys: Iterable<string>): string[] => [...keys].sort();

/** A manifest without what differs between two runs of the same source (when it ran, how long). */
export function stableManifest(m: Manifest): Omit<Manifest, 'started_at' | 'finished_at' | 'duration_ms'> {
  const { started_at: _s, finished_at: _f, duration_ms: _d, ...rest } = m;
  return rest;
}

/**
 * The lake holds exactly the inputs, each ingested once: one succeeded manifest per source whose counts are
 * the test's own (conservation included), no intent record, no silver or quarantine file that no manifest
 * names and none missing, silver rows equal to the expected rows (EXCEPT ALL both ways, no duplicates), the
 * quarantine records equal to the expected record numbers and reasons, and the catalog's partitions.
 */
export async function expectExactLake(
  lakeDir: string,
  inputs: readonly BronzeInput[],
  scratch: string,
  /** After a compaction: one compacted file holds rows of several sources, named by each one's manifest. */
  options: { compacted?: boolean } = {},
): Promise<LakeFiles> {
  const files = await readLakeFiles(lakeDir);
  expect(files.pending, 'no intent record left in silver/_pending/').toEqual([]);

  const manifests = [...files.manifests.values()];
  expect(sorted(manifests.map((m) => m.source.key)), 'one manifest per source').toEqual(
    sorted(inputs.map((i) => i.key)),
  );
  for (const { key, input } of inputs) {
    const m = manifests.find((x) => x.source.key === key) as Manifest;
    expect(m.status).toBe('succeeded');
    expect(
      { rows_in: m.rows_in, rows_valid: m.rows_valid, rows_quarantined: m.rows_quarantined },
      `counts of ${key}`,
    ).toEqual({
      rows_in: input.rows,
      rows_valid: input.valid.length,
      rows_quarantined: input.quarantined.length,
    });
    expect(m.rows_in, `conservation for ${key}`).toBe(m.rows_valid + m.rows_quarantined);
    expect(m.reasons).toEqual(input.reasons);
  }

  const named = manifests.flatMap((m) => m.partitions.flatMap((p) => p.files));
  if (!options.compacted) expect(new Set(named).size, 'no file named by two manifests').toBe(named.length);
  // A compaction's own records (`_maintenance/compacted/`: which sources a compacted file holds) are not data.
  const data = [...files.silver.keys()].filter((k) => !(options.compacted && k.startsWith('_maintenance/')));
  expect(sorted(data), 'silver holds exactly the files the manifests name').toEqual(sorted([...new Set(named)]));
  const quarantineNamed = manifests
    .flatMap((m) => [m.quarantine.records_key, m.quarantine.file_key])
    .filter((k): k is string => k !== null);
  expect(sorted(files.quarantine.keys()), 'quarantine holds exactly the objects the manifests name').toEqual(
    sorted(quarantineNamed),
  );

  await expectSilverRows(lakeDir, inputs, scratch);
  await expectQuarantineRows(lakeDir, inputs);
  await expectCatalog(lakeDir, inputs);
  return files;
}

async function expectSilverRows(lakeDir: string, inputs: readonly BronzeInput[], scratch: string): Promise<void> {
  const expectedCsv = join(scratch, `expected-${process.pid}-${Date.now()}.csv`);
  await writeFile(expectedCsv, expectedRowsCsv(inputs.map((i) => i.input)));
  const total = inputs.reduce((s, i) => s + i.input.valid.length, 0);
  const [r] = await readWithDuckDb(`
    WITH silver AS (
      SELECT transaction_id, account_id, CAST(amount AS VARCHAR) AS amount, currency,
             strftime(transaction_timestamp, '%Y-%m-%dT%H:%M:%S.%g') || 'Z' AS transaction_timestamp,
             CAST(year AS VARCHAR) AS year, CAST(month AS VARCHAR) AS month
      FROM read_parquet('${lakeDir}/silver/${DATASET}/**/*.parquet', hive_partitioning = true, hive_types_autocast = false)),
    expected AS (SELECT * FROM read_csv('${expectedCsv}', header = true, all_varchar = true))
    SELECT (SELECT count(*) FROM silver) AS n,
           (SELECT count(DISTINCT transaction_id) FROM silver) AS ids,
           (SELECT count(*) FROM (SELECT * FROM silver EXCEPT ALL SELECT * FROM expected)) AS unexpected,
           (SELECT count(*) FROM (SELECT * FROM expected EXCEPT ALL SELECT * FROM silver)) AS missing`);
  expect(r, 'silver rows = expected rows, each once').toEqual({
    n: String(total),
    ids: String(total),
    unexpected: '0',
    missing: '0',
  });
}

async function expectQuarantineRows(lakeDir: string, inputs: readonly BronzeInput[]): Promise<void> {
  const expected = inputs
    .flatMap(({ key, input }) => input.quarantined.map((q) => `${key}#${q.record_number}#${q.reason}`))
    .sort();
  if (expected.length === 0) return;
  const rows = await readWithDuckDb(
    `SELECT source_key || '#' || record_number || '#' || array_to_string(list_sort(reasons), '|') AS id
     FROM read_parquet('${lakeDir}/quarantine/${DATASET}/records/*.parquet')`,
  );
  expect(rows.map((r) => String(r.id)).sort(), 'quarantine = the expected records, each once, with its reason').toEqual(
    expected,
  );
}

async function expectCatalog(lakeDir: string, inputs: readonly BronzeInput[]): Promise<void> {
  const catalog = JSON.parse(await readFile(join(lakeDir, 'catalog.json'), 'utf8')) as {
    tables: Record<string, { partitions: Record<string, { prefix: string }> }>;
  };
  const expected = new Set(inputs.flatMap((i) => i.input.valid.map((r) => `${r.year}/${r.month}`)));
  expect(sorted(Object.keys(catalog.tables[DATASET]?.partitions ?? {})), 'catalog partitions').toEqual(
    sorted(expected),
  );
}

/** Byte-identical silver and quarantine to a clean ingest of the same objects, and the same manifests. */
export async function expectSameAsReference(actual: LakeFiles, referenceDir: string): Promise<void> {
  const reference = await readLakeFiles(referenceDir);
  expect(Object.fromEntries(actual.silver), 'silver files byte-identical to a clean ingest').toEqual(
    Object.fromEntries(reference.silver),
  );
  expect(Object.fromEntries(actual.quarantine), 'quarantine byte-identical to a clean ingest').toEqual(
    Object.fromEntries(reference.quarantine),
  );
  const stable = (m: Map<string, Manifest>) => Object.fromEntries([...m].map(([k, v]) => [k, stableManifest(v)]));
  expect(stable(actual.manifests), 'manifests as a clean ingest writes them').toEqual(stable(reference.manifests));
}
