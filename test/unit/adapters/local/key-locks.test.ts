/** The local store's per-key locks: a put's marker, and a conditional delete waiting for it. */
import { link, mkdir, mkdtemp, readdir, rm, stat, unlink, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout } from 'node:timers/promises';
import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import { KeyLocks } from '../../../../adapters/local/key-locks.ts';
import { ownerToken } from '../../../../adapters/local/process-owner.ts';

let root: string;
let locks: KeyLocks;
beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), 'key-locks-'));
  locks = new KeyLocks(join(root, 'locks'));
});
afterEach(() => rm(root, { recursive: true, force: true }));

/** A file written an hour ago (its modification time), as a silver file handed to the store long after DuckDB wrote it. */
async function oldFile(name: string): Promise<string> {
  const path = join(root, name);
  await writeFile(path, 'PAR1');
  const hourAgo = new Date(Date.now() - 3_600_000);
  await utimes(path, hourAgo, hourAgo);
  return path;
}

describe('KeyLocks.put', () => {
  it("marks the put with a second name of the put's own file (no new inode), gone once the step is done", async () => {
    const staged = await oldFile('staged');
    const seen = await locks.put('silver', 'a/b.parquet', staged, async () => {
      const names = await readdir(locks.dir);
      expect(names).toHaveLength(1);
      expect(names[0]).toMatch(/^[0-9a-f]{40}\.put\.\d+-[0-9a-f]{8}-[0-9a-f]{8}\.tmp$/);
      return (await stat(join(locks.dir, names[0] as string))).ino;
    });
    expect(seen).toBe((await stat(staged)).ino);
    expect(await readdir(locks.dir)).toEqual([]);
    expect((await stat(staged)).nlink).toBe(1);
  });

  it('marks it with an empty file when the staged file cannot be linked (here: it is a directory)', async () => {
    const staged = join(root, 'not-a-file');
    await mkdir(staged);
    // link(2) of a directory fails with EPERM, as on a file system without hard links.
    const size = await locks.put('silver', 'k', staged, async () => {
      const [name] = await readdir(locks.dir);
      return (await stat(join(locks.dir, name as string))).size;
    });
    expect(size).toBe(0);
    expect(await readdir(locks.dir)).toEqual([]);
  });
});

describe('KeyLocks.delete', () => {
  it("waits for a live put's marker linked to a file written long ago (its age is when it was linked)", async () => {
    const staged = await oldFile('staged');
    await mkdir(locks.dir, { recursive: true });
    // Where locks.put would put it: the key's hash, a live owner (this process), linked now.
    let marker = '';
    await locks.put('silver', 'k', staged, async () => {
      const [name] = await readdir(locks.dir);
      marker = `${name?.split('.put.')[0]}.put.${ownerToken()}.tmp`;
    });
    await link(staged, join(locks.dir, marker));
    let deleted = false;
    const deleting = locks.delete('silver', 'k', async () => {
      deleted = true;
    });
    await setTimeout(300);
    expect(deleted).toBe(false); // by its modification time (an hour) it would have been judged abandoned at once
    await unlink(join(locks.dir, marker));
    await deleting;
    expect(deleted).toBe(true);
  });
});
