/**
 * Records larger than the engine's record limit. DuckDB's reader cannot hold a record beyond its buffer and
 * silently drops it, so such records never reach the reader: they are cut out of the input by byte range
 * (found by the byte scan) and quarantined on their own as RECORD_TOO_LARGE, with the start of their bytes.
 */
import { createReadStream, createWriteStream } from 'node:fs';
import { pipeline } from 'node:stream/promises';
import { readBytes } from '../spool.ts';
import type { OversizeRecord } from './records.ts';

/**
 * Default record limit: 1 MiB, half of DuckDB's default `max_line_size` (2 MiB), so no record the reader
 * is given ever meets its own limit; no tabular record of a data feed comes near it.
 */
export const DEFAULT_MAX_RECORD_BYTES = 1 << 20;

/** DuckDB's `max_line_size` default: a record limit above it would let the reader meet records it rejects or drops. */
export const READER_MAX_LINE_BYTES = 2 << 20;

/** Bytes of an oversize record kept in its quarantine row. */
export const OVERSIZE_HEAD_BYTES = 1024;

/** Copies `source` to `target` without the byte ranges of `records` (sorted, not overlapping). Streams. */
export async function cutRecords(source: string, target: string, records: readonly OversizeRecord[]): Promise<void> {
  let offset = 0;
  let next = 0;
  await pipeline(
    createReadStream(source, { highWaterMark: 1 << 20 }),
    async function* (buffers: AsyncIterable<Buffer>) {
      for await (const buffer of buffers) {
        const end = offset + buffer.length;
        let pos = offset;
        while (pos < end) {
          const cut = records[next];
          if (!cut || cut.start >= end) {
            yield buffer.subarray(pos - offset);
            pos = end;
          } else if (pos < cut.start) {
            yield buffer.subarray(pos - offset, cut.start - offset);
            pos = cut.start;
          } else if (cut.end <= end) {
            pos = Math.max(pos, cut.end);
            next++;
          } else pos = end; // the cut runs past this buffer
        }
        offset = end;
      }
    },
    createWriteStream(target),
  );
}

/** The first `OVERSIZE_HEAD_BYTES` of a record, as text (a character cut in half becomes U+FFFD). */
export async function recordHead(path: string, record: OversizeRecord): Promise<string> {
  return (await readBytes(path, record.start, Math.min(OVERSIZE_HEAD_BYTES, record.bytes))).toString('utf8');
}
