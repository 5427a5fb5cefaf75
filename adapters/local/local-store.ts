import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { copyFile, link, mkdir, open, readFile, readdir, rename, rm, stat, unlink, writeFile } from 'node:fs/promises';
import { dirname, join, relative, sep } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import {
  ObjectChangedError,
  ObjectExistsError,
  type ObjectHead,
  type ObjectStore,
  type ObjectVersion,
  type OpenedObject,
  type OpenOptions,
  type PutOptions,
  type PutResult,
  type StoredObject,
  type TaggedBytes,
  type Zone,
} from '../../engine/contract/index.ts';
import { isNoHardLinks, linkedFile } from '../../engine/index.ts';
import { KeyLocks } from './key-locks.ts';
import { ownerToken } from './process-owner.ts';

export interface LocalPutOptions extends PutOptions {
  /** The MD5 (hex) the file must have: checked on the copy, before it becomes visible under its key. */
  expectMd5?: string;
}

/** The file changed between being hashed and being copied: what was copied is not what was checked. */
export class SourceChangedError extends Error {
  constructor(
    readonly path: string,
    readonly expectedMd5: string,
    readonly actualMd5: string,
  ) {
    super(`${path} changed while it was being copied (MD5 ${actualMd5}, expected ${expectedMd5})`);
    this.name = 'SourceChangedError';
  }
}

/**
 * Where an object is written before it appears under its key: beside it, named after the writing process
 * (see process-owner.ts), so a sweep can remove what a crashed writer left. `list` never shows these.
 */
export function stagingName(target: string): string {
  return `${target}.${ownerToken()}.tmp`;
}

async function copyHashing(from: string, to: string): Promise<string> {
  const hash = createHash('md5');
  const out = await open(to, 'wx');
  try {
    for await (const chunk of createReadStream(from, { highWaterMark: 1024 * 1024 })) {
      hash.update(chunk as Buffer);
      await out.write(chunk as Buffer);
    }
  } finally {
    await out.close();
  }
  return hash.digest('hex');
}

/** The bytes of an object of `total` bytes an `open` reads. */
function byteRange(total: number, options: OpenOptions): { start: number; end: number; size: number } {
  const start = options.range?.start ?? 0;
  const end = Math.min(options.range?.end ?? total - 1, total - 1);
  return { start, end, size: Math.max(0, end - start + 1) };
}

/** A local object's entity tag: the MD5 of its bytes, quoted (as S3 gives a single-part object's). */
export const localEtag = (bytes: Uint8Array): string => `"${createHash('md5').update(bytes).digest('hex')}"`;

