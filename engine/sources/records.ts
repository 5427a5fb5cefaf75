/**
 * Byte-level record scanning, counted the way DuckDB's CSV reader counts lines: one per record (a newline
 * inside double quotes does not end a CSV record), blank lines included.
 */
import { createWriteStream } from 'node:fs';
import { pipeline } from 'node:stream/promises';
import { setImmediate } from 'node:timers/promises';
import {
  ChunkMismatchCollector,
  listableDelimiter,
  type ChunkFieldCounts,
  type ScanListingLimits,
} from './field-counts.ts';
import { copyRanges, readBlocks } from './file-blocks.ts';
import { recordScanWasm } from './record-scan.wasm.ts';

export interface RecordScan {
  /** Records after the header lines, blank lines included. */
  records: number;
  /** Blank lines among them (nothing but a line end). */
  blankLines: number;
  /** Bytes of the longest record (what a reader reject holds besides its own ~1 KB). */
  maxRecordBytes: number;
  /**
   * Every double quote stood where RFC 4180 allows one (opening a field, closing it before a delimiter or
   * line end, or doubled inside it) and none was left open: then DuckDB's reader sees the same records.
   */
  quotingClean: boolean;
  /** Records longer than `maxRecordBytes`, in file order (none when no limit was given). */
  oversize: OversizeRecord[];
  /**
   * Line ends outside quotes that are CRLF, and that are a bare LF (both non-zero: the file mixes them); and
   * carriage returns not followed by LF anywhere (classic Mac line ends, stray CRs): where there are any, the
   * scan cannot vouch for the records DuckDB sees.
   */
  lineEnds: { crlf: number; lf: number; bareCr: number };
  /** Bytes of the header lines (every chunk repeats them); -1 when the header has no line end. */
  headerBytes: number;
  /** The records after the header cut into chunks at record ends, when `chunking` was asked for. */
  chunks: ByteChunk[];
  /**
   * Byte offset where the first `sampleRecords` records after the header that are not over the limit end
   * (the records JSON Lines keys are sampled from); the end of the text when it has fewer. -1 when not asked.
   */
  sampleEnd: number;
}

/** A run of whole records of a file, by byte range. */
export interface ByteChunk {
  start: number;
  end: number;
  /** Records (lines, as DuckDB counts them, blank lines included) of the file before this chunk, header excluded. */
  recordOffset: number;
  records: number;
  /** Blank lines among its records. */
  blankLines: number;
  /** Bytes of its longest record. */
  maxRecordBytes: number;
}

/** What the scan knew of the text so far when it planned a chunk: whether the text up to there is still clean. */
export type ScanSoFar = Pick<RecordScan, 'quotingClean' | 'lineEnds' | 'headerBytes'> & { oversizeRecords: number };

/** Where to cut: a chunk ends at the first record end where either limit is reached. */
export interface ChunkLimits {
  recordsPerChunk: number;
  /** Bytes of every chunk, or of the chunk at each index (0-based) where chunks differ in size. */
  bytesPerChunk: number | ((index: number) => number);
}

/** A record too large for the reader: where it is, so it can be cut out of the input and quarantined on its own. */
export interface OversizeRecord {
  /** Its position among the records (1-based, header excluded); `blankLinesBefore` says how many of those were blank. */
  record: number;
  blankLinesBefore: number;
  /** Byte range in the file, line end included. */
  start: number;
  end: number;
  /** Bytes of the record without its line end. */
  bytes: number;
}

