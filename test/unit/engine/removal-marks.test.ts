/**
 * Removal marks on a source's intent record (engine/intent.ts): several attempts of one run may remove the same stale
 * keys at once, and another run of the source (another contract version, which writes those keys) must not start
 * publishing until every one of them is done — nor be held off, or find a record left behind, once they are.
 * Each test interleaves deliveries by holding one at a chosen store call (fault injection).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, it } from '@jest/globals';
import { expect } from '../../support/expect.ts';
import { LocalObjectStore } from '../../../adapters/local/local-store.ts';
import {
  carriedMarks,
  endRemoval,
  isSettling,
  markRemoval,
  readIntent,
  SETTLING_HOLD_MS,
  writeIntent,
} from '../../../engine/intent.ts';
import {
  acquireMaintenanceLease,
  commitFanOut,
  compactDataset,
  loadPlan,
  pendingKey,
  planFanOut,
  releaseMaintenanceLease,
  transformFanOutChunk,
  withMaintenanceLease,
  type IngestOptions,
  type ObjectStore,
  type PendingIngest,
} from '../../../engine/index.ts';
import { withOverrides } from '../../support/store-faults.ts';
import { createTestLake, type TestLake } from '../../support/local-lake.ts';
import {
  failingOnce,
  heldAt,
  producerFile,
  replayHarness,
  staleMonthHarness,
  V1,
  V2,
  V3,
} from '../../support/unit/replay-races.ts';

describe('removal marks: every remover holds other runs off until it is done, and nothing is left behind', () => {
  let lake: TestLake;
  beforeEach(async () => {
    lake = await createTestLake(V1);
  });
  afterEach(() => rm(lake.root, { recursive: true, force: true }));
  const { ingest, silverRecord, replayDiedBeforeItsDeletes, expectManifestMatchesSilver, eraseAcc001 } = replayHarness(
    () => lake,
  );
  const months = staleMonthHarness(() => lake);

  /** Nothing under `_pending/`, and a replay under V3 then publishes whole. */
  async function expectNothingHeld(): Promise<void> {
    expect(await lake.files('silver', '_pending/')).toEqual([]);
    await ingest(1, V3);
    expect(await expectManifestMatchesSilver()).toMatchObject({ contract_version: '3.0.0', rows_valid: 3 });
  }

  /**
   * A retry R of the V2 replay removes the V1 February file its record names, held at that delete; another delivery X
   * of the same run takes the marked record over and publishes to its end meanwhile; then a replay under V3 (which
   * writes that same February key). `maintained`: an erasure rewrote the run's manifest first (both go through the
   * settle of a maintained run instead of a publish).
   */
  async function takeoverEndsBeforeTheFirstRemover(maintained: boolean): Promise<void> {
    await replayDiedBeforeItsDeletes();
    if (maintained) await eraseAcc001();
    const deleting = heldAt(lake.store, 'delete', (zone) => zone === 'silver');
    const remover = ingest(1, V2, deleting.store);
    remover.catch(() => {}); // awaited below
    await deleting.reached;
    await ingest(1, V2); // X: takes the removal over and ends
    // The first remover may still delete that key: the V3 replay does not start publishing until it is done.
    await expect(ingest(1, V3)).rejects.toThrow(/removing files of this source/);
    deleting.go();
    await remover;
    expect(await lake.files('silver', '_pending/')).toEqual([]);
    await ingest(1, V3); // its retry
    expect(await expectManifestMatchesSilver()).toMatchObject({ contract_version: '3.0.0', rows_valid: 3 });
    expect(await lake.files('silver', '_pending/')).toEqual([]);
  }

  it('a delivery of the run taking a removal over and ending first still holds other runs off until the first remover is done', async () => {
    await takeoverEndsBeforeTheFirstRemover(false);
  });

  it('the same at a maintained manifest: a settle taking a removal over and ending first leaves the hold in place', async () => {
    await takeoverEndsBeforeTheFirstRemover(true);
  });

  it('two settles of one record: the first to end leaves the hold while the other still removes; the last deletes it', async () => {
    await replayDiedBeforeItsDeletes();
    await eraseAcc001();
    const first = heldAt(lake.store, 'delete', (zone) => zone === 'silver');
    const one = ingest(1, V2, first.store);
    one.catch(() => {}); // awaited below
    await first.reached;
    const second = heldAt(lake.store, 'delete', (zone) => zone === 'silver');
    const other = ingest(1, V2, second.store);
    other.catch(() => {}); // awaited below
    await second.reached;
    first.go();
    await one;
    const [key = ''] = await lake.files('silver', '_pending/');
    expect(await silverRecord<PendingIngest>(key)).toMatchObject({ hold_only: true });
    await expect(ingest(1, V3)).rejects.toThrow(/removing files of this source/);
    second.go();
    await other;
    expect(await lake.files('silver', '_pending/')).toEqual([]);
    await ingest(1, V3);
    expect(await expectManifestMatchesSilver()).toMatchObject({ contract_version: '3.0.0', rows_valid: 3 });
  });

  it('a removal whose announce fails after its deletes takes its mark off: its retry ends with nothing held', async () => {
    await replayDiedBeforeItsDeletes();
    let manifestPuts = 0;
    // The retry's second manifest write (its announce, once its deletes are done) fails: a throttled S3 put.
    const flaky = failingOnce(
      lake.store,
      'putBytes',
      (_, key) => key.startsWith('_manifests/') && ++manifestPuts === 2,
    );
    await expect(ingest(1, V2, flaky.store)).rejects.toThrow(/injected: putBytes failed/);
    expect(flaky.failed()).toBe(true);
    await ingest(1, V2); // the message retried
    await expectNothingHeld();
  });

  it("two settles of one record, the second marking between the first one's mark and its read-back: nothing is left", async () => {
    await replayDiedBeforeItsDeletes();
    await eraseAcc001();
    const held = heldAt(lake.store, 'putBytes', (_, key) => key.startsWith('_pending/'), { after: true });
    const first = ingest(1, V2, held.store);
    first.catch(() => {}); // awaited below
    await held.reached; // its mark written, not yet read back
    await ingest(1, V2); // the second settle: adds its mark, writes the manifest again, removes, ends
    held.go();
    // The first goes on under its mark, finds the manifest written since, and is retried with its mark taken off.
    await expect(first).rejects.toThrow(/changed while run/);
    await expectNothingHeld();
  });

  it('an attempt withdrawing over a hold-only record whose remover ended meanwhile leaves nothing behind', async () => {
    await replayDiedBeforeItsDeletes();
    const deleting = heldAt(lake.store, 'delete', (zone) => zone === 'silver');
    const remover = ingest(1, V2, deleting.store); // A: marked, held at its first delete
    remover.catch(() => {}); // awaited below
    await deleting.reached;
    await ingest(1, V2); // C: takes the removal over and ends: a hold-only record with A's mark
    const [key = ''] = await lake.files('silver', '_pending/');
    expect((await silverRecord<PendingIngest>(key)).hold_only).toBe(true);
    const afterRecord = heldAt(lake.store, 'putBytes', (_, k) => k.startsWith('_pending/'), { after: true });
    const redelivery = ingest(1, V2, afterRecord.store); // B: its record over the hold, carrying A's mark
    redelivery.catch(() => {}); // awaited below
    await afterRecord.reached;
    await eraseAcc001();
    deleting.go();
    await remover; // A ends: takes its mark off B's record
    afterRecord.go();
    await redelivery; // B finds its run maintained and withdraws: the hold it replaced holds nothing any more
    await expectNothingHeld();
  });

  it('a hold-only record whose marks have expired holds nothing: compaction goes on, the next ingest replaces it', async () => {
    for (let n = 2; n <= 6; n++) await ingest(n, V1);
    const key = pendingKey('transactions', (await ingest(1, V1)).source_id);
    const old = new Date(Date.now() - SETTLING_HOLD_MS - 60_000).toISOString();
    const hold: PendingIngest = {
      dataset: 'transactions',
      run_id: 'r',
      source: { bucket: 'test-bronze', key: 'transactions/producer-1.csv', version_id: null, etag: 'etag-1' },
      started_at: old,
      silver_keys: [],
      quarantine_keys: [],
      removals: [{ id: 'dead', since: old, run: 'r' }],
      hold_only: true,
    };
    await lake.store.putBytes('silver', key, JSON.stringify(hold));
    const report = await withMaintenanceLease(
      lake.store,
      { dataset: 'transactions', operation: 'compact', holder: 'test' },
      () => compactDataset({ store: lake.store, contracts: V1, dataset: 'transactions', workDir: lake.root }),
    );
    expect(report.groups.filter((g) => g.status === 'changed')).toEqual([]);
    expect(report.groups.some((g) => g.status === 'compacted')).toBe(true);
    await ingest(1, V2);
    expect(await lake.files('silver', '_pending/')).toEqual([]);
  });

  it('a same-run delivery that finds its run maintained after its record settles what the record it put back names', async () => {
    for (let n = 2; n <= 6; n++) await ingest(n, V1);
    await ingest(1, V1);
    const deleting = heldAt(lake.store, 'delete', (zone) => zone === 'silver');
    const first = ingest(1, V2, deleting.store); // A: the V2 replay, its record marked, held at its first delete
    first.catch(() => {}); // awaited below
    await deleting.reached;
    const afterRecord = heldAt(lake.store, 'putBytes', (_, k) => k.startsWith('_pending/'), { after: true });
    const redelivery = ingest(1, V2, afterRecord.store); // B: its record over A's (carrying A's mark)
    redelivery.catch(() => {}); // awaited below
    await afterRecord.reached;
    await eraseAcc001(); // the run's manifest maintained
    deleting.go();
    await first; // A ends: takes its mark off B's record
    afterRecord.go();
    await redelivery; // B finds the run maintained: withdraws (A's record back), and settles it — no retry comes
    expect(await lake.files('silver', '_pending/')).toEqual([]);
    const report = await withMaintenanceLease(
      lake.store,
      { dataset: 'transactions', operation: 'compact', holder: 'test' },
      () => compactDataset({ store: lake.store, contracts: V2, dataset: 'transactions', workDir: lake.root }),
    );
    expect(report.groups.filter((g) => g.status === 'changed')).toEqual([]);
  });

  it('a publish whose record only lost a carried mark (its remover ended) marks it again: it is still its own', async () => {
    await ingest(1, V1);
    const deleting = heldAt(lake.store, 'delete', (zone) => zone === 'silver');
    const first = ingest(1, V2, deleting.store); // A: marked, held at its first delete
    first.catch(() => {}); // awaited below
    await deleting.reached;
    let pendingPuts = 0; // P's record write, then its mark
    const beforeMark = heldAt(lake.store, 'putBytes', (_, k) => k.startsWith('_pending/') && ++pendingPuts === 2);
    const redelivery = ingest(1, V2, beforeMark.store);
    redelivery.catch(() => {}); // awaited below
    await beforeMark.reached;
    deleting.go();
    await first; // A ends: takes its mark off P's record
    beforeMark.go();
    await expect(redelivery).resolves.toMatchObject({ contract_version: '2.0.0' });
    await expectNothingHeld();
  });

  it('a settle whose mark write loses only to a remover ending marks again: the record it settles is not left', async () => {
    await ingest(1, V1);
    const deleting = heldAt(lake.store, 'delete', (zone) => zone === 'silver');
    const first = ingest(1, V2, deleting.store); // A: marked, held at its first delete
    first.catch(() => {}); // awaited below
    await deleting.reached;
    // a1: a delivery of the run taking A's record over (carrying A's mark), then never going on (killed).
    const dies = heldAt(lake.store, 'putBytes', (_, k) => k.startsWith('_pending/'), { after: true });
    void ingest(1, V2, dies.store).catch(() => {});
    await dies.reached;
    await eraseAcc001(); // the run's manifest maintained
    const atMark = heldAt(lake.store, 'putBytes', (_, k) => k.startsWith('_pending/'));
    const settle = ingest(1, V2, atMark.store); // S: read a1's record, held at its mark write
    settle.catch(() => {}); // awaited below
    await atMark.reached;
    deleting.go();
    await first; // A ends: its mark off a1's record
    atMark.go();
    // It goes on under its mark (the record is still a1's), finds the manifest A announced over since its read, and
    // is retried with its mark taken off; the retry settles the record.
    await expect(settle).rejects.toThrow(/changed while run/);
    expect(isSettling(await silverRecord<PendingIngest>((await lake.files('silver', '_pending/'))[0] ?? ''))).toBe(
      false,
    );
    await ingest(1, V2);
    await expectNothingHeld();
  });

  it('gold recomputes the month a settle removed when an erasure edits the manifest between its announce read and put', async () => {
    let state = await months.replayDiedBeforeItsDeletes();
    await months.erase('ACC001');
    state = (await months.refresh(state)).nextState;
    // The settle: held at its delete (its first manifest write done), then at its announce put (the manifest read).
    const atDelete = heldAt(lake.store, 'delete', (zone) => zone === 'silver');
    let manifestPuts = 0;
    const atAnnounce = heldAt(
      atDelete.store,
      'putBytes',
      (_, k) => k.startsWith('_manifests/') && ++manifestPuts === 2,
    );
    const settling = months.put(1, V2, atAnnounce.store);
    settling.catch(() => {}); // awaited below
    await atDelete.reached;
    state = (await months.refresh(state)).nextState; // the refresh of that first write: the 2023-12 file still counted
    atDelete.go();
    await atAnnounce.reached; // the 2023-12 file gone, the manifest read for the announce
    await months.erase('ACC003'); // an erasure edits the manifest meanwhile (keeping the first write's `settled`)
    const afterErasure = await months.refresh(state);
    atAnnounce.go();
    await settling;
    expect(await lake.files('silver', 'transactions/year=2023/month=12/')).toEqual([]);
    const recomputed = [...afterErasure.months, ...(await months.refresh(afterErasure.nextState)).months];
    expect(recomputed).toContain('2023-12');
  });

  it("gold recomputes the month a publish removed when an erasure edited the run's manifest before the removal", async () => {
    const state = await months.replayDiedBeforeItsDeletes();
    const held = heldAt(lake.store, 'delete', (zone) => zone === 'silver');
    const retry = months.put(1, V2, held.store); // a publish (the manifest not maintained yet), held at its delete
    retry.catch(() => {}); // awaited below
    await held.reached;
    await months.erase('ACC003');
    const afterErasure = await months.refresh(state); // the erasure's refresh: the 2023-12 file still there
    held.go();
    await retry;
    expect(await lake.files('silver', 'transactions/year=2023/month=12/')).toEqual([]);
    expect((await months.refresh(afterErasure.nextState)).months).toContain('2023-12');
  });
});

