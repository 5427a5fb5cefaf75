/**
 * Step 1 of a fan-out ingest: the object is read once as a stream and scanned for record ends as it
 * arrives — nothing of it is kept on local disk (a gzip is decompressed on the fly and its text uploaded to
 * the staging prefix by multipart upload while it is scanned) — and cut into record-aligned chunks that
 * other invocations transform on their own. Locally the plan writes only the header (CSV) or the key sample
 * (JSON Lines), within `planScratchBytes`. A file the byte scan cannot vouch for (stray quotes, mixed line
 * ends, no header line end), that fits one chunk, or that is rejected whole is ingested here in one pass
 * instead, exactly as the one-invocation path would — or, above what one invocation transforms, rejected
 * whole (TOO_LARGE_FOR_ONE_PASS, or the reason the stream found) without a local copy.
 */
import { once } from 'node:events';
import { createWriteStream } from 'node:fs';
import { mkdir, mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { StringDecoder } from 'node:string_decoder';
import { createGunzip } from 'node:zlib';
import type { DatasetContract } from '../contract/types.ts';
import { asCount, queryRows, withDuckDb } from '../duckdb.ts';
import { normalizeEtag } from '../identity.ts';
import {
  asDeterministicRejection,
  checkEngineOptions,
  deletePrefix,
  ingestObject,
  maintainedSince,
  rejectObject,
  runStampFor,
  tooLargeForOnePass,
  type IngestOptions,
  type InputSizes,
} from '../ingest.ts';
import { carriedMarks, intentText, readIntent, writeIntent } from '../intent.ts';
import { readSilverRecord } from '../manifest-reader.ts';
import { manifestKey, pendingKey } from '../layout.ts';
import type { Manifest, PendingIngest, SourceRef } from '../manifest.ts';
import type { ObjectStore, Zone } from '../ports.ts';
import { asFileRejection, numberedRecords, prepareSource, recordLayout } from '../reader.ts';
import { EngineInvariantError, FileRejection, FileReason } from '../reasons.ts';
import { KEY_SAMPLE_LINES, jsonLinesReader } from '../sources/jsonl.ts';
import { DEFAULT_MAX_RECORD_BYTES } from '../sources/oversize.ts';
import { scanRecordStream, type RecordScan } from '../sources/records.ts';
import {
  DEFAULT_EXPANSION_LIMITS,
  expansionCap,
  expansionRejection,
  hasText,
  isGzip,
  isZlibError,
  SNIFF_BYTES,
  textRejection,
  type ExpansionLimits,
} from '../spool.ts';
import { readRange } from './chunk.ts';
import { keySampleKey, planKey, stagedTextKey, stagingPrefix } from './keys.ts';
import type { FanOutPlan } from './types.ts';

/** Text per fan-out chunk: about 40 s of one vCPU at the measured ~13 MB/s, well inside one invocation. @default 512 MiB */
export const DEFAULT_FAN_OUT_CHUNK_BYTES = 512 << 20;

/** The most the plan writes to local disk: the header or the key sample, never the object. @default 256 MiB */
export const DEFAULT_PLAN_SCRATCH_BYTES = 256 << 20;

/**
 * Records of a JSON Lines text the key sample holds: the one pass binds keys from the first KEY_SAMPLE_LINES
 * rows its reader yields, and a tenth more covers lines the reader skips (invalid UTF-8); a sample that
 * still yields fewer rows is not trusted (see `keySample`).
 */
const SAMPLE_RECORDS = Math.ceil(KEY_SAMPLE_LINES * 1.1);

export interface FanOutPlanOptions extends IngestOptions {
  /** A chunk ends at the first record end past this many bytes of text. @default DEFAULT_FAN_OUT_CHUNK_BYTES */
  fanOutChunkBytes?: number;
  /**
   * The most bytes the plan writes to its scratch directory (the CSV header, the JSON Lines key sample); a
   * file that would need more is ingested in one pass instead. @default DEFAULT_PLAN_SCRATCH_BYTES
   */
  planScratchBytes?: number;
  /**
   * How far a gzip may expand while the plan streams it. The plan stores none of the text locally, so the
   * scratch disk that bounds `expansionLimits` on a one-invocation path (Lambda: a share of `/tmp`) does not
   * bound it; its one-pass fallbacks keep `expansionLimits`. @default expansionLimits
   */
  planExpansionLimits?: ExpansionLimits;
}

export type PlanOutcome =
  | { kind: 'fan-out'; plan: FanOutPlan; planKey: string }
  /** Ingested in one pass here (or rejected whole); `why` says why it was not fanned out. */
  | { kind: 'ingested'; manifest: Manifest; why: string };

/** What the stream gave: its sizes and scan, or the reason the text is rejected whole. */
interface StreamedText {
  sizes: InputSizes;
  scan: RecordScan | undefined;
  rejection: FileRejection | undefined;
}

/** Why the scanned text cannot be cut into chunks that read exactly as the one pass reads it, or undefined when it can. */
function whyNotChunked(scan: RecordScan, bytes: number): string | undefined {
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

/** The first buffers of a body until `n` bytes are seen, and the whole body again (those buffers first). */
async function peek(body: AsyncIterable<Uint8Array>, n: number): Promise<{ head: Buffer; all: AsyncIterable<Buffer> }> {
  const iterator = body[Symbol.asyncIterator]();
  const seen: Buffer[] = [];
  let bytes = 0;
  let done = false;
  while (bytes < n) {
    const next = await iterator.next();
    if (next.done) {
      done = true;
      break;
    }
    const buffer = Buffer.from(next.value.buffer, next.value.byteOffset, next.value.byteLength);
    seen.push(buffer);
    bytes += buffer.length;
  }
  async function* all(): AsyncIterable<Buffer> {
    try {
      yield* seen;
      if (done) return;
      for (let next = await iterator.next(); !next.done; next = await iterator.next())
        yield Buffer.from(next.value.buffer, next.value.byteOffset, next.value.byteLength);
      done = true;
    } finally {
      // Stopped early (a rejection, a failed upload): the body is released, not left open.
      if (!done) await iterator.return?.();
    }
  }
  return { head: Buffer.concat(seen).subarray(0, n), all: all() };
}

/**
 * Reads the object once: counts its bytes, decompresses a gzip (recognised by its magic bytes) within the
 * expansion limits, uploads its text to `stagedKey` as it goes (gzip: the chunks need byte ranges of the
 * text), checks the text as `decodeText` does and scans it for record ends. Nothing is written locally.
 */
async function streamText(
  body: AsyncIterable<Uint8Array>,
  contract: DatasetContract,
  store: ObjectStore,
  stagedKey: string,
  options: {
    declaredBytes: number | undefined;
    limits: ExpansionLimits;
    maxRecordBytes: number;
    chunkBytes: number;
    sampleRecords: number | undefined;
  },
): Promise<StreamedText> {
  const { head: magic, all } = await peek(body, 2);
  const gzip = isGzip(magic);
  let bytesIn = 0;
  const raw = (async function* () {
    for await (const buffer of all) {
      bytesIn += buffer.length;
      yield buffer;
    }
  })();
  let bytesText = 0;
  let rejection: FileRejection | undefined;
  const head: Buffer[] = [];
  let headBytes = 0;
  const decoder = new StringDecoder('utf8');
  let content = false;
  // The ratio applies to the object's size: known up front on S3; otherwise once the stream has ended.
  const cap = expansionCap(options.limits, options.declaredBytes ?? Number.POSITIVE_INFINITY);
  const staging = gzip ? new PassThrough() : undefined;
  // Its consumer (the upload) sees an error through its own pipeline, even one raised before it started reading.
  staging?.on('error', () => undefined);
  const upload = staging ? store.putStream('silver', stagedKey, staging, 'text/plain') : undefined;
  // A failed upload stops the scan (and a failed scan the upload): neither waits for the other forever.
  let uploadFailed: Error | undefined;
  upload?.catch((e: unknown) => {
    uploadFailed = e instanceof Error ? e : new Error(String(e));
    staging?.destroy(uploadFailed);
  });
  const text = async function* (): AsyncIterable<Buffer> {
    const source: AsyncIterable<Buffer> = gzip ? gunzip(raw) : raw;
    try {
      for await (const buffer of source) {
        bytesText += buffer.length;
        if (gzip && bytesText > cap)
          throw expansionRejection(options.limits, cap, options.declaredBytes ?? 0, bytesText);
        if (headBytes < SNIFF_BYTES) {
          head.push(buffer.subarray(0, SNIFF_BYTES - headBytes));
          headBytes += Math.min(buffer.length, SNIFF_BYTES - headBytes);
          // Binary text is rejected as soon as its head is in, not after decompressing and staging all of it.
          if (headBytes === SNIFF_BYTES) {
            const binary = await textRejection(Buffer.concat(head), bytesText, () => false);
            if (binary) throw binary;
          }
        }
        if (!content) content = hasText(decoder.write(buffer));
        if (staging) {
          if (uploadFailed) throw uploadFailed;
          if (!staging.write(buffer)) await Promise.race([once(staging, 'drain'), upload]);
        }
        yield buffer;
      }
    } catch (e) {
      if (e instanceof FileRejection) throw e;
      if (isZlibError(e))
        throw new FileRejection(FileReason.UNREADABLE, `gzip data is corrupt: ${(e as Error).message}`);
      throw e;
    }
  };
  let scan: RecordScan | undefined;
  try {
    scan = await scanRecordStream(text(), discard(), {
      ...recordLayout(contract),
      maxRecordBytes: options.maxRecordBytes,
      chunking: { recordsPerChunk: Number.POSITIVE_INFINITY, bytesPerChunk: options.chunkBytes },
      sampleRecords: options.sampleRecords,
    });
    if (gzip && options.declaredBytes === undefined) {
      const capAtEnd = expansionCap(options.limits, bytesIn);
      if (bytesText > capAtEnd) throw expansionRejection(options.limits, capAtEnd, bytesIn, bytesText);
    }
    if (!content) content = hasText(decoder.end());
    rejection = await textRejection(Buffer.concat(head), bytesText, () => !content);
    if (staging) {
      staging.end();
      await upload;
    }
  } catch (e) {
    staging?.destroy(new Error('the text was not staged: its scan stopped'));
    await upload?.catch(() => undefined);
    if (!(e instanceof FileRejection)) throw e;
    rejection = e;
    scan = undefined;
  }
  // A rejected text's sizes are what the one pass reports for it: the bytes as received (the object's declared
  // size: the stream may have stopped early; without one, the bytes read).
  const received = rejection ? (options.declaredBytes ?? bytesIn) : bytesIn;
  return {
    sizes: rejection
      ? { bytesIn: received, bytesUncompressed: received, compression: 'none' }
      : { bytesIn, bytesUncompressed: bytesText, compression: gzip ? 'gzip' : 'none' },
    scan: rejection ? undefined : scan,
    rejection,
  };
}

/** A gzip stream's text, as buffers. */
async function* gunzip(raw: AsyncIterable<Buffer>): AsyncIterable<Buffer> {
  const gunzipper = createGunzip();
  const feeding = pipeline(raw, gunzipper).catch((e: unknown) => gunzipper.destroy(e as Error));
  yield* gunzipper as AsyncIterable<Buffer>;
  await feeding;
}

/** Where blank lines go when nobody needs them. */
const discard = (): Writable =>
  new Writable({
    write(_chunk, _encoding, done) {
      done();
    },
  });

/** Writes byte ranges of the text (read by range from the store) to a local file; its size. */
async function download(
  store: ObjectStore,
  text: { zone: Zone; key: string; versionId?: string },
  ranges: ReadonlyArray<{ start: number; end: number }>,
  path: string,
): Promise<number> {
  await pipeline(async function* () {
    for (const range of ranges) yield* readRange(store, text.zone, text.key, range, text.versionId);
  }, createWriteStream(path));
  return (await stat(path)).size;
}

/** Binds the header (CSV) or the sampled keys (JSON Lines) the way the one pass does; a file rejected there is not worth fanning out. */
async function bindingRejection(
  contract: DatasetContract,
  path: string,
  workDir: string,
  memoryLimit: string | undefined,
): Promise<FileRejection | undefined> {
  try {
    await withDuckDb({ tempDirectory: join(workDir, 'spill'), memoryLimit }, 'binding the header', (db) =>
      prepareSource(db, contract, path, path),
    );
    return undefined;
  } catch (e) {
    const rejection = asDeterministicRejection(asFileRejection(e, contract));
    if (!rejection) throw e;
    return rejection;
  }
}

/** Rows DuckDB's JSON Lines reader yields from the sample (lines it cannot read are skipped, as when sampling keys). */
async function sampleRows(path: string, workDir: string, memoryLimit: string | undefined): Promise<number> {
  return withDuckDb(
    { tempDirectory: join(workDir, 'spill'), memoryLimit, threads: 1 },
    'counting the key sample',
    async (db) => asCount((await queryRows(db, `SELECT count(*) AS n FROM ${jsonLinesReader(path, 'skip')}`))[0]?.n),
  );
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
  await checkEngineOptions(options);
  const startedAt = new Date();
  const { store } = options;
  const contract = options.contracts.forKey(source.key);
  if (!contract)
    return {
      kind: 'ingested',
      manifest: await ingestObject(source, body, options),
      why: 'no dataset contract owns the key',
    };
  // Outputs an erasure or compaction rewrote are not written again (ingestObject answers with their manifest).
  const stamp = runStampFor(source, contract, startedAt);
  const previous = await readSilverRecord<Manifest>(store, manifestKey(stamp.dataset, stamp.sourceId));
  if (maintainedSince(previous, stamp.runId))
    return {
      kind: 'ingested',
      manifest: await ingestObject(source, body, options),
      why: 'its outputs were erased from or compacted',
    };
  const chunkBytes = options.fanOutChunkBytes ?? DEFAULT_FAN_OUT_CHUNK_BYTES;
  if (!(Number.isSafeInteger(chunkBytes) && chunkBytes > 0))
    throw new RangeError(`fanOutChunkBytes must be a whole number ≥ 1, got ${chunkBytes}`);
  const scratchBytes = options.planScratchBytes ?? DEFAULT_PLAN_SCRATCH_BYTES;
  const maxRecordBytes = options.maxRecordBytes ?? DEFAULT_MAX_RECORD_BYTES;
  const jsonLines = contract.source.format === 'jsonl';
  const bronze = { zone: 'bronze' as const, key: source.key, versionId: source.versionId };
  const reopen = async (): Promise<AsyncIterable<Uint8Array>> => {
    const opened = await store.open(bronze.zone, bronze.key, { versionId: bronze.versionId });
    if (!opened)
      throw new EngineInvariantError(
        `bronze/${source.key}${source.versionId ? ` version ${source.versionId}` : ''} is gone: it was being planned`,
      );
    return opened.body;
  };
  const staging = stagingPrefix(stamp.dataset, stamp.sourceId);
  // A new plan starts from an empty staging prefix: chunk results of an earlier plan (other chunk sizes) never count.
  await deletePrefix(store, 'silver', staging);
  const streamed = await streamText(body, contract, store, stagedTextKey(staging), {
    declaredBytes: source.size,
    limits: options.planExpansionLimits ?? options.expansionLimits ?? DEFAULT_EXPANSION_LIMITS,
    maxRecordBytes,
    chunkBytes,
    sampleRecords: jsonLines ? SAMPLE_RECORDS : undefined,
  });
  const { sizes } = streamed;
  /** The one pass over the object — or, above what one invocation transforms, its rejection without a local copy. */
  const inline = async (why: string, rejection?: FileRejection): Promise<PlanOutcome> => {
    await deletePrefix(store, 'silver', staging);
    const limit = options.onePassMaxBytes;
    const tooLarge = limit !== undefined && (rejection ? sizes.bytesIn : sizes.bytesUncompressed) > limit;
    if (!tooLarge) return { kind: 'ingested', manifest: await ingestObject(source, await reopen(), options), why };
    const keepOriginal = async (key: string): Promise<void> =>
      store.putStream('quarantine', key, await reopen(), 'application/octet-stream');
    const verdict = rejection ?? tooLargeForOnePass(sizes.bytesUncompressed, limit);
    const manifest = await rejectObject(source, contract, verdict, sizes, startedAt, { ...options, keepOriginal });
    return { kind: 'ingested', manifest, why };
  };
  if (streamed.rejection)
    return inline(`the file is rejected whole (${streamed.rejection.reason})`, streamed.rejection);
  const scan = streamed.scan;
  if (!scan) throw new EngineInvariantError(`the scan of ${source.key} gave nothing`);
  const why = whyNotChunked(scan, sizes.bytesUncompressed);
  if (why) return inline(why);

  const text =
    sizes.compression === 'gzip'
      ? { zone: 'silver' as const, key: stagedTextKey(staging), versionId: undefined }
      : bronze;
  const scratch = options.workDir ?? tmpdir();
  await mkdir(scratch, { recursive: true });
  const workDir = await mkdtemp(join(scratch, 'lake-plan-'));
  try {
    // Only the header (CSV) or the key sample (JSON Lines) is ever written here, within the scratch budget.
    const sampleEnd = jsonLines ? scan.sampleEnd : scan.headerBytes;
    if (sampleEnd > scratchBytes)
      return await inline(
        `its ${jsonLines ? 'key sample' : 'header'} is ${sampleEnd} bytes, over the plan's ${scratchBytes}-byte scratch budget`,
      );
    // The sample is what the one pass samples: the text's first lines with the records over the limit cut out.
    const kept: Array<{ start: number; end: number }> = [];
    let from = 0;
    for (const o of scan.oversize.filter((r) => r.end <= sampleEnd)) {
      kept.push({ start: from, end: o.start });
      from = o.end;
    }
    kept.push({ start: from, end: sampleEnd });
    const local = join(workDir, jsonLines ? 'key-sample.jsonl' : 'header.csv');
    await download(
      store,
      text,
      kept.filter((r) => r.end > r.start),
      local,
    );
    if (jsonLines) {
      const rows = await sampleRows(local, workDir, options.memoryLimit);
      if (rows === 0) return await inline('no line of the text is read to sample keys from');
      if (sampleEnd < sizes.bytesUncompressed && rows < KEY_SAMPLE_LINES)
        return await inline(
          `the reader skips lines among the first ${SAMPLE_RECORDS}: the one pass samples keys from further on`,
        );
    }
    const rejected = await bindingRejection(contract, local, workDir, options.memoryLimit);
    if (rejected) return await inline(`the header is rejected (${rejected.reason})`);
    if (jsonLines) await store.putFile('silver', keySampleKey(staging), local, 'application/x-ndjson');

    const plan: FanOutPlan = {
      plan_version: 1,
      source: {
        bucket: source.bucket,
        key: source.key,
        version_id: source.versionId ?? null,
        etag: source.etag ?? null,
        last_modified: stamp.ingestedAt.toISOString(),
        size: sizes.bytesIn,
      },
      dataset: stamp.dataset,
      contract_version: contract.version,
      source_id: stamp.sourceId,
      run_id: stamp.runId,
      started_at: startedAt.toISOString(),
      text: { zone: text.zone, key: text.key, version_id: text.versionId ?? null },
      key_sample: jsonLines ? keySampleKey(staging) : null,
      header_bytes: scan.headerBytes,
      expected_rows: numberedRecords(contract, scan),
      sizes,
      chunks: scan.chunks.map((c, index) => ({ index, start: c.start, end: c.end })),
      staging_prefix: staging,
    };
    const intentKey = pendingKey(plan.dataset, plan.source_id);
    // The record names the keys of the record it replaces (an abandoned attempt's, or a concurrent delivery's),
    // written over exactly the record read: one another delivery wrote since is read again and named too.
    const intentOver = (replaced: PendingIngest | undefined): Omit<PendingIngest, 'attempt_id'> => ({
      dataset: plan.dataset,
      run_id: plan.run_id,
      source: {
        bucket: source.bucket,
        key: source.key,
        version_id: source.versionId ?? null,
        etag: normalizeEtag(source.etag) ?? null,
      },
      started_at: plan.started_at,
      silver_keys: replaced?.silver_keys ?? [],
      quarantine_keys: replaced?.quarantine_keys ?? [],
      ...(replaced?.compacted_rows?.length ? { compacted_rows: replaced.compacted_rows } : {}),
      staging_prefix: staging,
    });
    await writeIntent(
      store,
      intentKey,
      await readIntent(store, intentKey),
      // Removals in progress on the record replaced are carried over (engine/intent.ts `releaseRecord`).
      (replaced) => intentText({ ...intentOver(replaced), ...carriedMarks(replaced) }),
      { beforeUploadsOf: plan.run_id },
    );
    await store.putBytes('silver', planKey(staging), JSON.stringify(plan, null, 2), 'application/json');
    return { kind: 'fan-out', plan, planKey: planKey(staging) };
  } finally {
    await rm(workDir, { recursive: true, force: true });
  }
}
