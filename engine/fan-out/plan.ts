/**
 * Step 1 of a fan-out ingest: the object is spooled once, scanned once for record ends, and cut into
 * record-aligned chunks that other invocations transform on their own. A file the byte scan cannot vouch
 * for (stray quotes, mixed line ends, no header line end), that fits one chunk, or that is rejected whole
 * is ingested here in one pass instead, exactly as the one-invocation path would.
 */
import { createReadStream } from 'node:fs';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { DatasetContract } from '../contract/types.ts';
import { withDuckDb } from '../duckdb.ts';
import { normalizeEtag } from '../identity.ts';
import {
  asDeterministicRejection,
  deletePrefix,
  ingestObject,
  maintainedSince,
  runStampFor,
  type IngestOptions,
} from '../ingest.ts';
import { readSilverRecord } from '../manifest-reader.ts';
import { manifestKey, pendingKey } from '../layout.ts';
import type { Manifest, PendingIngest, SourceRef } from '../manifest.ts';
import { asFileRejection, prepareSource, scanInput, type InputScan } from '../reader.ts';
import { FileRejection } from '../reasons.ts';
import { DEFAULT_MAX_RECORD_BYTES } from '../sources/oversize.ts';
import { decodeText, spoolRaw, type SpooledInput } from '../spool.ts';
import { planKey, stagedTextKey, stagingPrefix } from './keys.ts';
import type { FanOutPlan } from './types.ts';

/** Text per fan-out chunk: about 40 s of one vCPU at the measured ~13 MB/s, well inside one invocation. @default 512 MiB */
export const DEFAULT_FAN_OUT_CHUNK_BYTES = 512 << 20;

export interface FanOutPlanOptions extends IngestOptions {
  /** A chunk ends at the first record end past this many bytes of text. @default DEFAULT_FAN_OUT_CHUNK_BYTES */
  fanOutChunkBytes?: number;
}

export type PlanOutcome =
  | { kind: 'fan-out'; plan: FanOutPlan; planKey: string }
  /** Ingested in one pass here; `why` says why it was not fanned out. */
  | { kind: 'ingested'; manifest: Manifest; why: string };

/** Why the scanned text cannot be cut into chunks that read exactly as the one pass reads it, or undefined when it can. */
function whyNotChunked(scan: InputScan, bytes: number): string | undefined {
  const { crlf, lf, bareCr } = scan.lineEnds;
  if (scan.headerBytes < 0) return 'the header has no line end';
  if (!scan.quotingClean) return 'quotes stand where the byte scan cannot vouch for the records the reader sees';
  if (crlf > 0 && lf > 0) return 'CRLF and LF line ends are mixed';
  if (bareCr > 0) return 'carriage returns without a line feed';
  if (scan.chunks.length < 2) return 'the text fits one chunk';
  const covered = scan.headerBytes + scan.chunks.reduce((sum, c) => sum + c.end - c.start, 0);
  if (covered !== bytes) return `the chunks cover ${covered} of ${bytes} bytes`;
  return undefined;
}

/** Binds the header the way the one pass does; a file whose header is rejected is not worth fanning out. */
async function headerRejection(
  contract: DatasetContract,
  text: SpooledInput,
  workDir: string,
  memoryLimit: string | undefined,
): Promise<FileRejection | undefined> {
  try {
    await withDuckDb({ tempDirectory: join(workDir, 'spill'), memoryLimit }, 'binding the header', (db) =>
      prepareSource(db, contract, text.path),
    );
    return undefined;
  } catch (e) {
    const rejection = asDeterministicRejection(asFileRejection(e, contract));
    if (!rejection) throw e;
    return rejection;
  }
}

/**
 * Plans the fan-out of one bronze object (or ingests it here, see the module comment). The plan is a function
 * of the object alone; it is stored under the source's staging prefix, and the source's intent record names
 * that prefix (keeping whatever an abandoned earlier attempt named), so an execution that never commits
 * shows as an unfinished ingest and its staged pieces are removed by the next successful run.
 */
