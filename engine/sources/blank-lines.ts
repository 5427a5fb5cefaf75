import { createReadStream, createWriteStream } from 'node:fs';
import { pipeline } from 'node:stream/promises';

const LF = 0x0a;
const CR = 0x0d;
const QUOTE = 0x22;

/**
 * Line numbers (1-based, counted the way DuckDB's CSV reject table counts them: one per record, a quoted
 * newline does not start a new one) of the blank lines of a CSV file. DuckDB skips blank lines but still
 * counts them, so they are needed to turn its reject line numbers into record numbers. Streams the file; a
 * byte-level scan, only run when a file has malformed records.
 */
export async function csvBlankLines(path: string): Promise<number[]> {
  if (!(await hasEmptyLine(path))) return [];
  const blanks: number[] = [];
  let line = 1;
  let quoted = false;
  let empty = true;
  for await (const chunk of createReadStream(path, { highWaterMark: 1 << 20 }) as AsyncIterable<Buffer>) {
    for (let i = 0; i < chunk.length; i++) {
      const byte = chunk[i];
      if (byte === QUOTE) {
        quoted = !quoted;
        empty = false;
      } else if (byte === LF && !quoted) {
        if (empty) blanks.push(line);
        line++;
        empty = true;
      } else if (byte !== CR) {
        empty = false;
      }
    }
  }
  return blanks;
}

/** A fast (native search) first look: does any line, quoted or not, have nothing but a line end? */
async function hasEmptyLine(path: string): Promise<boolean> {
  let carry: Buffer = Buffer.alloc(0);
  for await (const chunk of createReadStream(path, { highWaterMark: 1 << 20 }) as AsyncIterable<Buffer>) {
    const window: Buffer = carry.length ? Buffer.concat([carry, chunk]) : chunk;
    if (window.indexOf('\n\n') !== -1 || window.indexOf('\n\r\n') !== -1) return true;
    carry = window.subarray(Math.max(0, window.length - 2));
  }
  return false;
}

/** Copies a file turning every CRLF into LF (a CR split from its LF across chunks included). */
export async function crlfToLf(source: string, target: string): Promise<void> {
  let pendingCr = false;
  await pipeline(
    createReadStream(source, { highWaterMark: 1 << 20 }),
    async function* (chunks: AsyncIterable<Buffer>) {
      for await (const chunk of chunks) {
        const out = Buffer.allocUnsafe(chunk.length + 1);
        let n = 0;
        for (let i = 0; i < chunk.length; i++) {
          const byte = chunk[i] as number;
          if (pendingCr && byte !== LF) out[n++] = CR;
          pendingCr = byte === CR;
          if (!pendingCr) out[n++] = byte;
        }
        yield out.subarray(0, n);
      }
      if (pendingCr) yield Buffer.from([CR]);
    },
    createWriteStream(target),
  );
}
