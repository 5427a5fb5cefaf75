/**
 * The records of a CSV text whose field count differs from its header's: what DuckDB's reader rejects for
 * their field count. Only for a text whose quoting the byte scan found clean (`RecordScan.quotingClean`):
 * then a quote simply toggles "inside a field" (a doubled quote toggles out and back in), and one tight loop
 * over the bytes (`field-counts.wat`) follows the records as the reader does.
 */
import { isUtf8 } from 'node:buffer';
import { MAX_HEADER_BYTES } from '../header.ts';
import { readBlocks } from './file-blocks.ts';
import { fieldCountsWasm } from './field-counts.wasm.ts';

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
  const utf8 = new Utf8Check();
  // The lister copies what it keeps: blocks may share one buffer.
  for await (const chunk of readBlocks(path, {}, 1 << 20)) {
    if (signal?.aborted) return undefined;
    if (!utf8.push(chunk)) return undefined;
    if (!lister.push(chunk)) return undefined;
  }
  if (!utf8.complete()) return undefined; // a character cut off at the end
  return lister.end();
}

/** Node's WebAssembly global, as far as used here (its types come with the DOM library, which this project does not load). */
declare const WebAssembly: {
  Module: new (bytes: Uint8Array) => WasmModule;
  Instance: new (module: WasmModule) => { exports: unknown };
};
type WasmModule = { readonly wasmModule: unique symbol };

/** The loop's exports (`field-counts.wat`): it counts one block of bytes at a time, keeping its state between blocks. */
interface FieldCountLoop {
  memory: { buffer: ArrayBuffer };
  reset(delimiter: number): void;
  /** Counts the block at the start of `memory`; returns the events it wrote at `EVENTS_AT`. */
  scan(length: number): number;
  fields(): number;
  content(): number;
  headerFields(): number;
  /** Lines the last `scan` ended, and where in its block the line after the last of them starts. */
  lineEnds(): number;
  lineStart(): number;
}

/** The block the loop reads, at the start of its memory, and where its events start (three int32 each). */
const BLOCK_BYTES = 1 << 16;
const EVENTS_AT = 1 << 16;

let compiled: WasmModule | undefined;

/**
 * The byte loop runs in WebAssembly, 16 bytes at a time (a byte at a time only around quotes): in JavaScript it
 * cost ~4.5 ns per byte, the largest use of the JavaScript thread while chunks are transformed (0.8 s of CPU for
 * 114 MB at two sessions, taken from DuckDB). The header and the listed records are handled here, out of the loop.
 */
class MismatchLister {
  private readonly records: FieldCountMismatches['records'] = [];
  private header: Buffer | undefined;
  private lineNumber = 0;
  /** Bytes of the record being read that came in earlier blocks. */
  private head: Buffer[] = [];
  private listedBytes = 0;
  private readonly loop: FieldCountLoop;
  private readonly block: Uint8Array;
  private readonly events: Int32Array;

  constructor(
    delimiter: number,
    private readonly limit: { records: number; bytes: number },
  ) {
    compiled ??= new WebAssembly.Module(Buffer.from(fieldCountsWasm, 'base64'));
    this.loop = new WebAssembly.Instance(compiled).exports as unknown as FieldCountLoop;
    this.loop.reset(delimiter);
    this.block = new Uint8Array(this.loop.memory.buffer, 0, BLOCK_BYTES);
    this.events = new Int32Array(this.loop.memory.buffer, EVENTS_AT, 3 * BLOCK_BYTES);
  }

  /** False when more than `limit` is listed. */
  push(chunk: Buffer): boolean {
    for (let from = 0; from < chunk.length; from += BLOCK_BYTES) {
      const block = chunk.subarray(from, from + BLOCK_BYTES);
      this.block.set(block);
      const events = this.loop.scan(block.length);
      for (let e = 0; e < 3 * events; e += 3) {
        const line = this.lineNumber + (this.events[e] as number);
        if (!this.take(line, block, this.events[e + 1] as number, this.events[e + 2] as number)) return false;
      }
      const lineEnds = this.loop.lineEnds();
      const rest = lineEnds > 0 ? this.loop.lineStart() : 0;
      if (lineEnds > 0) this.head = [];
      this.lineNumber += lineEnds;
      if (rest < block.length) this.head.push(Buffer.from(block.subarray(rest)));
    }
    return true;
  }

  end(): FieldCountMismatches | undefined {
    // A last record without a line end.
    const last = this.lineNumber > 0 && this.loop.content() !== 0 && this.loop.fields() !== this.loop.headerFields();
    if (last && !this.take(this.lineNumber, Buffer.alloc(0), 0, 0)) return undefined;
    return this.header && { header: this.header, records: this.records };
  }

