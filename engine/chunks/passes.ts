/** One chunk's transform (or the whole text's, as one chunk): its routed pass, rejects pass and quarantine. */
import { join } from 'node:path';
import type { DuckDBInstance } from '@duckdb/node-api';
import type { DatasetContract } from '../contract/types.ts';
import { asCount, queryRows, withDuckDb, withDuckDbInstance, type DuckDbSettings } from '../duckdb.ts';
import type { HeaderMatch } from '../header.ts';
import { timed, type PhaseObserver } from '../phases.ts';
import { attachRejected, writeQuarantine } from '../quarantine.ts';
import type { ChunkQuarantine } from '../quarantine-merge.ts';
import { FileReason, FileRejection } from '../reasons.ts';
import {
  fieldCountsStandForRejects,
  findMalformed,
  listFieldCounts,
  type InputScan,
  type RejectsLimits,
} from '../reader.ts';
import { finishSilver, writeRouted, type RoutedPartition } from '../routed.ts';
import type { ChunkFieldCounts } from '../sources/field-counts.ts';
import { sqlString } from '../sql.ts';
import type { RunStamp } from '../stamp.ts';
import type { SharedOutput } from './scratch.ts';

/** What one chunk (or the whole text, as one chunk) gave. */
export interface ChunkOutput {
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

/**
 * One chunk (or the whole text): its DuckDB work (`chunkPasses`), then its silver files finished.
 */
export async function transformChunk(...args: Parameters<typeof chunkPasses>): Promise<ChunkOutput> {
  return (await chunkPasses(...args)).finish();
}

/** A chunk whose DuckDB work is done: what is left (`finish`: the silver footers, the accounting) needs no session. */
export interface ChunkPasses {
  /** Records the reader could not read (found by the rejects pass). */
  malformedRecords: number;
  finish(): Promise<ChunkOutput>;
}

/**
 * A chunk's DuckDB work: the routed pass, the rejects pass when the reader skipped records, and its quarantine,
 * numbered in the whole text (after `text.recordOffset` records). Every record the byte scan counted must be accounted for as a row the reader yielded
 * or a malformed record, else the file is rejected whole: a record never vanishes.
 */
export async function chunkPasses(
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
