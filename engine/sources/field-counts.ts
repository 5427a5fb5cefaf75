/**
 * The records of a CSV text whose field count differs from its header's: what DuckDB's reader rejects for
 * their field count. Only for a text whose quoting the byte scan found clean (`RecordScan.quotingClean`):
 * then a quote simply toggles "inside a field" (a doubled quote toggles out and back in), and one tight loop
 * over the bytes (`field-counts.wat`) follows the records as the reader does.
 */
import { isUtf8 } from 'node:buffer';
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
  let pendingUtf8 = Buffer.alloc(0);
  // The lister copies what it keeps: blocks may share one buffer.
  for await (const chunk of readBlocks(path, {}, 1 << 20)) {
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
