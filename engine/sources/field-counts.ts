/**
 * The records of a CSV text whose field count differs from its header's: what DuckDB's reader rejects for
 * their field count. Only for a text whose quoting the byte scan found clean (`RecordScan.quotingClean`):
 * then a quote simply toggles "inside a field" (a doubled quote toggles out and back in), and one tight loop
 * over the bytes follows the records as the reader does.
 */
import { createReadStream } from 'node:fs';
import { isUtf8 } from 'node:buffer';

const LF = 0x0a;
const CR = 0x0d;
const QUOTE = 0x22;

export interface FieldCountMismatches {
  /** The header line, line end included. */
  header: Buffer;
  /** The records whose field count differs from the header's, in text order, with their line ends. */
  records: Array<{ record: number; bytes: Buffer }>;
}

/**
 * Lists the records (numbered from 1 after the header, blank lines counted, as the byte scan numbers them)
 * whose count of fields outside quotes differs from the header's. Undefined when there are more than `limit`,
 * when the text is not UTF-8 (the reader rejects such records too, so field counts alone cannot say which it
 * skipped), or when it has no header line.
 */
export async function listFieldCountMismatches(
  path: string,
  delimiter: string,
  limit: number,
): Promise<FieldCountMismatches | undefined> {
  const comma = delimiter.charCodeAt(0);
  const records: FieldCountMismatches['records'] = [];
  let header: Buffer | undefined;
  let headerFields = -1;
  let lineNumber = 0;
  let fields = 1;
  let quoted = false;
  let content = false;
  /** Bytes of the record being read that came in earlier buffers. */
  let head: Buffer[] = [];
  let pendingUtf8 = Buffer.alloc(0);
  for await (const chunk of createReadStream(path, { highWaterMark: 1 << 20 }) as AsyncIterable<Buffer>) {
    const bytes = pendingUtf8.length > 0 ? Buffer.concat([pendingUtf8, chunk]) : chunk;
    const whole = completeUtf8Prefix(bytes);
    if (!isUtf8(bytes.subarray(0, whole))) return undefined;
    pendingUtf8 = Buffer.from(bytes.subarray(whole));
    let start = 0;
    for (let i = 0; i < chunk.length; i++) {
      const byte = chunk[i] as number;
      if (byte === QUOTE) quoted = !quoted;
      else if (quoted) continue;
      else if (byte === comma) fields++;
      else if (byte === LF) {
        const end = i + 1;
        if (lineNumber === 0) {
          header = recordBytes(head, chunk, start, end);
          headerFields = fields;
        } else if (content && fields !== headerFields) {
          if (records.length === limit) return undefined;
          records.push({ record: lineNumber, bytes: recordBytes(head, chunk, start, end) });
        }
        lineNumber++;
        fields = 1;
        content = false;
        head = [];
        start = end;
        continue;
      }
      if (byte !== CR) content = true;
    }
    if (start < chunk.length) head.push(Buffer.from(chunk.subarray(start)));
  }
  if (pendingUtf8.length > 0) return undefined; // a character cut off at the end
  // A last record without a line end.
  if (content && lineNumber > 0 && fields !== headerFields) {
    if (records.length === limit) return undefined;
    records.push({ record: lineNumber, bytes: Buffer.concat(head) });
  }
  return header && { header, records };
}

const recordBytes = (head: Buffer[], chunk: Buffer, start: number, end: number): Buffer =>
  head.length === 0 ? Buffer.from(chunk.subarray(start, end)) : Buffer.concat([...head, chunk.subarray(start, end)]);

/** Length of the longest prefix that does not end inside a multi-byte character (at most 3 bytes are held back). */
function completeUtf8Prefix(bytes: Buffer): number {
  for (let back = 1; back <= Math.min(3, bytes.length); back++) {
    const byte = bytes[bytes.length - back] as number;
    if ((byte & 0xc0) === 0x80) continue; // a continuation byte: look further back for its lead
    const length = byte >= 0xf0 ? 4 : byte >= 0xe0 ? 3 : byte >= 0xc0 ? 2 : 1;
    return length > back ? bytes.length - back : bytes.length;
  }
  return bytes.length;
}
