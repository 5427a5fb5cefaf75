/**
 * Step 2 of a fan-out ingest, one invocation per chunk: the header bytes and the chunk's byte range (ranged
 * reads) → the same transform a local chunk gets → its silver files, quarantine and counts staged under
 * keys named by the source and the chunk index. A re-run overwrites the same keys; the result record is
 * written last, so it only exists once everything it names is in place.
 */
import { createWriteStream } from 'node:fs';
import { mkdir, mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { DatasetContract } from '../contract/types.ts';
import { asDeterministicRejection, checkEngineOptions, runStampFor, type IngestOptions } from '../ingest.ts';
import type { ObjectStore, Zone } from '../ports.ts';
import { EngineInvariantError } from '../reasons.ts';
import { DEFAULT_MAX_RECORD_BYTES } from '../sources/oversize.ts';
import { transformToLocal, type TransformResult } from '../transform.ts';
import { chunkQuarantineKey, chunkResultKey, chunkSilverKey } from './keys.ts';
import { sourceOfPlan, type FanOutChunkResult, type FanOutPlan } from './types.ts';

const PARQUET = 'application/vnd.apache.parquet';

/** The contract the plan was made with; a contract changed in between fails the chunk (the plan is stale). */
export function planContract(plan: FanOutPlan, options: Pick<IngestOptions, 'contracts'>): DatasetContract {
  const contract = options.contracts.forKey(plan.source.key);
  if (!contract || contract.name !== plan.dataset || contract.version !== plan.contract_version) {
    throw new EngineInvariantError(
      `the plan of ${plan.source.key} was made with contract ${plan.dataset} ${plan.contract_version}; now ${contract ? `${contract.name} ${contract.version}` : 'no contract'} owns the key`,
    );
  }
  return contract;
}

/** Bytes `[range.start, range.end)` of one version of an object (a ranged GetObject on S3); nothing for an empty range. */
export async function* readRange(
  store: ObjectStore,
  zone: Zone,
  key: string,
  range: { start: number; end: number },
  versionId?: string,
): AsyncIterable<Buffer> {
  if (!(
    Number.isSafeInteger(range.start) &&
    Number.isSafeInteger(range.end) &&
    range.start >= 0 &&
    range.end >= range.start
  )) {
    throw new RangeError(`invalid byte range [${range.start}, ${range.end}) of ${key}`);
  }
  if (range.end === range.start) return;
  const opened = await store.open(zone, key, { versionId, range: { start: range.start, end: range.end - 1 } });
  if (!opened)
    throw new EngineInvariantError(
      `${zone}/${key}${versionId ? ` version ${versionId}` : ''} is gone: cannot read bytes ${range.start}-${range.end - 1}`,
    );
  if (opened.size !== undefined && opened.size !== range.end - range.start) {
    opened.body.destroy();
    throw new EngineInvariantError(
      `${zone}/${key}: asked for ${range.end - range.start} bytes from ${range.start}, got ${opened.size}`,
    );
  }
  yield* opened.body as AsyncIterable<Buffer>;
}

/** Writes the chunk's text (the header, then its records) to `path`, read by range from the store. */
async function downloadChunk(store: ObjectStore, plan: FanOutPlan, index: number, path: string): Promise<void> {
  const chunk = plan.chunks[index];
  if (!chunk)
    throw new RangeError(`chunk ${index} is not in the plan of ${plan.source.key} (${plan.chunks.length} chunks)`);
  const { zone, key, version_id } = plan.text;
  const ranges = [
    { start: 0, end: plan.header_bytes },
    { start: chunk.start, end: chunk.end },
  ];
  await pipeline(async function* () {
    for (const range of ranges) yield* readRange(store, zone, key, range, version_id ?? undefined);
  }, createWriteStream(path));
  const expected = plan.header_bytes + chunk.end - chunk.start;
  const { size } = await stat(path);
  if (size !== expected)
    throw new EngineInvariantError(
      `chunk ${index} of ${plan.source.key}: read ${size} bytes, the plan says ${expected}`,
    );
}

/** Stages the chunk's outputs and returns its result record (already stored). */
async function stage(
  store: ObjectStore,
  plan: FanOutPlan,
  index: number,
  result: TransformResult,
): Promise<FanOutChunkResult> {
  const staging = plan.staging_prefix;
  const partitions: FanOutChunkResult['partitions'] = [];
  for (const p of result.partitions) {
    const files: Array<{ staging_key: string; bytes: number }> = [];
    for (const [i, f] of p.files.entries()) {
      const key = chunkSilverKey(staging, index, p.prefix, i);
      await store.putFile('silver', key, f.localPath, PARQUET);
      files.push({ staging_key: key, bytes: f.bytes });
    }
    partitions.push({ values: p.values, prefix: p.prefix, rows: p.rows, files });
  }
  let quarantine: FanOutChunkResult['quarantine'] = null;
  if (result.quarantineFile && result.rowsQuarantined > 0) {
    quarantine = { staging_key: chunkQuarantineKey(staging, index), rows: result.rowsQuarantined };
    await store.putFile('silver', quarantine.staging_key, result.quarantineFile, PARQUET);
  }
  const bindings = result.header.bindings.filter((b) => b.sourceName !== undefined);
  return {
    index,
    run_id: plan.run_id,
    range: rangeOf(plan, index),
    expected_rows: result.expectedRows,
    rows_in: result.rowsIn,
    rows_valid: result.rowsValid,
    rows_quarantined: result.rowsQuarantined,
    reasons: result.reasons,
    partitions,
    quarantine,
    columns: {
      matched: Object.fromEntries(bindings.map((b) => [b.column.name, b.sourceName as string])),
      ignored: result.header.ignored,
    },
    rejects_in_chunks: result.chunked,
    rejection: null,
  };
}

/**
 * Transforms chunk `index` of a planned fan-out and stages its outputs. Data problems the one pass would
 * reject the file for are recorded in the result (the commit then ingests the file in one pass); failures
 * of the machine or the store throw, for the state machine to retry the chunk.
 */
export async function transformFanOutChunk(
  plan: FanOutPlan,
  index: number,
  options: IngestOptions,
): Promise<FanOutChunkResult> {
  await checkEngineOptions(options);
  const contract = planContract(plan, options);
  const scratch = options.workDir ?? tmpdir();
  await mkdir(scratch, { recursive: true });
  const workDir = await mkdtemp(join(scratch, 'lake-chunk-'));
  try {
    const path = join(workDir, 'chunk.txt');
    await downloadChunk(options.store, plan, index, path);
    // JSON Lines: keys are bound from the whole text's first lines, as the one pass binds them.
    let keySamplePath: string | undefined;
    if (plan.key_sample) {
      keySamplePath = join(workDir, 'key-sample.jsonl');
      const sample = await options.store.open('silver', plan.key_sample);
      if (!sample)
        throw new EngineInvariantError(`the key sample of ${plan.source.key} is gone from silver/${plan.key_sample}`);
      await downloadTo(sample.body, keySamplePath);
    }
    const stamp = runStampFor(sourceOfPlan(plan), contract, new Date(plan.started_at));
    let result: TransformResult;
    try {
      result = await transformToLocal(
        { tempDirectory: join(workDir, 'spill'), memoryLimit: options.memoryLimit },
        contract,
        path,
        stamp,
        workDir,
        options.piiSalt ?? '',
        {
          rejectsLimits: options.rejectsLimits,
          maxRecordBytes: options.maxRecordBytes ?? DEFAULT_MAX_RECORD_BYTES,
          parallelism: options.threads ?? 1,
          chunking: options.chunking,
          inputDisposable: true,
          keySamplePath,
          shedAboveBytes: options.shedAboveBytes,
        },
      );
    } catch (caught) {
      const rejection = asDeterministicRejection(caught);
      if (!rejection) throw caught;
      const output = rejectedChunk(plan, index, {
        reason: rejection.reason,
        detail: rejection.detail.replaceAll(workDir, '<scratch>'),
      });
      await options.store.putBytes(
        'silver',
        chunkResultKey(plan.staging_prefix, index),
        JSON.stringify(output, null, 2),
        'application/json',
      );
      return output;
    }
    // Store failures while staging stay errors (the state machine retries the chunk).
    const output = await stage(options.store, plan, index, result);
    await options.store.putBytes(
      'silver',
      chunkResultKey(plan.staging_prefix, index),
      JSON.stringify(output, null, 2),
      'application/json',
    );
    return output;
  } finally {
    await rm(workDir, { recursive: true, force: true });
  }
}

function rangeOf(plan: FanOutPlan, index: number): { start: number; end: number } {
  const chunk = plan.chunks[index];
  if (!chunk)
    throw new RangeError(`chunk ${index} is not in the plan of ${plan.source.key} (${plan.chunks.length} chunks)`);
  return { start: chunk.start, end: chunk.end };
}

function rejectedChunk(
  plan: FanOutPlan,
  index: number,
  rejection: NonNullable<FanOutChunkResult['rejection']>,
): FanOutChunkResult {
  return {
    index,
    run_id: plan.run_id,
    range: rangeOf(plan, index),
    expected_rows: 0,
    rows_in: 0,
    rows_valid: 0,
    rows_quarantined: 0,
    reasons: {},
    partitions: [],
    quarantine: null,
    columns: { matched: {}, ignored: [] },
    rejects_in_chunks: false,
    rejection,
  };
}

/** Streams an object of the store into a local file. */
export async function downloadTo(stream: Readable, path: string): Promise<void> {
  await pipeline(stream, createWriteStream(path));
}
