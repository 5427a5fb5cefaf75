import type { DuckDBConnection } from '@duckdb/node-api';
import type { DatasetContract } from '../contract/types.ts';
import { queryRows } from '../duckdb.ts';
import { matchHeader } from '../header.ts';
import { piiPlaceholder, sqlString } from '../sql.ts';
import { rejectOption, type PreparedSource, type RejectMode } from './source.ts';

/** Lines whose keys are sampled to bind fields to contract columns. */
export const KEY_SAMPLE_LINES = 10_000;
// No JSON function that raises on bad input may run before this test (DuckDB's AND does not short-circuit).
const IS_OBJECT = `(json_valid(line) AND starts_with(ltrim(line), '{'))`;

/** A JSONPath literal selecting one top-level key, whatever characters it has. */
const jsonPath = (key: string): string => sqlString(`$."${key.replace(/"/g, '\\"')}"`);

/** The line as kept in quarantine, with PII keys that are present replaced (the quarantine zone is not a PII store). */
function redactedLine(contract: DatasetContract, spellings: Map<string, string[]>): string {
  let line = 'line';
  for (const column of contract.columns) {
    if (column.pii === 'none') continue;
    for (const key of spellings.get(column.name) ?? []) {
      const patch = `json_object(${sqlString(key)}, ${piiPlaceholder(column.pii)})`;
      line = `json_merge_patch(${line}, CASE WHEN json_extract(line, ${jsonPath(key)}) IS NOT NULL THEN ${patch} ELSE '{}' END)`;
    }
  }
  // JSON functions raise on text that is not JSON: malformed lines are kept exactly as they came.
  return line === 'line' ? line : `CASE WHEN ${IS_OBJECT} THEN CAST(${line} AS VARCHAR) ELSE line END`;
}

/** DuckDB's reader for JSON Lines as text lines (a delimiter that cannot occur unescaped in JSON); blank lines are rows. */
export function jsonLinesReader(path: string, rejects: RejectMode): string {
  return `read_csv(${sqlString(path)}, header = false, auto_detect = false, all_varchar = true,
    delim = chr(1), quote = '', escape = '', strict_mode = true, ${rejectOption(rejects)}, columns = {'line': 'VARCHAR'})`;
}

/**
 * JSON Lines: one JSON object per line. Lines are read as text (a delimiter that cannot occur unescaped
 * in JSON), so a line that is not a JSON object becomes MALFORMED_ROW instead of stopping the file, and
 * blank lines are skipped. Keys bind to columns like CSV headers (any case, aliases); a key spelled
 * differently on different lines still binds, as long as it appears in the sampled lines.
 */
export async function prepareJsonLines(
  db: DuckDBConnection,
  contract: DatasetContract,
  path: string,
  samplePath: string = path,
): Promise<PreparedSource> {
  const relation = jsonLinesReader(path, 'skip');
  // Keys come from the start of the whole input, so every chunk of it binds its fields the same way.
  const keys = await queryRows(
    db,
    `SELECT DISTINCT unnest(json_keys(line)) AS k FROM (SELECT line FROM ${jsonLinesReader(samplePath, 'skip')} LIMIT ${KEY_SAMPLE_LINES}) WHERE ${IS_OBJECT}`,
  );
  const sourceKeys = keys.map((r) => String(r.k)).sort();
  // Several spellings of one column across lines are fine for JSON: bind each column to all of them.
  const spellings = new Map<string, string[]>();
  const header = matchHeader(sourceKeys, contract, (column, names) => spellings.set(column, names));
  const extract = (key: string): string => `json_extract_string(line, ${jsonPath(key)})`;
  return {
    header,
    source: {
      relation,
      headerLines: 0,
      field: (b) => {
        const keysForColumn = spellings.get(b.column.name) ?? [];
        if (keysForColumn.length === 0) return 'CAST(NULL AS VARCHAR)';
        const value =
          keysForColumn.length === 1
            ? extract(keysForColumn[0] as string)
            : `COALESCE(${keysForColumn.map(extract).join(', ')})`;
        return `CASE WHEN ${IS_OBJECT} THEN ${value} END`; // JSON functions raise on text that is not JSON
      },
      original: redactedLine(contract, spellings),
      malformed: { condition: `NOT ${IS_OBJECT}`, detail: 'the line is not a JSON object' },
      skip: `(line IS NULL OR trim(line) = '')`,
    },
  };
}
