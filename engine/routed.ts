/**
 * The routed pass over one text (a whole input or a chunk of it): typing and validation happen once, valid
 * rows go to their silver partitions and rejected rows to a scratch partition the quarantine is built from.
 */
import { relative, sep } from 'node:path';
import type { DuckDBConnection } from '@duckdb/node-api';
import type { DatasetContract } from './contract/types.ts';
import { asCount, queryRows } from './duckdb.ts';
import type { HeaderMatch } from './header.ts';
import { partitionPrefix } from './layout.ts';
import { EngineInvariantError } from './reasons.ts';
import { asFileRejection, prepareSource } from './reader.ts';
import { ident, partitionExpression, SILVER_CODEC, sqlString, typedRowsSql } from './sql.ts';
import { lineageColumns } from './parquet/lineage.ts';
import { rewriteParquetColumnsSync, type RewrittenFile } from './parquet/rewrite-columns.ts';
import type { RunStamp } from './stamp.ts';

/** A silver file on local disk, before it has a key. */
export interface LocalParquetFile {
  localPath: string;
  bytes: number;
}

/** One silver partition of one routed pass. */
export interface RoutedPartition {
  values: string[];
  prefix: string;
  rows: number;
  files: LocalParquetFile[];
}

/**
 * Every open partition buffers a row group until it is full, and how many partitions a file touches is
 * only known once it is read. 20,480 rows (DuckDB rounds to whole 2,048-row vectors) keeps 24 open
 * partitions within the memory limit without spilling (measured: 122,880-row groups over 24 partitions peaked 50 MB higher and ran 6% slower; files
 * 3% smaller).
 */
export const SILVER_ROW_GROUP_SIZE = 20_480;

/**
 * Where each row goes. Valid rows go to their silver partition; rejected rows and skipped lines (blank JSON
 * Lines) to a scratch partition named by a value no valid row can have in the first partition column: its
 * source is required, so never NULL, and its values are digits (year, month, day) or letters, digits and
 * `_ . -` (identity, checked). A dataset without partitions routes by a column of its own. (A separate route
 * column next to the partition columns cost 12% of the pass: DuckDB hashes every partition value per row.)
 */
const ROUTES = { rejected: '#rejected', skipped: '#skipped' } as const;
const ROUTE_COLUMN = '__route';
/**
 * The column a rejected row's payload travels in: the first string column silver keeps — rejected rows go to
 * scratch files of their own, so silver files hold only valid values in it and need no column of the engine's
 * (a scratch column, NULL in every silver row, cost ~2% of the pass's DuckDB instructions). A dataset without
 * one gets the scratch column `__payload`, dropped from its silver files' footers.
 */
function payloadCarrier(contract: DatasetContract): { column: string; scratch: boolean } {
  const string = contract.columns.find((c) => c.pii !== 'drop' && c.type.kind === 'string');
  return string ? { column: string.name, scratch: false } : { column: '__payload', scratch: true };
}

/**
 * The rows routed to `#rejected`: those whose `__is_valid` is false — exactly the rows `typedRowsSql` gives a
 * payload in `payloadCarrier`'s column (`NOT is_valid`, the same value), so a payload never reaches a silver file.
 */
const REJECTED_ROW = 'NOT __is_valid';

/**
 * The route and partition columns (`select`, over `values` computed below them), named `names`. Each partition value
 * is computed for every row in a projection of its own: inside the CASEs that route the rows, DuckDB computed what
 * the values share (a timestamp's cast, for year and month) once per value instead of once.
 */
function routeAndPartitions(contract: DatasetContract): { select: string[]; names: string[]; values: string[] } {
  const skippedOr = (valid: string): string =>
    `CASE WHEN __is_valid THEN ${valid} WHEN ${REJECTED_ROW} THEN '${ROUTES.rejected}' ELSE '${ROUTES.skipped}' END`;
  if (contract.partitionBy.length === 0)
    return { select: [`${skippedOr("'valid'")} AS ${ROUTE_COLUMN}`], names: [ROUTE_COLUMN], values: [] };
  const valueName = (i: number): string => `__partition_${i}`;
  const select = contract.partitionBy.map(
    (p, i) =>
      `${i === 0 ? skippedOr(valueName(i)) : `CASE WHEN __is_valid THEN ${valueName(i)} END`} AS ${ident(p.name)}`,
  );
  const values = contract.partitionBy.map((p, i) => `${partitionExpression(p, ident(p.source))} AS ${valueName(i)}`);
  return { select, names: contract.partitionBy.map((p) => p.name), values };
}

