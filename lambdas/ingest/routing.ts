/**
 * Whether an announced object is ingested inline or fanned out: by the bytes of text it is expected to give,
 * which for a gzip is not its size. Its decompressed size is only known by decompressing it, so a gzip (by its
 * magic bytes, as the engine recognises it — not by its key) counts as `GZIP_ROUTING_EXPANSION` times its
 * size: CSV exports compress 5–20×, and a gzip routed to the fan-out that turns out small is still ingested
 * correctly (the plan step ingests a text that fits one chunk in one pass).
 */
import { GZIP_MAGIC, isGzip } from '../../engine/index.ts';

/** The expansion a gzip is assumed to have when routing it. @default 10 */
export const GZIP_ROUTING_EXPANSION = 10;

/** Bytes of text an object of `size` bytes starting with `head` is expected to give. */
export function expectedTextBytes(size: number, head: Uint8Array): number {
  return isGzip(head) ? size * GZIP_ROUTING_EXPANSION : size;
}

/**
 * The first `bytes` bytes of a body (fewer if it is shorter), and the body whole again — the bytes read to
 * see them, then the rest — for whoever reads it next.
 */
export async function peekHead(
  body: AsyncIterable<Uint8Array>,
  bytes = GZIP_MAGIC.length,
): Promise<{ head: Uint8Array; body: AsyncIterable<Uint8Array> }> {
  const iterator = body[Symbol.asyncIterator]();
  const seen: Uint8Array[] = [];
  let have = 0;
  let ended = false;
  while (have < bytes) {
    const next = await iterator.next();
    if (next.done) {
      ended = true;
      break;
    }
    seen.push(next.value);
    have += next.value.length;
  }
  async function* whole(): AsyncGenerator<Uint8Array> {
    yield* seen;
    if (ended) return;
    for (let next = await iterator.next(); !next.done; next = await iterator.next()) yield next.value;
  }
  return { head: Buffer.concat(seen).subarray(0, bytes), body: whole() };
}
