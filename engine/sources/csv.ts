import type { DuckDBConnection } from '@duckdb/node-api';
import type { DatasetContract } from '../contract/types.ts';
import { matchHeader, readCsvHeader, type HeaderMatch } from '../header.ts';
import { ident, piiPlaceholder, sqlString } from '../sql.ts';
import { rejectOption, type PreparedSource, type RejectMode } from './source.ts';

/** A source field as kept in quarantine: PII columns are redacted there too (the quarantine zone is not a PII store). */
export function originalValue(header: HeaderMatch, index: number): string {
  const pii = header.bindings.find((b) => b.sourceIndex === index)?.column.pii ?? 'none';
  return pii === 'none' ? ident(`c${index}`) : `CASE WHEN ${ident(`c${index}`)} IS NULL THEN NULL ELSE ${piiPlaceholder(pii)} END`;
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
export async function prepareCsv(_db: DuckDBConnection, contract: DatasetContract, path: string): Promise<PreparedSource> {
  const delimiter = contract.source.delimiter;
  const sourceColumns = await readCsvHeader(path, delimiter);
  const header = matchHeader(sourceColumns, contract);
  return {
    header,
    source: {
      relation: csvReader(path, delimiter, sourceColumns.length, 'skip'),
      headerLines: 1,
      field: (b) => (b.sourceIndex === undefined ? 'CAST(NULL AS VARCHAR)' : ident(`c${b.sourceIndex}`)),
      original: `json_object(${sourceColumns.map((name, i) => `${sqlString(name)}, ${originalValue(header, i)}`).join(', ')})`,
    },
  };
}

/** The CSV reader storing its rejects, for the rejects pass over a file or a chunk of it. */
export async function csvRejectsReader(contract: DatasetContract, path: string): Promise<string> {
  return csvReader(path, contract.source.delimiter, (await readCsvHeader(path, contract.source.delimiter)).length, 'store');
}
