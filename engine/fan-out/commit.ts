/**
 * Step 3 of a fan-out ingest, one invocation once every chunk is staged: the chunks' silver files copied to
 * the keys one ingest gives them, their quarantines merged with record numbers made global, the accounting
 * checked over all chunks, then the ordinary publish (intent record, files, quarantine, partitions,
 * manifest, stale keys — the staging prefix among them — and last the intent record).
 */
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { DatasetContract } from '../contract/types.ts';
import { withDuckDb } from '../duckdb.ts';
import { ingestEvent } from '../events.ts';
import type { HeaderMatch } from '../header.ts';
import {
  buildManifest,
  checkEngineOptions,
  deletePrefix,
  ingestObject,
  publishAndAnnounce,
  rejectObject,
  runStampFor,
  type IngestOptions,
} from '../ingest.ts';
import { readSilverRecord } from '../manifest-reader.ts';
import { manifestKey, pendingKey, silverFileName } from '../layout.ts';
import type { Manifest } from '../manifest.ts';
import { deleteIntentAsRead, readIntent, isSettling } from '../intent.ts';
import { mergeQuarantine, type ChunkQuarantine } from '../quarantine-merge.ts';
import { EngineInvariantError, FileReason, FileRejection } from '../reasons.ts';
import type { RunStamp } from '../stamp.ts';
import type { SilverPartitionOutput, TransformResult } from '../transform.ts';
import { downloadTo, planContract, readRange } from './chunk.ts';
import { chunkResultKey, planKey as planKeyOf, stagingPrefix } from './keys.ts';
import { sourceOfPlan, type FanOutChunkResult, type FanOutPlan } from './types.ts';

export type CommitOutcome =
  | { kind: 'committed'; manifest: Manifest }
  /** A chunk found what only the one pass reads right (e.g. line ends it mixes): ingested in one pass instead. */
  | { kind: 'ingested'; manifest: Manifest; why: string }
  /** Committed before (a retried commit): the manifest of that commit. */
  | { kind: 'already-committed'; manifest: Manifest };

async function chunkResults(plan: FanOutPlan, options: IngestOptions): Promise<FanOutChunkResult[]> {
  return Promise.all(
    plan.chunks.map(async (c) => {
      const key = chunkResultKey(plan.staging_prefix, c.index);
      const result = await readSilverRecord<FanOutChunkResult>(options.store, key);
      if (
        !result ||
        result.run_id !== plan.run_id ||
        result.index !== c.index ||
        result.range?.start !== c.start ||
        result.range?.end !== c.end
      ) {
        throw new EngineInvariantError(
          `chunk ${c.index} of ${plan.source.key} has no result at silver/${key}: it did not finish, nothing is committed`,
        );
      }
      return result;
    }),
  );
}

/** The chunks' partitions as one: files in chunk order, named by their position (as a local chunked ingest names them). */
function mergedPartitions(
  results: readonly FanOutChunkResult[],
  sourceId: string,
  stagingOf: Map<string, string>,
): SilverPartitionOutput[] {
  const byPrefix = new Map<string, SilverPartitionOutput>();
  for (const r of results) {
    for (const p of r.partitions) {
      const merged = byPrefix.get(p.prefix) ?? { values: p.values, prefix: p.prefix, rows: 0, files: [] };
      merged.rows += p.rows;
      for (const f of p.files) {
        const key = `${p.prefix}${silverFileName(sourceId, merged.files.length)}`;
        stagingOf.set(key, f.staging_key);
        merged.files.push({ localPath: '', key, bytes: f.bytes });
      }
      byPrefix.set(p.prefix, merged);
    }
  }
  return [...byPrefix.values()].sort((x, y) => x.prefix.localeCompare(y.prefix));
}

