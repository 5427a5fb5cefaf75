/** Bronze text → staged typed rows → silver Parquet per partition + quarantine Parquet, all on local disk. */
import { readdir, stat } from 'node:fs/promises';
import { join, relative, sep } from 'node:path';
import type { DuckDBConnection } from '@duckdb/node-api';
import { duckdbType, partitionColumns } from './contract/schema.ts';
import type { DatasetContract } from './contract/types.ts';
import { queryRows, withDuckDb, type DuckDbSettings } from './duckdb.ts';
import type { HeaderMatch } from './header.ts';
import { crlfToLf } from './sources/line-ends.ts';
import { partitionPrefix, silverFileName } from './layout.ts';
import { EngineInvariantError, FileRejection, RowReason } from './reasons.ts';
import { DEFAULT_STAGING_LIMITS, stageInput, type StagedInput, type StagingLimits } from './stage.ts';
import { ident, partitionExpression, sqlString } from './sql.ts';

/** Lineage and identity values stamped on every output row. */
export interface RunStamp {
  dataset: string;
  bucket: string;
  key: string;
  version: string | null;
  runId: string;
  sourceId: string;
  ingestedAt: Date;
}

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
  rowsIn: number;
  rowsValid: number;
  rowsQuarantined: number;
  reasons: Record<string, number>;
  partitions: SilverPartitionOutput[];
  quarantineFile: string | undefined;
  header: HeaderMatch;
  /** Whether the input was staged in chunks (many malformed records). */
  chunked: boolean;
}

/** Quarantine rows are wide (original values, details): small row groups keep the writer's buffer small. */
const QUARANTINE_ROW_GROUP_SIZE = 20_000;
/** Unpartitioned output is split into files past this size. */
const FILE_SIZE_BYTES = '512MB';
/** Rows the partitioned writer may hold in open row groups across all partitions (~40 MB for transactions). */
const OPEN_ROW_GROUP_BUDGET = 500_000;

/**
 * Every open partition buffers a row group until it is full, so memory grows with partitions × row-group
 * size. DuckDB's default row group (122,880 rows) for a source touching a few partitions; smaller ones
 * when a source spans many, to stay within the memory limit without spilling (measured: 24 partitions at
 * 122,880 rows took 4.5 s to write 2M rows under a 128 MB limit, at 20,000 rows 1.8 s, same output size).
 */
export function rowGroupSize(openPartitions: number): number {
  return Math.max(20_000, Math.min(122_880, Math.floor(OPEN_ROW_GROUP_BUDGET / Math.max(1, openPartitions))));
}

const num = (v: unknown): number => Number(v ?? 0);
const timestampLiteral = (d: Date): string => `CAST(TIMESTAMP ${sqlString(d.toISOString().replace('T', ' ').replace('Z', ''))} AS TIMESTAMP_MS)`;

export function lineageSelect(stamp: RunStamp): string {
  return [
    `${sqlString(stamp.key)} AS source_key`,
    `${stamp.version === null ? 'CAST(NULL AS VARCHAR)' : sqlString(stamp.version)} AS source_version`,
    `${sqlString(stamp.runId)} AS ingest_run_id`,
    `${timestampLiteral(stamp.ingestedAt)} AS ingested_at`,
  ].join(', ');
}

/** Columns shared by every quarantine record, row-level or whole-file. */
export function quarantineStampSelect(stamp: RunStamp): string {
  return [
    `${sqlString(stamp.dataset)} AS dataset`,
    `${sqlString(stamp.bucket)} AS source_bucket`,
    `${sqlString(stamp.key)} AS source_key`,
    `${stamp.version === null ? 'CAST(NULL AS VARCHAR)' : sqlString(stamp.version)} AS source_version`,
    `${sqlString(stamp.runId)} AS ingest_run_id`,
  ].join(', ');
}

/** What DuckDB's strict CSV reader says when line ends change style within a file. */
const MIXED_LINE_ENDS = /state machine reached an invalid state/;