describe('the settle of a fan-out commit', () => {
  let lake: TestLake;
  beforeEach(async () => {
    lake = await createTestLake(V1);
  });
  afterEach(() => rm(lake.root, { recursive: true, force: true }));
  const { silverOf, replayDiedBeforeItsDeletes, eraseAcc001 } = replayHarness(() => lake);
  const options = (store: ObjectStore = lake.store): IngestOptions => ({
    contracts: V2,
    store,
    catalog: lake.catalog,
    workDir: lake.root,
  });

  it('refused under the lease, it keeps its plan: the retried commit settles the record and the stale file goes', async () => {
    await replayDiedBeforeItsDeletes(); // V2's manifest in place; its record names V1's February file, still there
    const source = {
      bucket: 'test-bronze',
      key: 'transactions/producer-1.csv',
      etag: 'etag-1',
      lastModified: new Date('2024-03-01T00:00:00Z'),
    };
    // A same-run fan-out (a restarted execution): its record names that file too.
    await lake.store.putBytes('bronze', source.key, producerFile(1));
    const planned = await planFanOut(source, await lake.store.getStream('bronze', source.key), {
      ...options(),
      fanOutChunkBytes: 40,
    });
    if (planned.kind !== 'fan-out') throw new Error(`expected a fan-out: ${planned.why}`);
    const plan = planned.plan;
    for (const c of plan.chunks) await transformFanOutChunk(plan, c.index, options());
    await eraseAcc001(); // the commit's publish finds the run maintained at its start: it settles the record
    let leaseId: string | undefined;
    // A maintenance takes the lease right after the settle marks the record (fault injection).
    const store = withOverrides<ObjectStore>(lake.store, {
      putBytes: async (...args: Parameters<ObjectStore['putBytes']>) => {
        const written = await lake.store.putBytes(...args);
        if (args[1].startsWith('_pending/') && leaseId === undefined)
          leaseId = (
            await acquireMaintenanceLease(lake.store, { dataset: 'transactions', operation: 'compact', holder: 'test' })
          ).lease_id;
        return written;
      },
    });
    await expect(commitFanOut(plan, options(store))).rejects.toThrow(/holds the maintenance lease/);
    if (leaseId) await releaseMaintenanceLease(lake.store, 'transactions', leaseId);
    // Its plan is still there (removed first, the retry answered from the manifest and dropped the record).
    const again = await loadPlan(options(), plan.dataset, plan.source_id);
    expect(again).toBeDefined();
    if (again) expect((await commitFanOut(again, options())).manifest.run_id).toBe(plan.run_id);
    expect(await silverOf(1)).not.toContain('T1-2 1.0.0');
    expect(await lake.files('silver', '_pending/')).toEqual([]);
    expect(await lake.files('silver', '_staging/')).toEqual([]);
  });
});

