/**
 * Releasing a lease and taking back an intent record delete exactly the object read, never one written in
 * between (ObjectStore.deleteIfMatch). Each race is injected right after the read that the delete relies on: a
 * read, a check and a plain delete would delete the other writer's object here — a new holder's lease (then a
 * second maintenance can run beside the first) or another delivery's intent record (then a compaction can run
 * over a source whose publish is in progress). An abandoned attempt's record, replaced by an attempt that then
 * backs off, is put back in one conditional write (ObjectStore.putBytes `ifMatch`): a kill in the middle never
 * leaves the key empty.
 */
import { afterEach, beforeEach, describe, it } from '@jest/globals';
import { rm } from 'node:fs/promises';
import { expect } from '../../support/expect.ts';
import { withOverrides } from '../../support/store-faults.ts';
import { csv, createTestLake, type TestLake } from '../../support/local-lake.ts';
import {
  acquireMaintenanceLease,
  ingestObject,
  loadContracts,
  readMaintenanceLease,
  releaseLeaseOfGoneHolder,
  releaseMaintenanceLease,
  withMaintenanceLease,
  type MaintenanceLease,
} from '../../../engine/index.ts';
import type { ObjectStore } from '../../../engine/contract/index.ts';

const contracts = loadContracts();
const LEASE_KEY = '_maintenance/leases/transactions.json';
const FILE = csv('T1,ACC001,1.00,EUR,2024-01-10T00:00:00Z', 'T2,ACC002,2.00,EUR,2024-02-10T00:00:00Z');

/** The store, running `meanwhile` once right after the `nth` tagged read of a key under `prefix` (the read stands). */
function afterTaggedRead(store: ObjectStore, prefix: string, meanwhile: () => Promise<unknown>, nth = 1): ObjectStore {
  let reads = 0;
  return withOverrides(store, {
    getBytesWithEtag: async (...args: Parameters<ObjectStore['getBytesWithEtag']>) => {
      const read = await store.getBytesWithEtag(...args);
      if (args[1].startsWith(prefix) && ++reads === nth) await meanwhile();
      return read;
    },
  });
}

const ingest = (store: ObjectStore, lake: TestLake) =>
  ingestObject(
    { bucket: 'test-bronze', key: 'transactions/producer-1.csv', etag: 'etag-1' },
    (async function* () {
      yield Buffer.from(FILE);
    })(),
    { contracts, store, catalog: lake.catalog, workDir: lake.root },
  );

describe('a lease released or taken over while another hand releases it and a new holder takes it', () => {
  let lake: TestLake;
  beforeEach(async () => (lake = await createTestLake(contracts)));
  afterEach(() => rm(lake.root, { recursive: true, force: true }));

  const acquire = (holder: string, owner?: MaintenanceLease['owner']) =>
    acquireMaintenanceLease(lake.store, { dataset: 'transactions', operation: 'compact', holder, owner });

  it("the holder's release, after lake unlock freed its lease and another maintenance took it: the new lease stays", async () => {
    const ours = await acquire('slow compaction');
    let next: MaintenanceLease | undefined;
    const store = afterTaggedRead(lake.store, LEASE_KEY, async () => {
      expect(await releaseMaintenanceLease(lake.store, 'transactions', ours.lease_id)).toBe('released'); // lake unlock
      next = await acquire('next compaction');
    });
    expect(await releaseMaintenanceLease(store, 'transactions', ours.lease_id)).toBe('held_by_another');
    expect((await readMaintenanceLease(lake.store, 'transactions'))?.lease_id).toBe(next?.lease_id);
  });

  it("the takeover of a dead holder's lease, after another taker released it and a live holder took it: that lease stays", async () => {
    const gone = { pid: 424242, host: 'h', process_started_at: '2026-01-01T00:00:00.000Z' };
    const dead = await acquire('killed compaction', gone);
    let live: MaintenanceLease | undefined;
    const store = afterTaggedRead(lake.store, LEASE_KEY, async () => {
      expect(await releaseMaintenanceLease(lake.store, 'transactions', dead.lease_id)).toBe('released');
      live = await acquire('live compaction', { ...gone, pid: 424243 });
    });
    const holderGone = (l: MaintenanceLease) => l.owner?.pid === 424242;
    expect(await releaseLeaseOfGoneHolder(store, 'transactions', { holderGone })).toBeUndefined();
    expect((await readMaintenanceLease(lake.store, 'transactions'))?.lease_id).toBe(live?.lease_id);
  });
});