/**
 * Views over the staged files for a writer session: `staged` (with each row's `ordinal` among the staged
 * rows) and `malformed` (record numbers not counting blank lines, which the reader counts as lines).
 */
async function attachStaged(db: DuckDBConnection, staged: StagedInput): Promise<void> {
  await db.run(`CREATE VIEW staged AS
    SELECT * EXCLUDE (file_row_number), file_row_number + 1 AS ordinal FROM read_parquet(${sqlString(staged.stagedFile)}, file_row_number = true)`);
  if (staged.malformedFiles.length === 0) {
    await db.run(`CREATE VIEW malformed AS
      SELECT CAST(NULL AS BIGINT) AS record_number, CAST(NULL AS VARCHAR[]) AS details, CAST(NULL AS VARCHAR) AS raw_record WHERE false`);
    return;
  }
  const malformed = `read_parquet([${staged.malformedFiles.map(sqlString).join(', ')}])`;
  if (!staged.blankLinesFile) {
    await db.run(`CREATE VIEW malformed AS SELECT record_number, details, raw_record FROM ${malformed}`);
    return;
  }
  // For each malformed record, the last blank line before it says how many blank lines to discount.
  const blanks = `read_csv(${sqlString(staged.blankLinesFile)}, header = false, auto_detect = false, columns = {'blank_at': 'BIGINT', 'blanks_before': 'BIGINT'})`;
  await db.run(`CREATE VIEW malformed AS
    SELECT m.record_number - coalesce(b.blanks_before, 0) AS record_number, m.details, m.raw_record
    FROM ${malformed} m ASOF LEFT JOIN ${blanks} b ON m.record_number > b.blank_at`);
}

async function writeSilver(db: DuckDBConnection, contract: DatasetContract, stamp: RunStamp, outDir: string): Promise<SilverPartitionOutput[]> {
  // Parquet has no TIMESTAMP_MS of its own: the staged file reads back as microseconds, so cast to the silver types again.
  const columns = contract.columns
    .filter((c) => c.pii !== 'drop')
    .map((c) => (c.pii === 'hash' ? ident(c.name) : `CAST(${ident(c.name)} AS ${duckdbType(c.type)}) AS ${ident(c.name)}`));
  const parts = contract.partitionBy.map((p) => `${partitionExpression(p, ident(p.source))} AS ${ident(p.name)}`);
  const partitionNames = partitionColumns(contract).map((c) => ident(c.name));
  const counts = new Map<string, number>();
  const grouped = await queryRows(
    db,
    partitionNames.length
      ? `SELECT ${parts.map((_, i) => `p${i}`).join(', ')}, count(*) AS n FROM (SELECT ${contract.partitionBy.map((p, i) => `${partitionExpression(p, ident(p.source))} AS p${i}`).join(', ')} FROM staged WHERE is_valid) GROUP BY ALL`
      : `SELECT count(*) AS n FROM staged WHERE is_valid`,
  );
  for (const row of grouped) counts.set(contract.partitionBy.map((_, i) => String(row[`p${i}`])).join('/'), num(row.n));

  const select = `SELECT ${[...columns, lineageSelect(stamp), ...parts].join(', ')} FROM staged WHERE is_valid`;
  const options = [`FORMAT parquet`, `COMPRESSION zstd`, `ROW_GROUP_SIZE ${rowGroupSize(counts.size)}`, `FILENAME_PATTERN 'part_{i}'`];
  // DuckDB cannot split files by size while partitioning; one source's month rarely needs it.
  options.push(partitionNames.length ? `PARTITION_BY (${partitionNames.join(', ')})` : `FILE_SIZE_BYTES ${sqlString(FILE_SIZE_BYTES)}`);
  const copied = num((await queryRows(db, `COPY (${select}) TO ${sqlString(outDir)} (${options.join(', ')})`))[0]?.Count);

  const files = (await listFiles(outDir)).sort();
  const byPartition = new Map<string, string[]>();
  for (const file of files) {
    const dirs = relative(outDir, file).split(sep).slice(0, -1);
    const values = dirs.map((d) => decodeURIComponent(d.slice(d.indexOf('=') + 1)));
    const id = values.join('/');
    byPartition.set(id, [...(byPartition.get(id) ?? []), file]);
  }
  const outputs: SilverPartitionOutput[] = [];
  for (const [id, partFiles] of byPartition) {
    const values = id === '' ? [] : id.split('/');
    const prefix = partitionPrefix(contract.name, contract.partitionBy, values);
    // DuckDB numbers files part_0, part_1 … part_10: order numerically so names are stable across runs.
    partFiles.sort((a, b) => fileIndex(a) - fileIndex(b));
    outputs.push({
      values,
      prefix,
      rows: counts.get(id) ?? 0,
      files: await Promise.all(
        partFiles.map(async (localPath, i) => ({ localPath, key: `${prefix}${silverFileName(stamp.sourceId, i)}`, bytes: (await stat(localPath)).size })),
      ),
    });
  }
  const counted = outputs.reduce((sum, p) => sum + p.rows, 0);
  if (counted !== copied) throw new EngineInvariantError(`silver: COPY wrote ${copied} rows but the partitions hold ${counted}`);
  return outputs.sort((a, b) => a.prefix.localeCompare(b.prefix));
}