describe('removal marks on fan-out plan records', () => {
  let root: string;
  beforeEach(async () => {
    root = await mkdtemp(join(tmpdir(), 'plan-marks-'));
  });
  afterEach(() => rm(root, { recursive: true, force: true }));

  it("a settle ending leaves another plan's record, written over its marked one by the same run, in place (records without attempt ids, as versions before them wrote plans)", async () => {
    const store = new LocalObjectStore(root);
    const key = '_pending/transactions/src.json';
    const planRecord = (staging: string, replaced?: PendingIngest) =>
      JSON.stringify({
        dataset: 'transactions',
        run_id: 'R',
        source: { bucket: 'b', key: 'k', version_id: null, etag: null },
        started_at: new Date().toISOString(),
        silver_keys: replaced?.silver_keys ?? ['transactions/x-src.parquet'],
        quarantine_keys: replaced?.quarantine_keys ?? [],
        staging_prefix: `_staging/transactions/src/${staging}`,
        ...carriedMarks(replaced),
      } satisfies PendingIngest);
    await writeIntent(store, key, undefined, () => planRecord('p1'));
    // A settle (engine/ingest.ts settleMaintainedRun) marks the plan record it read.
    const first = await readIntent(store, key);
    const mark = first && (await markRemoval(store, key, first));
    expect(mark).toBeDefined();
    // A second plan of the same run writes its record over it, carrying the mark (as engine/fan-out/plan.ts does).
    await writeIntent(store, key, await readIntent(store, key), (r) => planRecord('p2', r), { beforeUploadsOf: 'R' });
    if (mark) await endRemoval(store, key, mark);
    const now = await readIntent(store, key);
    expect(now?.record?.staging_prefix).toBe('_staging/transactions/src/p2');
    expect(now?.record?.removals ?? []).toEqual([]);
  });
});
