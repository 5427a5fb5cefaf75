/**
 * Block reads into one reused buffer, range copies and the prefix tee: the bytes come out exactly, in order,
 * whatever the block size; a block is the same buffer each time (what spares the garbage collector); a failing
 * target fails with its own error and nothing hangs.
 */
import { mkdtemp, readFile, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from '@jest/globals';
import { expect } from '../../support/expect.ts';
import { copyRanges, PrefixTee, readBlocks } from '../../../engine/sources/file-blocks.ts';

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

describe('PrefixTee', () => {
  /** The blocks of BYTES (one buffer reused, as readBlocks gives them) through a tee, told where the start ends once `endAt` has passed. */
  async function teeThrough(tee: PrefixTee, endAt: number | undefined, blockBytes: number): Promise<Buffer> {
    const path = await fileOf(BYTES);
    const seen: Buffer[] = [];
    let offset = 0;
    for await (const block of tee.tee(readBlocks(path, {}, blockBytes))) {
      seen.push(Buffer.from(block));
      offset += block.length;
      if (endAt !== undefined && offset >= endAt) tee.endAt(endAt);
    }
    return Buffer.concat(seen);
  }
  const target = async (): Promise<string> => join(await mkdtemp(join(tmpdir(), 'file-blocks-')), 'start.bin');

  it.each([
    [1, 997],
    [996, 997],
    [997, 997],
    [55_555, 4096],
    [100_003, 65_536],
  ])('passes every block on, and its file holds exactly the first %i bytes (blocks of %i)', async (end, blockBytes) => {
    const tee = new PrefixTee(await target(), 1 << 20);
    expect((await teeThrough(tee, end, blockBytes)).equals(BYTES)).toBe(true);
    const file = await tee.file();
    expect(file).toBe(tee.path);
    expect((await readFile(file as string)).equals(BYTES.subarray(0, end))).toBe(true);
    await expect(stat(`${tee.path}.partial`)).rejects.toMatchObject({ code: 'ENOENT' });
  });

  it('gives no file when the stream ends before the start is complete', async () => {
    const tee = new PrefixTee(await target(), 1 << 20);
    expect((await teeThrough(tee, undefined, 4096)).equals(BYTES)).toBe(true);
    await expect(tee.file()).resolves.toBeUndefined();
    for (const left of [tee.path, `${tee.path}.partial`])
      await expect(stat(left)).rejects.toMatchObject({ code: 'ENOENT' });
    tee.endAt(10); // too late: ignored
    await expect(tee.file()).resolves.toBeUndefined();
  });

  it('gives up past its limit without an end: its file removed, never more than a block over the limit', async () => {
    const tee = new PrefixTee(await target(), 10_000);
    const path = await fileOf(BYTES);
    let largest = 0;
    const seen: Buffer[] = [];
    for await (const block of tee.tee(readBlocks(path, {}, 4096))) {
      seen.push(Buffer.from(block));
      largest = Math.max(largest, (await stat(`${tee.path}.partial`).catch(() => ({ size: 0 }))).size);
    }
    expect(Buffer.concat(seen).equals(BYTES)).toBe(true);
    expect(largest).toBeGreaterThanOrEqual(10_000);
    expect(largest).toBeLessThanOrEqual(10_000 + 4096);
    await expect(tee.file()).resolves.toBeUndefined();
    for (const left of [tee.path, `${tee.path}.partial`])
      await expect(stat(left)).rejects.toMatchObject({ code: 'ENOENT' });
  });

  it('never removes a file at its path that it did not write', async () => {
    const tee = new PrefixTee(await target(), 10_000);
    await writeFile(tee.path, 'written by someone else');
    await teeThrough(tee, undefined, 4096);
    await expect(tee.file()).resolves.toBeUndefined();
    expect(await readFile(tee.path, 'utf8')).toBe('written by someone else');
  });

  it('fails its file when told of an end past what it wrote', async () => {
    const tee = new PrefixTee(await target(), 1 << 20);
    const path = await fileOf(BYTES);
    for await (const block of tee.tee(readBlocks(path, {}, 1000))) {
      void block;
      tee.endAt(5000);
    }
    await expect(tee.file()).rejects.toThrow('the start ends at byte 5000, but 1000 bytes were written');
  });

  it('fails the stream with a write error, and does not hang', async () => {
    const tee = new PrefixTee(join(await mkdtemp(join(tmpdir(), 'file-blocks-')), 'no-such-dir', 'start.bin'), 1 << 20);
    await expect(teeThrough(tee, 50_000, 4096)).rejects.toMatchObject({ code: 'ENOENT' });
    await expect(tee.file()).resolves.toBeUndefined();
  });
});
