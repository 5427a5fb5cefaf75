/**
 * Reading the bronze text: a byte scan that counts records as DuckDB's reader does, the reader itself
 * (malformed records skipped), and the rejects pass that finds the records it skipped.
 *
 * The reader's rejects cost memory: DuckDB holds each one (about 1 KB) until its scan ends, whatever its
 * memory limit or `rejects_limit`, so a file with a million broken records would need a gigabyte. The main
 * pass therefore skips them, and the rejects pass collects them — over the whole file when few are
 * expected, else over chunks of records, each in its own session, so memory stays bounded however much
 * of a file is broken.
 */
import { rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { DatasetContract } from './contract/types.ts';
import type { DuckDBConnection } from '@duckdb/node-api';
import { queryRows, withDuckDb, type DuckDbSettings } from './duckdb.ts';
import { FileRejection, FileReason } from './reasons.ts';
import { csvRejectsReader, prepareCsv } from './sources/csv.ts';
import { jsonLinesReader, prepareJsonLines } from './sources/jsonl.ts';
import { listableDelimiter, listFieldCountMismatches, type FieldCountMismatches } from './sources/field-counts.ts';
import { outlineRecord } from './sources/record-outline.ts';
import {
  readerSeesScannedRecords,
  scanRecords,
  writeChunk,
  type OversizeRecord,
  type RecordScan,
  type ScanOptions,
} from './sources/records.ts';
import type { PreparedSource } from './sources/source.ts';
import { sqlString } from './sql.ts';

export interface RejectsLimits {
  /** Records the reader may reject in one pass over the whole file; more are read in chunks. @default 50000 */
  rejectsPerPass: number;
  /** Bytes of rejected records (about 1 KB each plus the record) one pass may hold. @default 32 MiB */
  rejectBytesPerPass: number;
  /** Records per chunk of the chunked rejects pass. @default 100000 */
  recordsPerChunk: number;
  /**
   * Bytes per chunk. Also keeps each chunk within one read buffer of DuckDB's CSV reader: with rejects
   * stored, DuckDB 1.5.6 was seen to stop early on some files (a reject at a buffer boundary).
   * @default 4 MiB
   */
  bytesPerChunk: number;
}

export const DEFAULT_REJECTS_LIMITS: RejectsLimits = {
  rejectsPerPass: 50_000,
  rejectBytesPerPass: 32 << 20,
  recordsPerChunk: 100_000,
  bytesPerChunk: 4 << 20,
};

/** What DuckDB keeps per reader reject besides the record itself (measured: ~1 KB). */
const REJECT_OVERHEAD_BYTES = 1024;

const PREPARERS = { csv: prepareCsv, jsonl: prepareJsonLines } as const;

/** Binds the file's header (or JSON keys) to the contract and returns how to read it, malformed records skipped. */
export function prepareSource(
  db: DuckDBConnection,
  contract: DatasetContract,
  path: string,
  samplePath: string = path,
): Promise<PreparedSource> {
  return PREPARERS[contract.source.format](db, contract, path, samplePath);
}

/** DuckDB errors that mean "these bytes cannot be read as this format". */
export function isReaderError(message: string): boolean {
  return (
    /^(Invalid Input Error|Conversion Error|Parser Error)/.test(message) &&
    !/Out of Memory|No space left|IO Error/i.test(message)
  );
}

/** A reader error becomes a whole-file rejection; anything else (out of memory, full disk, I/O) stays an error to retry. */
export function asFileRejection(e: unknown, contract: DatasetContract): unknown {
  const message = (e as Error).message;
  if (!isReaderError(message)) return e;
  const why = REJECT_TABLE_CUT.test(message)
    ? `a malformed record over 10,000 bytes has a character where DuckDB cuts its copy of the line (duckdb/duckdb#10929), and which records are malformed cannot be told otherwise here`
    : message.split('\n')[0];
  return new FileRejection(FileReason.UNREADABLE, `the ${contract.source.format} reader gave up: ${why}`);
}

/**
 * What DuckDB 1.5.6 throws when it stores a rejected line whose first 10,000 bytes end inside a character. The listed
 * records never meet it (`outlineRecord`); the full rejects passes (unclean quoting, JSON Lines, more malformed records
 * than a listing holds) still do, and the file is rejected whole.
 */
const REJECT_TABLE_CUT = /Invalid unicode \(byte sequence mismatch\) detected in segment statistics update/;

export interface NumberedOversizeRecord extends OversizeRecord {
  /** Its `record_number` as quarantine shows it (CSV: blank lines not counted; JSON Lines: every line counted). */
  recordNumber: number;
}

export interface InputScan extends RecordScan {
  /** Rows DuckDB's reader yields when it skips nothing: records, less blank lines for CSV. */
  expectedRows: number;
  oversize: NumberedOversizeRecord[];
  /** CSV `blank_at,blanks_before` of the blank lines (reader line numbers count them, record numbers do not). */
  blankLinesFile: string | undefined;
}

/** How records are delimited in a dataset's files, as the byte scan and the rejects reader need it. */
export function recordLayout(contract: DatasetContract): { headerLines: number; quoted: boolean; delimiter: string } {
  const csv = contract.source.format === 'csv';
  return { headerLines: csv ? 1 : 0, quoted: csv, delimiter: contract.source.delimiter };
}

/**
 * Records as `record_number` counts them, of those the byte scan counted: a CSV's blank lines are no records (its
 * reader skips them), a JSON Lines text's are (its reader rejects them).
 */
export function numberedRecords(contract: DatasetContract, counted: { records: number; blankLines: number }): number {
  return contract.source.format === 'csv' ? counted.records - counted.blankLines : counted.records;
}

/** The byte scan of the input: its records as DuckDB's reader counts them, and its blank lines. */
export async function scanInput(
  contract: DatasetContract,
  path: string,
  workDir: string,
  options: Pick<ScanOptions, 'maxRecordBytes' | 'chunking' | 'fieldCounts' | 'onChunk'> = {},
  /** The bytes of `path` as they are spooled (`GrowingFile.follow`), when it is still being written. */
  source?: AsyncIterable<Buffer>,
): Promise<InputScan> {
  const csv = contract.source.format === 'csv';
  const blankLinesFile = join(workDir, 'blank-lines.csv');
  const scan = await scanRecords(path, blankLinesFile, { ...recordLayout(contract), ...options }, source);
  return {
    ...scan,
    oversize: scan.oversize.map((o) => ({ ...o, recordNumber: csv ? o.record - o.blankLinesBefore : o.record })),
    expectedRows: numberedRecords(contract, scan),
    blankLinesFile: csv && scan.blankLines > 0 ? blankLinesFile : undefined,
  };
}

export interface Malformed {
  /** Parquet files: `record_number` (reader line numbers, header excluded), `details`, `raw_record`. */
  files: string[];
  count: number;
  /** Whether the file was read in chunks (more rejects than one pass may hold). */
  chunked: boolean;
}

/**
 * The records the reader skipped while `readerRows` rows were read. With clean quoting the byte scan and
 * the reader agree on what the records are, so equal counts mean nothing was skipped; otherwise only the
 * reader can say which records it rejected.
 */
export async function findMalformed(
  settings: DuckDbSettings,
  contract: DatasetContract,
  path: string,
  workDir: string,
  scan: InputScan,
  readerRows: number,
  limits: RejectsLimits = DEFAULT_REJECTS_LIMITS,
  /** The field-count listing of `path`, when it was started earlier (`listFieldCounts`). */
  listing?: Promise<FieldCountMismatches | undefined>,
): Promise<Malformed> {
  const skipped = scan.expectedRows - readerRows;
  if (skipped === 0 && scan.quotingClean) return { files: [], count: 0, chunked: false };
  // One pass holds every reject until its scan ends: only when few and small are expected. With unclean
  // quoting the count is not to be trusted, so the file is read in chunks.
  const heldBytes = skipped * (scan.maxRecordBytes + REJECT_OVERHEAD_BYTES);
  const onePass = scan.quotingClean && skipped < limits.rejectsPerPass && heldBytes < limits.rejectBytesPerPass;
  if (onePass) {
    const listed = await fieldCountRejectsPass(
      settings,
      contract,
      workDir,
      skipped,
      listing ?? listFieldCounts(contract, path, scan, limits),
    );
    if (listed) return { files: listed.files, count: listed.malformed, chunked: false };
  }
  // The full rejects passes hold what they reject until each scan ends: every session of theirs gets an
  // instance of its own, whose memory goes back when it closes. (On a shared instance the memory stayed
  // with it: a 50%-malformed file peaked 50–60 MB higher.)
  const own: DuckDbSettings = { ...settings, instance: undefined };
  let rejects = onePass ? await rejectsPass(own, contract, path, workDir) : undefined;
  // The whole-file rejects reader disagreeing with the main pass is DuckDB stopping early: read in chunks.
  if (!rejects || rejects.rows !== readerRows) rejects = await chunkedRejectsPass(own, contract, path, workDir, limits);
  if (rejects.rows !== readerRows) {
    // The reader sees this file's records differently depending on where it starts (quoting it cannot follow):
    // which records are broken cannot be told, and a retry would read it the same way. Kept whole.
    throw new FileRejection(
      FileReason.UNREADABLE,
      `the ${contract.source.format} reader cannot tell its records apart (quoting): read in chunks it yields ${rejects.rows} rows, read whole ${readerRows}`,
    );
  }
  return { files: rejects.files, count: rejects.malformed, chunked: rejects.chunked };
}

interface Rejects {
  files: string[];
  malformed: number;
  /** Rows the reader yielded besides its rejects (must equal the main pass's). */
  rows: number;
  chunked: boolean;
}

/**
 * A malformed record's `raw_record` holds at most this many characters, and its details say so when it holds fewer
 * than the record has. DuckDB keeps a rejected line's first 10,000 bytes (with the line end before it, in some texts):
 * 2,048 characters of up to 4 bytes each are within them wherever the text was cut, so one pass and every chunking
 * show the same text. (It was DuckDB's cut, silently: 10,000 or 9,999 characters depending on where chunks began.)
 */
export const MALFORMED_RAW_RECORD_CHARS = 2048;

/** A malformed record's details and `raw_record` from its `details` and its text (SQL), line ends trimmed and cut. */
const withRawRecord = (details: string, text: string): string => {
  const trimmed = `trim(${text}, chr(10) || chr(13))`;
  const n = MALFORMED_RAW_RECORD_CHARS;
  return `CASE WHEN length(${trimmed}) > ${n} THEN list_append(${details}, 'raw_record holds its first ${n} characters') ELSE ${details} END AS details,
         left(${trimmed}, ${n}) AS raw_record`;
};

/** Malformed records (wrong field count, broken quoting, bad UTF-8) from DuckDB's reject table, one row per record. */
const malformedSql = (headerLines: number, recordOffset: number): string => `
  SELECT CAST(line AS BIGINT) - ${headerLines} + ${recordOffset} AS record_number,
         list_distinct(list(error_type || ': ' || error_message)) AS details,
         first(csv_line) AS text
  FROM reject_errors GROUP BY line ORDER BY line`;

/**
 * Reads `path` (the file or a chunk of it starting after `recordOffset` records) storing its rejects, into
 * `out`; with `recordNumbers` (JSON Lines of `line` (the record in `path`), `record` (its number) and `text`), record
 * numbers and texts are looked up there instead.
 */
async function readRejects(
  settings: DuckDbSettings,
  contract: DatasetContract,
  path: string,
  recordOffset: number,
  out: string,
  phase: string,
  recordNumbers?: string,
) {
  const reader =
    contract.source.format === 'csv'
      ? await csvRejectsReader(contract, path)
      : { relation: jsonLinesReader(path, 'store'), fields: ['line'] };
  return withDuckDb(settings, phase, async (db) => {
    let rows: number;
    try {
      // The fields the main pass reads are read (a bare count(*) would not check their bytes are UTF-8).
      rows = Number(
        (
          await queryRows(
            db,
            `SELECT count(*) AS n, ${reader.fields.map((f) => `count(${f})`).join(', ')} FROM ${reader.relation}`,
          )
        )[0]?.n ?? 0,
      );
    } catch (e) {
      throw asFileRejection(e, contract);
    }
    const [copied] = await queryRows(
      db,
      `COPY (${
        recordNumbers === undefined
          ? `SELECT record_number, ${withRawRecord('details', 'text')}
             FROM (${malformedSql(recordLayout(contract).headerLines, recordOffset)})`
          : `SELECT n.record AS record_number, ${withRawRecord('m.details', 'n.text')}
             FROM (${malformedSql(recordLayout(contract).headerLines, 0)}) m
             JOIN read_json(${sqlString(recordNumbers)}, format = 'newline_delimited', columns = {'line': 'BIGINT', 'record': 'BIGINT', 'text': 'VARCHAR'}) n
               ON m.record_number = n.line
             ORDER BY n.line`
      }) TO ${sqlString(out)} (FORMAT parquet, COMPRESSION zstd)`,
    );
    return { rows, malformed: Number(copied?.Count ?? 0) };
  });
}

/**
 * Starts listing the records of `path` whose field count is wrong (up to the one-pass rejects limits), when
 * its scan says the list can stand for the reader's rejects (CSV, clean quoting, one line-end style);
 * undefined otherwise. The listing is JavaScript: started before the main pass, it runs while DuckDB reads.
 */
export function listFieldCounts(
  contract: DatasetContract,
  path: string,
  scan: InputScan,
  limits: RejectsLimits = DEFAULT_REJECTS_LIMITS,
  signal?: AbortSignal,
): Promise<FieldCountMismatches | undefined> | undefined {
  if (!fieldCountsStandForRejects(contract, scan)) return undefined;
  return listFieldCountMismatches(path, contract.source.delimiter, fieldCountLimits(limits), signal);
}

/**
 * Whether records with a wrong field count are the records the reader rejects for it: a CSV text the reader sees
 * as the byte scan does, with a delimiter the loops can count (`listableDelimiter`).
 */
export function fieldCountsStandForRejects(contract: DatasetContract, scan: InputScan): boolean {
  return (
    contract.source.format === 'csv' && readerSeesScannedRecords(scan) && listableDelimiter(contract.source.delimiter)
  );
}

/** How many records, and bytes of them, a field-count listing holds at most: one rejects pass's worth. */
export const fieldCountLimits = (limits: RejectsLimits): { records: number; bytes: number } => ({
  records: limits.rejectsPerPass,
  bytes: limits.rejectBytesPerPass,
});

/**
 * The rejects pass over only the records whose field count is wrong, when those are exactly the records the
 * reader skipped: a byte loop lists them (`listFieldCountMismatches`), they are copied with the header into
 * a small file, and the reader reads that file storing its rejects — so the details are the reader's own.
 * Undefined, for the full pass to run, when there was no listing (`listFieldCounts`), the text is not UTF-8
 * (the reader rejects such records too), or the counts disagree.
 */
async function fieldCountRejectsPass(
  settings: DuckDbSettings,
  contract: DatasetContract,
  workDir: string,
  skipped: number,
  listing: Promise<FieldCountMismatches | undefined> | undefined,
): Promise<Pick<Rejects, 'files' | 'malformed'> | undefined> {
  const listed = await listing;
  if (listed?.records.length !== skipped) return undefined;
  const text = join(workDir, 'field-count-rejects.txt');
  const numbers = join(workDir, 'field-count-records.jsonl');
  // The reader is shown each long record's outline (its field count, not its length), its text is kept from the listing.
  const delimiter = contract.source.delimiter.charCodeAt(0);
  await writeFile(
    text,
    Buffer.concat([listed.header, ...listed.records.map((r) => outlineRecord(r.bytes, delimiter))]),
  );
  // The small file's i-th record (the reader's line less the header) is the text's record `r.record`.
  await writeFile(
    numbers,
    listed.records
      .map((r, i) => `${JSON.stringify({ line: i + 1, record: r.record, text: r.bytes.toString('utf8') })}\n`)
      .join(''),
  );
  const file = join(workDir, 'malformed-000000.parquet');
  let read: { rows: number; malformed: number };
  try {
    read = await readRejects(settings, contract, text, 0, file, 'finding malformed records', numbers);
  } catch (e) {
    // The listed records are read apart from their text; whatever the reader makes of that, the full pass decides.
    if (e instanceof FileRejection) return undefined;
    throw e;
  } finally {
    await rm(text, { force: true });
  }
  const { rows, malformed } = read;
  // Every listed record must be one the reader rejects, and nothing else: else the full pass decides.
  if (rows !== 0 || malformed !== skipped) return undefined;
  return { files: [file], malformed };
}

async function rejectsPass(
  settings: DuckDbSettings,
  contract: DatasetContract,
  path: string,
  workDir: string,
): Promise<Rejects> {
  const file = join(workDir, 'malformed-000000.parquet');
  const { rows, malformed } = await readRejects(settings, contract, path, 0, file, 'finding malformed records');
  return { files: [file], malformed, rows, chunked: false };
}

async function chunkedRejectsPass(
  settings: DuckDbSettings,
  contract: DatasetContract,
  path: string,
  workDir: string,
  limits: RejectsLimits,
): Promise<Rejects> {
  const result: Rejects = { files: [], malformed: 0, rows: 0, chunked: true };
  const chunking = { recordsPerChunk: limits.recordsPerChunk, bytesPerChunk: limits.bytesPerChunk };
  const { chunks, headerBytes } = await scanRecords(path, join(workDir, 'rejects-blank-lines.csv'), {
    ...recordLayout(contract),
    chunking,
  });
  for (const [n, chunk] of chunks.entries()) {
    const file = join(workDir, `malformed-${String(n).padStart(6, '0')}.parquet`);
    const chunkPath = join(workDir, `rejects-chunk-${String(n).padStart(6, '0')}.txt`);
    await writeChunk(path, headerBytes, chunk, chunkPath);
    // A fresh session per chunk: the reader's rejects are released with it.
    const { rows, malformed } = await readRejects(
      settings,
      contract,
      chunkPath,
      chunk.recordOffset,
      file,
      `finding malformed records, chunk ${n + 1}`,
    );
    await rm(chunkPath, { force: true });
    result.files.push(file);
    result.malformed += malformed;
    result.rows += rows;
  }
  return result;
}