const unquoted = (etag: string): string => etag.replace(/"/g, '');

/**
 * The lake's zones as directories under one root: `<root>/bronze`, `<root>/silver`, … The step that makes a put's
 * object appear under its key (a rename or a link) and a conditional delete's compare-and-unlink (or a conditional
 * put's compare-and-rename) are run under the key's locks (key-locks.ts, `<root>/locks/objects/`): puts never wait
 * for each other, and a conditional delete or put compares and acts with no put landing in between.
 */
export class LocalObjectStore implements ObjectStore {
  private readonly keyLocks: KeyLocks;

  constructor(readonly root: string) {
    this.keyLocks = new KeyLocks(join(root, 'locks', 'objects'));
  }

  path(zone: Zone, key: string): string {
    if (key.split('/').includes('..')) throw new Error(`refusing key outside the lake: ${key}`);
    return join(this.root, zone, ...key.split('/'));
  }

  /**
   * Readers never see a half-written object: the file is copied aside (linked, when handed over), then renamed
   * over the key — or, create only (`ifNoneMatch`), linked to it: link(2) fails when the key exists, so of two
   * writers racing for one key exactly one wins and the other gets ObjectExistsError; nothing is ever
   * overwritten. A directory keeps no versions, entity tags or metadata: the result is empty, `metadata` is not
   * kept.
   */
  async putFile(
    zone: Zone,
    key: string,
    localPath: string,
    _contentType?: string,
    options: LocalPutOptions = {},
  ): Promise<PutResult> {
    await this.placeFile(zone, key, localPath, options);
    if (options.onProgress) options.onProgress((await stat(this.path(zone, key))).size);
    return {};
  }

  private async placeFile(zone: Zone, key: string, localPath: string, options: LocalPutOptions): Promise<void> {
    const target = this.path(zone, key);
    await mkdir(dirname(target), { recursive: true });
    const aside = stagingName(target);
    try {
      if (options.expectMd5 === undefined) {
        if (!(options.handOver && (await linkedFile(localPath, aside)))) await copyFile(localPath, aside);
      } else {
        const md5 = await copyHashing(localPath, aside);
        if (md5 !== options.expectMd5) throw new SourceChangedError(localPath, options.expectMd5, md5);
      }
      if (options.ifMatch !== undefined) await this.replaceIfMatch(zone, key, aside, options.ifMatch);
      else await this.placeAside(zone, key, aside, options.ifNoneMatch === true);
    } finally {
      await unlink(aside).catch(() => {}); // gone after a rename; the second name after a link
    }
  }

  /** Written aside as it arrives, renamed over the key once complete; a failed body leaves nothing. */
  async putStream(zone: Zone, key: string, body: AsyncIterable<Uint8Array>): Promise<void> {
    const target = this.path(zone, key);
    await mkdir(dirname(target), { recursive: true });
    const aside = stagingName(target);
    const out = createWriteStream(aside);
    try {
      await pipeline(body, out);
      await this.placeAside(zone, key, aside, false);
    } finally {
      // A body that fails at once can fail the pipeline before the file is even open: it is created (and closed)
      // after that, so the unlink waits for the stream to close, or the scratch file would stay.
      // (A pipeline that refuses its arguments leaves the stream as it is: destroyed here, it closes too.)
      if (!out.closed) {
        out.destroy();
        await new Promise<void>((resolve) => out.once('close', () => resolve()));
      }
      await unlink(aside).catch(() => {}); // gone after the rename
    }
  }

  async putBytes(
    zone: Zone,
    key: string,
    body: Uint8Array | string,
    _contentType?: string,
    options: Pick<PutOptions, 'ifNoneMatch' | 'ifMatch'> = {},
  ): Promise<void> {
    const { ifMatch } = options;
    if (ifMatch !== undefined && options.ifNoneMatch)
      throw new Error(`put of ${key}: ifMatch and ifNoneMatch exclude each other`);
    const target = this.path(zone, key);
    await mkdir(dirname(target), { recursive: true });
    const aside = stagingName(target);
    try {
      await writeFile(aside, body);
      if (ifMatch !== undefined) await this.replaceIfMatch(zone, key, aside, ifMatch);
      else await this.placeAside(zone, key, aside, options.ifNoneMatch === true);
    } finally {
      await unlink(aside).catch(() => {}); // gone after a rename; the second name after a link
    }
  }

  /**
   * Gives the file written aside the key's name (create only: only if the key holds nothing), as a put of the key's
   * locks. Without hard links, create only is a look and a rename alone against the key's puts (as `replaceIfMatch`):
   * an exclusive copy instead showed readers a half-copied object, and left one behind when the process was killed.
   */
  private async placeAside(zone: Zone, key: string, aside: string, createOnly: boolean): Promise<void> {
    const target = this.path(zone, key);
    const placed = await this.keyLocks.put(zone, key, () =>
      createOnly ? this.linkCreateOnly(zone, key, aside) : rename(aside, target).then(() => true),
    );
    if (placed) return;
    await this.keyLocks.delete(zone, key, async () => {
      if (
        await stat(target).then(
          () => true,
          (e: NodeJS.ErrnoException) => (e.code === 'ENOENT' ? false : Promise.reject(e)),
        )
      )
        throw new ObjectExistsError(zone, key);
      await rename(aside, target);
    });
  }

  /**
   * Alone against the key's puts and conditional deletes (key-locks.ts, as `deleteIfMatch`): the bytes there now
   * are read and compared, then the file written aside is renamed over them — no put lands in between.
   */
  private async replaceIfMatch(zone: Zone, key: string, aside: string, etag: string): Promise<void> {
    await this.keyLocks.delete(zone, key, async () => {
      const now = await this.getBytes(zone, key);
      if (!now || unquoted(localEtag(now)) !== unquoted(etag)) throw new ObjectChangedError(zone, key, etag);
      await rename(aside, this.path(zone, key));
    });
  }

  /**
   * Gives the file written aside the key's name only if the key holds nothing: link(2) fails when it exists, so
   * of two writers racing for one key exactly one wins and the other gets ObjectExistsError. False, nothing done, on
   * a file system without hard links.
   */
  private async linkCreateOnly(zone: Zone, key: string, aside: string): Promise<boolean> {
    try {
      await link(aside, this.path(zone, key));
      return true;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'EEXIST') throw new ObjectExistsError(zone, key);
      if (!isNoHardLinks(e)) throw e;
      return false;
    }
  }

  async getBytes(zone: Zone, key: string): Promise<Uint8Array | undefined> {
    try {
      return await readFile(this.path(zone, key));
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw e;
    }
  }

  /** The bytes of one file (one open, one read) and their MD5 as the entity tag. */
  async getBytesWithEtag(zone: Zone, key: string): Promise<TaggedBytes | undefined> {
    const bytes = await this.getBytes(zone, key);
    return bytes && { bytes, etag: localEtag(bytes) };
  }

  async head(zone: Zone, key: string): Promise<ObjectHead | undefined> {
    try {
      const s = await stat(this.path(zone, key));
      return { key, size: s.size, lastModified: s.mtime, metadata: {} };
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw e;
    }
  }

  async getStream(zone: Zone, key: string): Promise<Readable> {
    const p = this.path(zone, key);
    await stat(p); // fail here, with ENOENT, rather than on first read
    return createReadStream(p);
  }

  /** A directory keeps no versions: asking for one is asking for what is there (its identity says none). */
  async open(zone: Zone, key: string, options: OpenOptions = {}): Promise<OpenedObject | undefined> {
    const p = this.path(zone, key);
    if (options.withEtag) return this.openTagged(p, options);
    let s;
    try {
      s = await stat(p);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw e;
    }
    const { start, end, size } = byteRange(s.size, options);
    return { body: size > 0 ? createReadStream(p, { start, end }) : Readable.from([]), lastModified: s.mtime, size };
  }

  /** One open file for the size, the tag and the bytes: a rename over the key meanwhile changes none of them. */
  private async openTagged(p: string, options: OpenOptions): Promise<OpenedObject | undefined> {
    let file;
    try {
      file = await open(p, 'r');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw e;
    }
    try {
      const s = await file.stat();
      const hash = createHash('md5');
      const buffer = Buffer.allocUnsafe(1 << 20);
      for (let at = 0; at < s.size;) {
        const { bytesRead } = await file.read(buffer, 0, buffer.length, at);
        if (bytesRead === 0) break;
        hash.update(buffer.subarray(0, bytesRead));
        at += bytesRead;
      }
      const { start, end, size } = byteRange(s.size, options);
      const body = size > 0 ? file.createReadStream({ start, end }) : Readable.from([]);
      if (size === 0) await file.close();
      return { body, etag: `"${hash.digest('hex')}"`, lastModified: s.mtime, size };
    } catch (e) {
      await file.close().catch(() => {});
      throw e;
    }
  }

  async copy(zone: Zone, fromKey: string, toKey: string): Promise<void> {
    await this.putFile(zone, toKey, this.path(zone, fromKey));
  }

  async *list(zone: Zone, prefix: string): AsyncIterable<StoredObject> {
    const base = join(this.root, zone);
    const keys: string[] = [];
    const walk = async (dir: string): Promise<void> => {
      let entries;
      try {
        entries = await readdir(dir, { withFileTypes: true });
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === 'ENOENT') return;
        throw e;
      }
      for (const entry of entries) {
        const full = join(dir, entry.name);
        if (entry.isDirectory()) await walk(full);
        else if (!entry.name.endsWith('.tmp')) keys.push(relative(base, full).split(sep).join('/'));
      }
    };
    await walk(base);
    for (const key of keys.filter((k) => k.startsWith(prefix)).sort()) {
      const s = await stat(join(base, key));
      yield { key, size: s.size, lastModified: s.mtime };
    }
  }

  /** A directory keeps one version of each object: the current one, without a version id. */
  async *listVersions(zone: Zone, prefix: string): AsyncIterable<ObjectVersion> {
    for await (const o of this.list(zone, prefix))
      yield { key: o.key, size: o.size, lastModified: o.lastModified, isLatest: true };
  }

  async delete(zone: Zone, keys: readonly string[]): Promise<void> {
    // Every unlink settled before a failure is thrown: a caller may go on as if none of them is still under way.
    const outcomes = await Promise.allSettled(keys.map((k) => rm(this.path(zone, k), { force: true })));
    const failed = outcomes.find((o): o is PromiseRejectedResult => o.status === 'rejected');
    if (failed) throw failed.reason;
  }

  /**
   * Alone against the key's puts (key-locks.ts): the bytes there now are read and compared, then unlinked — no
   * put lands in between. A plain delete meanwhile only leaves nothing to unlink.
   */
  async deleteIfMatch(zone: Zone, key: string, etag: string): Promise<void> {
    await this.keyLocks.delete(zone, key, async () => {
      const now = await this.getBytes(zone, key);
      if (!now) return;
      if (unquoted(localEtag(now)) !== unquoted(etag)) throw new ObjectChangedError(zone, key, etag);
      await rm(this.path(zone, key), { force: true });
    });
  }
}
