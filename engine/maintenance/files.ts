/** Silver and quarantine Parquet files as maintenance sees them: listed through the store, copied to scratch for DuckDB. */
import { createWriteStream } from 'node:fs';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { createHash } from 'node:crypto';
import type { ObjectStore, StoredObject, Zone } from '../ports.ts';

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

/** The partition folder of a key (`transactions/year=2024/month=01/`). */
export const folderOf = (key: string): string => key.slice(0, key.lastIndexOf('/') + 1);

/** `year=2024/month=01` of a silver key, as a month key `2024-01` when the partitioning is year/month. */
export function monthOfKey(key: string): string | undefined {
  const m = /year=(\d{4})\/month=(\d{2})\//.exec(key);
  return m ? `${m[1]}-${m[2]}` : undefined;
}
