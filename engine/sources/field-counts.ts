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
 * whose count of fields outside quotes differs from the header's. Undefined when they are more than `limit`
 * records or bytes, when the text is not UTF-8 (the reader rejects such records too, so field counts alone
 * cannot say which it skipped), or when it has no header line.
 */
export async function listFieldCountMismatches(
  path: string,
  delimiter: string,
  limit: { records: number; bytes: number },
  /** Stops the listing (it then gives undefined), e.g. when the reader turned out to skip nothing. */
  signal?: AbortSignal,
): Promise<FieldCountMismatches | undefined> {
  const lister = new MismatchLister(delimiter.charCodeAt(0), limit);
  let pendingUtf8 = Buffer.alloc(0);
  for await (const chunk of createReadStream(path, { highWaterMark: 1 << 20 }) as AsyncIterable<Buffer>) {
    if (signal?.aborted) return undefined;
    const bytes = pendingUtf8.length > 0 ? Buffer.concat([pendingUtf8, chunk]) : chunk;
    const whole = completeUtf8Prefix(bytes);
    if (!isUtf8(bytes.subarray(0, whole))) return undefined;
    pendingUtf8 = Buffer.from(bytes.subarray(whole));
    if (!lister.push(chunk)) return undefined;
  }
  if (pendingUtf8.length > 0) return undefined; // a character cut off at the end
  return lister.end();
}

/**
 * The byte loop, in a synchronous method over local variables, with the header and the mismatches handled
 * out of line: no call or closure per byte or per well-formed record (the bundler's keepNames wraps every
 * closure; one per record made the first version 3× slower).
 */
class MismatchLister {
  private readonly records: FieldCountMismatches['records'] = [];
  private header: Buffer | undefined;
  private headerFields = -1;
  private lineNumber = 0;
  private fields = 1;
  private quoted = false;
  private content = false;
  /** Bytes of the record being read that came in earlier buffers. */
  private head: Buffer[] = [];
  private listedBytes = 0;

  constructor(
    private readonly delimiter: number,
    private readonly limit: { records: number; bytes: number },
  ) {}

  /** False when more than `limit` is listed. */
  push(chunk: Buffer): boolean {
    // Locals, not module constants, in the loop: V8 checks a module binding on every read (measured faster).
    const [delimiter, quote, lf, cr] = [this.delimiter, QUOTE, LF, CR];
    let fields = this.fields;
    let quoted = this.quoted;
    let content = this.content;
    let lineNumber = this.lineNumber;
    let start = 0;
    for (let i = 0; i < chunk.length; i++) {
      const byte = chunk[i] as number;
      if (byte === quote) quoted = !quoted;
      else if (quoted) continue;
      else if (byte === delimiter) fields++;
      else if (byte === lf) {
        // The common case (a well-formed record) stays in this loop; the header and mismatches go out.
        if (lineNumber === 0 || (content && fields !== this.headerFields)) {
          if (!this.take(lineNumber, fields, chunk, start, i + 1)) return false;
        }
        if (this.head.length > 0) this.head = [];
        lineNumber++;
        fields = 1;
        content = false;
        start = i + 1;
        continue;
      }
      if (byte !== cr) content = true;
    }
    if (start < chunk.length) this.head.push(Buffer.from(chunk.subarray(start)));
    this.fields = fields;
    this.quoted = quoted;
    this.content = content;
    this.lineNumber = lineNumber;
    return true;
  }

  end(): FieldCountMismatches | undefined {
    // A last record without a line end.
    const last = this.lineNumber > 0 && this.content && this.fields !== this.headerFields;
    if (last && !this.take(this.lineNumber, this.fields, Buffer.alloc(0), 0, 0)) return undefined;
    return this.header && { header: this.header, records: this.records };
  }

  /** The header (record 0) or a listed record; false when the list is full. */
  private take(lineNumber: number, fields: number, chunk: Buffer, start: number, end: number): boolean {
    const tail = chunk.subarray(start, end);
    const bytes = this.head.length === 0 ? Buffer.from(tail) : Buffer.concat([...this.head, tail]);
    if (lineNumber === 0) {
      this.header = bytes;
      this.headerFields = fields;
      return true;
    }
    this.listedBytes += bytes.length;
    if (this.records.length === this.limit.records || this.listedBytes > this.limit.bytes) return false;
    this.records.push({ record: lineNumber, bytes });
    return true;
  }
}

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