describe("an ingest's intent record, taken back while another delivery of the source writes its own", () => {
  let lake: TestLake;
  beforeEach(async () => (lake = await createTestLake(contracts)));
  afterEach(() => rm(lake.root, { recursive: true, force: true }));

  const concurrent = '{"written by": "a concurrent delivery of the same source"}';
  const intents = async () =>
    Promise.all(
      (await lake.files('silver', '_pending/')).map(async (k) =>
        Buffer.from((await lake.store.getBytes('silver', k)) ?? []).toString(),
      ),
    );

  it('backing off under a lease: the other delivery writes right after the look at the record taken back; it stays', async () => {
    await withMaintenanceLease(
      lake.store,
      { dataset: 'transactions', operation: 'compact', holder: 'test' },
      async () => {
        // The publish's first tagged read of the key is its look for an abandoned record; the second, its withdrawal.
        let intentKey = '';
        const store = afterTaggedRead(
          withOverrides(lake.store, {
            putBytes: async (...args: Parameters<ObjectStore['putBytes']>) => {
              if (args[1].startsWith('_pending/')) intentKey = args[1];
              return lake.store.putBytes(...args);
            },
          }),
          '_pending/',
          () => lake.store.putBytes('silver', intentKey, concurrent),
          2,
        );
        await expect(ingest(store, lake)).rejects.toThrow(/holds the maintenance lease/);
        expect(await intents()).toEqual([concurrent]);
      },
    );
  });

  it('publishing: the other delivery writes its record while this one publishes; this one removes only its own', async () => {
    const store = withOverrides(lake.store, {
      putBytes: async (...args: Parameters<ObjectStore['putBytes']>) => {
        await lake.store.putBytes(...args);
        if (args[1].startsWith('_manifests/'))
          await lake.store.putBytes('silver', `_pending/${args[1].slice('_manifests/'.length)}`, concurrent);
      },
    });
    const manifest = await ingest(store, lake);
    expect(manifest.rows_valid).toBe(2);
    expect(await intents()).toEqual([concurrent]);
  });
});

describe("an ingest backing off under a lease puts back the abandoned attempt's record it replaced", () => {
  let lake: TestLake;
  beforeEach(async () => (lake = await createTestLake(contracts)));
  afterEach(() => rm(lake.root, { recursive: true, force: true }));

  /** The record an attempt killed before its manifest leaves (its silver files written, a later run to clean). */
  async function abandonedAttempt(): Promise<{ key: string; text: string }> {
    const killedBeforeManifest = withOverrides(lake.store, {
      putBytes: async (...args: Parameters<ObjectStore['putBytes']>) => {
        if (args[1].startsWith('_manifests/')) throw new Error('killed before the manifest');
        return lake.store.putBytes(...args);
      },
    });
    await expect(ingest(killedBeforeManifest, lake)).rejects.toThrow(/killed before the manifest/);
    const [key] = await lake.files('silver', '_pending/');
    const text = Buffer.from((await lake.store.getBytes('silver', key!)) ?? []).toString();
    expect((JSON.parse(text) as { silver_keys: string[] }).silver_keys).not.toEqual([]);
    return { key: key!, text };
  }

  /** Ingests again while a compaction holds the lease: the attempt writes its record, finds the lease, takes it back. */
  const backingOff = (store: ObjectStore) =>
    withMaintenanceLease(lake.store, { dataset: 'transactions', operation: 'compact', holder: 'test' }, () =>
      expect(ingest(store, lake)).rejects.toThrow(/holds the maintenance lease/),
    );
  const attemptIn = (text: string) => (JSON.parse(text) as { attempt_id: string }).attempt_id;
  const attemptOf = async (key: string) =>
    attemptIn(Buffer.from((await lake.store.getBytes('silver', key)) ?? []).toString());

  it('taken back whole: the abandoned record is under the key again', async () => {
    const abandoned = await abandonedAttempt();
    await backingOff(lake.store);
    expect(await lake.files('silver', '_pending/')).toEqual([abandoned.key]);
    expect(Buffer.from((await lake.store.getBytes('silver', abandoned.key)) ?? []).toString()).toBe(abandoned.text);
  });

  it('killed while taking it back (its next write fails): the key still holds a record — the abandoned one or its own', async () => {
    const abandoned = await abandonedAttempt();
    let ours = '';
    let writes = 0;
    const killedOnPutBack = withOverrides(lake.store, {
      putBytes: async (...args: Parameters<ObjectStore['putBytes']>) => {
        if (args[1] === abandoned.key && ++writes === 2) throw new Error('killed while taking the record back');
        if (args[1] === abandoned.key) ours = String(args[2]);
        return lake.store.putBytes(...args);
      },
    });
    await backingOff(killedOnPutBack);
    expect(writes).toBe(2);
    // Taken back in two steps (a conditional delete, then a put), the key was left empty: the abandoned attempt's
    // files were never cleaned.
    expect(await lake.files('silver', '_pending/')).toEqual([abandoned.key]);
    expect([attemptIn(abandoned.text), attemptIn(ours)]).toContain(await attemptOf(abandoned.key));
  });
});