export interface ScanOptions {
  headerLines: number;
  /** CSV: quotes group fields; JSON Lines: quotes mean nothing to record boundaries. */
  quoted: boolean;
  /** The CSV field delimiter (one byte). */
  delimiter?: string;
  /** Records longer than this many bytes are listed in `oversize`. @default no limit */
  maxRecordBytes?: number;
  /** Cut the records into chunks (`chunks`). @default no chunks */
  chunking?: ChunkLimits;
  /** Where the first this many records that are not over `maxRecordBytes` end (`sampleEnd`). @default none */
  sampleRecords?: number;
  /**
   * With `chunking`, a CSV text (one header line, a one-byte delimiter) has each chunk's records whose field count
   * differs from the header's listed as it is scanned, up to these limits, and given to `onChunk` — while the text is
   * fit for chunks (clean quoting, one line-end style, no record over `maxRecordBytes`) and the listings given out
   * hold less than `heldBudget` together. @default none
   */
  fieldCounts?: ScanListingLimits;
  /**
   * Told of each chunk as soon as it is planned, with what the scan knew so far — so chunks can be transformed
   * while the scan goes on (whether they may be kept is only known once it ends) — and its field-count listing
   * (`fieldCounts`; undefined when not asked for or not made). @default none
   */
  onChunk?: (chunk: ByteChunk, soFar: ScanSoFar, fieldCounts: ChunkFieldCounts | undefined) => void;
}

/**
 * Counts a file's records and writes its blank lines to `blankLinesPath` as CSV `blank_at,blanks_before`
 * (record number of the blank line, blank lines before and including it), in order. Streams; memory is
 * flat however many blank lines there are.
 */
export async function scanRecords(
  path: string,
  blankLinesPath: string,
  options: ScanOptions,
  /** The file's bytes, when they come otherwise than read from it now (a file still being spooled). */
  source: AsyncIterable<Buffer> = readBlocks(path),
): Promise<RecordScan> {
  return scanRecordStream(source, createWriteStream(blankLinesPath), options);
}

/**
 * The same scan over bytes as they arrive (an object being downloaded: nothing keeps them), blank lines
 * written to `blankLinesOut` (a stream that discards them when they are not needed). Each buffer is done with
 * before the next is asked for, so a source may read every block into the same one.
 */
