/** Silver and quarantine Parquet files as maintenance sees them: listed through the store, copied to scratch for DuckDB. */
import { createWriteStream } from 'node:fs';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { createHash } from 'node:crypto';
import { parseSilverRecord } from '../manifest-reader.ts';
import { ObjectChangedError, ObjectExistsError, type ObjectStore, type StoredObject, type Zone } from '../ports.ts';

/** Silver Parquet row groups: the size the ingest writes (engine/routed.ts). */
export const MAINTENANCE_ROW_GROUP_SIZE = 20_480;

/** Where an object's local copy goes in `dir`: named after its key's hash (keys may hold any character). */
const copyPath = (dir: string, zone: Zone, key: string): string =>
  join(dir, `${createHash('sha256').update(`${zone}/${key}`).digest('hex').slice(0, 24)}.parquet`);

/** Parquet files under a prefix, skipping `_`-prefixed folders (manifests, audit, intents). */
export async function listParquet(store: ObjectStore, zone: Zone, prefix: string): Promise<StoredObject[]> {
  const out: StoredObject[] = [];
  for await (const o of store.list(zone, prefix)) {
    if (!o.key.endsWith('.parquet')) continue;
    if (
      o.key
        .slice(prefix.length)
        .split('/')
        .some((part) => part.startsWith('_') || part.startsWith('.'))
    )
      continue;
    out.push(o);
  }
  return out.sort((a, b) => a.key.localeCompare(b.key));
}

/**
 * A local copy of an object and the entity tag of exactly the bytes copied (for a put over it only while it is still
 * that object), or undefined when there is none.
 */
export async function downloadTagged(
  store: ObjectStore,
  zone: Zone,
  key: string,
  dir: string,
): Promise<{ path: string; etag: string } | undefined> {
  const opened = await store.open(zone, key, { withEtag: true });
  if (!opened) return undefined;
  if (opened.etag === undefined) {
    opened.body.destroy();
    throw new Error(`the store gave no entity tag for ${zone}/${key}`);
  }
  const path = copyPath(dir, zone, key);
  await pipeline(opened.body, createWriteStream(path));
  return { path, etag: opened.etag };
}

/** A local copy of an object, named after its key's hash (keys may hold any character). */
export async function download(store: ObjectStore, zone: Zone, key: string, dir: string): Promise<string> {
  const path = copyPath(dir, zone, key);
  await pipeline(await store.getStream(zone, key), createWriteStream(path));
  return path;
}

export async function putJson(store: ObjectStore, zone: Zone, key: string, value: unknown): Promise<void> {
  await store.putBytes(zone, key, `${JSON.stringify(value, null, 2)}\n`, 'application/json');
}

/** How often `editSilverRecord` reads a record again after another writer changed it between its read and its write. */
export const RECORD_EDIT_ATTEMPTS = 8;

/** A record kept changing under `editSilverRecord`: nothing of this edit was written. */
export class RecordKeptChangingError extends Error {
  constructor(key: string, attempts: number) {
    super(
      `silver/${key} was changed by another writer each of ${attempts} times it was read and edited; nothing was written over it: run the operation again`,
    );
    this.name = 'RecordKeptChangingError';
  }
}

/**
 * Edits a small JSON record of silver (a manifest) over exactly the object read: `edit` is given what is there
 * (undefined when there is none, or it is damaged) and returns what to write, or undefined to leave it. When another
 * writer changes the record between the read and the write — an ingest announcing a removal (`settled`), another
 * maintenance — nothing is written over its change: the record is read and edited again (a blind put would undo it).
 * Returns the record as this edit left it.
 */
export async function editSilverRecord<T>(
  store: ObjectStore,
  key: string,
  edit: (now: T | undefined) => T | undefined | Promise<T | undefined>,
  attempts = RECORD_EDIT_ATTEMPTS,
): Promise<T | undefined> {
  for (let attempt = 1; attempt <= attempts; attempt++) {
    const read = await store.getBytesWithEtag('silver', key);
    const now = parseSilverRecord<T>(read?.bytes);
    const next = await edit(now);
    if (next === undefined) return now;
    const condition = read ? { ifMatch: read.etag } : { ifNoneMatch: true };
    try {
      await store.putBytes('silver', key, `${JSON.stringify(next, null, 2)}\n`, 'application/json', condition);
      return next;
    } catch (e) {
      if (!(e instanceof ObjectChangedError || e instanceof ObjectExistsError)) throw e;
      await new Promise((resolve) => setTimeout(resolve, Math.random() * 20 * attempt));
    }
  }
  throw new RecordKeptChangingError(key, attempts);
}

/** The partition folder of a key (`transactions/year=2024/month=01/`). */
export const folderOf = (key: string): string => key.slice(0, key.lastIndexOf('/') + 1);

/** `year=2024/month=01` of a silver key, as a month key `2024-01` when the partitioning is year/month. */
export function monthOfKey(key: string): string | undefined {
  const m = /year=(\d{4})\/month=(\d{2})\//.exec(key);
  return m ? `${m[1]}-${m[2]}` : undefined;
}
