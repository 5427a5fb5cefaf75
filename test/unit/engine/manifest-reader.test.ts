/** The lake's one reader of ingest manifests: strict or tolerant of a damaged one, one dataset or all. */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import { LocalObjectStore } from '../../../adapters/local/local-store.ts';
import { manifestKey, type Manifest } from '../../../engine/contract/index.ts';
import { readManifests } from '../../../engine/manifest-reader.ts';

const manifest = (dataset: string, sourceId: string): Manifest =>
  ({ dataset, source_id: sourceId, run_id: `run-${sourceId}`, status: 'succeeded' }) as unknown as Manifest;

describe('readManifests', () => {
  let root: string;
  let store: LocalObjectStore;
  beforeEach(async () => {
    root = await mkdtemp(join(tmpdir(), 'manifests-'));
    store = new LocalObjectStore(root);
    const put = (key: string, body: string) => store.putBytes('silver', key, body);
    await put(manifestKey('transactions', 'b'), JSON.stringify(manifest('transactions', 'b')));
    await put(manifestKey('transactions', 'a'), JSON.stringify(manifest('transactions', 'a')));
    await put(manifestKey('customers', 'c'), JSON.stringify(manifest('customers', 'c')));
    await put('_manifests/transactions/notes.txt', 'not a manifest');
    // Filed under transactions/ but naming another dataset: not a transactions manifest.
    await put(manifestKey('transactions', 'stray'), JSON.stringify(manifest('customers', 'stray')));
  });
  afterEach(() => rm(root, { recursive: true, force: true }));

  it("one dataset's manifests with their keys, in key order", async () => {
    for (const onDamaged of ['throw', 'skip'] as const) {
      const entries = await readManifests(store, { dataset: 'transactions', onDamaged });
      expect(entries.map((e) => [e.key, e.manifest.source_id])).toEqual([
        ['_manifests/transactions/a.json', 'a'],
        ['_manifests/transactions/b.json', 'b'],
      ]);
    }
  });

  it("every dataset's without a dataset", async () => {
    const entries = await readManifests(store, { onDamaged: 'skip' });
    expect(entries.map((e) => e.key)).toEqual([
      '_manifests/customers/c.json',
      '_manifests/transactions/a.json',
      '_manifests/transactions/b.json',
      '_manifests/transactions/stray.json',
    ]);
  });

  it("strict ('throw'): a torn manifest fails, naming its key", async () => {
    await store.putBytes('silver', manifestKey('transactions', 'torn'), '{"dataset": "transac');
    await expect(readManifests(store, { dataset: 'transactions', onDamaged: 'throw' })).rejects.toThrow(
      /silver\/_manifests\/transactions\/torn\.json: not JSON/,
    );
  });

  it("tolerant ('skip'): a torn manifest reads as no completed ingest, the others are all read", async () => {
    await store.putBytes('silver', manifestKey('transactions', 'torn'), '{"dataset": "transac');
    const entries = await readManifests(store, { dataset: 'transactions', onDamaged: 'skip' });
    expect(entries.map((e) => e.manifest.source_id)).toEqual(['a', 'b']);
  });
});