const fileIndex = (path: string): number => Number(/part_(\d+)\.parquet$/.exec(path)?.[1] ?? 0);

async function listFiles(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true }).catch(() => [])) {
    const full = join(dir, entry.name);
    if (entry.isDirectory()) out.push(...(await listFiles(full)));
    else if (entry.name.endsWith('.parquet')) out.push(full);
  }
  return out;
}

async function writeQuarantine(db: DuckDBConnection, stamp: RunStamp, malformedRows: number, path: string): Promise<number> {
  const invalid = `SELECT ordinal, reasons, details, raw_record FROM staged WHERE NOT is_valid`;
  // Staged rows are numbered among well-formed records: shift each past the malformed records before it.
  // `good_before` is how many well-formed records precede the k-th malformed one; an ASOF join finds, for each
  // rejected row, the last malformed record before it. Only ordinals take part (narrow, sorts spill to disk),
  // and no step holds every rejected row in memory.
  const rowLevel =
    malformedRows === 0
      ? `SELECT ordinal AS record_number, reasons, details, raw_record FROM (${invalid})`
      : `SELECT n.record_number, i.reasons, i.details, i.raw_record
         FROM (${invalid}) i
         JOIN (
           SELECT o.ordinal, o.ordinal + coalesce(g.k, 0) AS record_number
           FROM (SELECT ordinal FROM staged WHERE NOT is_valid) o
           ASOF LEFT JOIN (
             SELECT good_before, max(k) AS k FROM (
               SELECT record_number - row_number() OVER (ORDER BY record_number) AS good_before, row_number() OVER (ORDER BY record_number) AS k
               FROM malformed)
             GROUP BY good_before
           ) g ON o.ordinal > g.good_before
         ) n USING (ordinal)`;
  // Row-level rejections, then malformed records; no global sort (it would hold every rejected row in memory).
  // Readers order by record_number.
  const sql = `COPY (
    SELECT ${quarantineStampSelect(stamp)}, CAST(record_number AS BIGINT) AS record_number, reasons, details, raw_record,
           ${timestampLiteral(stamp.ingestedAt)} AS ingested_at
    FROM (
      ${rowLevel}
      UNION ALL
      SELECT record_number, ['${RowReason.MALFORMED_ROW}'], details, raw_record FROM malformed
    )
  ) TO ${sqlString(path)} (FORMAT parquet, COMPRESSION zstd, ROW_GROUP_SIZE ${QUARANTINE_ROW_GROUP_SIZE})`;
  const rows = await queryRows(db, sql);
  return num(rows[0]?.Count);
}