export async function scanRecordStream(
  source: AsyncIterable<Buffer>,
  blankLinesOut: NodeJS.WritableStream,
  options: ScanOptions,
): Promise<RecordScan> {
  const loop = recordLoop(options);
  const oversize: OversizeRecord[] = [];
  const cutting = options.chunking;
  const chunks: ByteChunk[] = [];
  const bytesOf = (index: number): number => {
    const size = cutting?.bytesPerChunk ?? Number.POSITIVE_INFINITY;
    return typeof size === 'function' ? size(index) : size;
  };
  loop.chunkBytes.value = bytesOf(0);
  const listing =
    options.fieldCounts &&
    cutting &&
    options.quoted &&
    options.headerLines === 1 &&
    listableDelimiter(options.delimiter ?? ',')
      ? new ChunkMismatchCollector(options.fieldCounts, options.maxRecordBytes)
      : undefined;
  loop.listing.value = listing ? 1 : 0;
  let chunkBlankLinesBefore = 0;
  const planChunk = (end: number): void => {
    const planned: ByteChunk = {
      start: loop.chunkStart.value,
      end,
      recordOffset: loop.chunkRecordOffset.value,
      records: loop.chunkRecords.value,
      blankLines: loop.blankLines.value - chunkBlankLinesBefore,
      maxRecordBytes: loop.chunkMaxRecordBytes.value,
    };
    chunks.push(planned);
    const soFar: ScanSoFar = {
      quotingClean: loop.clean.value === 1 && loop.quoted.value === 0,
      lineEnds: { crlf: loop.crlf.value, lf: loop.lf.value, bareCr: loop.bareCr.value },
      headerBytes: loop.headerBytes.value,
      oversizeRecords: oversize.length,
    };
    // Listed only while the text is fit for chunks: else no chunk of it is kept, and field counts would not stand for
    // the reader's rejects.
    if (!fitForChunksSoFar(soFar)) listing?.stop();
    options.onChunk?.(planned, soFar, listing?.cut(end, soFar.headerBytes));
    chunkBlankLinesBefore = loop.blankLines.value;
    loop.chunkStart.value = end;
    loop.chunkRecordOffset.value = planned.recordOffset + planned.records;
    loop.chunkRecords.value = 0;
    loop.chunkMaxRecordBytes.value = 0;
    loop.chunkBytes.value = bytesOf(chunks.length);
  };
  /** What the last call of the loop found: blank lines (as CSV rows), oversize records, a chunk cut. */
  const taken = (): string => {
    let out = '';
    for (let e = 0; e < loop.events.value * EVENT_FIELDS; e += EVENT_FIELDS) {
      const field = (i: number): number => loop.eventFields[e + i] as number;
      const [record, blanks] = [field(1), field(2)];
      if (field(0) === BLANK_LINE) out += `${record},${blanks}\n`;
      else if (field(0) === FIELD_COUNT_MISMATCH)
        listing?.record(record - loop.chunkRecordOffset.value, field(3), field(4));
      else oversize.push({ record, blankLinesBefore: blanks, start: field(3), end: field(4), bytes: field(5) });
    }
    if (loop.stop.value & CHUNK_CUT) planChunk(loop.recordStart.value);
    return out;
  };
  let offset = 0;
  await pipeline(
    source,
    async function* (buffers: AsyncIterable<Buffer>) {
      for await (const buffer of buffers) {
        let out = '';
        listing?.enter(buffer, offset);
        for (let from = 0; from < buffer.length; from += LOOP_BLOCK_BYTES) {
          // The JavaScript thread is given back between loop blocks: a chunk just planned starts through a dozen
          // awaits (its session, its connection, its statements), each of which waited for the rest of the buffer.
          if (from > 0) await setImmediate();
          const block = buffer.subarray(from, from + LOOP_BLOCK_BYTES);
          loop.block.set(block);
          loop.base.value = offset + from;
          for (let at = 0; at < block.length;) {
            at = loop.scan(at, block.length);
            out += taken();
          }
        }
        listing?.leave(loop.recordStart.value, loop.headerBytes.value);
        offset += buffer.length;
        if (out) yield out;
      }
    },
    blankLinesOut,
  );
  loop.base.value = offset;
  loop.finish();
  taken(); // a last record has content, so it is no blank line
  const recordStart = loop.recordStart.value;
  const headerBytes = loop.headerBytes.value;
  // Bytes after the last record end (blank text, or a record the scan did not count) belong to the last chunk.
  if (cutting && headerBytes >= 0 && offset > loop.chunkStart.value) {
    loop.chunkMaxRecordBytes.value = Math.max(loop.chunkMaxRecordBytes.value, offset - recordStart);
    planChunk(offset);
  }
  const sampleEnd = loop.sampleEnd.value;
  return {
    records: Math.max(0, loop.lines.value - options.headerLines),
    blankLines: loop.blankLines.value,
    maxRecordBytes: Math.max(loop.maxRecordBytes.value, offset - recordStart),
    quotingClean: loop.clean.value === 1 && loop.quoted.value === 0,
    oversize,
    lineEnds: { crlf: loop.crlf.value, lf: loop.lf.value, bareCr: loop.bareCr.value },
    headerBytes,
    chunks,
    sampleEnd: options.sampleRecords === undefined ? -1 : sampleEnd < 0 ? offset : sampleEnd,
  };
}

/** Node's WebAssembly global, as far as used here (its types come with the DOM library, which this project does not load). */
declare const WebAssembly: {
  Module: new (bytes: Uint8Array) => WasmModule;
  Instance: new (module: WasmModule) => { exports: unknown };
};
type WasmModule = { readonly wasmModule: unique symbol };
type Global = { value: number };

