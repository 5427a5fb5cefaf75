/**
 * The local store's per-key locks, in `<lake>/locks/objects/`: a put's last step (the rename or link that makes
 * its object appear under the key) against a conditional delete's compare-and-unlink (or a conditional put's
 * compare-and-rename, locked as a delete is). Puts share (they never wait for each other, however long one is held
 * up); a conditional delete is exclusive: it waits until no put of the key is in its last step, and none starts
 * one until it is done.
 *
 * A put announces itself with a marker (`<key hash>.put.<ms>.<owner token>.tmp`), then looks for the delete's
 * lock (`<key hash>.delete.lock`, a file-lock.ts lock); a delete takes that lock, then waits for the markers to
 * go. Of a put and a delete starting together one always sees the other: the put's marker exists before it
 * looks for the lock, and the lock exists before the delete looks for markers. A marker left by a killed
 * process (its pid gone on this machine, or older than 10 s) is not waited for; a delete's lock left by one is
 * taken over as file-lock.ts takes over any lock.
 *
 * A marker is a second name (a hard link) of an empty file of its process (`put-marker.<owner token>.tmp`, made
 * at its first put, removed at its exit or, once its owner is gone, by the lake's sweep), not a file of its own: a
 * new inode costs ~0.5–1 ms on ext4 without a journal (the free ones recently deleted are skipped one by one), and
 * an ingest places ~100 objects. Not a name of the put's own file: one left by a killed process would keep that
 * object's bytes (erased rows among them) on disk. Its age is the time in its name (`<key hash>.put.<ms>.<owner
 * token>.tmp`): the shared inode's times say nothing of one marker (removing any of a killed process's markers
 * would make the others look new). Where no link can be made, it is an empty file of its own.
 */
import { createHash } from 'node:crypto';
import { rmSync } from 'node:fs';
import { access, link, mkdir, readdir, rm, stat, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { isNoHardLinks } from '../../engine/index.ts';
import { withFileLock } from './file-lock.ts';
import { hostTag, ownerToken, parseOwnerToken, processAlive } from './process-owner.ts';

/** This process's empty files that its markers are second names of (`KeyLocks.mark`), one per lock directory. */
const markerSources = new Map<string, string>();
process.once('exit', () => {
  for (const source of markerSources.values()) {
    try {
      rmSync(source, { force: true });
    } catch {
      // left for the lake's sweep (its owner gone)
    }
  }
});

/** How long a put or a delete waits for the other side before it fails. */
const WAIT_MS = 30_000;
/** A lock or marker untouched this long, of an owner that cannot be judged here, is abandoned (they are held for ms). */
const ABANDONED_MS = 10_000;

/** A key's lock or put marker could not be had in time: another process holds it, alive. */
export class KeyLockTimeoutError extends Error {
  constructor(readonly key: string) {
    super(`the lock of ${key} stayed held for ${WAIT_MS / 1000} s by another process; nothing was changed`);
    this.name = 'KeyLockTimeoutError';
  }
}

const exists = (path: string): Promise<boolean> =>
  access(path).then(
    () => true,
    () => false,
  );

export class KeyLocks {
  private ready: Promise<unknown> | undefined;

  /** The lock directory's file system has no hard links: markers are files of their own. */
  private linkless = false;

  constructor(readonly dir: string) {}

  private async base(zone: string, key: string): Promise<string> {
    this.ready ??= mkdir(this.dir, { recursive: true });
    await this.ready;
    return join(this.dir, createHash('sha256').update(`${zone}/${key}`).digest('hex').slice(0, 40));
  }

  /** Runs a put's last step (`work`: a rename or a link) while no conditional delete of the key runs. */
  async put<T>(zone: string, key: string, work: () => Promise<T>): Promise<T> {
    const base = await this.base(zone, key);
    const lock = `${base}.delete.lock`;
    let marker: string;
    for (;;) {
      marker = `${base}.put.${Date.now()}.${ownerToken()}.tmp`; // named anew: its age is the time in its name
      await this.mark(marker);
      if (!(await exists(lock))) break;
      await removeMarker(marker);
      // A delete runs: waited for (one left by a killed process is taken over and released), then again.
      await withFileLock(lock, async () => {}, { waitMs: WAIT_MS, staleMs: ABANDONED_MS });
    }
    try {
      return await work();
    } finally {
      await removeMarker(marker);
    }
  }

  /** Makes `marker` a second name of this process's empty file (made when missing), else an empty file. */
  private async mark(marker: string): Promise<void> {
    if (this.linkless) return writeFile(marker, '');
    let source = markerSources.get(this.dir);
    if (!source) {
      source = join(this.dir, `put-marker.${ownerToken()}.tmp`);
      markerSources.set(this.dir, source);
    }
    for (let attempt = 0; attempt < 2; attempt++) {
      try {
        await link(source, marker);
        return;
      } catch (e) {
        const code = (e as NodeJS.ErrnoException).code;
        if (code === 'ENOENT' && attempt === 0) {
          await writeFile(source, '', { flag: 'a' }); // the first put (or the sweep of another host removed it)
          continue;
        }
        if (!isNoHardLinks(e) && code !== 'EMLINK' && code !== 'ENOENT') throw e;
        if (isNoHardLinks(e)) this.linkless = true; // not tried again in this directory
        break;
      }
    }
    await writeFile(marker, '');
  }

  /**
   * Runs a conditional delete (`work`: compare, then unlink — or a conditional put's compare, then rename) alone: no
   * other delete, no put's last step meanwhile.
   */
  async delete<T>(zone: string, key: string, work: () => Promise<T>): Promise<T> {
    const base = await this.base(zone, key);
    return withFileLock(
      `${base}.delete.lock`,
      async () => {
        await this.putsDone(base, `${zone}/${key}`);
        return work();
      },
      { waitMs: WAIT_MS, staleMs: ABANDONED_MS },
    );
  }

  /** Waits until no live put of the key is in its last step; markers of killed processes are removed. */
  private async putsDone(base: string, key: string): Promise<void> {
    const prefix = `${base.slice(this.dir.length + 1)}.put.`;
    const deadline = Date.now() + WAIT_MS;
    for (let pause = 1; ; pause = Math.min(pause * 2, 50)) {
      let live = 0;
      for (const name of await readdir(this.dir)) {
        if (!name.startsWith(prefix)) continue;
        const path = join(this.dir, name);
        if (await abandoned(path, name)) await rm(path, { force: true });
        else live++;
      }
      if (live === 0) return;
      if (Date.now() >= deadline) throw new KeyLockTimeoutError(key);
      await sleep(pause);
    }
  }
}

const removeMarker = (marker: string): Promise<void> =>
  unlink(marker).catch((e: unknown) => {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
  });

/**
 * A put marker whose process is gone (on this machine), or older than ABANDONED_MS whoever wrote it: a put's last
 * step takes microseconds, so such a marker is of a killed process (or a reused pid) — or of one stopped in that
 * step for 10 s, which then is no longer waited for. Its age is the time in its name (see above); a marker of an
 * earlier version (none in its name, a file of its own) is as old as its modification time.
 */
async function abandoned(path: string, name: string): Promise<boolean> {
  const owner = parseOwnerToken(name, '.tmp');
  if (owner && owner.hostTag === hostTag() && !processAlive(owner.pid)) return true;
  const named = /\.put\.(\d+)\./.exec(name)?.[1]; // an earlier version's `.put.<pid>-…` has no dot after digits
  const madeAt = named !== undefined ? Number(named) : (await stat(path).catch(() => undefined))?.mtimeMs;
  return madeAt === undefined || Date.now() - madeAt > ABANDONED_MS;
}
