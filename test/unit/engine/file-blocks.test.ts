/**
 * Block reads into one reused buffer and range copies: the bytes come out exactly, in order, whatever the block
 * size; a block is the same buffer each time (what spares the garbage collector); a failing target fails the copy
 * with its own error.
 */
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from '@jest/globals';
import { expect } from '../../support/expect.ts';
import { copyRanges, readBlocks } from '../../../engine/sources/file-blocks.ts';

/** 100,003 bytes of a repeating 251-byte pattern (prime: no block size lines up with it). */
const BYTES = Buffer.from(Array.from({ length: 100_003 }, (_, i) => (i % 251) + 1));

async function fileOf(bytes: Buffer): Promise<string> {
  const path = join(await mkdtemp(join(tmpdir(), 'file-blocks-')), 'input.bin');
  await writeFile(path, bytes);
  return path;
}

describe('readBlocks', () => {
  it.each([997, 4096, 65_536, 1 << 20])(
    'gives the file exactly in blocks of %i bytes, one buffer reused',
    async (size) => {
      const path = await fileOf(BYTES);
      const copies: Buffer[] = [];
      const backing = new Set<ArrayBufferLike>();
      for await (const block of readBlocks(path, {}, size)) {
        expect(block.length).toBeLessThanOrEqual(size);
        copies.push(Buffer.from(block));
        backing.add(block.buffer);
      }
      expect(Buffer.concat(copies).equals(BYTES)).toBe(true);
      expect(backing.size).toBe(1);
    },
  );

  it('gives a byte range, and nothing for an empty one', async () => {
    const path = await fileOf(BYTES);
    const read = async (start: number, end: number): Promise<Buffer> => {
      const copies: Buffer[] = [];
      for await (const block of readBlocks(path, { start, end }, 1000)) copies.push(Buffer.from(block));
      return Buffer.concat(copies);
    };
    expect((await read(12_345, 67_890)).equals(BYTES.subarray(12_345, 67_890))).toBe(true);
    expect((await read(500, 500)).length).toBe(0);
  });

  it('fails on a range past the end of the file, naming it', async () => {
    const path = await fileOf(BYTES);
    const read = async () => {
      for await (const block of readBlocks(path, { start: 99_000, end: 200_000 })) void block;
    };
    await expect(read()).rejects.toThrow(`${path}: ends at byte 100003, before byte 200000`);
  });
});

describe('copyRanges', () => {
  it('writes the ranges one after another, exactly', async () => {
    const path = await fileOf(BYTES);
    const target = join(await mkdtemp(join(tmpdir(), 'file-blocks-')), 'out.bin');
    const ranges = [
      [0, 37],
      [50, 50],
      [90_000, 100_003],
      [10, 20],
    ] as const;
    await copyRanges(path, ranges, target);
    const expected = Buffer.concat(ranges.map(([s, e]) => BYTES.subarray(s, e)));
    expect((await readFile(target)).equals(expected)).toBe(true);
  });

  it('fails with the target error, and does not hang', async () => {
    const path = await fileOf(BYTES);
    const target = join(await mkdtemp(join(tmpdir(), 'file-blocks-')), 'no-such-dir', 'out.bin');
    await expect(copyRanges(path, [[0, 100]], target)).rejects.toMatchObject({ code: 'ENOENT' });
  });
});
