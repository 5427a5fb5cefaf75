import { open } from 'node:fs/promises';
import { normalizeHeaderName } from './contract/load.ts';
import type { ColumnContract, DatasetContract } from './contract/types.ts';
import { FileRejection, FileReason } from './reasons.ts';

/** Where each contract column comes from in this source. */
export interface ColumnBinding {
  column: ColumnContract;
  /** Position of the source field, or undefined for an optional column the source lacks. */
  sourceIndex: number | undefined;
  sourceName: string | undefined;
}

export interface HeaderMatch {
  sourceColumns: string[];
  bindings: ColumnBinding[];
  /** Source columns no contract column claims (kept in quarantine records, not in silver). */
  ignored: string[];
}

/** A CSV header longer than this is refused (TOO_MANY_COLUMNS) rather than cut. */
export const MAX_HEADER_BYTES = 1024 * 1024;

/**
 * Most source columns (CSV header fields, JSON keys seen) a file may have: far beyond any feed a contract
 * describes, and low enough that generating the reader's column list stays cheap. More is TOO_MANY_COLUMNS.
 */
export const MAX_SOURCE_COLUMNS = 10_000;

/** Splits the first CSV record (RFC 4180 quoting, CRLF or LF) into fields. */
export function parseCsvHeader(text: string, delimiter: string): string[] {
  const fields: string[] = [];
  let field = '';
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i];
    if (quoted) {
      if (ch === '"' && text[i + 1] === '"') {
        field += '"';
        i++;
      } else if (ch === '"') quoted = false;
      else field += ch;
    } else if (ch === '"') quoted = true;
    else if (ch === delimiter) {
      fields.push(field);
      field = '';
    } else if (ch === '\n' || ch === '\r') break;
    else field += ch;
  }
  fields.push(field);
  return fields;
}

export async function readCsvHeader(path: string, delimiter: string): Promise<string[]> {
  const handle = await open(path, 'r');
  try {
    const buffer = Buffer.alloc(MAX_HEADER_BYTES);
    const { bytesRead } = await handle.read(buffer, 0, MAX_HEADER_BYTES, 0);
    if (bytesRead === MAX_HEADER_BYTES && !buffer.includes(0x0a)) {
      throw new FileRejection(
        FileReason.TOO_MANY_COLUMNS,
        `the header has no line end in its first ${MAX_HEADER_BYTES} bytes`,
      );
    }
    return parseCsvHeader(
      buffer
        .subarray(0, bytesRead)
        .toString('utf8')
        .replace(/^\uFEFF/, ''),
      delimiter,
    );
  } finally {
    await handle.close();
  }
}

/**
 * Binds source columns to contract columns by name or alias, ignoring case, whitespace and underscores,
 * in any order. A required column with no source, or a column claimed twice, rejects the file.
 */
export function matchHeader(
  sourceColumns: string[],
  contract: DatasetContract,
  /** Given, several source names may map to one column (JSON keys spelled differently per line); it receives them all. */
  acceptSpellings?: (column: string, names: string[]) => void,
): HeaderMatch {
  if (sourceColumns.length > MAX_SOURCE_COLUMNS) {
    throw new FileRejection(
      FileReason.TOO_MANY_COLUMNS,
      `${sourceColumns.length} source columns; the limit is ${MAX_SOURCE_COLUMNS}`,
    );
  }
  const normalized = sourceColumns.map(normalizeHeaderName);
  const claimed = new Set<number>();
  const missing: string[] = [];
  const bindings = contract.columns.map((column): ColumnBinding => {
    const labels = new Set([column.name, ...column.aliases].map(normalizeHeaderName));
    const hits = normalized.flatMap((n, i) => (labels.has(n) ? [i] : []));
    acceptSpellings?.(
      column.name,
      hits.map((i) => sourceColumns[i] as string),
    );
    if (hits.length > 1 && !acceptSpellings) {
      throw new FileRejection(
        FileReason.MISSING_COLUMNS,
        `columns ${hits.map((i) => JSON.stringify(sourceColumns[i])).join(' and ')} both map to "${column.name}"`,
      );
    }
    const index = hits[0];
    if (index === undefined && column.required) missing.push(column.name);
    for (const i of hits) claimed.add(i);
    return { column, sourceIndex: index, sourceName: index === undefined ? undefined : sourceColumns[index] };
  });
  if (missing.length) {
    throw new FileRejection(
      FileReason.MISSING_COLUMNS,
      `required column(s) ${missing.join(', ')} not found in header [${sourceColumns.map((c) => JSON.stringify(c)).join(', ')}]`,
    );
  }
  return { sourceColumns, bindings, ignored: sourceColumns.filter((_, i) => !claimed.has(i)) };
}