/** The chunks' quarantines as one local file, each numbered from its chunk's first record; its row count. */
async function mergedQuarantine(
  results: readonly FanOutChunkResult[],
  stamp: RunStamp,
  options: IngestOptions,
  workDir: string,
): Promise<{ path: string; rows: number } | undefined> {
  let offset = 0;
  const parts: ChunkQuarantine[] = [];
  for (const r of results) {
    if (r.quarantine) {
      const path = join(workDir, `quarantine-${r.index}.parquet`);
      await downloadTo(await options.store.getStream('silver', r.quarantine.staging_key), path);
      parts.push({ path, rows: r.quarantine.rows, recordOffset: offset });
    }
    offset += r.expected_rows;
  }
  if (parts.length === 0) return undefined;
  const path = join(workDir, 'quarantine.parquet');
  const rows = await withDuckDb(
    { tempDirectory: join(workDir, 'spill'), memoryLimit: options.memoryLimit },
    'merging the quarantine',
    (db) => mergeQuarantine(db, stamp, parts, 0, path),
  );
  const expected = parts.reduce((sum, p) => sum + p.rows, 0);
  if (rows !== expected)
    throw new EngineInvariantError(`the merged quarantine holds ${rows} rows, the chunks quarantined ${expected}`);
  return { path, rows };
}

/** The header match the manifest describes, from the first chunk's (every chunk reads the same header). */
function headerOf(contract: DatasetContract, result: FanOutChunkResult | undefined): HeaderMatch {
  const byName = new Map(contract.columns.map((c) => [c.name, c]));
  const bindings = Object.entries(result?.columns.matched ?? {}).map(([name, sourceName]) => {
    const column = byName.get(name);
    if (!column)
      throw new EngineInvariantError(
        `chunk ${result?.index} bound ${sourceName} to ${name}, which contract ${contract.name} has no column for`,
      );
    return { column, sourceIndex: undefined, sourceName };
  });
  return { sourceColumns: [], bindings, ignored: result?.columns.ignored ?? [] };
}

/** Loads a plan; undefined when it is gone (the source was committed and its staging prefix removed). */
export async function loadPlan(
  options: Pick<IngestOptions, 'store'>,
  dataset: string,
  sourceId: string,
): Promise<FanOutPlan | undefined> {
  return readSilverRecord<FanOutPlan>(options.store, planKeyOf(stagingPrefix(dataset, sourceId)));
}

/** A chunk's rejection as the whole file's: its own reason and detail, with where in the text the chunk was. */
function chunkRejection(chunk: FanOutChunkResult): FileRejection {
  const { reason, detail } = chunk.rejection ?? { reason: '', detail: '' };
  const known = (Object.values(FileReason) as string[]).includes(reason);
  return new FileRejection(
    known ? (reason as FileReason) : FileReason.PROCESSING_FAILED,
    `chunk ${chunk.index} (bytes ${chunk.range.start}-${chunk.range.end} of the text): ${known ? '' : `${reason}: `}${detail}`,
  );
}

/**
 * Commits a planned fan-out whose every chunk has staged its result. Throws (nothing published) when a chunk
 * has no result or the chunks do not account for every record of the plan; a chunk that recorded a
 * rejection sends the whole file through the one pass instead (what the one-invocation path does).
 */
