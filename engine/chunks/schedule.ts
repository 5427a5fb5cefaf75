/**
 * The chunks of one text transformed as they are planned, `parallelism` at once: one single-threaded DuckDB
 * instance per session, handed from chunk to chunk; texts written ahead of their turn; a chunk's rejects pass and
 * quarantine moved to a spare session when another chunk waits for one.
 */
import { mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { DuckDBInstance } from '@duckdb/node-api';
import type { DatasetContract } from '../contract/types.ts';
import {
  createDuckDbInstance,
  DEFAULT_MEMORY_LIMIT,
  memoryLimitBytes,
  shedBuffers,
  type DuckDbSettings,
} from '../duckdb.ts';
import { timed, type PhaseObserver } from '../phases.ts';
import { inPool, OrderedSlots } from '../pool.ts';
import { numberedRecords, scanInput, type InputScan, type RejectsLimits } from '../reader.ts';
import type { ChunkFieldCounts } from '../sources/field-counts.ts';
import { writeChunk, type ByteChunk, type ScanSoFar } from '../sources/records.ts';
import type { RunStamp } from '../stamp.ts';
import { chunkPasses, type ChunkOutput } from './passes.ts';
import type { ChunkingOptions } from './plan.ts';
import { chunkDir, chunkOutput, chunkTextPath } from './scratch.ts';

/** A chunk as the byte scan planned it, with what the scan knew of the text up to there. */
export interface PlannedChunk {
  chunk: ByteChunk;
  soFar: ScanSoFar;
  /** Its records with a wrong field count, when the scan listed them. */
  fieldCounts?: ChunkFieldCounts;
}

/** What the chunks of one text are transformed with (`TransformOptions`, defaults applied). */
export interface ChunkRunOptions {
  rejectsLimits: RejectsLimits;
  parallelism: number;
  chunking: ChunkingOptions;
  keySamplePath?: string;
  onPhase?: PhaseObserver;
  /**
   * The process's resident bytes above which a session's instance sheds its buffers after a chunk.
   * @default shedAbove(the sessions the chunks get, their DuckDB memory limit)
   */
  shedAboveBytes?: number;
}

/**
 * The resident memory (bytes) an ingest's process may hold before a session's instance gives back the buffers DuckDB
 * keeps for reuse (`shedBuffers`) after a chunk: the process's own (128 MiB: Node, DuckDB, the engine) and, per
 * session, its DuckDB memory limit and 64 MiB for what the allocator keeps around it (with the default 128 MB: 314 MiB
 * at one session, 500 MiB at two). Below it the next chunk reuses them. RSS is looked at only when a chunk hands its
 * instance on, so a peak can pass the budget by what one chunk adds.
 *
 * Shedding after every chunk kept the peak lowest (2M rows: 253 MB at one session, 282 at two; 10M: 283 and 380), but
 * each time the next chunk faulted that memory in again. Measured with budgets of 320 and 512 MiB, A B B A at 2M rows:
 * 3.1% less time at one session, 2.6% at two; at 10M rows one run each, within the noise. Peak RSS 316 and 423 MB at 2M
 * rows, 359 and 461 at 10M (never shedding: 363–377 at one session, 515 at two); 532 MB at two sessions for 90M rows.
 * A limit that is not a number of bytes (`memoryLimitBytes`) gives a budget of 0: every chunk sheds, as before.
 */
export function shedAbove(sessions: number, memoryLimit: string): number {
  const limit = memoryLimitBytes(memoryLimit);
  return limit === undefined ? 0 : (128 << 20) + sessions * (limit + (64 << 20));
}

/** Chunks under way per session: its own and the next one, written while it runs (their files are on disk at once). */
export const CHUNKS_PER_SESSION = 2;

/**
 * Transforms the chunks of the text at `path` as they come, `parallelism` at once. Each is written to a file of
 * its own ahead of its turn, so a session that finishes finds the next one written: at most `CHUNKS_PER_SESSION` ×
 * `parallelism` chunk texts are on disk at once; with more than one session, `parallelism` more (chunks waiting for
 * a spare session to finish, or, when none waits, texts written a round further ahead).
 */
export function transformPlannedChunks(
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
  // Instances whose chunk's DuckDB work is done (their buffers shed when over budget): taken by the next chunk to get a
  // session.
  const idle: DuckDBInstance[] = [];
  // The first round's instances (one per session, `made[i]` for chunk i) are made at once, while the scan runs: a
  // chunk's pass starts as soon as the scan has planned it. (Made once its chunk was planned, an instance kept that
  // chunk waiting the 12–16 ms DuckDB takes to make one.)
  const firstRound = Math.max(1, Math.min(options.parallelism, early.chunksExpected ?? 1));
  for (let k = 0; k < firstRound; k++) makeInstance();
  // The sessions the chunks get, not `parallelism`: on many cores a text of a few chunks has fewer.
  const budget = options.shedAboveBytes ?? shedAbove(firstRound, settings.memoryLimit ?? DEFAULT_MEMORY_LIMIT);
  // One copy at a time, in chunk order: copies running side by side only slow the one a session waits for.
  const copies = new OrderedSlots(1);
  let malformedSeen = false;
  // The first failure of a chunk: no chunk starts its copy or its transform after it, and it is what is thrown.
  let failure: { error: unknown } | undefined;
  const unwanted = (): boolean => failure !== undefined || stop?.aborted === true;
  // Each chunk numbers its quarantine rows in the whole text (chunks come in text order): the merge only concatenates.
  let recordsBefore = 0;
  // Hands an instance on, with the buffers it keeps for reuse while the process is within its budget (`shedAbove`), else
  // without them; one that cannot shed them is closed (the next makes one). Never fails: the chunk's work is done.
  const handBack = async (instance: DuckDBInstance, i: number): Promise<void> => {
    if (process.memoryUsage.rss() <= budget) {
      idle.push(instance);
      return;
    }
    const shed = await timed(options.onPhase, `chunk ${i} shed`, () => shedBuffers(instance, settings)).then(
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
  // Chunks whose text is written (and blank lines listed), waiting for their session; chunks handing their instance
  // back (shedding its buffers when over budget) to give one of those their session; chunks waiting for (or holding) a
  // spare one. (The slot given goes to the earliest chunk waiting, which may still be listing its blank lines: rare,
  // and its session waits for that, as before.)
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
      // A chunk of the first round (one per session) takes an instance made at the start (the plan never has more
      // chunks than expected; were it to, one is made now; where long records made fewer, the spare instances are
      // closed at the end, untaken); a later one takes the instance of the chunk whose session it gets. A new
      // instance per chunk cost more than making it (15–50 ms, made ahead): its memory faulted in anew, and closing
      // it held the JavaScript thread 10–20 ms.
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
            await handBack(instance, i);
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
      await handBack(instance, i);
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
