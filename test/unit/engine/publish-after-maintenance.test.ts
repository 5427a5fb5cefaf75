/**
 * A redelivered ingest whose run a whole erasure or compaction rewrites while it publishes: the maintenance
 * finishes between the publish's first look at the manifest and its intent record, so neither the lease nor
 * the intent shows the other. The publish must find the rewrite on its second look and write nothing — else
 * erased rows come back, or compacted ones are doubled.
 */
import { afterEach, beforeEach, describe, it } from '@jest/globals';
import { rm } from 'node:fs/promises';
import { expect } from '../../support/expect.ts';
import { withOverrides } from '../../support/store-faults.ts';
import { csv, createTestLake, type TestLake } from '../../support/local-lake.ts';
import type { LocalObjectStore } from '../../../adapters/local/local-store.ts';
import {
  compactDataset,
  eraseRows,
  ingestObject,
  loadContracts,
  withMaintenanceLease,
  type Manifest,
} from '../../../engine/index.ts';
import { ObjectExistsError, type ObjectStore } from '../../../engine/contract/index.ts';

const contracts = loadContracts();
const SOURCE = { bucket: 'test-bronze', etag: 'etag-1', lastModified: new Date('2024-05-01T12:00:00Z') };

/** Three January rows of accounts ACC000–ACC002 and one February row of ACC009. */
const producerFile = (n: number): string =>
  csv(
    ...Array.from(
      { length: 3 },
      (_, i) => `T${n}-${i},ACC00${i},${n}.0${i},EUR,2024-01-${String(10 + i).padStart(2, '0')}T00:00:00Z`,
    ),
    `T${n}-x,ACC009,${n}.50,EUR,2024-02-01T00:00:00Z`,
  );

/** The store, running `maintenance` once, just before the first intent record is written. */
function maintenanceBeforeIntent(store: LocalObjectStore, maintenance: () => Promise<unknown>): ObjectStore {
  let fired = false;
  return withOverrides(store, {
    putBytes: async (...args: Parameters<ObjectStore['putBytes']>) => {
      if (!fired && args[1].startsWith('_pending/')) {
        fired = true;
        await maintenance();
      }
      return store.putBytes(...args);
    },
  });
}

/** The source id the lake gave a bronze key (its manifest names it). */
async function sourceIdFor(lake: TestLake, name: string): Promise<string> {
  for await (const o of lake.store.list('silver', '_manifests/transactions/')) {
    const m = JSON.parse(Buffer.from((await lake.store.getBytes('silver', o.key)) ?? []).toString()) as Manifest;
    if (m.source.key === `transactions/${name}`) return m.source_id;
  }
  throw new Error(`no manifest of transactions/${name}`);
}

describe('a redelivered ingest meeting a maintenance that finished while it published', () => {
  let lake: TestLake;
  beforeEach(async () => {
    lake = await createTestLake(contracts);
    for (let n = 1; n <= 6; n++)
      await lake.ingest(`transactions/producer-${n}.csv`, producerFile(n), { etag: `etag-${n}` });
  });
  afterEach(() => rm(lake.root, { recursive: true, force: true }));

  const redeliver = (store: ObjectStore): Promise<Manifest> => {
    const body = Buffer.from(producerFile(1));
    return ingestObject(
      { ...SOURCE, key: 'transactions/producer-1.csv' },
      (async function* () {
        yield body;
      })(),
      { contracts, store, catalog: lake.catalog, workDir: lake.root },
    );
  };

  it('a compaction: no row doubled, the manifest keeps its compaction, no intent record left', async () => {
    expect(await lake.silverRows()).toHaveLength(24);
    const store = maintenanceBeforeIntent(lake.store, () =>
      withMaintenanceLease(lake.store, { dataset: 'transactions', operation: 'compact', holder: 'test' }, () =>
        compactDataset({ store: lake.store, contracts, dataset: 'transactions', workDir: lake.root }),
      ),
    );
    const manifest = await redeliver(store);
    expect(manifest.compactions?.length ?? 0).toBeGreaterThan(0);
    const rows = await lake.silverRows();
    expect(rows).toHaveLength(24);
    expect(new Set(rows.map((r) => r.transaction_id)).size).toBe(24);
    expect(await lake.files('silver', '_pending/')).toEqual([]);
  });

  it("an older run's intent record, used up meanwhile by the delivery that published this run, is not put back", async () => {
    const sourceId = await sourceIdFor(lake, 'producer-1.csv');
    const intentKey = `_pending/transactions/${sourceId}.json`;
    // A crashed older run left its intent; the redelivery reads it at its first look.
    await lake.store.putBytes(
      'silver',
      intentKey,
      JSON.stringify({ dataset: 'transactions', run_id: 'an-older-run', silver_keys: [], quarantine_keys: [] }),
    );
    const store = maintenanceBeforeIntent(lake.store, async () => {
      // Another delivery of this run publishes (its cleanup uses up the older intent), then a whole compaction runs.
      await lake.store.delete('silver', [intentKey]);
      await withMaintenanceLease(lake.store, { dataset: 'transactions', operation: 'compact', holder: 'test' }, () =>
        compactDataset({ store: lake.store, contracts, dataset: 'transactions', workDir: lake.root }),
      );
    });
    expect((await redeliver(store)).compactions?.length ?? 0).toBeGreaterThan(0);
    expect(await lake.files('silver', '_pending/')).toEqual([]);
  });

  it('an erasure: the erased rows stay erased, the manifest keeps its erasure', async () => {
    const store = maintenanceBeforeIntent(lake.store, () =>
      withMaintenanceLease(lake.store, { dataset: 'transactions', operation: 'erase', holder: 'test' }, () =>
        eraseRows({
          store: lake.store,
          contracts,
          dataset: 'transactions',
          where: "account_id = 'ACC001'",
          requestedBy: 'dpo',
          workDir: lake.root,
        }),
      ),
    );
    const manifest = await redeliver(store);
    expect(manifest.erasures?.length ?? 0).toBeGreaterThan(0);
    const rows = await lake.silverRows();
    expect(rows.filter((r) => r.account_id === 'ACC001')).toEqual([]);
    expect(rows).toHaveLength(18);
  });
});