export async function commitFanOut(plan: FanOutPlan, options: IngestOptions): Promise<CommitOutcome> {
  await checkEngineOptions(options);
  const contract = planContract(plan, options);
  const source = sourceOfPlan(plan);
  const results = await chunkResults(plan, options);
  const rejected = results.find((r) => r.rejection);
  if (rejected?.rejection) {
    const body = (): AsyncIterable<Buffer> =>
      readRange(
        options.store,
        'bronze',
        plan.source.key,
        { start: 0, end: plan.source.size },
        plan.source.version_id ?? undefined,
      );
    // Above what one invocation transforms, the verdict is known without spooling the object: rejected whole,
    // its original streamed from bronze to quarantine (a spool of it could fill the scratch disk).
    const limit = options.onePassMaxBytes;
    const manifest =
      limit !== undefined && plan.sizes.bytesUncompressed > limit
        ? await rejectObject(source, contract, chunkRejection(rejected), plan.sizes, new Date(), {
            ...options,
            keepOriginal: (key) => options.store.putStream('quarantine', key, body(), 'application/octet-stream'),
          })
        : await ingestObject(source, body(), options);
    await deletePrefix(options.store, 'silver', plan.staging_prefix);
    return {
      kind: 'ingested',
      manifest,
      why: `chunk ${rejected.index}: ${rejected.rejection.reason} (${rejected.rejection.detail})`,
    };
  }
  const counted = results.reduce((sum, r) => sum + r.expected_rows, 0);
  if (counted !== plan.expected_rows) {
    throw new EngineInvariantError(
      `the chunks of ${plan.source.key} hold ${counted} records; the plan's byte scan counted ${plan.expected_rows}`,
    );
  }
  for (const r of results) {
    if (r.rows_in !== r.rows_valid + r.rows_quarantined)
      throw new EngineInvariantError(
        `chunk ${r.index} of ${plan.source.key}: rows_in ${r.rows_in} != ${r.rows_valid} + ${r.rows_quarantined}`,
      );
  }
  const startedAt = new Date(plan.started_at);
  const stamp = runStampFor(source, contract, startedAt);
  const scratch = options.workDir ?? tmpdir();
  await mkdir(scratch, { recursive: true });
  const workDir = await mkdtemp(join(scratch, 'lake-commit-'));
  try {
    const stagingOf = new Map<string, string>();
    const partitions = mergedPartitions(results, plan.source_id, stagingOf);
    const quarantine = await mergedQuarantine(results, stamp, options, workDir);
    const reasons: Record<string, number> = {};
    for (const r of results)
      for (const [reason, n] of Object.entries(r.reasons)) reasons[reason] = (reasons[reason] ?? 0) + n;
    const result: TransformResult = {
      expectedRows: counted,
      rowsIn: results.reduce((sum, r) => sum + r.rows_in, 0),
      rowsValid: partitions.reduce((sum, p) => sum + p.rows, 0),
      rowsQuarantined: quarantine?.rows ?? 0,
      reasons,
      partitions,
      quarantineFile: quarantine?.path,
      // A JSON Lines chunk whose every record was over the limit bound nothing: any other chunk binds as the whole text.
      header: headerOf(
        contract,
        results.find((r) => Object.keys(r.columns.matched).length + r.columns.ignored.length > 0) ?? results[0],
      ),
      chunked: results.some((r) => r.rejects_in_chunks),
      chunks: plan.chunks.length,
    };
    const manifest = buildManifest(source, stamp, contract, result, undefined, plan.sizes, startedAt);
    const published = await publishAndAnnounce(
      manifest,
      result,
      undefined,
      {
        store: options.store,
        catalog: options.catalog,
        uploadConcurrency: options.uploadConcurrency,
        workDir,
        durationMs: () => Date.now() - startedAt.getTime(),
        stagingPrefix: plan.staging_prefix,
        placeSilver: async (file) => {
          const staged = stagingOf.get(file.key);
          if (!staged) throw new EngineInvariantError(`no staged file for ${file.key}`);
          await options.store.copy('silver', staged, file.key);
        },
      },
      { events: options.events, owner: contract.owner },
    );
    // An erasure or compaction rewrote this run's outputs after the plan: nothing was written (as the plan would have answered).
    if (published.maintained)
      return { kind: 'ingested', manifest: published.manifest, why: 'its outputs were erased from or compacted' };
    return { kind: 'committed', manifest: published.manifest };
  } finally {
    await rm(workDir, { recursive: true, force: true });
  }
}

/**
 * A commit asked again after it succeeded (its plan is gone): the manifest it wrote, if it is this run's —
 * and what the first attempt may not have finished after writing it: a same-run intent record (and the
 * staging prefix it names) left by a crash before its last delete are removed, and the run's event is
 * published again (delivery is at least once; `run_id` identifies the run), as the first attempt may have
 * failed on exactly that.
 */
export async function committedManifest(
  options: Pick<IngestOptions, 'store' | 'contracts' | 'events'>,
  dataset: string,
  sourceId: string,
  runId: string,
): Promise<Manifest | undefined> {
  const { store } = options;
  const manifest = await readSilverRecord<Manifest>(store, manifestKey(dataset, sourceId));
  if (manifest?.run_id !== runId) return undefined;
  const intentKey = pendingKey(dataset, sourceId);
  const read = await readIntent(store, intentKey);
  const intent = read?.record;
  // A record marked by a removal in progress (engine/ingest.ts `settleMaintainedRun`) is its remover's to delete.
  if (read && intent?.run_id === runId && !isSettling(intent)) {
    if (typeof intent.staging_prefix === 'string' && intent.staging_prefix.includes(sourceId))
      await deletePrefix(store, 'silver', intent.staging_prefix);
    await deleteIntentAsRead(store, intentKey, read);
  }
  const owner = options.contracts.forKey(manifest.source.key)?.owner ?? 'unknown';
  await options.events?.publish(ingestEvent(manifest, owner));
  return manifest;
}
