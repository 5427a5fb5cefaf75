/**
 * Staging: typing and validation of the bronze text in one DuckDB pass, written as Parquet on local disk,
 * plus the malformed records the reader cannot read. The writers of silver and quarantine read these files
 * in fresh DuckDB sessions.
 *
 * The reader's rejects cost memory: DuckDB holds each one (about 1 KB) until its scan ends, whatever its
 * memory limit, so a file with a million broken records would need a gigabyte. Staging therefore skips
 * them, and a separate rejects pass collects them — over the whole file when few are expected, else over
 * chunks of records, each in its own session, so memory stays bounded however much of a file is broken.
 */
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { DatasetContract } from './contract/types.ts';
import { queryRows, withDuckDb, type DuckDbSettings } from './duckdb.ts';
import type { HeaderMatch } from './header.ts';
import { EngineInvariantError, FileRejection, FileReason } from './reasons.ts';
import { csvRejectsReader, prepareCsv } from './sources/csv.ts';
import { jsonLinesReader, prepareJsonLines } from './sources/jsonl.ts';
import { recordChunks, scanRecords } from './sources/records.ts';
import { sqlString, stagedRowsSql } from './sql.ts';

export interface StagingLimits {
  /** Records the reader may reject before the rejects pass reads the file in chunks instead of whole. @default 50000 */
  rejectsPerPass: number;
  /** Records per chunk of the chunked rejects pass. @default 100000 */
  recordsPerChunk: number;
}

export const DEFAULT_STAGING_LIMITS: StagingLimits = { rejectsPerPass: 50_000, recordsPerChunk: 100_000 };

export interface StagedInput {
  header: HeaderMatch;
  /** Staged rows in file order: typed columns, `is_valid` (NULL for skipped lines), `raw_record`, `reasons`, `details`. */
  stagedFile: string;
  /** Malformed records: `record_number` (reader line numbers, blank lines counted), `details`, `raw_record`. */
  malformedFiles: string[];
  /** CSV `blank_at,blanks_before` of the file's blank lines, to turn reader line numbers into record numbers. */
  blankLinesFile: string | undefined;
  counts: { staged: number; valid: number; malformed: number };
  /** Whether the rejects pass read the file in chunks (many malformed records). */
  chunked: boolean;
}

const PREPARERS = { csv: prepareCsv, jsonl: prepareJsonLines } as const;

/** DuckDB errors that mean "these bytes cannot be read as this format". */
export function isReaderError(message: string): boolean {
  return /^(Invalid Input Error|Conversion Error|Parser Error)/.test(message) && !/Out of Memory|No space left|IO Error/i.test(message);
}

function asFileRejection(e: unknown, contract: DatasetContract): unknown {
  const message = (e as Error).message;
  // Only the reader giving up on the bytes is a data problem; out of memory, a full disk or an I/O error
  // must fail the attempt so it is retried, never quarantine a good file for good.
  if (!isReaderError(message)) return e;
  return new FileRejection(FileReason.UNREADABLE, `the ${contract.source.format} reader gave up: ${message.split('\n')[0]}`);
}

/**
 * Stages a whole text file: the staged rows, then — when the reader skipped records or may have — their
 * malformed records, whole-file or in chunks as their expected number requires.
 */