  /**
   * The header (record 0) or a listed record, bytes [start, end) of `block`: a record starting at 0 may have
   * begun in earlier blocks. False when the list is full.
   */
  private take(lineNumber: number, block: Buffer, start: number, end: number): boolean {
    const tail = block.subarray(start, end);
    const bytes = start === 0 && this.head.length > 0 ? Buffer.concat([...this.head, tail]) : Buffer.from(tail);
    if (lineNumber === 0) {
      this.header = bytes;
      return true;
    }
    this.listedBytes += bytes.length;
    if (this.records.length === this.limit.records || this.listedBytes > this.limit.bytes) return false;
    this.records.push({ record: lineNumber, bytes });
    return true;
  }
}

/**
 * Whether the byte loops can count fields by this delimiter: one byte, and not a quote or a line end (they compare
 * single bytes, and take LF and CR for line ends whatever the delimiter).
 */
export const listableDelimiter = (delimiter: string): boolean =>
  Buffer.byteLength(delimiter) === 1 && !['\n', '\r', '"'].includes(delimiter);

/** What a listed record costs to hold besides its bytes (its entry and its Buffer's object), counted generously. */
export const HELD_RECORD_OVERHEAD = 128;

/**
 * What the listings given out may hold together, at most: they are held from when the scan plans their chunks (on a
 * long text, far ahead) to their chunks' turns. A 5 GB text with 1% bad rows (~0.2% malformed) peaked at 513 MB
 * holding up to one listing's limits (~38 MiB, counted: more as JavaScript objects), at 422–439 MB holding 8 MiB (434 MB
 * before listings were made by the scan).
 */
export const HELD_LISTINGS_BYTES = 8 << 20;

/** A scan's listing limits: each listing's (as a chunk's own listing has them), and what all may hold together. */
export interface ScanListingLimits {
  records: number;
  bytes: number;
  /** What the listings given out may hold together (`heldBudget`). @default HELD_LISTINGS_BYTES */
  held?: number;
}

/** What the listings given out may hold together: what one listing may hold at its limits, at most `limit.held`. */
export const heldBudget = (limit: ScanListingLimits): number =>
  Math.min(limit.bytes + HELD_RECORD_OVERHEAD * limit.records, limit.held ?? HELD_LISTINGS_BYTES);

/** Whether bytes given piece by piece are UTF-8, a character cut between two pieces included. */
class Utf8Check {
  private valid = true;
  private pending = Buffer.alloc(0);

  /** False once the bytes so far are not UTF-8 (then it looks at no more). */
  push(piece: Buffer): boolean {
    if (!this.valid) return false;
    const bytes = this.pending.length > 0 ? Buffer.concat([this.pending, piece]) : piece;
    const whole = completeUtf8Prefix(bytes);
    this.valid = isUtf8(bytes.subarray(0, whole));
    this.pending = Buffer.from(bytes.subarray(whole));
    return this.valid;
  }

