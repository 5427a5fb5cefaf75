/**
 * Byte-level record scanning, counted the way DuckDB's CSV reader counts lines: one per record (a newline
 * inside double quotes does not end a CSV record), blank lines included.
 */
import { createWriteStream } from 'node:fs';
import { pipeline } from 'node:stream/promises';
import { copyRanges, readBlocks } from './file-blocks.ts';

const LF = 0x0a;
const CR = 0x0d;
const QUOTE = 0x22;

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
   * Told of each chunk as soon as it is planned, with what the scan knew so far — so chunks can be transformed
   * while the scan goes on (whether they may be kept is only known once it ends). @default none
   */
  onChunk?: (chunk: ByteChunk, soFar: ScanSoFar) => void;
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
  const delimiter = (options.delimiter ?? ',').charCodeAt(0);
  /** After a closing quote RFC 4180 allows a delimiter, a line end, or a second quote (an escaped one). */
  const closesCleanly = (byte: number | undefined): boolean =>
    byte === QUOTE || byte === delimiter || byte === LF || byte === CR;
  let lines = 0;
  let blankLines = 0;
  let quoted = false;
  let clean = true;
  let lineHasContent = false;
  let lastByte = LF;
  let closedAtBufferEnd = false;
  let offset = 0;
  let recordStart = 0;
  let maxRecordBytes = 0;
  const limit = options.maxRecordBytes ?? Number.POSITIVE_INFINITY;
  const oversize: OversizeRecord[] = [];
  const lineEnds = { crlf: 0, lf: 0, bareCr: 0 };
  let crAtBufferEnd = false;
  const cutting = options.chunking;
  const chunks: ByteChunk[] = [];
  let headerBytes = options.headerLines === 0 ? 0 : -1;
  let chunk = { start: 0, recordOffset: 0, records: 0 };
  let chunkBlankLinesBefore = 0;
  let chunkMaxRecordBytes = 0;
  const bytesOf = (index: number): number => {
    const size = cutting?.bytesPerChunk ?? Number.POSITIVE_INFINITY;
    return typeof size === 'function' ? size(index) : size;
  };
  /** The size of the chunk being planned. */
  let chunkBytes = bytesOf(0);
  let sampleEnd = -1;
  const planChunk = (end: number): void => {
    const planned = {
      ...chunk,
      end,
      blankLines: blankLines - chunkBlankLinesBefore,
      maxRecordBytes: chunkMaxRecordBytes,
    };
    chunks.push(planned);
    options.onChunk?.(planned, {
      quotingClean: clean && !quoted,
      lineEnds: { ...lineEnds },
      headerBytes,
      oversizeRecords: oversize.length,
    });
    chunkBlankLinesBefore = blankLines;
    chunkMaxRecordBytes = 0;
    chunkBytes = bytesOf(chunks.length);
  };
  const endRecord = (end: number, lineEndBytes: number, blank: boolean): void => {
    const bytes = end - recordStart;
    const recordEnd = end + lineEndBytes;
    maxRecordBytes = Math.max(maxRecordBytes, bytes);
    if (bytes > limit && lines > options.headerLines && !blank) {
      oversize.push({
        record: lines - options.headerLines,
        blankLinesBefore: blankLines,
        start: recordStart,
        end: recordEnd,
        bytes,
      });
    }
    recordStart = recordEnd;
    const sampled = lines - options.headerLines - oversize.length;
    if (sampleEnd < 0 && options.sampleRecords !== undefined && sampled >= options.sampleRecords) sampleEnd = recordEnd;
    if (lines === options.headerLines) {
      headerBytes = recordEnd;
      chunk = { start: recordEnd, recordOffset: 0, records: 0 };
    } else if (cutting && lines > options.headerLines) {
      chunk.records++;
      chunkMaxRecordBytes = Math.max(chunkMaxRecordBytes, bytes);
      if (chunk.records >= cutting.recordsPerChunk || recordEnd - chunk.start >= chunkBytes) {
        planChunk(recordEnd);
        chunk = { start: recordEnd, recordOffset: chunk.recordOffset + chunk.records, records: 0 };
      }
    }
  };
  await pipeline(
    source,
    async function* (buffers: AsyncIterable<Buffer>) {
      for await (const buffer of buffers) {
        const n = buffer.length;
        if (n === 0) continue;
        let out = '';
        if (crAtBufferEnd && buffer[0] !== LF) lineEnds.bareCr++;
        for (let cr = buffer.indexOf(CR); cr !== -1; cr = buffer.indexOf(CR, cr + 1)) {
          if (cr + 1 < n ? buffer[cr + 1] !== LF : false) lineEnds.bareCr++;
        }
        crAtBufferEnd = buffer[n - 1] === CR;
        if (closedAtBufferEnd && !closesCleanly(buffer[0])) clean = false;
        // Position of the last closing quote in this buffer (-1: the previous buffer ended with one).
        let lastClose = closedAtBufferEnd ? -1 : -2;
        closedAtBufferEnd = false;
        // Native searches hop from quote to quote and line end to line end; bytes in between are not looked at.
        let nextQuote = options.quoted ? buffer.indexOf(QUOTE) : -1;
        let pos = 0;
        while (pos < n) {
          if (quoted) {
            if (nextQuote === -1) break;
            quoted = false;
            if (nextQuote + 1 < n) {
              if (!closesCleanly(buffer[nextQuote + 1])) clean = false;
            } else closedAtBufferEnd = true;
            lastClose = nextQuote;
            pos = nextQuote + 1;
            nextQuote = buffer.indexOf(QUOTE, pos);
            continue;
          }
          const lineEnd = buffer.indexOf(LF, pos);
          if (nextQuote !== -1 && (lineEnd === -1 || nextQuote < lineEnd)) {
            // A quote opens a field only at its start, or right after a closing quote (an escaped quote);
            // anywhere else DuckDB reads it as a plain character, and so does this scan.
            const before = nextQuote > 0 ? buffer[nextQuote - 1] : lastByte;
            const opens = before === delimiter || before === LF || lastClose === nextQuote - 1;
            if (!opens) clean = false;
            lineHasContent = true;
            quoted = opens;
            pos = nextQuote + 1;
            nextQuote = buffer.indexOf(QUOTE, pos);
            continue;
          }
          if (lineEnd === -1) {
            lineHasContent ||= hasContent(buffer, pos, n);
            break;
          }
          lines++;
          if ((lineEnd > 0 ? buffer[lineEnd - 1] : lastByte) === CR) lineEnds.crlf++;
          else lineEnds.lf++;
          const blank = !(lineHasContent || hasContent(buffer, pos, lineEnd)) && lines > options.headerLines;
          if (blank) out += `${lines - options.headerLines},${++blankLines}\n`;
          endRecord(offset + lineEnd, 1, blank);
          lineHasContent = false;
          pos = lineEnd + 1;
        }
        lastByte = buffer[n - 1] as number;
        offset += n;
        if (out) yield out;
      }
    },
    blankLinesOut,
  );
  if (crAtBufferEnd) lineEnds.bareCr++;
  // A last line without a line end is a record too, unless it is empty; so is a quote left open to the end.
  if ((lastByte !== LF || quoted) && lineHasContent) {
    lines++;
    endRecord(offset, 0, false);
  }
  maxRecordBytes = Math.max(maxRecordBytes, offset - recordStart);
  // Bytes after the last record end (blank text, or a record the scan did not count) belong to the last chunk.
  if (cutting && headerBytes >= 0 && offset > chunk.start) {
    chunkMaxRecordBytes = Math.max(chunkMaxRecordBytes, offset - recordStart);
    planChunk(offset);
  }
  return {
    records: Math.max(0, lines - options.headerLines),
    blankLines,
    maxRecordBytes,
    quotingClean: clean && !quoted,
    oversize,
    lineEnds,
    headerBytes,
    chunks,
    sampleEnd: options.sampleRecords === undefined ? -1 : sampleEnd < 0 ? offset : sampleEnd,
  };
}

/** Whether bytes [from, to) hold anything but carriage returns. */
function hasContent(buffer: Buffer, from: number, to: number): boolean {
  for (let i = from; i < to; i++) if (buffer[i] !== CR) return true;
  return false;
}

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
