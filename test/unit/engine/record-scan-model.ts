/**
 * The byte scan as it was written in JavaScript before its loop moved to WebAssembly (`engine/sources/
 * record-scan.wat`), kept unchanged as the model the loop is checked against (record-scan.test.ts):
 * it hops from quote to quote and line end to line end with `Buffer.indexOf`.
 */
import { pipeline } from 'node:stream/promises';
import type { ByteChunk, OversizeRecord, RecordScan, ScanOptions } from '../../../engine/sources/records.ts';

const LF = 0x0a;
const CR = 0x0d;
const QUOTE = 0x22;

export async function scanRecordStreamModel(
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
    options.onChunk?.(
      planned,
      {
        quotingClean: clean && !quoted,
        lineEnds: { ...lineEnds },
        headerBytes,
        oversizeRecords: oversize.length,
      },
      undefined,
    );
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
