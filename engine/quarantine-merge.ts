/**
 * One quarantine file from the quarantines of an input's chunks and the records cut out for their size:
 * record numbers made global (each chunk's offset, then past the cut records before them).
 */
import type { DuckDBConnection } from '@duckdb/node-api';
import { queryRows } from './duckdb.ts';
import { QUARANTINE_ROW_GROUP_SIZE, quarantineRowSelect } from './quarantine.ts';
import { RowReason } from './reasons.ts';
import { sqlString } from './sql.ts';
import type { RunStamp } from './stamp.ts';

/** A chunk's quarantine file, numbered from `recordOffset` + 1 on (the local chunks of a text are numbered in the whole text already: 0). */
export interface ChunkQuarantine {
  path: string;
  rows: number;
  /** Records (as `record_number` counts them) of the chunks before this one. */
  recordOffset: number;
}

/**
 * Writes the merged quarantine to `path` and returns its row count. Needs the `oversize` and `record_shift`
 * views (`attachOversize`). Streams: no step holds every quarantined row.
 */
export async function mergeQuarantine(
  db: DuckDBConnection,
  stamp: RunStamp,
  parts: readonly ChunkQuarantine[],
  oversizeRows: number,
  path: string,
): Promise<number> {
  const chunks = parts.map(
    (p) =>
      `SELECT * REPLACE (record_number + ${p.recordOffset} AS record_number) FROM read_parquet(${sqlString(p.path)})`,
  );
  const numbered = chunks.length === 0 ? undefined : chunks.join('\n      UNION ALL ');
  // Records cut out for their size shift the numbers of those after them (numbered in the cut text).
  const shifted =
    numbered && oversizeRows > 0
      ? `SELECT r.* REPLACE (r.record_number + coalesce(s.shift, 0) AS record_number)
         FROM (${numbered}) r ASOF LEFT JOIN record_shift s ON r.record_number >= s.from_record`
      : numbered;
  const cut =
    oversizeRows > 0
      ? `SELECT ${quarantineRowSelect(stamp, { recordNumber: 'record_number', reasons: `['${RowReason.RECORD_TOO_LARGE}']`, details: 'details', rawRecord: 'raw_record' })} FROM oversize`
      : undefined;
  const all = [shifted, cut].filter((q): q is string => q !== undefined).join('\n    UNION ALL BY NAME ');
  const [copied] = await queryRows(
    db,
    `COPY (${all}) TO ${sqlString(path)} (FORMAT parquet, COMPRESSION zstd, ROW_GROUP_SIZE ${QUARANTINE_ROW_GROUP_SIZE})`,
  );
  return Number(copied?.Count ?? 0);
}
