import type { DuckDBConnection } from '@duckdb/node-api';
import type { DatasetContract } from '../contract/types.ts';
import { matchHeader, readCsvHeader, type HeaderMatch } from '../header.ts';
import { ident, piiPlaceholder, sqlString } from '../sql.ts';
import type { PreparedSource } from './source.ts';

/** A source field as kept in quarantine: PII columns are redacted there too (the quarantine zone is not a PII store). */
export function originalValue(header: HeaderMatch, index: number): string {
  const pii = header.bindings.find((b) => b.sourceIndex === index)?.column.pii ?? 'none';
  return pii === 'none' ? ident(`c${index}`) : `CASE WHEN ${ident(`c${index}`)} IS NULL THEN NULL ELSE ${piiPlaceholder(pii)} END`;
}

/**
 * CSV with a header row, RFC 4180 quoting, LF or CRLF. Every field is read as text so typing and
 * validation happen per contract; records with the wrong field count or broken quoting go to
 * DuckDB's reject table and become MALFORMED_ROW.
 */
export async function prepareCsv(_db: DuckDBConnection, contract: DatasetContract, path: string): Promise<PreparedSource> {
  const delimiter = contract.source.delimiter;
  const sourceColumns = await readCsvHeader(path, delimiter);
  const header = matchHeader(sourceColumns, contract);
  const columns = sourceColumns.map((_, i) => `'c${i}': 'VARCHAR'`).join(', ');
  const relation = `read_csv(${sqlString(path)}, header = true, auto_detect = false, all_varchar = true,
    delim = ${sqlString(delimiter)}, quote = '"', escape = '"', strict_mode = true, store_rejects = true, columns = {${columns}})`;
  return {
    header,
    source: {
      relation,
      headerLines: 1,
      field: (b) => (b.sourceIndex === undefined ? 'CAST(NULL AS VARCHAR)' : ident(`c${b.sourceIndex}`)),
      original: `json_object(${sourceColumns.map((name, i) => `${sqlString(name)}, ${originalValue(header, i)}`).join(', ')})`,
    },
  };
}
