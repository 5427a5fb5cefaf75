import { randomUUID } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { copyFile, mkdir, readFile, readdir, rename, rm, stat, writeFile } from 'node:fs/promises';
import { dirname, join, relative, sep } from 'node:path';
import type { Readable } from 'node:stream';
import type { ObjectStore, StoredObject, Zone } from '../../engine/ports.ts';

/** The lake's zones as directories under one root: `<root>/bronze`, `<root>/silver`, … */
export class LocalObjectStore implements ObjectStore {
  constructor(readonly root: string) {}

  path(zone: Zone, key: string): string {
    if (key.split('/').includes('..')) throw new Error(`refusing key outside the lake: ${key}`);
    return join(this.root, zone, ...key.split('/'));
  }

  async putFile(zone: Zone, key: string, localPath: string): Promise<void> {
    const target = this.path(zone, key);
    await mkdir(dirname(target), { recursive: true });
    const tmp = `${target}.${randomUUID()}.tmp`;
    await copyFile(localPath, tmp);
    await rename(tmp, target); // readers never see a half-written object
  }

  async putBytes(zone: Zone, key: string, body: Uint8Array | string): Promise<void> {
    const target = this.path(zone, key);
    await mkdir(dirname(target), { recursive: true });
    const tmp = `${target}.${randomUUID()}.tmp`;
    await writeFile(tmp, body);
    await rename(tmp, target);
  }

  async getBytes(zone: Zone, key: string): Promise<Uint8Array | undefined> {
    try {
      return await readFile(this.path(zone, key));
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

  async delete(zone: Zone, keys: readonly string[]): Promise<void> {
    await Promise.all(keys.map((k) => rm(this.path(zone, k), { force: true })));
  }
}
