/**
 * A publish writes its intent record over exactly the record it read (engine/intent.ts `writeIntent`: `putBytes`
 * `ifMatch`, or create-only when it read none). The race is injected right before the publish's first write of
 * the record: a concurrent delivery of the same source (under another contract: other keys) writes its own record
 * and uploads its files, then dies. A plain put overwrote that record, and its files were named by no record:
 * orphaned in silver, rows seen twice. Here the publish reads the record again and names that delivery's keys too.
 * A fan-out plan writes the source's record the same way (engine/fan-out/plan.ts).
 */
import { afterEach, beforeEach, describe, it } from '@jest/globals';
import { rm } from 'node:fs/promises';
import { expect } from '../../support/expect.ts';
import { withOverrides } from '../../support/store-faults.ts';
import { csv, createTestLake, type TestLake } from '../../support/local-lake.ts';
import {
  commitFanOut,
  ingestObject,
  loadContracts,
  manifestKey,
  planFanOut,
  transformFanOutChunk,
  withMaintenanceLease,
  type IngestOptions,
  type Manifest,
  type PendingIngest,
} from '../../../engine/index.ts';
import type { ObjectStore } from '../../../engine/contract/index.ts';

const contracts = loadContracts();
const FILE = csv(
  'T1,ACC001,1.00,EUR,2024-01-10T00:00:00Z',
  'T2,ACC002,2.00,EUR,2024-02-10T00:00:00Z',
  'T3,ACC003,bad,EUR,2024-02-11T00:00:00Z',
);

const SOURCE = { bucket: 'test-bronze', key: 'transactions/producer-1.csv', etag: 'etag-1' };
const ingest = (store: ObjectStore, lake: TestLake) =>
  ingestObject(
    SOURCE,
    (async function* () {
      yield Buffer.from(FILE);
    })(),
    { contracts, store, catalog: lake.catalog, workDir: lake.root },
  );

/** The store, running `meanwhile` (given the record's key) right before each of the first `times` intent writes. */
function beforeIntentWrites(
  store: ObjectStore,
  meanwhile: (intentKey: string) => Promise<unknown>,
  times = 1,
): ObjectStore {
  let writes = 0;
  return withOverrides(store, {
    putBytes: async (...args: Parameters<ObjectStore['putBytes']>) => {
      if (args[1].startsWith('_pending/') && writes++ < times) await meanwhile(args[1]);
      return store.putBytes(...args);
    },
  });
}

/** The store with every manifest write failing: the attempt dies after its uploads, before its manifest. */
const killedBeforeManifest = (store: ObjectStore) =>
  withOverrides(store, {
    putBytes: async (...args: Parameters<ObjectStore['putBytes']>) => {
      if (args[1].startsWith('_manifests/')) throw new Error('killed before the manifest');
      return store.putBytes(...args);
    },
  });

const textOf = async (lake: TestLake, key: string) =>
  Buffer.from((await lake.store.getBytes('silver', key)) ?? []).toString();

/**
 * A delivery of the same source under another contract (other partitions: other keys), writing its intent record
 * and uploading its files: a silver file holding a copy of the rows of `m`'s January file (rows seen twice while it
 * stays) and the original kept in quarantine. It then dies: no manifest. Answers with its record's text and keys.
 */
async function concurrentDelivery(lake: TestLake, intentKey: string, m: Manifest, attempt = 'concurrent delivery') {
  const silverKey = `transactions/year=2023/month=11/part-${m.source_id}-00000.parquet`;
  const quarantineKey = `transactions/files/${m.source_id}/producer-1.under-another-contract.csv`;
  const record: PendingIngest = {
    dataset: 'transactions',
    run_id: 'a run under another contract',
    source: m.source,
    started_at: m.started_at,
    silver_keys: [silverKey],
    quarantine_keys: [quarantineKey],
    attempt_id: attempt,
  };
  const text = JSON.stringify(record, null, 2);
  await lake.store.putBytes('silver', intentKey, text, 'application/json');
  await lake.store.copy('silver', m.partitions[0]!.files[0]!, silverKey);
  await lake.store.putBytes('quarantine', quarantineKey, FILE);
  return { text, silverKey, quarantineKey };
}

/** Nothing lost, nothing twice: silver holds exactly the files the manifest names, each row once, no record left. */
async function expectCleanLake(lake: TestLake, m: Manifest, gone: { silverKey: string; quarantineKey: string }) {
  const stored = JSON.parse(await textOf(lake, manifestKey('transactions', m.source_id))) as Manifest;
  expect(await lake.files('silver', 'transactions/')).toEqual(stored.partitions.flatMap((p) => p.files).sort());
  expect((await lake.silverRows()).map((r) => r.transaction_id)).toEqual(['T1', 'T2']);
  expect(await lake.files('quarantine', `transactions/files/`)).not.toContain(gone.quarantineKey);
  expect(await lake.files('silver', '_pending/')).toEqual([]);
}

