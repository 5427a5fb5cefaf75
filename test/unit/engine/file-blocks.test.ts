/**
 * Block reads into one reused buffer, range copies and the chunk tee: the bytes come out exactly, in order,
 * whatever the block size; a block is the same buffer each time (what spares the garbage collector); a failing
 * target fails with its own error and nothing hangs.
 */
import { mkdtemp, readdir, readFile, stat, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from '@jest/globals';
import { expect } from '../../support/expect.ts';
import { ChunkTee, copyRanges, readBlocks } from '../../../engine/sources/file-blocks.ts';
import { seededRandom } from '../../support/unit/seeded-random.ts';

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

describe('ChunkTee', () => {
  const dir = async (): Promise<string> => mkdtemp(join(tmpdir(), 'file-blocks-'));
  const pathsIn = (root: string, n: number): string[] =>
    Array.from({ length: n }, (_, i) => join(root, `chunk-${i}.txt`));
  /** What `writeChunk` copies for chunk i of `ends` (chunk 0 starts after `header` bytes). */
  const expected = (i: number, header: number, ends: readonly number[]): Buffer =>
    i === 0
      ? BYTES.subarray(0, ends[0])
      : Buffer.concat([BYTES.subarray(0, header), BYTES.subarray(ends[i - 1], ends[i])]);

  /**
   * BYTES through `tee` in blocks of `blockBytes` (one buffer reused, as readBlocks gives them), each chunk's end told
   * once a block has reached it — or, with `late`, one block after that — as the scan tells ends; the ends a block
   * does not reach are told after the stream, then the tee is settled.
   */
  async function teeThrough(
    tee: ChunkTee,
    header: number,
    ends: readonly number[],
    blockBytes: number,
    late: (i: number) => boolean = () => false,
  ): Promise<Buffer> {
    const seen: Buffer[] = [];
    let offset = 0;
    let told = 0;
    const tell = (upTo: number, lag: boolean): void => {
      for (; told < ends.length && (ends[told] as number) <= upTo && late(told) === lag; told++) {
        tee.endAt({ start: told === 0 ? header : (ends[told - 1] as number), end: ends[told] as number }, header);
      }
    };
    for await (const block of tee.tee(readBlocks(await fileOf(BYTES), {}, blockBytes))) {
      seen.push(Buffer.from(block));
      tell(offset, true); // ends the block before reached, told a block late
      offset += block.length;
      tell(offset, false);
    }
    // The ends the last block reached, late ones included.
    while (told < ends.length) {
      tell(offset, true);
      tell(offset, false);
    }
    await tee.settled();
    return Buffer.concat(seen);
  }

  /**
   * BYTES (or `source`) through `tee` in blocks of 4096 bytes, each of `at`'s actions run once the bytes passed
   * reach its offset (as the scan tells an end while the block holding it is read).
   */
  async function passThrough(
    tee: ChunkTee,
    at: ReadonlyArray<readonly [offset: number, act: () => void]>,
    source?: AsyncIterable<Buffer>,
  ): Promise<void> {
    let offset = 0;
    for await (const block of tee.tee(source ?? readBlocks(await fileOf(BYTES), {}, 4096))) {
      const before = offset;
      offset += block.length;
      for (const [reached, act] of at) if (before < reached && offset >= reached) act();
    }
  }
  /** Only chunk 0 of `tee` kept, holding BYTES up to `end`; the later ones not teed, nothing else left in `root`. */
  async function expectOnlyFirst(tee: ChunkTee, root: string, end: number): Promise<void> {
    expect((await readFile((await tee.file(0)) as string)).equals(BYTES.subarray(0, end))).toBe(true);
    for (const i of [1, 2]) await expect(tee.file(i)).resolves.toBeUndefined();
    expect(await readdir(root)).toEqual(['chunk-0.txt']);
  }

  it.each([
    [0, [1], 997],
    [0, [996], 997],
    [0, [997], 997],
    [10, [55_555], 4096],
    [0, [100_003], 65_536],
  ])(
    'passes every block on; with header %i, one chunk ending at %j (blocks of %i) holds the text up to there',
    async (header, ends, blockBytes) => {
      const tee = new ChunkTee(pathsIn(await dir(), 1), () => 1 << 20);
      expect((await teeThrough(tee, header, ends, blockBytes)).equals(BYTES)).toBe(true);
      const file = await tee.file(0);
      expect(file).toBe(tee.paths[0]);
      expect((await readFile(file as string)).equals(expected(0, header, ends))).toBe(true);
      await expect(stat(`${tee.paths[0]}.partial`)).rejects.toMatchObject({ code: 'ENOENT' });
    },
  );

  it('writes each teed chunk as writeChunk copies it, however the blocks fall and whenever its end is told', async () => {
    for (let seed = 1; seed <= 40; seed++) {
      const random = seededRandom(seed);
      const header = random() < 0.3 ? 0 : 1 + Math.floor(random() * 300);
      const ends: number[] = [];
      for (let at = header; at < BYTES.length;) {
        at = Math.min(BYTES.length, at + 1 + Math.floor(random() ** 2 * 40_000)); // tiny chunks too: several ends in one block
        ends.push(at);
      }
      const blockBytes = [97, 1000, 4096, 65_536][Math.floor(random() * 4)] as number;
      const slots = 1 + Math.floor(random() * (ends.length + 2)); // fewer teed chunks than chunks, or more
      const root = await dir();
      const tee = new ChunkTee(pathsIn(root, slots), () => 1 << 20);
      const lateOnes = ends.map(() => random() < 0.5);
      const passed = await teeThrough(tee, header, ends, blockBytes, (i) => lateOnes[i] === true);
      expect({ seed, passedAll: passed.equals(BYTES) }).toEqual({ seed, passedAll: true });
      for (let i = 0; i < slots; i++) {
        const file = await tee.file(i);
        if (i >= ends.length) {
          expect({ seed, i, file }).toEqual({ seed, i, file: undefined });
          continue;
        }
        const bytes = file === undefined ? undefined : await readFile(file);
        expect({ seed, i, same: bytes?.equals(expected(i, header, ends)) }).toEqual({ seed, i, same: true });
      }
      expect((await readdir(root)).filter((f) => f.endsWith('.partial'))).toEqual([]);
    }
  });

  it('gives no file when the stream ends before the chunk is complete, once settled', async () => {
    const tee = new ChunkTee(pathsIn(await dir(), 2), () => 1 << 20);
    expect((await teeThrough(tee, 0, [], 4096)).equals(BYTES)).toBe(true);
    for (const i of [0, 1]) await expect(tee.file(i)).resolves.toBeUndefined();
    for (const left of [tee.paths[0], `${tee.paths[0]}.partial`])
      await expect(stat(left as string)).rejects.toMatchObject({ code: 'ENOENT' });
    tee.endAt({ start: 0, end: 10 }, 0); // too late: ignored
    await expect(tee.file(0)).resolves.toBeUndefined();
  });

  it('gives up past its limit without an end: that file and the later ones, never more than a block over the limit', async () => {
    const root = await dir();
    const tee = new ChunkTee(pathsIn(root, 3), (i) => (i === 0 ? 1 << 20 : 10_000));
    let largest = 0;
    // Its size seen as the tee asks for each next block: only then is every write so far done.
    async function* watched(): AsyncGenerator<Buffer> {
      for await (const block of readBlocks(await fileOf(BYTES), {}, 4096)) {
        largest = Math.max(largest, (await stat(`${tee.paths[1]}.partial`).catch(() => ({ size: 0 }))).size);
        yield block;
      }
    }
    await passThrough(tee, [[20_000, () => tee.endAt({ start: 0, end: 20_000 }, 0)]], watched());
    await tee.settled();
    expect(largest).toBeGreaterThanOrEqual(10_000);
    expect(largest).toBeLessThanOrEqual(10_000 + 4096);
    await expectOnlyFirst(tee, root, 20_000);
  });

  it('does not tee a chunk that does not start where the one before it ended, nor any after it', async () => {
    const root = await dir();
    const tee = new ChunkTee(pathsIn(root, 3), () => 1 << 20);
    await passThrough(tee, [
      [8_000, () => tee.endAt({ start: 5, end: 8_000 }, 5)],
      [16_000, () => tee.endAt({ start: 9_000, end: 16_000 }, 5)], // a gap after 8,000
      [30_000, () => tee.endAt({ start: 16_000, end: 30_000 }, 5)],
    ]);
    await tee.settled();
    await expectOnlyFirst(tee, root, 8_000);
  });

  it('keeps a chunk whose next file cannot be begun; that chunk and the later ones are copied', async () => {
    const root = await dir();
    await writeFile(join(root, 'a-file'), '');
    const tee = new ChunkTee(
      [join(root, 'chunk-0.txt'), join(root, 'a-file', 'chunk-1.txt'), join(root, 'chunk-2.txt')],
      () => 1 << 20,
    );
    const ends = [30_000, 60_000, 90_000];
    expect((await teeThrough(tee, 12, ends, 4096)).equals(BYTES)).toBe(true);
    expect((await readFile((await tee.file(0)) as string)).equals(expected(0, 12, ends))).toBe(true);
    for (const i of [1, 2]) await expect(tee.file(i)).resolves.toBeUndefined();
    expect((await readdir(root)).sort()).toEqual(['a-file', 'chunk-0.txt']);
  });

  it('does not tee a first chunk that does not start right after the header', async () => {
    const root = await dir();
    const tee = new ChunkTee(pathsIn(root, 2), () => 1 << 20);
    await passThrough(tee, [[20_000, () => tee.endAt({ start: 40, end: 20_000 }, 30)]]);
    await tee.settled();
    for (const i of [0, 1]) await expect(tee.file(i)).resolves.toBeUndefined();
    expect(await readdir(root)).toEqual([]);
  });

  it('fails cleanly when its source fails right after an end was told: nothing left, nothing unsettled', async () => {
    const root = await dir();
    const tee = new ChunkTee(pathsIn(root, 3), () => 1 << 20);
    async function* failing(): AsyncGenerator<Buffer> {
      yield* readBlocks(await fileOf(BYTES), { end: 32_768 }, 4096); // its last block holds the end told
      throw new Error('the spool failed');
    }
    const consumed = passThrough(tee, [[30_000, () => tee.endAt({ start: 0, end: 30_000 }, 0)]], failing());
    await expect(consumed).rejects.toThrow('the spool failed');
    await tee.settled();
    // The end told was acted on before the give-up: that chunk is whole, the next one (begun) is not kept.
    await expectOnlyFirst(tee, root, 30_000);
  });

  it('stops teeing when told to: the chunks already ended are kept, the one under way and the later ones are not', async () => {
    const root = await dir();
    const tee = new ChunkTee(pathsIn(root, 3), () => 1 << 20);
    await passThrough(tee, [
      [
        30_000,
        () => {
          tee.endAt({ start: 0, end: 30_000 }, 0);
          tee.stop();
        },
      ],
      [60_000, () => tee.endAt({ start: 30_000, end: 60_000 }, 0)], // after the stop: ignored
    ]);
    await tee.settled();
    await expectOnlyFirst(tee, root, 30_000);
  });

  it('fails the stream when a write fails (a full disk), and leaves no file', async () => {
    const root = await dir();
    const tee = new ChunkTee(pathsIn(root, 2), () => 1 << 20);
    await symlink('/dev/full', `${tee.paths[0]}.partial`); // every write to it: ENOSPC
    await expect(teeThrough(tee, 0, [50_000], 4096)).rejects.toMatchObject({ code: 'ENOSPC' });
    for (const i of [0, 1]) await expect(tee.file(i)).resolves.toBeUndefined();
    expect(await readdir(root)).toEqual([]);
  });

  it('never removes a file at its path that it did not write', async () => {
    const tee = new ChunkTee(pathsIn(await dir(), 1), () => 10_000);
    await writeFile(tee.paths[0] as string, 'written by someone else');
    await teeThrough(tee, 0, [], 4096);
    await expect(tee.file(0)).resolves.toBeUndefined();
    expect(await readFile(tee.paths[0] as string, 'utf8')).toBe('written by someone else');
  });

  it('fails the file of a chunk told to end past what it wrote', async () => {
    const tee = new ChunkTee(pathsIn(await dir(), 2), () => 1 << 20);
    for await (const block of tee.tee(readBlocks(await fileOf(BYTES), {}, 1000))) {
      void block;
      tee.endAt({ start: 0, end: 5000 }, 0);
    }
    await tee.settled();
    await expect(tee.file(0)).rejects.toThrow('the chunk ends at byte 5000, but 1000 bytes were written');
    await expect(tee.file(1)).resolves.toBeUndefined();
  });

  it('fails the stream when its first file cannot be made, and does not hang', async () => {
    const root = await dir();
    await writeFile(join(root, 'a-file'), '');
    const tee = new ChunkTee([join(root, 'a-file', 'chunk-0.txt')], () => 1 << 20);
    // Node's recursive mkdir says EEXIST where a file stands in the way; a plain one, ENOTDIR.
    await expect(teeThrough(tee, 0, [50_000], 4096)).rejects.toMatchObject({
      code: expect.stringMatching(/^(EEXIST|ENOTDIR)$/),
    });
    await expect(tee.file(0)).resolves.toBeUndefined();
  });
});
