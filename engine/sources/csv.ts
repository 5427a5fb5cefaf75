import type { DuckDBConnection } from '@duckdb/node-api';
import type { DatasetContract } from '../contract/types.ts';
import { matchHeader, readCsvHeader, type HeaderMatch } from '../header.ts';
import { ident, piiPlaceholder, sqlString } from '../sql.ts';
import { rejectOption, type PreparedSource, type RejectMode } from './source.ts';

/** A source field as kept in quarantine: PII columns are redacted there too (the quarantine zone is not a PII store). */
export function originalValue(header: HeaderMatch, index: number): string {
  const pii = header.bindings.find((b) => b.sourceIndex === index)?.column.pii ?? 'none';
  return pii === 'none'
    ? ident(`c${index}`)
    : `CASE WHEN ${ident(`c${index}`)} IS NULL THEN NULL ELSE ${piiPlaceholder(pii)} END`;
}

/**
 * Up to this many source columns, every field is read, so a quarantined row keeps the columns no contract
 * column claims. Beyond it only the fields the contract binds are read: DuckDB's reader holds buffers for
 * every column it reads (about half a MB each), and a 200-column file ran out of a 128 MB memory limit.
 */
export const READ_ALL_COLUMNS_UP_TO = 64;

/** The source fields the reader reads (by position): all of a narrow file, only the bound ones of a wide one. */
export function readColumnIndexes(header: HeaderMatch): number[] {
  if (header.sourceColumns.length <= READ_ALL_COLUMNS_UP_TO) return header.sourceColumns.map((_, i) => i);
  return [...new Set(header.bindings.flatMap((b) => (b.sourceIndex === undefined ? [] : [b.sourceIndex])))].sort(
    (a, b) => a - b,
  );
}

/** DuckDB's reader for a CSV file whose header has `columnCount` fields: every field as text. */
export function csvReader(path: string, delimiter: string, columnCount: number, rejects: RejectMode): string {
  const columns = Array.from({ length: columnCount }, (_, i) => `'c${i}': 'VARCHAR'`).join(', ');
  return `read_csv(${sqlString(path)}, header = true, auto_detect = false, all_varchar = true,
    delim = ${sqlString(delimiter)}, quote = '"', escape = '"', strict_mode = true, ${rejectOption(rejects)}, columns = {${columns}})`;
}

/**
 * CSV with a header row, RFC 4180 quoting, LF or CRLF. Every field is read as text so typing and
 * validation happen per contract; records with the wrong field count or broken quoting are skipped here
 * and found by the rejects pass (MALFORMED_ROW).
 */
export async function prepareCsv(
  _db: DuckDBConnection,
  contract: DatasetContract,
  path: string,
  _samplePath?: string,
): Promise<PreparedSource> {
  const delimiter = contract.source.delimiter;
  const sourceColumns = await readCsvHeader(path, delimiter);
  const header = matchHeader(sourceColumns, contract);
  const kept = readColumnIndexes(header);
  return {
    header,
    source: {
      relation: csvReader(path, delimiter, sourceColumns.length, 'skip'),
      headerLines: 1,
      field: (b) => (b.sourceIndex === undefined ? 'CAST(NULL AS VARCHAR)' : ident(`c${b.sourceIndex}`)),
      original: `json_object(${kept.map((i) => `${sqlString(sourceColumns[i] as string)}, ${originalValue(header, i)}`).join(', ')})`,
    },
  };
}

/**
 * The CSV reader storing its rejects, for the rejects pass over a file or a chunk of it, and the fields it
 * reads: the same as the main pass's, so both reject the same records (a field that is not read is not
 * checked for UTF-8).
 */
export async function csvRejectsReader(
  contract: DatasetContract,
  path: string,
): Promise<{ relation: string; fields: string[] }> {
  const sourceColumns = await readCsvHeader(path, contract.source.delimiter);
  const fields = readColumnIndexes(matchHeader(sourceColumns, contract)).map((i) => ident(`c${i}`));
  return { relation: csvReader(path, contract.source.delimiter, sourceColumns.length, 'store'), fields };
}