describe('a concurrent delivery of the source writes its intent record between the publish’s read and its write', () => {
  let lake: TestLake;
  let first: Manifest;
  beforeEach(async () => {
    lake = await createTestLake(contracts);
    first = await ingest(lake.store, lake); // the source's first delivery: this is a redelivery
  });
  afterEach(() => rm(lake.root, { recursive: true, force: true }));

  it("the publish finishes: that delivery's files are removed with the rest of this source's stale keys", async () => {
    let other: Awaited<ReturnType<typeof concurrentDelivery>> | undefined;
    const racing = beforeIntentWrites(lake.store, async (key) => (other = await concurrentDelivery(lake, key, first)));
    const m = await ingest(racing, lake);
    expect(other).toBeDefined();
    await expectCleanLake(lake, m, other!);
  });

  it("the publish dies before its manifest: its record names that delivery's keys with its own; the next run cleans all", async () => {
    let other: Awaited<ReturnType<typeof concurrentDelivery>> | undefined;
    const racing = beforeIntentWrites(lake.store, async (key) => (other = await concurrentDelivery(lake, key, first)));
    await expect(ingest(killedBeforeManifest(racing), lake)).rejects.toThrow(/killed before the manifest/);
    const [intentKey] = await lake.files('silver', '_pending/');
    const left = JSON.parse(await textOf(lake, intentKey!)) as PendingIngest;
    expect(left.silver_keys).toEqual(
      expect.arrayContaining([...first.partitions.flatMap((p) => p.files), other!.silverKey]),
    );
    expect(left.quarantine_keys).toEqual(expect.arrayContaining([first.quarantine.records_key, other!.quarantineKey]));

    const m = await ingest(lake.store, lake); // the retry (the concurrent delivery is dead)
    await expectCleanLake(lake, m, other!);
  });

  it('the publish backs off under a maintenance lease: the record it replaced — that delivery’s — is put back', async () => {
    let other: Awaited<ReturnType<typeof concurrentDelivery>> | undefined;
    const racing = beforeIntentWrites(lake.store, async (key) => (other = await concurrentDelivery(lake, key, first)));
    await withMaintenanceLease(lake.store, { dataset: 'transactions', operation: 'compact', holder: 'test' }, () =>
      expect(ingest(racing, lake)).rejects.toThrow(/holds the maintenance lease/),
    );
    const [intentKey] = await lake.files('silver', '_pending/');
    expect(intentKey).toBeDefined();
    expect(await textOf(lake, intentKey!)).toBe(other!.text);
    expect(await lake.files('silver', 'transactions/year=2023/')).toEqual([other!.silverKey]);
  });

  it('a record written anew before every write: the publish fails naming the key, uploads nothing, overwrites none', async () => {
    let rewrites = 0;
    const racing = beforeIntentWrites(
      lake.store,
      async (key) => concurrentDelivery(lake, key, first, `concurrent delivery ${++rewrites}`),
      Infinity,
    );
    const uploads: string[] = [];
    const counting = withOverrides(racing, {
      putFile: async (...args: Parameters<ObjectStore['putFile']>) => {
        uploads.push(args[1]);
        return racing.putFile(...args);
      },
    });
    const error = await ingest(counting, lake).then(
      () => new Error('the publish wrote its intent record over the other delivery’s'),
      (e: unknown) => e as Error,
    );
    const intentKey = `_pending/transactions/${first.source_id}.json`;
    expect(error.name).toBe('IntentContendedError');
    expect(error.message).toContain(`silver/${intentKey}`);
    const attempts = Number(/before each of (\d+) conditional writes/.exec(error.message)?.[1]);
    expect(attempts).toBeGreaterThan(1);
    expect(rewrites).toBe(attempts);
    expect(uploads).toEqual([]);
    expect(await textOf(lake, intentKey)).toContain(`"attempt_id": "concurrent delivery ${attempts}"`);
  });
});

describe('a concurrent delivery of the source writes its intent record between a fan-out plan’s read and its write', () => {
  let lake: TestLake;
  beforeEach(async () => (lake = await createTestLake(contracts)));
  afterEach(() => rm(lake.root, { recursive: true, force: true }));

  /** Plan (chunks of about 40 bytes) with `store`, then every chunk and the commit with the lake’s own store. */
  async function fanOut(store: ObjectStore): Promise<Manifest> {
    const options = (s: ObjectStore): IngestOptions => ({
      contracts,
      store: s,
      catalog: lake.catalog,
      workDir: lake.root,
    });
    await lake.store.putBytes('bronze', SOURCE.key, FILE);
    const planned = await planFanOut(SOURCE, await lake.store.getStream('bronze', SOURCE.key), {
      ...options(store),
      fanOutChunkBytes: 40,
    });
    if (planned.kind !== 'fan-out') throw new Error(`expected a fan-out: ${planned.why}`);
    for (const c of planned.plan.chunks) await transformFanOutChunk(planned.plan, c.index, options(lake.store));
    const committed = await commitFanOut(planned.plan, options(lake.store));
    if (committed.kind !== 'committed') throw new Error(`expected a commit: ${committed.kind}`);
    return committed.manifest;
  }

  it("the plan's record names that delivery's keys: the commit removes its files with this source's stale keys", async () => {
    const first = await fanOut(lake.store);
    let other: Awaited<ReturnType<typeof concurrentDelivery>> | undefined;
    const racing = beforeIntentWrites(lake.store, async (key) => (other = await concurrentDelivery(lake, key, first)));
    const m = await fanOut(racing);
    expect(other).toBeDefined();
    await expectCleanLake(lake, m, other!);
  });
});