/** A routed file's route and partition values, from its path under the COPY's output directory. */
function routeOf(
  contract: DatasetContract,
  relativeDirs: string[],
): { route: 'valid' | 'rejected' | 'skipped'; values: string[] } {
  const values = relativeDirs.map((d) => decodeURIComponent(d.slice(d.indexOf('=') + 1)));
  const first = values[0];
  const route = first === ROUTES.rejected ? 'rejected' : first === ROUTES.skipped ? 'skipped' : 'valid';
  return { route, values: contract.partitionBy.length === 0 ? [] : values };
}

/** What DuckDB's strict CSV reader says when line ends change style within a file. */
export const MIXED_LINE_ENDS = /state machine reached an invalid state/;

export interface RoutedOutput {
  header: HeaderMatch;
  /** Rows the reader yielded (skipped lines included). */
  readerRows: number;
  /** Silver files by partition as the COPY wrote them: their footers hold no lineage yet (and any `scratchColumns`). */
  silver: UnfinishedPartition[];
  /** Scratch Parquet of rejected rows; their `payloadColumn` holds the payload. */
  rejectedFiles: string[];
  /** The column rejected rows carry their payload in (`payloadCarrier`). */
  payloadColumn: string;
  /** Columns the COPY wrote that silver files must not have (dropped from their footers). */
  scratchColumns: string[];
  /** Rows routed as rejected, and as skipped lines. */
  rejectedRows: number;
  skippedRows: number;
}

/** A silver partition's files as the routed COPY wrote them, in the order they are numbered. */
export interface UnfinishedPartition {
  values: string[];
  prefix: string;
  localPaths: string[];
}

/**
 * The single pass: reads the text, types and validates every record, numbers it, and writes each row to
 * a partition of its route — valid rows to their silver partition, rejected rows to a scratch one.
 *
 * One COPY writes one set of columns: the silver columns, one of which (`payloadCarrier`) a rejected row fills
 * with what its quarantine row is built from (its record ordinal, then its original values and field texts as
 * JSON: `typedRowsSql`); its scratch file is read once to build the quarantine and never published. The silver files are finished by
 * `finishSilver`, which needs no DuckDB session (so the session can go to the next text meanwhile).
 */
