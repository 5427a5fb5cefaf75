/** Reading the lake's small JSON objects (manifests, gold state) through the `ObjectStore` port. */
import { MANIFESTS_PREFIX } from './layout.ts';
import type { Manifest } from './manifest.ts';
import type { ObjectStore } from './ports.ts';

export interface ReadManifestsOptions {
  /**
   * Only this dataset's manifests: those under `_manifests/<dataset>/` whose `dataset` names it. Every dataset's
   * (all of `_manifests/`) when absent.
   */
  dataset?: string;
  /**
   * A manifest that is not JSON (torn, damaged): `'throw'` fails naming its key, for readers that must not take a
   * damaged manifest for a missing one (the gold refresh would skip its months); `'skip'` reads it as no completed
   * ingest, for readers that go on without it (maintenance rewrites the manifests it reads; status reports).
   */
  onDamaged: 'throw' | 'skip';
}

export interface ManifestEntry {
  /** The manifest's key in silver. */
  key: string;
  manifest: Manifest;
}

/** The lake's one reader of ingest manifests (silver `_manifests/`), in listing (key) order. */
export async function readManifests(store: ObjectStore, options: ReadManifestsOptions): Promise<ManifestEntry[]> {
  const { dataset, onDamaged } = options;
  const entries: ManifestEntry[] = [];
  for await (const o of store.list('silver', dataset ? `${MANIFESTS_PREFIX}${dataset}/` : MANIFESTS_PREFIX)) {
    if (!o.key.endsWith('.json')) continue;
    const manifest =
      onDamaged === 'throw'
        ? await readJson<Manifest>(store, 'silver', o.key)
        : await readSilverRecord<Manifest>(store, o.key);
    if (!manifest) continue;
    if (dataset !== undefined && manifest.dataset !== dataset) continue;
    entries.push({ key: o.key, manifest });
  }
  return entries;
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
  return parseSilverRecord<T>(await store.getBytes('silver', key));
}

/** A silver record's bytes as read (`readSilverRecord`): none, or damaged, is undefined. */
export function parseSilverRecord<T>(bytes: Uint8Array | undefined): T | undefined {
  if (!bytes) return undefined;
  try {
    return JSON.parse(Buffer.from(bytes).toString('utf8')) as T;
  } catch {
    return undefined; // a damaged record is replaced; the files it named are then not cleaned up
  }
}
