import { createReadStream, createWriteStream } from 'node:fs';
import { pipeline } from 'node:stream/promises';

const LF = 0x0a;
const CR = 0x0d;

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
