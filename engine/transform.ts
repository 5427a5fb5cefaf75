/**
 * Bronze text → silver Parquet per partition + quarantine Parquet, on local disk. A large input is cut into
 * record-aligned chunks that are transformed independently — in parallel, one single-threaded DuckDB
 * session each — and merged into one result that is exactly what one pass over the whole text gives.
 */
import { mkdir, readdir, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { DatasetContract } from './contract/types.ts';
import type { DuckDBInstance } from '@duckdb/node-api';
import {
  asCount,
  createDuckDbInstance,
  queryRows,
  shedBuffers,
  withDuckDb,
  withDuckDbInstance,
  type DuckDbSettings,
} from './duckdb.ts';
import { MAX_HEADER_BYTES, type HeaderMatch } from './header.ts';
import { silverFileName } from './layout.ts';
import { attachOversize, attachRejected, describeOversize, writeQuarantine } from './quarantine.ts';
import { concatParquet } from './parquet/concat.ts';
import { ParquetRewriteError } from './parquet/errors.ts';
import { mergeQuarantine, type ChunkQuarantine } from './quarantine-merge.ts';
import { EngineInvariantError, FileReason, FileRejection, RowReason } from './reasons.ts';
import {
  DEFAULT_REJECTS_LIMITS,
  fieldCountLimits,
  fieldCountsStandForRejects,
  findMalformed,
  listFieldCounts,
  numberedRecords,
  scanInput,
  type InputScan,
  type NumberedOversizeRecord,
  type RejectsLimits,
} from './reader.ts';
import { finishSilver, MIXED_LINE_ENDS, writeRouted, type RoutedPartition } from './routed.ts';
import { crlfToLf } from './sources/line-ends.ts';
import { cutRecords, DEFAULT_MAX_RECORD_BYTES, recordHead } from './sources/oversize.ts';
import { ChunkTee, readBlocks } from './sources/file-blocks.ts';
import type { ChunkFieldCounts } from './sources/field-counts.ts';
import {
  fitForChunksSoFar,
  readerSeesScannedRecords,
  writeChunk,
  type ByteChunk,
  type ScanSoFar,
} from './sources/records.ts';
import { Feed, inPool, OrderedSlots } from './pool.ts';
import { sqlString } from './sql.ts';
import { timed, type PhaseObserver } from './phases.ts';
import type { GrowingFile } from './spool.ts';
import type { RunStamp } from './stamp.ts';

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
  /** Told of each phase as it ends: the scan, each chunk's copy, routed pass, rejects and quarantine, the merge. @default none */
  onPhase?: PhaseObserver;
}

/**
 * How an input is cut into chunks: a function of the input alone (never of the machine), so a re-run on
 * any machine writes the same keys and bytes. Parallelism only decides how many chunks run at once.
 */
export interface ChunkingOptions {
  /**
   * Chunks average at most this many bytes (the first up to `CHUNK_TAPER` more, the last as much less); each ends
   * at the first record end past its size. @default 32 MiB
   */
  chunkBytes: number;
  /** Inputs smaller than this are one pass over the whole text. @default 64 MiB */
  minBytesToChunk: number;
}

export const DEFAULT_CHUNKING: ChunkingOptions = { chunkBytes: 32 << 20, minBytesToChunk: 64 << 20 };

