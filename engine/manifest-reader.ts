/** Reading the lake's small JSON objects (manifests, gold state) through the `ObjectStore` port. */
import { MANIFESTS_PREFIX } from './layout.ts';
import type { Manifest } from './manifest.ts';
import type { ObjectStore } from './ports.ts';

/** Every manifest of a dataset (silver `_manifests/<dataset>/`), in listing order. */
export async function readManifests(store: ObjectStore, dataset: string): Promise<Manifest[]> {
  const manifests: Manifest[] = [];
  for await (const o of store.list('silver', `${MANIFESTS_PREFIX}${dataset}/`)) {
    if (!o.key.endsWith('.json')) continue;
    const manifest = await readJson<Manifest>(store, 'silver', o.key);
    if (manifest) manifests.push(manifest);
  }
  return manifests;
}

/** A small JSON object of the lake, or undefined when there is none; a torn one fails naming its key. */
export async function readJson<T>(store: ObjectStore, zone: 'silver' | 'gold', key: string): Promise<T | undefined> {
  const bytes = await store.getBytes(zone, key);
  if (!bytes) return undefined;
  try {
    return JSON.parse(Buffer.from(bytes).toString('utf8')) as T;
  } catch (error) {
    throw new Error(`${zone}/${key}: not JSON (${(error as Error).message})`, { cause: error });
  }
}

/** A small JSON record of silver (manifest, intent, fan-out plan or result); a damaged one reads as none and is replaced. */
export async function readSilverRecord<T>(store: ObjectStore, key: string): Promise<T | undefined> {
  const bytes = await store.getBytes('silver', key);
  if (!bytes) return undefined;
  try {
    return JSON.parse(Buffer.from(bytes).toString('utf8')) as T;
  } catch {
    return undefined; // a damaged record is replaced; the files it named are then not cleaned up
  }
}