/** The loop's exports (`record-scan.wat`): its settings, state and counts are globals the caller reads and sets. */
interface RecordScanExports {
  memory: { buffer: ArrayBuffer };
  /** Scans the block at the start of `memory` from `from` to `length`; returns where it stopped. */
  scan(from: number, length: number): number;
  /** The end of the text at `base`: a last record without a line end. */
  finish(): number;
  delimiter: Global;
  quotedMode: Global;
  headerLines: Global;
  limit: Global;
  sampling: Global;
  sampleRecords: Global;
  cutting: Global;
  recordsPerChunk: Global;
  chunkBytes: Global;
  listing: Global;
  base: Global;
  quoted: Global;
  clean: Global;
  lines: Global;
  blankLines: Global;
  maxRecordBytes: Global;
  crlf: Global;
  lf: Global;
  bareCr: Global;
  recordStart: Global;
  headerBytes: Global;
  sampleEnd: Global;
  chunkStart: Global;
  chunkRecordOffset: Global;
  chunkRecords: Global;
  chunkMaxRecordBytes: Global;
  events: Global;
  stop: Global;
}

/** The block the loop reads, at the start of its memory; its events (six float64 each) start after it. */
const LOOP_BLOCK_BYTES = 1 << 20;
const EVENT_FIELDS = 6;
const BLANK_LINE = 1;
const FIELD_COUNT_MISMATCH = 3;
/** `stop` bit: the record just ended completes the chunk being planned. */
const CHUNK_CUT = 1;

let compiled: WasmModule | undefined;

/**
 * A fresh instance of the byte loop, set up for `options`. The loop runs in WebAssembly, 16 bytes at a time (a
 * byte at a time only around quotes): in JavaScript, hopping from line end to line end, it cost ~0.3 s of CPU per
 * 114 MB on the JavaScript thread, which DuckDB's sessions need at two threads, and it held up the first chunk.
 */
function recordLoop(options: ScanOptions): RecordScanExports & { block: Uint8Array; eventFields: Float64Array } {
  compiled ??= new WebAssembly.Module(Buffer.from(recordScanWasm, 'base64'));
  const loop = new WebAssembly.Instance(compiled).exports as unknown as RecordScanExports;
  loop.delimiter.value = (options.delimiter ?? ',').charCodeAt(0);
  loop.quotedMode.value = options.quoted ? 1 : 0;
  loop.headerLines.value = options.headerLines;
  loop.headerBytes.value = options.headerLines === 0 ? 0 : -1;
  loop.limit.value = options.maxRecordBytes ?? Number.POSITIVE_INFINITY;
  loop.sampling.value = options.sampleRecords === undefined ? 0 : 1;
  loop.sampleRecords.value = options.sampleRecords ?? 0;
  loop.cutting.value = options.chunking ? 1 : 0;
  loop.recordsPerChunk.value = options.chunking?.recordsPerChunk ?? Number.POSITIVE_INFINITY;
  return {
    ...loop,
    block: new Uint8Array(loop.memory.buffer, 0, LOOP_BLOCK_BYTES),
    eventFields: new Float64Array(loop.memory.buffer, LOOP_BLOCK_BYTES),
  };
}

/**
 * Whether DuckDB's reader sees the records the byte scan counted: every quote where RFC 4180 allows one, one
 * line-end style, no carriage return without a line feed. Only then may the scan's records be cut into
 * chunks, or stand for the records the reader rejects.
 */
export function readerSeesScannedRecords(scan: Pick<RecordScan, 'quotingClean' | 'lineEnds'>): boolean {
  const { crlf, lf, bareCr } = scan.lineEnds;
  return scan.quotingClean && !(crlf > 0 && lf > 0) && bareCr === 0;
}

/** Whether the text up to a chunk planned may be cut into chunks: the reader sees its records, none over the limit. */
export const fitForChunksSoFar = (soFar: ScanSoFar): boolean =>
  soFar.oversizeRecords === 0 && readerSeesScannedRecords(soFar);

/** Writes a chunk as a file of its own: the header lines, then the chunk's bytes, copied exactly. */
export async function writeChunk(path: string, headerBytes: number, chunk: ByteChunk, target: string): Promise<void> {
  await copyRanges(
    path,
    [
      [0, Math.max(0, headerBytes)],
      [chunk.start, chunk.end],
    ],
    target,
  );
}
