import { seededRandom } from './seeded-random.ts';

/**
 * `bytes` in pieces of random sizes (1 byte to `max`, from `seed`), each copied into one reused buffer as `readBlocks`
 * does: what a scan is fed when a text arrives in reads of any size.
 */
export async function* textPieces(bytes: Buffer, seed: number, max: number): AsyncGenerator<Buffer> {
  const next = seededRandom(seed);
  const reused = Buffer.alloc(max);
  for (let at = 0; at < bytes.length;) {
    const n = Math.min(bytes.length - at, 1 + Math.floor(next() * max));
    bytes.copy(reused, 0, at, at + n);
    yield reused.subarray(0, n);
    at += n;
  }
}