export async function writeRouted(
  db: DuckDBConnection,
  contract: DatasetContract,
  path: string,
  piiSalt: string,
  outDir: string,
  /** Where JSON Lines keys are sampled: the whole input, when `path` is a chunk of it. */
  samplePath: string = path,
  /**
   * Written beside other texts' files in `outDir` (a text's chunks share its partition directories: each new
   * directory costs an inode), its files' names starting with this.
   * @default alone in `outDir`
   */
  sharedAs?: string,
): Promise<RoutedOutput> {
  // Binding reads the file too (JSON Lines samples its keys): a reader error there rejects the file as well.
  const { header, source } = await prepareSource(db, contract, path, samplePath).catch((e: unknown) => {
    throw asFileRejection(e, contract);
  });
  // Rejected rows carry what their quarantine row is built from in this column (valid and skipped rows: its value).
  const carrier = payloadCarrier(contract);
  const columns = contract.columns.filter((c) => c.pii !== 'drop').map((c) => ident(c.name));
  if (carrier.scratch) columns.push(ident(carrier.column));
  const routing = routeAndPartitions(contract);
  // Rows are numbered as read (one thread, input order): a rejected row's ordinal among the reader's rows.
  await db.run(`CREATE TEMP SEQUENCE ordinal START 1`);
  const typed = typedRowsSql(contract, header.bindings, source, piiSalt, carrier);
  const select = `SELECT ${[...columns, ...routing.select].join(', ')}
    FROM (${routing.values.length === 0 ? typed : `SELECT *, ${routing.values.join(', ')} FROM (${typed})`})`;
  const options = [
    `FORMAT parquet`,
    SILVER_CODEC,
    `ROW_GROUP_SIZE ${SILVER_ROW_GROUP_SIZE}`,
    `FILENAME_PATTERN ${sqlString(`${sharedAs ?? ''}part_{i}`)}`,
    `PARTITION_BY (${routing.names.map(ident).join(', ')})`,
    // Into directories other texts may have made already (or be making: DuckDB takes EEXIST as made).
    ...(sharedAs === undefined ? [] : ['OVERWRITE_OR_IGNORE true']),
    // A row per file written, with its rows: the files and their routes without listing the directory.
    `RETURN_STATS true`,
  ];
  let written: Array<{ file: string; rows: number }>;
  try {
    written = (await queryRows(db, `COPY (${select}) TO ${sqlString(outDir)} (${options.join(', ')})`)).map((w) => ({
      file: String(w.filename),
      rows: asCount(w.count),
    }));
  } catch (e) {
    throw asFileRejection(e, contract);
  }

  const byPartition = new Map<string, string[]>();
  const rejectedFiles: string[] = [];
  let rejectedRows = 0;
  let skippedRows = 0;
  for (const { file, rows } of written.sort((x, y) => (x.file < y.file ? -1 : x.file > y.file ? 1 : 0))) {
    const { route, values } = routeOf(contract, relative(outDir, file).split(sep).slice(0, -1));
    if (route === 'rejected') {
      rejectedFiles.push(file);
      rejectedRows += rows;
    }
    if (route === 'skipped') skippedRows += rows;
    if (route !== 'valid') continue;
    const id = values.join('/');
    byPartition.set(id, [...(byPartition.get(id) ?? []), file]);
  }
  const silver = [...byPartition].map(([id, localPaths]) => {
    const values = id === '' ? [] : id.split('/');
    // DuckDB numbers files [<chunk-NNNNN->]part_0, part_1 … part_10: order numerically so names are stable across runs.
    localPaths.sort((x, y) => fileIndex(x) - fileIndex(y));
    return { values, prefix: partitionPrefix(contract.name, contract.partitionBy, values), localPaths };
  });
  silver.sort((x, y) => x.prefix.localeCompare(y.prefix));
  return {
    header,
    readerRows: written.reduce((sum, w) => sum + w.rows, 0),
    silver,
    rejectedFiles,
    payloadColumn: carrier.column,
    scratchColumns: carrier.scratch ? [carrier.column] : [],
    rejectedRows,
    skippedRows,
  };
}

/**
 * The routed pass's silver files given their lineage: each footer rewritten with the run's constants in (and a
 * scratch payload column, all NULL in them, out) (DuckDB's Parquet writer pays for constant columns per row, ~25% of the
 * pass measured; here they are one dictionary-encoded chunk per row group, `engine/parquet/`, read back as DuckDB
 * would write them). One file at a time, with blocking file calls (`rewriteParquetColumnsSync`), giving the thread
 * back between files. The rewrite reads each footer, so it also gives the file's rows and size; every row the reader yielded
 * must be in a route.
 */
export async function finishSilver(routed: RoutedOutput, stamp: RunStamp): Promise<RoutedPartition[]> {
  const lineage = lineageColumns(stamp);
  const silverFiles = routed.silver.flatMap((p) => p.localPaths);
  const results: RewrittenFile[] = [];
  for (const file of silverFiles) {
    results.push(rewriteParquetColumnsSync(file, { drop: routed.scratchColumns, append: lineage }));
    await new Promise<void>((resolve) => setImmediate(resolve)); // between files, the thread for the next chunk's steps
  }
  let next = 0;
  const partitions = routed.silver.map(({ values, prefix, localPaths }) => {
    const files = localPaths.map((localPath) => ({ localPath, ...(results[next++] as RewrittenFile) }));
    return {
      values,
      prefix,
      rows: files.reduce((sum, f) => sum + f.rows, 0),
      files: files.map(({ localPath, bytes }) => ({ localPath, bytes })),
    };
  });
  const valid = partitions.reduce((sum, p) => sum + p.rows, 0);
  const routedRows = valid + routed.rejectedRows + routed.skippedRows;
  if (routedRows !== routed.readerRows)
    throw new EngineInvariantError(`silver: COPY wrote ${routed.readerRows} rows but the routes hold ${routedRows}`);
  return partitions;
}

const fileIndex = (path: string): number => Number(/part_(\d+)\.parquet$/.exec(path)?.[1] ?? 0);