export async function stageInput(
  settings: DuckDbSettings,
  contract: DatasetContract,
  path: string,
  workDir: string,
  piiSalt: string,
  limits: StagingLimits = DEFAULT_STAGING_LIMITS,
): Promise<StagedInput> {
  const csv = contract.source.format === 'csv';
  const headerLines = csv ? 1 : 0;
  const blankLinesFile = join(workDir, 'blank-lines.csv');
  const scan = await scanRecords(path, blankLinesFile, { headerLines, quoted: csv, delimiter: contract.source.delimiter });
  const stagedFile = join(workDir, 'staged.parquet');
  const staged = await withDuckDb(settings, 'staging', async (db) => {
    const { header, source } = await PREPARERS[contract.source.format](db, contract, path);
    let rows: number;
    try {
      const [copied] = await queryRows(
        db,
        `COPY (${stagedRowsSql(contract, header.bindings, source, piiSalt)}) TO ${sqlString(stagedFile)} (FORMAT parquet, COMPRESSION zstd, ROW_GROUP_SIZE 30000)`,
      );
      rows = Number(copied?.Count ?? 0);
    } catch (e) {
      throw asFileRejection(e, contract);
    }
    const [counted] = await queryRows(db, `SELECT count(is_valid) AS records, count(*) FILTER (is_valid) AS valid FROM read_parquet(${sqlString(stagedFile)})`);
    return { header, rows, records: Number(counted?.records ?? 0), valid: Number(counted?.valid ?? 0) };
  });

  // The reader yields a row per record (CSV blank lines excepted); a record it did not yield was rejected.
  // With clean quoting the byte scan and the reader agree on what the records are, so equal counts mean
  // nothing was rejected; otherwise only the reader can say which records it rejected.
  const expectedRows = csv ? scan.records - scan.blankLines : scan.records;
  const skipped = expectedRows - staged.rows;
  let rejects: Rejects | undefined;
  if (skipped !== 0 || !scan.quotingClean) {
    rejects = skipped < limits.rejectsPerPass ? await rejectsPass(settings, contract, path, workDir) : await chunkedRejectsPass(settings, contract, path, workDir, limits);
  }
  if (rejects && rejects.rows !== staged.rows) {
    // Chunks are cut where the byte scan sees a record end; with broken quoting the reader may disagree.
    if (rejects.chunked) {
      throw new FileRejection(FileReason.UNREADABLE, `records cannot be told apart (broken quoting): the reader found ${staged.rows} readable records in the file but ${rejects.rows} in its parts`);
    }
    throw new EngineInvariantError(`staging ${path}: the rejects pass read ${rejects.rows} rows, staging ${staged.rows}`);
  }
  return {
    header: staged.header,
    stagedFile,
    malformedFiles: rejects?.files ?? [],
    blankLinesFile: csv && scan.blankLines > 0 ? blankLinesFile : undefined,
    counts: { staged: staged.records, valid: staged.valid, malformed: rejects?.malformed ?? 0 },
    chunked: rejects?.chunked ?? false,
  };
}

interface Rejects {
  files: string[];
  malformed: number;
  /** Rows the reader yielded besides its rejects (must equal staging's). */
  rows: number;
  chunked: boolean;
}

/** Malformed records (wrong field count, broken quoting, bad UTF-8) from DuckDB's reject table, one row per record. */
const malformedSql = (headerLines: number, recordOffset: number): string => `
  SELECT CAST(line AS BIGINT) - ${headerLines} + ${recordOffset} AS record_number,
         list_distinct(list(error_type || ': ' || error_message)) AS details,
         trim(first(csv_line), chr(10) || chr(13)) AS raw_record
  FROM reject_errors GROUP BY line ORDER BY line`;

/** Reads `path` (the file or a chunk of it starting after `recordOffset` records) storing its rejects, into `out`. */
async function readRejects(settings: DuckDbSettings, contract: DatasetContract, path: string, recordOffset: number, out: string, phase: string) {
  const reader = contract.source.format === 'csv' ? await csvRejectsReader(contract, path) : jsonLinesReader(path, 'store');
  return withDuckDb(settings, phase, async (db) => {
    let rows: number;
    try {
      // Every field is read (a bare count(*) would not check the bytes are UTF-8), as staging reads them.
      rows = Number((await queryRows(db, `SELECT count(*) AS n, max(length(COLUMNS(*))) FROM ${reader}`))[0]?.n ?? 0);
    } catch (e) {
      throw asFileRejection(e, contract);
    }
    const headerLines = contract.source.format === 'csv' ? 1 : 0;
    const [copied] = await queryRows(db, `COPY (${malformedSql(headerLines, recordOffset)}) TO ${sqlString(out)} (FORMAT parquet, COMPRESSION zstd)`);
    return { rows, malformed: Number(copied?.Count ?? 0) };
  });
}

async function rejectsPass(settings: DuckDbSettings, contract: DatasetContract, path: string, workDir: string): Promise<Rejects> {
  const file = join(workDir, 'malformed-000000.parquet');
  const { rows, malformed } = await readRejects(settings, contract, path, 0, file, 'finding malformed records');
  return { files: [file], malformed, rows, chunked: false };
}

async function chunkedRejectsPass(settings: DuckDbSettings, contract: DatasetContract, path: string, workDir: string, limits: StagingLimits): Promise<Rejects> {
  const result: Rejects = { files: [], malformed: 0, rows: 0, chunked: true };
  const csv = contract.source.format === 'csv';
  for await (const chunk of recordChunks(path, workDir, { recordsPerChunk: limits.recordsPerChunk, headerLines: csv ? 1 : 0, quoted: csv })) {
    const n = result.files.length;
    const file = join(workDir, `malformed-${String(n).padStart(6, '0')}.parquet`);
    // A fresh session per chunk: the reader's rejects are released with it.
    const { rows, malformed } = await readRejects(settings, contract, chunk.path, chunk.recordOffset, file, `finding malformed records, chunk ${n + 1}`);
    await rm(chunk.path, { force: true });
    result.files.push(file);
    result.malformed += malformed;
    result.rows += rows;
  }
  return result;
}
