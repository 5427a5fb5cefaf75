/**
 * Drives the fan-out seams (plan → every chunk on its own → commit) on a local store and compares what they
 * publish with what one pass over the same object publishes: manifest counts, silver rows, quarantine rows.
 */
import { expect } from '../expect.ts';
import { loadContracts, type ContractRegistry } from '../../../engine/contract/index.ts';
import {
  commitFanOut,
  planFanOut,
  transformFanOutChunk,
  type CommitOutcome,
  type FanOutPlanOptions,
  type IngestOptions,
  type Manifest,
  type PlanOutcome,
  type SourceRef,
} from '../../../engine/index.ts';
import { readWithDuckDb } from '../duckdb-reader.ts';
import { createTestLake, type TestLake } from '../local-lake.ts';

/** The bronze object every fan-out test ingests (its key aside): the same on both sides of a comparison. */
export const SOURCE = { bucket: 'test-bronze', etag: 'etag-1', lastModified: new Date('2024-05-01T12:00:00Z') };
/** A record limit small enough for a test to have records over it. */
export const ENGINE = { maxRecordBytes: 200 };

/** The manifest numbers two ingests of the same input must agree on. */
export const manifestCounts = (m: Manifest) => ({
  status: m.status,
  rows_in: m.rows_in,
  rows_valid: m.rows_valid,
  rows_quarantined: m.rows_quarantined,
  reasons: m.reasons,
  partitions: m.partitions.map((p) => [p.prefix, p.rows]),
});

/** What one ingest published, as plain values to compare with `toEqual`. */
export async function publishedOutcome(
  lake: TestLake,
  dataset: string,
  m: Manifest,
  /** Also the manifest's columns and sizes and each quarantine row's source key and run (same source on both sides). */
  withProvenance: boolean,
) {
  const orderBy = dataset === 'readings' ? 'reading_id' : 'transaction_id';
  const counts = withProvenance
    ? {
        ...manifestCounts(m),
        columns: m.columns,
        bytes_in: m.bytes_in,
        bytes_in_uncompressed: m.bytes_in_uncompressed,
        compression: m.compression,
      }
    : manifestCounts(m);
  const quarantine = (await lake.quarantineRows(dataset)).map((r) =>
    withProvenance
      ? [r.record_number, r.reasons, r.details, r.raw_record, r.source_key, r.ingest_run_id]
      : [r.record_number, r.reasons, r.details, r.raw_record],
  );
  return { counts, silver: await silverOutcome(lake, dataset, orderBy), quarantine };
}

/** Up to this many silver rows an outcome holds the rows themselves (a failing comparison shows them; above, two digests). */
const ROWS_SHOWN = 1_000;

/**
 * The silver rows of `dataset`: themselves when few, else their count, their column names and a digest of their values
 * computed in DuckDB (the sum of each row's hash, partition values included: the same rows in any order or files give
 * the same digest). Read into objects and compared with `toEqual`, 100k rows took ~9 s a comparison.
 */
async function silverOutcome(
  lake: TestLake,
  dataset: string,
  orderBy: string,
): Promise<Record<string, unknown>[] | { rows: number; columns: string[]; digest: string }> {
  if ((await lake.files('silver', `${dataset}/`)).length === 0) return [];
  const silver = lake.silverRelation(dataset);
  const [summary] = await readWithDuckDb(
    `SELECT count(*) AS n, sum(hash(t)::HUGEINT)::VARCHAR AS digest FROM ${silver} t`,
  );
  const rows = Number(summary?.n);
  if (rows <= ROWS_SHOWN) return lake.silverRows(dataset, orderBy);
  const columns = (await readWithDuckDb(`DESCRIBE SELECT * FROM ${silver}`)).map((c) => String(c.column_name));
  return { rows, columns, digest: String(summary?.digest) };
}

/** Rows of `a` not in `b` plus rows of `b` not in `a`, multiplicity counted (EXCEPT ALL both ways, in DuckDB). */
export async function differingRows(a: string, b: string): Promise<number> {
  const [row] = await readWithDuckDb(
    `SELECT count(*) AS n FROM ((SELECT * FROM read_parquet('${a}') EXCEPT ALL SELECT * FROM read_parquet('${b}'))
      UNION ALL (SELECT * FROM read_parquet('${b}') EXCEPT ALL SELECT * FROM read_parquet('${a}')))`,
  );
  return Number(row?.n);
}