/** Whole-file rejection: one quarantine record saying why. */
export async function writeFileRejection(db: DuckDBConnection, stamp: RunStamp, reason: string, detail: string, path: string): Promise<void> {
  await db.run(`COPY (
    SELECT ${quarantineStampSelect(stamp)}, CAST(NULL AS BIGINT) AS record_number, [${sqlString(reason)}] AS reasons,
           [${sqlString(detail)}] AS details, CAST(NULL AS VARCHAR) AS raw_record, ${timestampLiteral(stamp.ingestedAt)} AS ingested_at
  ) TO ${sqlString(path)} (FORMAT parquet, COMPRESSION zstd)`);
}

/**
 * Stages the file once (typing and validation into Parquet on local disk), then writes silver and quarantine
 * from the staged files. Each phase gets a fresh DuckDB, so memory the CSV reader held while staging cannot
 * crowd out the writers, and a file with many broken records is staged in chunks: peak memory stays flat
 * however large the input and however much of it is broken.
 */
export async function transformToLocal(
  settings: DuckDbSettings,
  contract: DatasetContract,
  inputPath: string,
  stamp: RunStamp,
  workDir: string,
  piiSalt: string,
  limits: StagingLimits = DEFAULT_STAGING_LIMITS,
): Promise<TransformResult> {
  let staged: StagedInput;
  try {
    staged = await stageInput(settings, contract, inputPath, workDir, piiSalt, limits);
  } catch (e) {
    // DuckDB's strict CSV reader gives up on a file that mixes CRLF and LF line ends (concatenated exports).
    // Such a file is read again with CRLF turned into LF; nothing from the failed attempt is used.
    if (!(e instanceof FileRejection) || contract.source.format !== 'csv' || !MIXED_LINE_ENDS.test(e.detail)) throw e;
    const normalized = join(workDir, 'input.lf.txt');
    await crlfToLf(inputPath, normalized);
    staged = await stageInput(settings, contract, normalized, workDir, piiSalt, limits);
  }
  const { header, counts } = staged;
  const rowsIn = counts.staged + counts.malformed;
  // Writers need no input order, but one thread keeps their output deterministic (re-runs write identical bytes).
  const writers = { ...settings, preserveInsertionOrder: false, threads: 1 };
  const partitions = await withDuckDb(writers, 'writing silver', async (db) => {
    await attachStaged(db, staged);
    return writeSilver(db, contract, stamp, join(workDir, 'silver'));
  });
  const rowsValid = partitions.reduce((sum, p) => sum + p.rows, 0);
  const invalid = counts.staged - counts.valid + counts.malformed;
  const quarantineFile = invalid > 0 ? join(workDir, 'quarantine.parquet') : undefined;
  const { rowsQuarantined, reasons } = await withDuckDb(writers, 'writing quarantine', async (db) => {
    await attachStaged(db, staged);
    const written = quarantineFile ? await writeQuarantine(db, stamp, counts.malformed, quarantineFile) : 0;
    const byReason: Record<string, number> = {};
    for (const row of await queryRows(db, `SELECT r, count(*) AS n FROM (SELECT unnest(reasons) AS r FROM staged WHERE NOT is_valid) GROUP BY r`)) {
      byReason[String(row.r)] = num(row.n);
    }
    // Structurally broken records counted while staging (e.g. JSON lines that are not objects) add to the reader's.
    if (counts.malformed > 0) byReason[RowReason.MALFORMED_ROW] = (byReason[RowReason.MALFORMED_ROW] ?? 0) + counts.malformed;
    return { rowsQuarantined: written, reasons: byReason };
  });
  return { rowsIn, rowsValid, rowsQuarantined, reasons, partitions, quarantineFile, header, chunked: staged.chunked };
}
