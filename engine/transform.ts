/**
 * Bronze text → silver Parquet per partition + quarantine Parquet, on local disk. A large input is cut into
 * record-aligned chunks that are transformed independently — in parallel, one single-threaded DuckDB
 * session each — and merged into one result that is exactly what one pass over the whole text gives.
 */
import { mkdir, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { DatasetContract } from './contract/types.ts';
import { withDuckDb, type DuckDbSettings } from './duckdb.ts';
import { MAX_HEADER_BYTES, type HeaderMatch } from './header.ts';
import { silverFileName } from './layout.ts';
import { attachOversize, describeOversize } from './quarantine.ts';
import { concatParquet } from './parquet/concat.ts';
import { ParquetRewriteError } from './parquet/errors.ts';
import { mergeQuarantine, type ChunkQuarantine } from './quarantine-merge.ts';
import { EngineInvariantError, FileRejection, RowReason } from './reasons.ts';
import {
  DEFAULT_REJECTS_LIMITS,
  fieldCountLimits,
  scanInput,
  type InputScan,
  type NumberedOversizeRecord,
  type RejectsLimits,
} from './reader.ts';
import { MIXED_LINE_ENDS } from './routed.ts';
import { crlfToLf } from './sources/line-ends.ts';
import { cutRecords, DEFAULT_MAX_RECORD_BYTES, recordHead } from './sources/oversize.ts';
import { ChunkTee, readBlocks } from './sources/file-blocks.ts';
import { fitForChunksSoFar } from './sources/records.ts';
import { Feed } from './pool.ts';
import { timed, type PhaseObserver } from './phases.ts';
import type { GrowingFile } from './spool.ts';
import type { RunStamp } from './stamp.ts';
import { transformChunk, type ChunkOutput } from './chunks/passes.ts';
import {
  chunkLimits,
  DEFAULT_CHUNKING,
  plannedChunks,
  taperedChunkBytes,
  worthChunking,
  type ChunkingOptions,
} from './chunks/plan.ts';
import {
  CHUNKS_PER_SESSION,
  transformPlannedChunks,
  type ChunkRunOptions,
  type PlannedChunk,
} from './chunks/schedule.ts';
import { chunkDir, chunkTextPath, removeChunkDirs } from './chunks/scratch.ts';

export { SILVER_ROW_GROUP_SIZE } from './routed.ts';

export interface LocalOutputFile {
  localPath: string;
  key: string;
  bytes: number;
}

export interface SilverPartitionOutput {
  values: string[];
  prefix: string;
  rows: number;
  files: LocalOutputFile[];
}

export interface TransformResult {
  /** Records of the input as `record_number` counts them (CSV: blank lines not counted). */
  expectedRows: number;
  rowsIn: number;
  rowsValid: number;
  rowsQuarantined: number;
  reasons: Record<string, number>;
  partitions: SilverPartitionOutput[];
  quarantineFile: string | undefined;
  header: HeaderMatch;
  /** Whether the rejects pass read the input in chunks (many malformed records). */
  chunked: boolean;
  /** Record-aligned chunks the input was transformed in (1: one pass over the whole text). */
  chunks: number;
}

export interface TransformOptions {
  /** @default DEFAULT_REJECTS_LIMITS */
  rejectsLimits?: RejectsLimits;
  /** Longer records are quarantined as RECORD_TOO_LARGE with their first bytes. @default DEFAULT_MAX_RECORD_BYTES (1 MiB) */
  maxRecordBytes?: number;
  /** Chunks transformed at once (each one DuckDB session on one thread). @default 1 */
  parallelism?: number;
  /** How the input is cut. @default DEFAULT_CHUNKING */
  chunking?: ChunkingOptions;
  /** The input is the engine's own scratch copy (decompressed gzip): deleted once a cut copy replaces it. @default false */
  inputDisposable?: boolean;
  /**
   * The input while it is still being spooled: its byte scan follows the spool, so the first chunks start before
   * the last byte has arrived. Its `expectedBytes` stands for the input's size (the chunk plan depends on it) and
   * must be what the spool writes; a spool that fails fails the transform, with nothing of it kept.
   * @default the input is complete
   */
  growing?: GrowingFile;
  /**
   * JSON Lines keys are sampled from this text instead of the input's start, when the input is one chunk of
   * a larger text (a fan-out chunk): the whole text's first lines, so every chunk binds as one pass does.
   * @default the input
   */
  keySamplePath?: string;
  /**
   * Told of each phase as it ends: the scan, each chunk's copy, routed pass, rejects, quarantine and shed, the merge.
   * @default none
   */
  onPhase?: PhaseObserver;
  /**
   * The process's resident bytes above which a session's DuckDB instance gives back the buffers it keeps for reuse
   * after a chunk (below it, the next chunk reuses them). Checked by the entry points (`checkEngineOptions`).
   * @default shedAbove(sessions, memory limit): 128 MiB + the memory limit and 64 MiB per session
   */
  shedAboveBytes?: number;
}

/** The input made ready for the reader: records over the limit cut out, their first bytes kept. */
interface PreparedText {
  path: string;
  /** Whether `path` is the engine's own scratch copy (deletable once a further copy replaces it). */
  disposable: boolean;
  scan: InputScan;
  /** Records cut out, numbered as in the original input, with their first bytes. */
  oversize: Array<NumberedOversizeRecord & { head: string }>;
  /** Records of the original input as `record_number` counts them: what must be accounted for. */
  expectedRows: number;
}

/**
 * The text made ready from its byte scan (records, blank lines, quoting, line ends, oversize records and the
 * chunk plan). Oversize records are cut out — unless the text has carriage returns without a line feed, where
 * the scan cannot tell the records the reader sees (a classic-Mac file is one huge "record" to it): such a text
 * goes to the reader as it is, which rejects what it cannot read, and nothing is lost either way.
 */
async function prepareText(
  contract: DatasetContract,
  path: string,
  disposable: boolean,
  workDir: string,
  maxRecordBytes: number,
  chunking: ChunkingOptions,
  scan: InputScan,
): Promise<PreparedText> {
  if (scan.oversize.length === 0 || scan.lineEnds.bareCr > 0)
    return { path, disposable, scan: { ...scan, oversize: [] }, oversize: [], expectedRows: scan.expectedRows };
  const oversize = await Promise.all(scan.oversize.map(async (o) => ({ ...o, head: await recordHead(path, o) })));
  const cut = join(workDir, 'input.fit.txt');
  await cutRecords(path, cut, scan.oversize);
  if (disposable) await rm(path, { force: true }); // /tmp holds one copy of the text, not two
  const rescan = await scanInput(contract, cut, workDir, {
    maxRecordBytes,
    chunking: chunkLimits((await stat(cut)).size, chunking),
  });
  if (rescan.oversize.length > 0)
    throw new EngineInvariantError('records over the limit remain after cutting them out');
  return { path: cut, disposable: true, scan: rescan, oversize, expectedRows: scan.expectedRows };
}

async function transformChunks(
  settings: DuckDbSettings,
  contract: DatasetContract,
  stamp: RunStamp,
  piiSalt: string,
  text: PreparedText,
  workDir: string,
  options: ChunkRunOptions,
  /** The chunks of `text`, transformed while it was scanned (`scanWhileTransforming`), when they may be kept. */
  early?: Promise<ChunkOutput[]>,
): Promise<ChunkOutput[]> {
  const dirOf = async (i: number): Promise<string> => {
    const dir = chunkDir(workDir, i);
    await mkdir(dir, { recursive: true });
    return dir;
  };
  const csv = contract.source.format === 'csv';
  // A JSON Lines text whose every record was cut out has nothing to bind keys from, nor to read.
  if (!csv && text.oversize.length > 0 && text.scan.expectedRows === 0) return [];
  // One pass makes and closes an instance of its own, whatever the caller's settings carry.
  const own: DuckDbSettings = { ...settings, instance: undefined };
  const onePass = async (): Promise<ChunkOutput[]> => {
    const dir = await dirOf(0);
    try {
      return [
        await transformChunk(
          own,
          contract,
          stamp,
          piiSalt,
          { path: text.path, scan: text.scan, samplePath: options.keySamplePath ?? text.path },
          dir,
          options.rejectsLimits,
          { name: 'one pass', onPhase: options.onPhase },
        ),
      ];
    } catch (e) {
      // DuckDB's strict CSV reader gives up on a file that mixes CRLF and LF line ends (concatenated exports).
      // Such a file is read again with CRLF turned into LF; nothing from the failed attempt is used.
      if (!isMixedLineEnds(e, csv)) throw e;
      await rm(dir, { recursive: true, force: true });
      const normalized = join(workDir, 'input.lf.txt');
      await crlfToLf(text.path, normalized);
      if (text.disposable) await rm(text.path, { force: true });
      const scan = await scanInput(contract, normalized, workDir);
      return [
        await transformChunk(
          own,
          contract,
          stamp,
          piiSalt,
          { path: normalized, scan, samplePath: normalized },
          await dirOf(0),
          options.rejectsLimits,
          { name: 'one pass (CRLF made LF)', onPhase: options.onPhase },
        ),
      ];
    }
  };
  if (!early && !worthChunking(text.scan, (await stat(text.path)).size, options.chunking)) return onePass();
  try {
    const planned = text.scan.chunks.map((chunk) => ({ chunk, soFar: { ...text.scan, oversizeRecords: 0 } }));
    return await (early ??
      transformPlannedChunks(settings, contract, stamp, piiSalt, text.path, workDir, planned, options, {
        chunksExpected: planned.length,
      }));
  } catch (e) {
    // Line ends the scan took for one style that the reader does not (e.g. CR CR LF): one pass, as any such file.
    if (!isMixedLineEnds(e, csv)) throw e;
    await removeChunkDirs(workDir);
    return onePass();
  }
}

const isMixedLineEnds = (e: unknown, csv: boolean): boolean =>
  e instanceof FileRejection && csv && MIXED_LINE_ENDS.test(e.detail);

/** The chunks' partitions as one: files in chunk order, keyed by their position (as one pass would number them). */
function mergePartitions(chunks: readonly ChunkOutput[], sourceId: string): SilverPartitionOutput[] {
  const byPrefix = new Map<string, SilverPartitionOutput>();
  for (const chunk of chunks) {
    for (const p of chunk.partitions) {
      const merged = byPrefix.get(p.prefix) ?? { values: p.values, prefix: p.prefix, rows: 0, files: [] };
      merged.rows += p.rows;
      for (const f of p.files)
        merged.files.push({ ...f, key: `${p.prefix}${silverFileName(sourceId, merged.files.length)}` });
      byPrefix.set(p.prefix, merged);
    }
  }
  return [...byPrefix.values()].sort((x, y) => x.prefix.localeCompare(y.prefix));
}

/** Chunks transformed while the byte scan went on: kept (`outputs`) or `discard`ed once the whole scan is known. */
interface EarlyChunks {
  outputs: Promise<ChunkOutput[]>;
  /**
   * Starts no further chunk, waits for those under way to settle (their outputs and errors unused) and removes the
   * chunks' scratch (`removeChunkDirs`).
   */
  discard(): Promise<void>;
}

/**
 * The byte scan of a text, with its chunks — when `chunked` — transformed while the scan goes on: each chunk as
 * soon as it is planned, while the text up to it is fit for chunking (clean quoting, one line-end style, no
 * record over the limit). Whether they may be kept is only known once the scan ends (the caller checks the
 * whole scan); until then nothing of them is used. A failing scan fails the call once the chunks under way have
 * settled and their scratch directories are removed, so no DuckDB session outlives it and nothing of it is left.
 */
async function scanWhileTransforming(
  workDir: string,
  chunked: boolean,
  scan: (onChunk: ((planned: PlannedChunk) => void) | undefined) => Promise<InputScan>,
  transform: (planned: AsyncIterable<PlannedChunk>, stop: AbortSignal) => Promise<ChunkOutput[]>,
): Promise<{ scan: InputScan; early: EarlyChunks | undefined }> {
  if (!chunked) return { scan: await scan(undefined), early: undefined };
  const feed = new Feed<PlannedChunk>();
  const stop = new AbortController();
  const outputs = transform(feed, stop.signal);
  outputs.catch(() => {}); // awaited by the caller, or discarded
  const early: EarlyChunks = {
    outputs,
    discard: async () => {
      feed.cancel();
      stop.abort();
      await outputs.catch(() => {});
      await removeChunkDirs(workDir);
    },
  };
  try {
    const scanned = await scan((planned) => {
      // Unfit up to here is unfit as a whole: the chunks planned so far and not yet started are dropped too.
      if (fitForChunksSoFar(planned.soFar)) feed.push(planned);
      else {
        feed.cancel();
        stop.abort();
      }
    });
    feed.end();
    return { scan: scanned, early };
  } catch (e) {
    await early.discard();
    throw e;
  }
}

/**
 * Records over the record limit are cut out first (the reader would drop them silently); the text is then
 * transformed whole or in chunks; the chunks' silver files are kept as written, their quarantines (numbered in
 * the whole text as they are written) are made one, and every record the byte scan counted is accounted for. Each
 * session has one DuckDB instance, handed from chunk to chunk with the buffers it keeps for reuse, shed between them
 * when the process is over its memory budget (`shedAbove`; the one pass: an instance of its own), each phase of a
 * chunk a fresh connection on it, so memory stays bounded however large the input and however much of it is broken
 * (per chunk transformed at once).
 */
export async function transformToLocal(
  settings: DuckDbSettings,
  contract: DatasetContract,
  inputPath: string,
  stamp: RunStamp,
  workDir: string,
  piiSalt: string,
  options: TransformOptions = {},
): Promise<TransformResult> {
  const maxRecordBytes = options.maxRecordBytes ?? DEFAULT_MAX_RECORD_BYTES;
  const chunking = options.chunking ?? DEFAULT_CHUNKING;
  const parallelism = options.parallelism ?? 1;
  if (!Number.isInteger(parallelism) || parallelism < 1)
    throw new RangeError(`parallelism must be a whole number ≥ 1, got ${parallelism}`);
  const runOptions: ChunkRunOptions = {
    rejectsLimits: options.rejectsLimits ?? DEFAULT_REJECTS_LIMITS,
    parallelism,
    chunking,
    keySamplePath: options.keySamplePath,
    onPhase: options.onPhase,
    shedAboveBytes: options.shedAboveBytes,
  };
  const { growing } = options;
  const bytes = growing ? growing.expectedBytes : (await stat(inputPath)).size;
  const chunked = bytes >= chunking.minBytesToChunk;
  // The first chunks (as many as are copied ahead of their sessions) are written as the scan reads them: each is
  // ready once the scan has planned it, where a copy would read it all again first (~0.1 s for 32 MiB, on the path to
  // the second session's start). A chunk ends at the first record end past its size (a longer record makes the text
  // unfit for early chunks): one with no end by then (one huge record to the scan, quoting left open) is copied instead.
  const taper = taperedChunkBytes(bytes, chunking);
  const teed = chunked
    ? new ChunkTee(
        Array.from({ length: CHUNKS_PER_SESSION * parallelism }, (_, i) => chunkTextPath(workDir, i)),
        (i) => MAX_HEADER_BYTES + taper(i) + 2 * (maxRecordBytes + 2),
      )
    : undefined;
  // A scan that fails (a followed spool that failed or was refused) leaves no chunk's scratch behind: the text may
  // go again in this work directory.
  const { scan, early } = await timed(options.onPhase, 'scan', () =>
    scanWhileTransforming(
      workDir,
      chunked,
      (onChunk) =>
        scanInput(
          contract,
          inputPath,
          workDir,
          {
            maxRecordBytes,
            chunking: chunkLimits(bytes, chunking),
            // Each chunk's records with a wrong field count are listed as the text is scanned (not read again).
            fieldCounts: chunked ? fieldCountLimits(runOptions.rejectsLimits) : undefined,
            onChunk:
              onChunk &&
              ((chunk, soFar, fieldCounts) => {
                teed?.endAt(chunk, soFar.headerBytes);
                onChunk({ chunk, soFar, fieldCounts });
              }),
          },
          teed ? teed.tee(growing?.follow() ?? readBlocks(inputPath)) : growing?.follow(),
        ).finally(() => teed?.settled()), // nothing writes to a chunk's scratch once the scan is over
      (planned, stop) => {
        stop.addEventListener('abort', () => teed?.stop(), { once: true }); // no chunk of this attempt is used
        return transformPlannedChunks(settings, contract, stamp, piiSalt, inputPath, workDir, planned, runOptions, {
          chunksExpected: plannedChunks(bytes, chunking),
          stop,
          teedFile: teed && ((i) => teed.file(i)),
        });
      },
    ),
  );
  // The scan of a growing input ends once the spool is complete: the whole input is on disk from here on.
  const spooledBytes = growing ? (await stat(inputPath)).size : bytes;
  if (spooledBytes !== bytes) {
    await early?.discard(); // no session of this attempt outlives the failure
    throw new EngineInvariantError(`the spooled input is ${spooledBytes} bytes, not the ${bytes} expected`);
  }
  const keepEarly = early !== undefined && scan.oversize.length === 0 && worthChunking(scan, bytes, chunking);
  if (early && !keepEarly) {
    await early.discard(); // the text goes the long way below: nothing of this attempt is used
  }
  const text = await prepareText(
    contract,
    inputPath,
    options.inputDisposable ?? false,
    workDir,
    maxRecordBytes,
    chunking,
    scan,
  );
  const chunks = await transformChunks(
    settings,
    contract,
    stamp,
    piiSalt,
    text,
    workDir,
    runOptions,
    keepEarly ? early?.outputs : undefined,
  );
  const { oversize } = text;
  const chunkRows = chunks.reduce((sum, c) => sum + c.expectedRows, 0);
  if (chunkRows + oversize.length !== text.expectedRows) {
    throw new EngineInvariantError(
      `chunks hold ${chunkRows} records and ${oversize.length} were cut out; the byte scan counted ${text.expectedRows}`,
    );
  }
  const partitions = mergePartitions(chunks, stamp.sourceId);
  const rowsIn = chunks.reduce((sum, c) => sum + c.records, 0) + oversize.length;
  const rowsValid = partitions.reduce((sum, p) => sum + p.rows, 0);

  const reasons: Record<string, number> = {};
  for (const c of chunks)
    for (const [reason, n] of Object.entries(c.reasons)) reasons[reason] = (reasons[reason] ?? 0) + n;
  if (oversize.length > 0) reasons[RowReason.RECORD_TOO_LARGE] = oversize.length;

  // Chunk quarantines, each numbered in the whole (cut) text already; one pass needs no merge.
  let offset = 0;
  const parts: ChunkQuarantine[] = [];
  for (const [i, c] of chunks.entries()) {
    if (c.recordOffset !== offset)
      throw new EngineInvariantError(
        `chunk ${i} numbered its records from ${c.recordOffset}; ${offset} come before it`,
      );
    if (c.quarantine) parts.push({ ...c.quarantine, recordOffset: 0 });
    offset += c.expectedRows;
  }
  let quarantineFile: string | undefined;
  let rowsQuarantined = 0;
  const only = parts[0];
  if (parts.length === 1 && only && oversize.length === 0) {
    quarantineFile = only.path;
    rowsQuarantined = only.rows;
  } else if (parts.length > 0 || oversize.length > 0) {
    const merged = join(workDir, 'quarantine.parquet');
    // Records cut out for their size are numbered in the original text: a DuckDB merge shifts the others past them.
    const mergeWithDuckDb = (): Promise<number> => {
      const oversizeRows = describeOversize(contract, chunks[0]?.header ?? emptyHeader(), oversize, maxRecordBytes);
      return withDuckDb(
        { ...settings, threads: 1, tempDirectory: join(workDir, 'spill') },
        'merging the quarantine',
        async (db) => {
          await attachOversize(db, oversizeRows, join(workDir, 'oversize.jsonl'));
          return mergeQuarantine(db, stamp, parts, oversize.length, merged);
        },
      );
    };
    // Otherwise the chunks' files one after another, their footers made one: no session, no page read (~0.1 s less
    // than the DuckDB merge of the bench's four chunks); files it cannot take (ParquetRewriteError) are merged by DuckDB.
    const concatenated = async (): Promise<number> => {
      const { rows } = await concatParquet(
        parts.map((p) => p.path),
        merged,
      );
      const expected = parts.reduce((sum, p) => sum + p.rows, 0);
      if (rows !== expected)
        throw new EngineInvariantError(`the merged quarantine holds ${rows} rows, its chunks ${expected}`);
      return rows;
    };
    rowsQuarantined = await timed(options.onPhase, 'quarantine merge', () =>
      oversize.length > 0
        ? mergeWithDuckDb()
        : concatenated().catch((e: unknown) => {
            if (e instanceof ParquetRewriteError) return mergeWithDuckDb();
            throw e;
          }),
    );
    quarantineFile = merged;
  }
  const header = chunks[0]?.header ?? emptyHeader();
  return {
    expectedRows: text.expectedRows,
    rowsIn,
    rowsValid,
    rowsQuarantined,
    reasons,
    partitions,
    quarantineFile,
    header,
    chunked: chunks.some((c) => c.rejectsInChunks),
    chunks: chunks.length,
  };
}

const emptyHeader = (): HeaderMatch => ({ sourceColumns: [], bindings: [], ignored: [] });