/** What one chunk (or the whole text, as one chunk) gave. */
interface ChunkOutput {
  /** Records of this chunk as `record_number` counts them: its records less blank lines (CSV), its lines (JSON Lines). */
  expectedRows: number;
  /** Records routed (valid + rejected) plus malformed ones. */
  records: number;
  partitions: RoutedPartition[];
  /** Records of the text before this chunk, as `record_number` counts them: its quarantine rows are numbered after them. */
  recordOffset: number;
  /** Its quarantine rows, numbered in the whole text, or undefined when it has none. */
  quarantine: Omit<ChunkQuarantine, 'recordOffset'> | undefined;
  reasons: Record<string, number>;
  header: HeaderMatch;
  rejectsInChunks: boolean;
  /** Records the reader could not read (found by the rejects pass). */
  malformedRecords: number;
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
 * The average bytes per chunk that cut a text of `bytes` into as few chunks of about `chunkBytes` at most as
 * possible (a short last chunk would leave a core idle while the others finish); `taperedChunkBytes` sizes each
 * one around it. A function of the text's size alone, as the chunk plan must be.
 */
export function evenChunkBytes(bytes: number, chunking: ChunkingOptions): number {
  if (!(bytes > chunking.chunkBytes)) return chunking.chunkBytes;
  return Math.ceil(bytes / Math.ceil(bytes / chunking.chunkBytes));
}

/**
 * How much bigger than the average the first chunk is, and smaller the last (the sizes between fall evenly).
 * Chunks are planned and started in order, so a later one starts later: with less text it finishes about when the
 * earlier ones do (at two sessions the second starts ~0.15 s after the first, once the scan has planned it and
 * it is copied — with even chunks that core then idled at the end).
 */
export const CHUNK_TAPER = 0.1;

/**
 * Bytes of chunk `index` of a text of `bytes`: as many chunks as `evenChunkBytes` plans (fewer only where a record
 * is a sizable share of a chunk: each chunk ends past its size), the first `CHUNK_TAPER` above their average size
 * and the last as far below it. A function of the text's size alone.
 */
export function taperedChunkBytes(bytes: number, chunking: ChunkingOptions): (index: number) => number {
  const even = evenChunkBytes(bytes, chunking);
  const chunks = plannedChunks(bytes, chunking);
  if (chunks < 2) return () => even;
  return (index) =>
    Math.ceil(even * (1 + (CHUNK_TAPER * (chunks - 1 - 2 * Math.min(index, chunks - 1))) / (chunks - 1)));
}

/** How many chunks the byte scan plans for a text of `bytes` (fewer where a record is a sizable share of a chunk). */
function plannedChunks(bytes: number, chunking: ChunkingOptions): number {
  return Math.ceil(bytes / evenChunkBytes(bytes, chunking));
}

/** The byte scan's chunking for a text of `bytes`: record-aligned chunks, later ones a little smaller. */
const chunkLimits = (bytes: number, chunking: ChunkingOptions) => ({
  recordsPerChunk: Number.POSITIVE_INFINITY,
  bytesPerChunk: taperedChunkBytes(bytes, chunking),
});

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

/**
 * One chunk (or the whole text): its DuckDB work (`chunkPasses`), then its silver files finished.
 */
async function transformChunk(...args: Parameters<typeof chunkPasses>): Promise<ChunkOutput> {
  return (await chunkPasses(...args)).finish();
}

/** A chunk whose DuckDB work is done: what is left (`finish`: the silver footers, the accounting) needs no session. */
interface ChunkPasses {
  /** Records the reader could not read (found by the rejects pass). */
  malformedRecords: number;
  finish(): Promise<ChunkOutput>;
}

/**
 * A chunk's DuckDB work: the routed pass, the rejects pass when the reader skipped records, and its quarantine,
 * numbered in the whole text (after `text.recordOffset` records). Every record the byte scan counted must be accounted for as a row the reader yielded
 * or a malformed record, else the file is rejected whole: a record never vanishes.
 */
async function chunkPasses(
  settings: DuckDbSettings,
  contract: DatasetContract,
  stamp: RunStamp,
  piiSalt: string,
  text: {
    path: string;
    scan: InputScan;
    samplePath: string;
    expectMalformed?: boolean;
    /** Records of the whole text before this chunk, as `record_number` counts them. @default 0 */
    recordOffset?: number;
    /** Its records with a wrong field count, listed by the byte scan of the whole text. @default listed here */
    fieldCounts?: ChunkFieldCounts;
    /** Its routed pass's files in the text's shared output directory, named after the chunk. @default in `dir`'s own */
    sharedOut?: SharedOutput;
  },
  dir: string,
  limits: RejectsLimits,
  /** Told of the chunk's phases, named after `name`. */
  phases: { name: string; onPhase?: PhaseObserver } = { name: 'chunk' },
  /**
   * Called once the routed pass is done (told whether the reader skipped records, and whether the rejects pass or the
   * quarantine has DuckDB work left): the instance they run on instead, when the session is handed over meanwhile
   * (`sessionGiven` is called once it is given to another chunk). Only the instance changes: the chunk's own settings
   * are kept (a full rejects pass's instances spill in the chunk's directory, not beside another chunk's).
   * @default the same session throughout
   */
  handOver?: (routed: {
    readerSkipped: boolean;
    workLeft: boolean;
    sessionGiven: () => void;
  }) => Promise<DuckDBInstance | undefined>,
): Promise<ChunkPasses> {
  const phase = <T>(what: string, work: () => Promise<T>): Promise<T> =>
    timed(phases.onPhase, `${phases.name} ${what}`, work);
  // Its phases run one after another on one single-threaded instance, each a connection of its own.
  return withDuckDbInstance({ ...settings, threads: 1, tempDirectory: join(dir, 'spill') }, async (routedSession) => {
    let session = routedSession;
    const { scan } = text;
    const recordOffset = text.recordOffset ?? 0;
    // The records with a wrong field count, as the byte scan listed them; else, where malformed records are likely,
    // listed on the JavaScript thread while DuckDB's one thread reads (else only once the read says the chunk has some).
    const unneeded = new AbortController();
    const listing =
      text.fieldCounts && fieldCountsStandForRejects(contract, scan)
        ? Promise.resolve(text.fieldCounts.mismatches)
        : text.expectMalformed
          ? listFieldCounts(contract, text.path, scan, limits, unneeded.signal)
          : undefined;
    listing?.catch(() => {}); // awaited below, or stopped when not needed
    let footers: Promise<RoutedPartition[]> | undefined;
    try {
      const routed = await phase('routed', () =>
        withDuckDb(session, 'writing silver', (db) =>
          writeRouted(
            db,
            contract,
            text.path,
            piiSalt,
            text.sharedOut?.dir ?? join(dir, 'out'),
            text.samplePath,
            text.sharedOut?.as,
          ),
        ),
      );
      // The silver files' footers need no session: rewritten (JavaScript thread, file system) once the session needs
      // this chunk no more — its DuckDB work done, or the session given to another chunk — while the next chunk's
      // routed pass runs. Beside this chunk's rejects pass and quarantine they held up each of its steps on the
      // JavaScript thread (one thread: its rejects pass took 66–93 ms instead of 22–43).
      const startFooters = (): Promise<RoutedPartition[]> => {
        if (!footers) {
          footers = phase('silver footers', () => finishSilver(routed, stamp));
          footers.catch(() => {}); // awaited by finish(), or before the chunk's failure is thrown
        }
        return footers;
      };
      const readerSkipped = routed.readerRows < scan.expectedRows;
      // The rejects pass reads the text only when records were skipped or its quoting was unclean (`findMalformed`).
      const workLeft = readerSkipped || !scan.quotingClean || routed.rejectedRows > 0;
      // One pass (no other chunk to overlap with) or nothing left for DuckDB: at once.
      if (!workLeft || !handOver) startFooters();
      const handed = await handOver?.({ readerSkipped, workLeft, sessionGiven: () => void startFooters() });
      if (handed) session = { ...session, instance: handed };
      const malformed = await phase('rejects', () =>
        findMalformed(session, contract, text.path, dir, scan, routed.readerRows, limits, listing),
      );
      unneeded.abort(); // a listing still running was not needed (nothing skipped)
      if (routed.readerRows + malformed.count !== scan.expectedRows) {
        throw new FileRejection(
          FileReason.UNREADABLE,
          `the ${contract.source.format} reader accounted for ${routed.readerRows + malformed.count} of the ${scan.expectedRows} records the byte scan counted (${routed.readerRows} read, ${malformed.count} malformed)`,
        );
      }
      const quarantinePath = join(dir, 'quarantine.parquet');
      // A chunk with nothing to quarantine (every record valid) opens no session for it.
      const { rows, reasons } = await (routed.rejectedRows + malformed.count === 0
        ? { rows: 0, reasons: {} }
        : phase('quarantine', () =>
            withDuckDb(session, 'writing quarantine', async (db) => {
              await attachRejected(
                db,
                contract,
                { files: routed.rejectedFiles, payloadColumn: routed.payloadColumn },
                malformed,
                scan,
              );
              const written = await writeQuarantine(db, stamp, malformed.count, quarantinePath, recordOffset);
              // Counted from the file just written: the rows' reasons are computed once, malformed records included.
              const byReason: Record<string, number> = {};
              if (written > 0) {
                for (const row of await queryRows(
                  db,
                  `SELECT r, count(*) AS n FROM (SELECT unnest(reasons) AS r FROM read_parquet(${sqlString(quarantinePath)})) GROUP BY r`,
                )) {
                  byReason[String(row.r)] = asCount(row.n);
                }
              }
              return { rows: written, reasons: byReason };
            }),
          ));
      const rewriting = startFooters();
      return {
        malformedRecords: malformed.count,
        finish: async () => {
          const partitions = await rewriting;
          const valid = partitions.reduce((sum, p) => sum + p.rows, 0);
          return {
            expectedRows: scan.expectedRows,
            records: valid + routed.rejectedRows + malformed.count,
            recordOffset,
            partitions,
            quarantine: rows > 0 ? { path: quarantinePath, rows } : undefined,
            reasons,
            header: routed.header,
            rejectsInChunks: malformed.chunked,
            malformedRecords: malformed.count,
          };
        },
      };
    } catch (e) {
      await footers?.catch(() => {}); // nothing writes in the chunk's scratch once its failure is thrown
      throw e;
    } finally {
      unneeded.abort(); // a listing still running was not needed (the pass failed)
    }
  });
}

/**
 * Whether the text is cut into chunks: large enough, read by DuckDB exactly as the byte scan reads it (clean
 * quoting, one line-end style, no stray carriage return), and wholly covered by the planned chunks.
 */
function worthChunking(scan: InputScan, bytes: number, chunking: ChunkingOptions): boolean {
  const covered =
    scan.headerBytes >= 0 &&
    scan.chunks.length > 0 &&
    scan.headerBytes + scan.chunks.reduce((sum, c) => sum + c.end - c.start, 0) === bytes;
  return bytes >= chunking.minBytesToChunk && covered && readerSeesScannedRecords(scan);
}

/** A chunk as the byte scan planned it, with what the scan knew of the text up to there. */
interface PlannedChunk {
  chunk: ByteChunk;
  soFar: ScanSoFar;
  /** Its records with a wrong field count, when the scan listed them. */
  fieldCounts?: ChunkFieldCounts;
}

type ChunkRunOptions = Required<Pick<TransformOptions, 'rejectsLimits' | 'parallelism' | 'chunking'>> &
  Pick<TransformOptions, 'keySamplePath' | 'onPhase'>;

/** Chunks under way per session: its own and the next one, written while it runs (their files are on disk at once). */
const CHUNKS_PER_SESSION = 2;

/**
 * Transforms the chunks of the text at `path` as they come, `parallelism` at once. Each is written to a file of
 * its own ahead of its turn, so a session that finishes finds the next one written: at most `CHUNKS_PER_SESSION` ×
 * `parallelism` chunk texts are on disk at once; with more than one session, `parallelism` more (chunks waiting for
 * a spare session to finish, or, when none waits, texts written a round further ahead).
 */
function transformPlannedChunks(
  settings: DuckDbSettings,
  contract: DatasetContract,
  stamp: RunStamp,
  piiSalt: string,
  path: string,
  workDir: string,
  planned: Iterable<PlannedChunk> | AsyncIterable<PlannedChunk>,
  options: ChunkRunOptions,
  early: {
    /**
     * Chunks the plan will have (the scan's plan is a function of the text's size): that many sessions, up to
     * `parallelism`, have their instances made at once.
     * @default 1
     */
    chunksExpected?: number;
    /**
     * Once aborted, no chunk starts its transform: those under way finish their pass (one waiting for a spare session
     * for its rejects pass stops there).
     */
    stop?: AbortSignal;
    /** Chunk `i`'s file, when it was written while the text was scanned (`ChunkTee`); undefined: copied. */
    teedFile?: (i: number) => Promise<string | undefined>;
  } = {},
): Promise<ChunkOutput[]> {
  const { stop } = early;
  const sessions = new OrderedSlots(options.parallelism);
  // Every DuckDB instance made: one per session, each handed from chunk to chunk, all closed once the chunks settle.
  const made: Array<Promise<DuckDBInstance>> = [];
  const makeInstance = (): Promise<DuckDBInstance> => {
    const instance = createDuckDbInstance({
      ...settings,
      threads: 1,
      tempDirectory: join(workDir, `spill-${made.length}`),
    });
    instance.catch(() => {}); // awaited by a chunk, or closed unused
    made.push(instance);
    return instance;
  };
  // Instances whose chunk's DuckDB work is done, their buffers shed: taken by the next chunk to get a session.
  const idle: DuckDBInstance[] = [];
  // The first round's instances (one per session, `made[i]` for chunk i) are made at once, while the scan runs: a
  // chunk's pass starts as soon as the scan has planned it. (Made once its chunk was planned, an instance kept that
  // chunk waiting the 12–16 ms DuckDB takes to make one.)
  const firstRound = Math.max(1, Math.min(options.parallelism, early.chunksExpected ?? 1));
  for (let k = 0; k < firstRound; k++) makeInstance();
  // One copy at a time, in chunk order: copies running side by side only slow the one a session waits for.
  const copies = new OrderedSlots(1);
  let malformedSeen = false;
  // The first failure of a chunk: no chunk starts its copy or its transform after it, and it is what is thrown.
  let failure: { error: unknown } | undefined;
  const unwanted = (): boolean => failure !== undefined || stop?.aborted === true;
  // Each chunk numbers its quarantine rows in the whole text (chunks come in text order): the merge only concatenates.
  let recordsBefore = 0;
  // Hands an instance on without the buffers it keeps for reuse; one that cannot shed them is closed (the next makes one).
  // Never fails: the chunk's work is done.
  const handBack = async (instance: DuckDBInstance): Promise<void> => {
    const shed = await shedBuffers(instance, settings).then(
      () => true,
      () => false,
    );
    if (shed) idle.push(instance);
    else closeOnce(instance);
  };
  // With more than one session, a chunk whose routed pass is done while another chunk, its text written, waits for a
  // session gives it its session: its rejects pass and quarantine wait for a spare one (no chunk waiting), e.g. the
  // session that would idle while the last routed pass runs. At most one such chunk per session; each holds its place
  // meanwhile, in one round more under way.
  const deferring = options.parallelism > 1;
  const underWay = (CHUNKS_PER_SESSION + (deferring ? 1 : 0)) * options.parallelism;
  // Chunks whose text is written (and blank lines listed), waiting for their session; chunks shedding their instance to
  // give one of those their session; chunks waiting for (or holding) a spare one. (The slot given goes to the earliest
  // chunk waiting, which may still be listing its blank lines: rare, and its session waits for that, as before.)
  let ready = 0;
  let offering = 0;
  let deferred = 0;
  const worthHandingOver = (): boolean => deferring && ready > offering && deferred < options.parallelism;
  const chunks = inPool(planned, underWay, async ({ chunk, soFar, fieldCounts }, i) => {
    const recordOffset = recordsBefore;
    recordsBefore += numberedRecords(contract, chunk);
    // Both asked for in chunk order, before anything is awaited.
    const copy = copies.take();
    const session = sessions.take();
    let copied: (() => void) | undefined;
    // The session slot held (the chunk's own, then a spare one once it gave its own away), released once.
    let held: (() => void) | undefined;
    let taken = false;
    // Whether it gave its session to a waiting chunk (counted in `deferred` until its own DuckDB work is done).
    let handedOver = false;
    const undefer = (): void => {
      if (handedOver) deferred--;
      handedOver = false;
    };
    try {
      // A chunk of the first round (one per session) takes an instance made at the start (one past the sessions
      // expected, e.g. where a long record made fewer chunks: made now); a later one takes the instance of the chunk
      // whose session it gets. A new instance per chunk cost more than making it (15–50 ms, made ahead): its
      // memory faulted in anew, and closing it held the JavaScript thread 10–20 ms.
      const ahead = i < firstRound ? made[i] : i < options.parallelism && !unwanted() ? makeInstance() : undefined;
      copied = await copy;
      if (unwanted()) throw new ChunkNotStarted(i);
      const dir = chunkDir(workDir, i);
      const chunkPath = chunkTextPath(workDir, i);
      await mkdir(dir, { recursive: true });
      const written = await early.teedFile?.(i);
      if (unwanted()) throw new ChunkNotStarted(i); // stopped while its text was teed: not copied instead
      if (written !== chunkPath)
        await timed(options.onPhase, `chunk ${i} copy`, () => writeChunk(path, soFar.headerBytes, chunk, chunkPath));
      copied();
      copied = undefined;
      // A chunk with blank lines lists them for itself, before its turn (a session would wait meanwhile).
      const scan = chunk.blankLines === 0 ? chunkScan(chunk, soFar) : await scanInput(contract, chunkPath, dir);
      ready++;
      try {
        held = await session;
      } finally {
        ready--;
      }
      taken = true;
      if (unwanted()) throw new ChunkNotStarted(i);
      let instance = await (ahead ?? idle.pop() ?? makeInstance());
      const passes = await chunkPasses(
        { ...settings, instance },
        contract,
        stamp,
        piiSalt,
        // Likely (when the scan did not list the chunk): nothing is known yet (the first chunks, one per session, start
        // together), or an earlier chunk had some. Such a listing reads the chunk's text again (~0.02 s per 32 MiB).
        {
          path: chunkPath,
          scan,
          samplePath: options.keySamplePath ?? path,
          expectMalformed: malformedSeen || i < options.parallelism,
          recordOffset,
          fieldCounts,
          sharedOut: chunkOutput(workDir, i),
        },
        dir,
        options.rejectsLimits,
        { name: `chunk ${i}`, onPhase: options.onPhase },
        async ({ readerSkipped, workLeft, sessionGiven }) => {
          malformedSeen ||= readerSkipped;
          if (!workLeft || !worthHandingOver()) return undefined;
          deferred++;
          handedOver = true;
          offering++;
          try {
            await handBack(instance);
          } finally {
            offering--;
          }
          if (ready > 0) {
            held?.();
            held = undefined;
            sessionGiven();
            held = await sessions.spare();
            if (unwanted()) throw new ChunkNotStarted(i);
          } else {
            undefer(); // the chunk that waited got a session meanwhile: this one keeps its own
          }
          instance = await (idle.pop() ?? makeInstance());
          return instance;
        },
      );
      malformedSeen ||= passes.malformedRecords > 0;
      await handBack(instance);
      // The next chunk's pass starts while this one's silver files are finished (no session needed for that).
      held?.();
      held = undefined;
      undefer();
      const output = await passes.finish();
      await rm(chunkPath, { force: true }); // read by nothing from here on
      return output;
    } catch (e) {
      if (!(e instanceof ChunkNotStarted)) failure ??= { error: e };
      throw e;
    } finally {
      copied?.();
      if (held) held();
      else if (!taken) (await session)();
      undefer();
    }
  });
  return (
    chunks
      .catch((e: unknown) => {
        throw failure ? failure.error : e;
      })
      // None outlives the call; one that fails to close does not fail the transform (its work is done).
      .finally(() => Promise.all(made.map((instance) => instance.then(closeOnce).catch(() => {}))))
  );
}

const closed = new WeakSet<DuckDBInstance>();

/**
 * Closes an instance unless it was closed already (one that could not be made failed its chunk, or was not taken). A
 * close that fails fails nothing: the instance's work is done.
 */
function closeOnce(instance: DuckDBInstance): void {
  if (closed.has(instance)) return;
  closed.add(instance);
  try {
    instance.closeSync();
  } catch {
    // its work is done (above)
  }
}

/** A chunk not started because another failed first, or because the chunks are not wanted any more. */
class ChunkNotStarted extends Error {
  constructor(index: number) {
    super(`chunk ${index} not transformed: stopped`);
  }
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

/**
 * A chunk's byte scan, as the scan of the whole text knew it when it planned the chunk, for a chunk without
 * blank lines (else the chunk is scanned for its own list of them, numbered within the chunk). Its quoting is
 * clean and its line ends are one style, as a chunked text's are.
 */
function chunkScan(chunk: ByteChunk, soFar: ScanSoFar): InputScan {
  return {
    records: chunk.records,
    blankLines: 0,
    maxRecordBytes: chunk.maxRecordBytes,
    quotingClean: soFar.quotingClean,
    oversize: [],
    lineEnds: soFar.lineEnds,
    headerBytes: soFar.headerBytes,
    chunks: [],
    sampleEnd: -1,
    expectedRows: chunk.records,
    blankLinesFile: undefined,
  };
}

/** Removes every chunk's scratch directory and their shared output (a discarded or failed attempt at the chunks). */
async function removeChunkDirs(workDir: string): Promise<void> {
  for (const entry of await readdir(workDir)) {
    if (/^chunk-\d{5}$/.test(entry) || entry === CHUNKS_OUT)
      await rm(join(workDir, entry), { recursive: true, force: true });
  }
}

/** A chunk's name: its scratch directory's, and the start of its files' names in the shared output. */
const chunkName = (index: number): string => `chunk-${String(index).padStart(5, '0')}`;

/** A chunk's own scratch directory (its text, rejects, quarantine and spill). */
const chunkDir = (workDir: string, index: number): string => join(workDir, chunkName(index));

/** Where a routed pass writes beside other texts: `dir`, its files' names starting with `as`. */
interface SharedOutput {
  dir: string;
  as: string;
}

/**
 * The chunks' routed passes write into one directory, each file named after its chunk: a partition's directory is
 * made once, not once per chunk (each new directory is an inode, ~0.5–1 ms on ext4 without a journal).
 */
const CHUNKS_OUT = 'chunks-out';
const chunkOutput = (workDir: string, index: number): SharedOutput => ({
  dir: join(workDir, CHUNKS_OUT),
  as: `${chunkName(index)}-`,
});

/** A chunk's text, in its scratch directory: teed there while the text was scanned, or copied. */
const chunkTextPath = (workDir: string, index: number): string => join(chunkDir(workDir, index), 'input.txt');

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
  /** Starts no further chunk and waits for those under way to settle (their outputs and errors unused). */
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
    await removeChunkDirs(workDir);
    throw e;
  }
}

/**
 * Records over the record limit are cut out first (the reader would drop them silently); the text is then
 * transformed whole or in chunks; the chunks' silver files are kept as written, their quarantines (numbered in
 * the whole text as they are written) are made one, and every record the byte scan counted is accounted for. Each
 * session has one DuckDB instance, handed from chunk to chunk with its kept buffers shed between them (the one
 * pass: an instance of its own), each phase of a chunk a fresh connection on it, so memory stays flat however
 * large the input and however much of it is broken (per chunk transformed at once).
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
  if (growing && (await stat(inputPath)).size !== bytes)
    throw new EngineInvariantError(
      `the spooled input is ${(await stat(inputPath)).size} bytes, not the ${bytes} expected`,
    );
  const keepEarly = early !== undefined && scan.oversize.length === 0 && worthChunking(scan, bytes, chunking);
  if (early && !keepEarly) {
    await early.discard(); // the text goes the long way below: nothing of this attempt is used
    await removeChunkDirs(workDir);
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
