/**
 * The fan-out threshold is compared with the text an object is expected to give: a gzip (by its magic bytes)
 * counts as GZIP_ROUTING_EXPANSION times its size, so a 300 MB gzip of a 3 GB CSV is fanned out instead of
 * timing out inline. Peeking at the magic bytes leaves the body whole for the ingest that reads it.
 */
import { createReadStream } from 'node:fs';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { gzipSync } from 'node:zlib';
import { describe, expect, it } from '@jest/globals';
import { expectedTextBytes, GZIP_ROUTING_EXPANSION, peekHead } from '../../../lambdas/ingest/routing.ts';

const MB = 1_000_000;
const CSV = Buffer.from('TransactionID,CustomerID\nT1,A1\nT2,A2\n');

async function readAll(body: AsyncIterable<Uint8Array>): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of body) chunks.push(Buffer.from(chunk as Uint8Array));
  return Buffer.concat(chunks);
}

describe('fan-out routing by expected text', () => {
  it('counts a gzip as GZIP_ROUTING_EXPANSION times its size, plain text as its size', () => {
    const gzip = gzipSync(CSV);
    expect(expectedTextBytes(300 * MB, gzip)).toBe(300 * MB * GZIP_ROUTING_EXPANSION);
    expect(expectedTextBytes(300 * MB, CSV)).toBe(300 * MB);
    expect(expectedTextBytes(0, new Uint8Array())).toBe(0);
    // A 300 MB gzip is over a 1 GiB threshold; the same size of plain text is not.
    expect(expectedTextBytes(300 * MB, gzip)).toBeGreaterThan(1 << 30);
    expect(expectedTextBytes(300 * MB, CSV)).toBeLessThan(1 << 30);
  });

  it('peeks at the first bytes of a file stream and leaves every byte for the reader', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'routing-'));
    const path = join(dir, 'x.csv.gz');
    const gzip = gzipSync(Buffer.concat(Array.from({ length: 2000 }, () => CSV)));
    await writeFile(path, gzip);
    const body = createReadStream(path, { highWaterMark: 1 });

    const peeked = await peekHead(body);

    expect([...peeked.head]).toEqual([0x1f, 0x8b]);
    expect((await readAll(peeked.body)).equals(gzip)).toBe(true);
  });

  it('peeks at a body shorter than the head, and at an empty one', async () => {
    const one = await peekHead(Readable.from([Buffer.from('x')]));
    expect([...one.head]).toEqual([0x78]);
    expect((await readAll(one.body)).toString()).toBe('x');
    const split = await peekHead(Readable.from([Buffer.from([0x1f]), Buffer.from([0x8b, 1, 2])]));
    expect([...split.head]).toEqual([0x1f, 0x8b]);
    expect([...(await readAll(split.body))]).toEqual([0x1f, 0x8b, 1, 2]);
    const empty = await peekHead(Readable.from([]));
    expect(empty.head.length).toBe(0);
    expect((await readAll(empty.body)).length).toBe(0);
  });
});
