/** The local store's per-key locks: a put's marker, and a conditional delete waiting for it. */
import { link, mkdir, mkdtemp, readdir, rm, stat, unlink, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout } from 'node:timers/promises';
import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import { KeyLocks } from '../../../../adapters/local/key-locks.ts';
import { hostTag, ownerToken } from '../../../../adapters/local/process-owner.ts';

let root: string;
let locks: KeyLocks;
beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), 'key-locks-'));
  locks = new KeyLocks(join(root, 'locks'));
});
afterEach(() => rm(root, { recursive: true, force: true }));

const MARKER = /^[0-9a-f]{40}\.put\.\d{13}\.\d+-[0-9a-f]{8}-[0-9a-f]{8}\.tmp$/;
const SOURCE = new RegExp(`^put-marker\\.${process.pid}-[0-9a-f]{8}-[0-9a-f]{8}\\.tmp$`);

/** An owner token of a process on another host (its pid cannot be judged here: only a marker's age can). */
const anotherHostsToken = (): string => ownerToken().replace(/^\d+-[0-9a-f]{8}-/, `4242-${hostTag('another-host')}-`);

/** The names in the lock directory: this process's marker source, and the markers. */
async function lockFiles(): Promise<{ source: string | undefined; markers: string[] }> {
  const names = await readdir(locks.dir);
  return { source: names.find((n) => SOURCE.test(n)), markers: names.filter((n) => MARKER.test(n)) };
}

describe('KeyLocks.put', () => {
  it("marks the put with a second name of its process's empty file (no new inode), gone once the step is done", async () => {
    const seen = await locks.put('silver', 'a/b.parquet', async () => {
      const { source, markers } = await lockFiles();
      expect(markers).toHaveLength(1);
      const marker = await stat(join(locks.dir, markers[0] as string));
      expect(marker.ino).toBe((await stat(join(locks.dir, source as string))).ino);
      return marker.size;
    });
    expect(seen).toBe(0);
    const after = await lockFiles();
    expect(after.markers).toEqual([]);
    expect((await stat(join(locks.dir, after.source as string))).nlink).toBe(1);
    // A second lock directory (another lake) gets a file of its own.
    const other = new KeyLocks(join(root, 'other-locks'));
    await other.put('silver', 'k', async () => {
      expect((await readdir(other.dir)).filter((n) => SOURCE.test(n))).toHaveLength(1);
    });
  });

  it("makes the process's file again when it is gone, and marks with an empty file where no link can be made", async () => {
    await locks.put('silver', 'k', async () => {});
    const { source } = await lockFiles();
    await unlink(join(locks.dir, source as string)); // e.g. swept by another host
    await locks.put('silver', 'k', async () => {
      expect((await lockFiles()).markers).toHaveLength(1);
      expect((await stat(join(locks.dir, source as string))).nlink).toBe(2);
    });
    // link(2) of a directory fails with EPERM, as on a file system without hard links.
    await unlink(join(locks.dir, source as string));
    await mkdir(join(locks.dir, source as string));
    await locks.put('silver', 'k', async () => {
      const { markers } = await lockFiles();
      expect(markers).toHaveLength(1);
      const marker = await stat(join(locks.dir, markers[0] as string));
      expect([marker.isFile(), marker.nlink, marker.size]).toEqual([true, 1, 0]);
    });
    expect((await lockFiles()).markers).toEqual([]);
  });
});

describe('KeyLocks.delete', () => {
  it("waits for a live put's marker whose file was made long ago (its age is the time in its name)", async () => {
    await locks.put('silver', 'k', async () => {});
    const { source } = await lockFiles();
    const hourAgo = new Date(Date.now() - 3_600_000);
    await utimes(join(locks.dir, source as string), hourAgo, hourAgo); // a process running for an hour
    // A live put (this process) in its last step on the key: its marker linked now.
    const marker = join(locks.dir, `${await keyHash('k')}.put.${Date.now()}.${ownerToken()}.tmp`);
    await link(join(locks.dir, source as string), marker);
    let deleted = false;
    const deleting = locks.delete('silver', 'k', async () => {
      deleted = true;
    });
    await setTimeout(300);
    expect(deleted).toBe(false); // by its modification time (an hour) it would have been judged abandoned at once
    await unlink(marker);
    await deleting;
    expect(deleted).toBe(true);
  });

  it("waits for another host's marker made a moment ago (the age rule, not the owner, decides there)", async () => {
    const elsewhere = anotherHostsToken();
    const marker = join(locks.dir, `${await keyHash('k')}.put.${Date.now()}.${elsewhere}.tmp`);
    await writeFile(marker, '');
    const deleted = locks.delete('silver', 'k', async () => 'deleted');
    expect(await Promise.race([deleted, setTimeout(300, 'still waiting', { ref: false })])).toBe('still waiting');
    await unlink(marker);
    expect(await deleted).toBe('deleted');
  });

  it("does not wait for a killed process's markers past their age, one after another (they share one inode)", async () => {
    // Another host's process, killed while two of its puts were in their last step 11 s ago: its markers are links of
    // its file, linked now here (so their inode's change time is now, and each removal sets it again).
    const elsewhere = anotherHostsToken();
    const [k1, k2] = [await keyHash('k1'), await keyHash('k2')];
    const source = join(locks.dir, `put-marker.${elsewhere}.tmp`);
    await writeFile(source, '');
    const elevenSecondsAgo = Date.now() - 11_000;
    for (const hash of [k1, k2])
      await link(source, join(locks.dir, `${hash}.put.${elevenSecondsAgo}.${elsewhere}.tmp`));
    for (const key of ['k1', 'k2']) {
      const deleted = locks.delete('silver', key, async () => 'deleted');
      // Judged by the inode's change time, each would wait 10 s more (the first removal resets it for the second).
      expect(await Promise.race([deleted, setTimeout(3_000, 'still waiting', { ref: false })])).toBe('deleted');
    }
    expect((await lockFiles()).markers).toEqual([]);
  });
});

/** A key's hash, as KeyLocks names its files (learnt from a delete's lock while it is held). */
async function keyHash(key: string): Promise<string> {
  let name = '';
  await locks.delete('silver', key, async () => {
    name = (await readdir(locks.dir)).find((n) => n.endsWith('.delete.lock')) ?? '';
  });
  return name.slice(0, 40);
}