  /** Whether all the bytes given are UTF-8, none of them the start of a character cut off at their end. */
  complete(): boolean {
    return this.valid && this.pending.length === 0;
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

/**
 * A chunk's field-count listing as the byte scan made it (`ScanOptions.fieldCounts`): `mismatches` is what
 * `listFieldCountMismatches` gives for the chunk's file (its header lines, then its bytes), undefined included.
 */
export interface ChunkFieldCounts {
  mismatches: FieldCountMismatches | undefined;
}

/**
 * Collects the byte scan's field-count mismatches (`record-scan.wat`, kind 3) chunk by chunk, so a chunk's records
 * with a wrong field count are known when it is planned, without a second read of its text. It keeps the bytes
 * of the record under way across the scan's buffers (up to the byte limit: a longer record could not be listed),
 * the header, and whether each chunk's bytes are UTF-8, as the listing of the chunk's file would see them.
 *
 * The scan runs ahead of the chunks' transforms (on a long text, by many chunks), so the listings given out are held
 * until their chunks' turns: all of them together hold at most `heldBudget` (their records' bytes, and
 * `HELD_RECORD_OVERHEAD` per record: what one listing may hold at its limits, at most 8 MiB). Past it, no chunk is
 * listed here any more (each lists its own file in its turn, as before).
 */
export class ChunkMismatchCollector {
  private header: Buffer | undefined;
  private headerParts: Buffer[] = [];
  private headerUtf8 = false;
  /**
   * No listing can be given from here on: the header was longer than the limit, a listed record's bytes were not
   * kept, or the listings given out hold the byte limit.
   */
  private lost = false;
  /** What the listings given out hold: their records' bytes, and an overhead per record. */
  private given = 0;
  private records: FieldCountMismatches['records'] = [];
  private listedBytes = 0;
  /** More than the limit was listed in this chunk: its listing is undefined. */
  private over = false;
  private utf8 = new Utf8Check();
  /** Where this chunk's bytes have been checked to be UTF-8 up to. */
  private checked = 0;
  /** The buffer being scanned and the text offset of its first byte. */
  private buffer: Buffer | undefined;
  private base = 0;
  /**
   * Copies of the bytes, from earlier buffers, of the record that starts at `carryStart` (joined only when it is
   * listed); undefined when they are more than the byte limit.
   */
  private carry: Buffer[] | undefined = [];
  private carryBytes = 0;
  private carryStart = 0;

  constructor(
    private readonly limit: ScanListingLimits,
    /** The scan's record limit: a text with a longer record is not cut into chunks (none of its listings is used). */
    private readonly maxRecordBytes = Number.POSITIVE_INFINITY,
  ) {}

  /** The scan is about to read `buffer`, the text's bytes from `base` on. */
  enter(buffer: Buffer, base: number): void {
    this.buffer = buffer;
    this.base = base;
  }

  /** A record of the chunk being planned (numbered from 1 in it, blank lines counted) with a wrong field count. */
  record(record: number, start: number, end: number): void {
    if (this.over || this.lost) return;
    const bytes = this.bytesOf(start, end);
    if (!bytes) {
      // Its bytes were not kept because they are more than the byte limit: the listing would be over it.
      if (this.carry === undefined) this.over = true;
      else this.stop();
      return;
    }
    this.listedBytes += bytes.length;
    if (this.records.length === this.limit.records || this.listedBytes > this.limit.bytes) {
      this.over = true;
      this.records = [];
      return;
    }
    if (this.given + this.listedBytes + HELD_RECORD_OVERHEAD * (this.records.length + 1) > heldBudget(this.limit)) {
      this.stop();
      return;
    }
    this.records.push({ record, bytes });
  }

  /** No chunk is listed from here on (the text is not fit for chunks; or see `lost`). */
  stop(): void {
    this.lost = true;
    this.records = [];
    this.carry = undefined;
    this.headerParts = [];
  }

  /**
   * The scan is done with the current buffer: the part of the record under way in it is kept, its bytes are
   * checked to be UTF-8, and the header (`headerBytes` long once its line has ended, else -1) is kept.
   */
  leave(recordStart: number, headerBytes: number): void {
    const buffer = this.buffer;
    if (!buffer || this.lost) {
      this.buffer = undefined;
      return;
    }
    const end = this.base + buffer.length;
    this.keepHeader(headerBytes);
    if (this.header === undefined && !this.lost) {
      this.headerParts.push(Buffer.from(buffer));
      // A header with no line end in its first MiB rejects the file (`header.ts`): no listing is wanted.
      if (end > Math.min(this.limit.bytes, MAX_HEADER_BYTES)) this.stop();
    }
    this.checkUtf8(end);
    if (recordStart >= this.base) {
      this.carry = [Buffer.from(buffer.subarray(recordStart - this.base))];
      this.carryBytes = end - recordStart;
      this.carryStart = recordStart;
    } else if (this.carry !== undefined && this.carryStart === recordStart) {
      this.carry.push(Buffer.from(buffer));
      this.carryBytes += buffer.length;
    } else this.carry = undefined;
    // Longer than the byte limit, it could not be listed; longer than the record limit, the text is not chunked.
    if (this.carryBytes > Math.min(this.limit.bytes, this.maxRecordBytes)) this.carry = undefined;
    this.buffer = undefined;
  }

  /** The chunk being planned ends at `end` (a record end): its listing, or undefined when none can be given. */
  cut(end: number, headerBytes: number): ChunkFieldCounts | undefined {
    if (this.lost) return undefined;
    this.keepHeader(headerBytes);
    this.checkUtf8(end);
    const utf8 = this.utf8.complete() && this.headerUtf8;
    const listing: ChunkFieldCounts | undefined =
      this.lost || this.header === undefined
        ? undefined
        : { mismatches: this.over || !utf8 ? undefined : { header: this.header, records: this.records } };
    if (listing?.mismatches) this.given += this.listedBytes + HELD_RECORD_OVERHEAD * this.records.length;
    this.records = [];
    this.listedBytes = 0;
    this.over = false;
    this.utf8 = new Utf8Check();
    this.checked = end;
    return listing;
  }

  private keepHeader(headerBytes: number): void {
    if (this.header !== undefined || this.lost || headerBytes < 0) return;
    const parts = this.buffer
      ? [...this.headerParts, this.buffer.subarray(0, Math.max(0, headerBytes - this.base))]
      : this.headerParts;
    const header = Buffer.concat(parts).subarray(0, headerBytes);
    if (header.length !== headerBytes) {
      this.stop();
      return;
    }
    this.header = Buffer.from(header);
    this.headerUtf8 = isUtf8(this.header);
    this.headerParts = [];
  }

  /** Bytes [start, end) of the text: in the current buffer, or begun in earlier ones (`carry`). */
  private bytesOf(start: number, end: number): Buffer | undefined {
    const buffer = this.buffer;
    if (buffer && start >= this.base) return Buffer.from(buffer.subarray(start - this.base, end - this.base));
    if (this.carry === undefined || this.carryStart !== start) return undefined;
    const tail = buffer ? buffer.subarray(0, end - this.base) : Buffer.alloc(0);
    const bytes = Buffer.concat([...this.carry, tail]);
    return bytes.length === end - start ? bytes : undefined;
  }

  private checkUtf8(upTo: number): void {
    const buffer = this.buffer;
    if (!buffer || upTo <= this.checked) return;
    this.utf8.push(buffer.subarray(this.checked - this.base, upTo - this.base));
    this.checked = upTo;
  }
}