describe('an ingest backing off under a lease', () => {
  let lake: TestLake;
  beforeEach(async () => (lake = await createTestLake(contracts)));
  afterEach(() => rm(lake.root, { recursive: true, force: true }));

  it("leaves a concurrent delivery's intent record in place (a maintenance must keep seeing it)", async () => {
    await withMaintenanceLease(
      lake.store,
      { dataset: 'transactions', operation: 'compact', holder: 'test' },
      async () => {
        const concurrent = '{"written by": "a concurrent delivery of the same source"}';
        let intentKey: string | undefined;
        // The concurrent delivery writes its intent between this attempt's intent and its look at the lease.
        const store = withOverrides(lake.store, {
          putBytes: async (...args: Parameters<ObjectStore['putBytes']>) => {
            if (args[1].startsWith('_pending/')) intentKey = args[1];
            return lake.store.putBytes(...args);
          },
          getBytes: async (...args: Parameters<ObjectStore['getBytes']>) => {
            if (args[1].startsWith('_maintenance/leases/') && intentKey)
              await lake.store.putBytes('silver', intentKey, concurrent);
            return lake.store.getBytes(...args);
          },
        });
        const body = Buffer.from(producerFile(1));
        await expect(
          ingestObject(
            { ...SOURCE, key: 'transactions/producer-1.csv' },
            (async function* () {
              yield body;
            })(),
            { contracts, store, catalog: lake.catalog, workDir: lake.root },
          ),
        ).rejects.toThrow(/holds the maintenance lease/);
        expect(intentKey).toBeDefined();
        expect(Buffer.from((await lake.store.getBytes('silver', intentKey!)) ?? []).toString()).toBe(concurrent);
      },
    );
  });
});

describe('acquiring the lease when the create-only put is retried after it landed', () => {
  let lake: TestLake;
  beforeEach(async () => (lake = await createTestLake(contracts)));
  afterEach(() => rm(lake.root, { recursive: true, force: true }));

  it('the second answer (taken) names our own lease: it is ours, the work runs and the lease is released', async () => {
    // As when S3 stored the lease but the response was lost and the SDK's retry got 412.
    let retried = false;
    const store = withOverrides(lake.store, {
      putBytes: async (...args: Parameters<ObjectStore['putBytes']>) => {
        await lake.store.putBytes(...args);
        if (!retried && args[1].startsWith('_maintenance/leases/')) {
          retried = true;
          throw new ObjectExistsError(args[0], args[1]);
        }
      },
    });
    const result = await withMaintenanceLease(
      store,
      { dataset: 'transactions', operation: 'compact', holder: 'test' },
      async () => 'done',
    );
    expect(retried).toBe(true);
    expect(result).toBe('done');
    expect(await lake.files('silver', '_maintenance/')).toEqual([]);
  });
});