/** The options a fan-out step gets on this lake. */
export const fanOutOptions = (lake: TestLake, contracts: ContractRegistry = loadContracts()): IngestOptions => ({
  contracts,
  store: lake.store,
  catalog: lake.catalog,
  workDir: lake.root,
  ...ENGINE,
});

/** Puts `content` in bronze at `key` and plans it from the object's stream, as the plan step does. */
export async function planOnLocalStore(
  lake: TestLake,
  key: string,
  content: string | Buffer,
  options: FanOutPlanOptions,
  source: Partial<SourceRef> = {},
): Promise<PlanOutcome> {
  await lake.store.putBytes('bronze', key, content);
  return planFanOut({ ...SOURCE, key, ...source }, await lake.store.getStream('bronze', key), options);
}

/** Plans with chunks of `chunkBytes` and demands a fan-out. */
export async function planFannedOut(
  lake: TestLake,
  key: string,
  content: string | Buffer,
  chunkBytes: number,
  contracts?: ContractRegistry,
) {
  const options = fanOutOptions(lake, contracts);
  const planned = await planOnLocalStore(lake, key, content, { ...options, fanOutChunkBytes: chunkBytes });
  if (planned.kind !== 'fan-out') throw new Error('expected a fan-out');
  return { plan: planned.plan, options };
}

export interface FanOutRun {
  planned: PlanOutcome;
  manifest: Manifest;
  /** How the commit ended; absent when the plan ingested the file itself. */
  committed?: CommitOutcome['kind'];
}

/** What the state machine does: plan, every chunk (in reverse order, as a Map may finish them), commit. */
export async function fanOut(
  lake: TestLake,
  key: string,
  content: string | Buffer,
  chunkBytes: number,
  contracts?: ContractRegistry,
): Promise<FanOutRun> {
  const options = fanOutOptions(lake, contracts);
  const planned = await planOnLocalStore(lake, key, content, { ...options, fanOutChunkBytes: chunkBytes });
  if (planned.kind === 'ingested') return { planned, manifest: planned.manifest };
  for (const chunk of [...planned.plan.chunks].reverse()) {
    await transformFanOutChunk(planned.plan, chunk.index, options);
  }
  const committed = await commitFanOut(planned.plan, options);
  return { planned, manifest: committed.manifest, committed: committed.kind };
}

export interface FanOutComparison {
  key: string;
  content: string | Buffer;
  chunkSizes: number[];
  dataset: string;
  contracts?: ContractRegistry;
  /** Checks of one fan-out of its own, before the comparison with one pass. */
  alsoExpect?: (run: FanOutRun, lakes: { onePass: TestLake; fannedOut: TestLake }, chunkBytes: number) => Promise<void>;
}

/**
 * Fans `content` out at every chunk size, each on a fresh lake, and expects what one pass publishes: the
 * same outcome, nothing lost, no staging and no intent record left.
 */
export async function expectFanOutSameAsOnePass(c: FanOutComparison): Promise<void> {
  const onePass = await createTestLake(c.contracts, ENGINE);
  const reference = await publishedOutcome(onePass, c.dataset, await onePass.ingest(c.key, c.content, SOURCE), true);
  for (const chunkBytes of c.chunkSizes) {
    const lake = await createTestLake(c.contracts, ENGINE);
    const run = await fanOut(lake, c.key, c.content, chunkBytes, c.contracts);
    await c.alsoExpect?.(run, { onePass, fannedOut: lake }, chunkBytes);
    expect(await publishedOutcome(lake, c.dataset, run.manifest, true), `chunkBytes ${chunkBytes}`).toEqual(reference);
    expect(run.manifest.rows_in).toBe(run.manifest.rows_valid + run.manifest.rows_quarantined);
    expect(await lake.files('silver', '_staging/')).toEqual([]);
    expect(await lake.files('silver', '_pending/')).toEqual([]);
  }
}
