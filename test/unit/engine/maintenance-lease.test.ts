/** The maintenance lease on the local store: one holder at a time, named when refused, stale never taken over, released by id only. */
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, it } from '@jest/globals';
import { expect } from '../../support/expect.ts';
import { LocalObjectStore } from '../../../adapters/local/local-store.ts';
import { ObjectExistsError } from '../../../engine/contract/index.ts';
import {
  acquireMaintenanceLease,
  readMaintenanceLease,
  releaseLeaseOfGoneHolder,
  releaseMaintenanceLease,
  withMaintenanceLease,
} from '../../../engine/index.ts';

describe('maintenance lease', () => {
  let root: string;
  let store: LocalObjectStore;
  beforeEach(async () => {
    root = await mkdtemp(join(tmpdir(), 'lease-'));
    store = new LocalObjectStore(root);
  });
  afterEach(() => rm(root, { recursive: true, force: true }));

  it('putBytes create-only: of two writers raced to one key exactly one wins, and nothing is overwritten', async () => {
    const createOnly = (body: string) =>
      store.putBytes('silver', 'x/lease.json', body, undefined, { ifNoneMatch: true }).then(
        () => true,
        (e: unknown) => {
          if (e instanceof ObjectExistsError) return false;
          throw e;
        },
      );
    const results = await Promise.all([createOnly('A'), createOnly('B')]);
    expect(results.filter(Boolean)).toHaveLength(1);
    const winner = results[0] ? 'A' : 'B';
    expect(Buffer.from((await store.getBytes('silver', 'x/lease.json')) ?? []).toString()).toBe(winner);
    expect(await createOnly('C')).toBe(false);
    expect(await readdir(join(root, 'silver', 'x'))).toEqual(['lease.json']);
  });

  it('a second maintenance is refused naming the holder; the lease is released after the work, even when it fails', async () => {
    const first = await acquireMaintenanceLease(store, { dataset: 'transactions', operation: 'erase', holder: 'ana' });
    await expect(
      acquireMaintenanceLease(store, { dataset: 'transactions', operation: 'compact', holder: 'bo' }),
    ).rejects.toThrow(
      /the compact of transactions did nothing: the erasure erase-\S+ by ana holds the maintenance lease since .*, expected until/,
    );
    expect(await releaseMaintenanceLease(store, 'transactions', first.lease_id)).toBe('released');
    await expect(
      withMaintenanceLease(store, { dataset: 'transactions', operation: 'compact', holder: 'bo' }, () =>
        Promise.reject(new Error('boom')),
      ),
    ).rejects.toThrow('boom');
    expect(await readMaintenanceLease(store, 'transactions')).toBeUndefined();
  });

  it('a stale lease is never taken over: the refusal says it expired and names the unlock command; only its own id releases it', async () => {
    const stale = await acquireMaintenanceLease(store, {
      dataset: 'transactions',
      operation: 'compact',
      holder: 'crashed',
      ttlMs: 0,
    });
    const refused = (await acquireMaintenanceLease(store, {
      dataset: 'transactions',
      operation: 'compact',
      holder: 'bo',
    }).then(
      () => new Error('taken over'),
      (e: unknown) => e as Error,
    )) as Error & { stale?: boolean };
    expect(refused.stale).toBe(true);
    expect(refused.message).toContain(`lake unlock --dataset transactions --lease ${stale.lease_id}`);
    expect(await releaseMaintenanceLease(store, 'transactions', 'compact-other')).toBe('held_by_another');
    expect(await releaseMaintenanceLease(store, 'transactions', stale.lease_id)).toBe('released');
    expect(await releaseMaintenanceLease(store, 'transactions', stale.lease_id)).toBe('not_held');
  });

  it('an unreadable lease object still holds the dataset, as a stale lease named "unreadable"', async () => {
    await store.putBytes('silver', '_maintenance/leases/transactions.json', '{torn');
    const lease = await readMaintenanceLease(store, 'transactions');
    expect(lease).toMatchObject({ lease_id: 'unreadable' });
    await expect(
      acquireMaintenanceLease(store, { dataset: 'transactions', operation: 'erase', holder: 'ana' }),
    ).rejects.toThrow(/expired .*`lake unlock --dataset transactions --lease unreadable`/);
    expect(await releaseMaintenanceLease(store, 'transactions', 'unreadable')).toBe('released');
  });

  it('a lease naming its process is taken over only when holderGone proves that process dead, and the taker is told', async () => {
    const owner = { pid: 424242, host: 'h', process_started_at: '2026-01-01T00:00:00.000Z' };
    const dead = await acquireMaintenanceLease(store, { dataset: 'd', operation: 'erase', holder: 'a', owner });
    expect((await readMaintenanceLease(store, 'd'))?.owner).toEqual(owner);
    // Alive (or cannot tell): refused as before.
    await expect(
      acquireMaintenanceLease(store, {
        dataset: 'd',
        operation: 'compact',
        holder: 'b',
        takeover: { holderGone: () => false },
      }),
    ).rejects.toThrow(new RegExp(`the erasure ${dead.lease_id} by a, pid 424242 holds the maintenance lease`));
    const released: string[] = [];
    const taken = await acquireMaintenanceLease(store, {
      dataset: 'd',
      operation: 'compact',
      holder: 'b',
      takeover: { holderGone: (l) => l.owner?.pid === 424242, onTakeover: (l) => released.push(l.lease_id) },
    });
    expect(released).toEqual([dead.lease_id]);
    expect((await readMaintenanceLease(store, 'd'))?.lease_id).toBe(taken.lease_id);
    // A lease naming no process (AWS) is never judged dead, whatever holderGone says.
    await expect(
      acquireMaintenanceLease(store, {
        dataset: 'd',
        operation: 'erase',
        holder: 'c',
        takeover: { holderGone: () => true },
      }),
    ).rejects.toThrow(/holds the maintenance lease/);
    expect(await releaseLeaseOfGoneHolder(store, 'd', { holderGone: () => true })).toBeUndefined();
    expect((await readMaintenanceLease(store, 'd'))?.lease_id).toBe(taken.lease_id);
  });
});