export async function planFanOut(
  source: SourceRef,
  body: AsyncIterable<Uint8Array>,
  options: FanOutPlanOptions,
): Promise<PlanOutcome> {
  const startedAt = new Date();
  const scratch = options.workDir ?? tmpdir();
  await mkdir(scratch, { recursive: true });
  const workDir = await mkdtemp(join(scratch, 'lake-plan-'));
  try {
    const raw = await spoolRaw(body, join(workDir, 'input.raw'));
    const inline = async (why: string): Promise<PlanOutcome> => ({
      kind: 'ingested',
      manifest: await ingestObject(source, createReadStream(raw.rawPath), { ...options, workDir: scratch }),
      why,
    });
    const contract = options.contracts.forKey(source.key);
    if (!contract) return await inline('no dataset contract owns the key');
    // Outputs an erasure or compaction rewrote are not written again (ingestObject answers with their manifest).
    const stamped = runStampFor(source, contract, startedAt);
    const previous = await readSilverRecord<Manifest>(options.store, manifestKey(stamped.dataset, stamped.sourceId));
    if (maintainedSince(previous, stamped.runId)) return await inline('its outputs were erased from or compacted');
    // JSON Lines binds keys sampled from the start of the whole text, which a chunk alone does not have.
    if (contract.source.format !== 'csv')
      return await inline(`${contract.source.format} sources are ingested in one pass`);
    let text: SpooledInput;
    try {
      text = await decodeText(raw, join(workDir, 'input.txt'), options.expansionLimits);
    } catch (e) {
      if (e instanceof FileRejection) return await inline(`the file is rejected whole (${e.reason})`);
      throw e;
    }
    const chunkBytes = options.fanOutChunkBytes ?? DEFAULT_FAN_OUT_CHUNK_BYTES;
    if (!(Number.isSafeInteger(chunkBytes) && chunkBytes > 0))
      throw new RangeError(`fanOutChunkBytes must be a whole number ≥ 1, got ${chunkBytes}`);
    const scan = await scanInput(contract, text.path, workDir, {
      maxRecordBytes: options.maxRecordBytes ?? DEFAULT_MAX_RECORD_BYTES,
      chunking: { recordsPerChunk: Number.POSITIVE_INFINITY, bytesPerChunk: chunkBytes },
    });
    const why = whyNotChunked(scan, text.bytesUncompressed);
    if (why) return await inline(why);
    const header = await headerRejection(contract, text, workDir, options.memoryLimit);
    if (header) return await inline(`the header is rejected (${header.reason})`);

    const stamp = runStampFor(source, contract, startedAt);
    const staging = stagingPrefix(stamp.dataset, stamp.sourceId);
    const { store } = options;
    // A new plan starts from an empty staging prefix: chunk results of an earlier plan (other chunk sizes) never count.
    await deletePrefix(store, 'silver', staging);
    if (text.compression === 'gzip') await store.putFile('silver', stagedTextKey(staging), text.path, 'text/plain');
    const plan: FanOutPlan = {
      plan_version: 1,
      source: {
        bucket: source.bucket,
        key: source.key,
        version_id: source.versionId ?? null,
        etag: source.etag ?? null,
        last_modified: stamp.ingestedAt.toISOString(),
        size: raw.bytesIn,
      },
      dataset: stamp.dataset,
      contract_version: contract.version,
      source_id: stamp.sourceId,
      run_id: stamp.runId,
      started_at: startedAt.toISOString(),
      text:
        text.compression === 'gzip'
          ? { zone: 'silver', key: stagedTextKey(staging), version_id: null }
          : { zone: 'bronze', key: source.key, version_id: source.versionId ?? null },
      header_bytes: scan.headerBytes,
      expected_rows: scan.expectedRows,
      sizes: { bytesIn: raw.bytesIn, bytesUncompressed: text.bytesUncompressed, compression: text.compression },
      chunks: scan.chunks.map((c, index) => ({ index, start: c.start, end: c.end })),
      staging_prefix: staging,
    };
    const intentKey = pendingKey(plan.dataset, plan.source_id);
    const abandoned = await readSilverRecord<PendingIngest>(store, intentKey);
    const intent: PendingIngest = {
      dataset: plan.dataset,
      run_id: plan.run_id,
      source: {
        bucket: source.bucket,
        key: source.key,
        version_id: source.versionId ?? null,
        etag: normalizeEtag(source.etag) ?? null,
      },
      started_at: plan.started_at,
      silver_keys: abandoned?.silver_keys ?? [],
      quarantine_keys: abandoned?.quarantine_keys ?? [],
      staging_prefix: staging,
    };
    await store.putBytes('silver', intentKey, JSON.stringify(intent, null, 2), 'application/json');
    await store.putBytes('silver', planKey(staging), JSON.stringify(plan, null, 2), 'application/json');
    return { kind: 'fan-out', plan, planKey: planKey(staging) };
  } finally {
    await rm(workDir, { recursive: true, force: true });
  }
}
