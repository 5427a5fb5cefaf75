/**
 * A run of a source that replaces an earlier run (a replay under a new contract version) and dies once its own
 * manifest is in place — while it removes what the earlier run wrote and it does not — then runs again. The manifest
 * it replaced is gone by then: its intent record must still name the earlier run's keys (and the shared compacted
 * files holding that run's rows), or those rows stay in silver beside the new run's, seen twice by every reader.
 */
import { rm } from 'node:fs/promises';
import { afterEach, beforeEach, describe, it } from '@jest/globals';
import { expect } from '../../support/expect.ts';
import { isSettling, SETTLING_HOLD_MS } from '../../../engine/intent.ts';
import { createTestLake, type TestLake } from '../../support/local-lake.ts';
import { failingOnce, heldAt, replayHarness, staleMonthHarness, V1, V2, V3 } from '../../support/unit/replay-races.ts';
import {
  compactDataset,
  eraseRows,
  withMaintenanceLease,
  type Manifest,
  type PendingIngest,
} from '../../../engine/index.ts';
import type { ObjectStore } from '../../../engine/contract/index.ts';

describe('a replay that dies once its manifest is in place, then runs again', () => {
  let lake: TestLake;
  beforeEach(async () => {
    lake = await createTestLake(V1);
  });
  afterEach(() => rm(lake.root, { recursive: true, force: true }));

  const {
    ingest,
    silverOf,
    silverRecord,
    replayDiedBeforeItsDeletes,
    expectManifestMatchesSilver,
    eraseAcc001,
    heldAtManifest,
  } = replayHarness(() => lake);
  const months = staleMonthHarness(() => lake);

  it("removes the earlier run's files it does not write again: a failed delete of them is finished by the next attempt", async () => {
    await ingest(1, V1);
    expect(await silverOf(1)).toEqual(['T1-1 1.0.0', 'T1-2 1.0.0', 'T1-3 1.0.0']);
    const flaky = failingOnce(lake.store, 'delete', (zone) => zone === 'silver');
    await expect(ingest(1, V2, flaky.store)).rejects.toThrow(/injected: delete failed/);
    expect(flaky.failed()).toBe(true);
    // The new manifest is in place; the February file of the earlier run is still there.
    expect(await silverOf(1)).toEqual(['T1-1 2.0.0', 'T1-2 1.0.0', 'T1-3 2.0.0']);
    expect(await lake.files('silver', '_pending/')).toHaveLength(1);

    const again = await ingest(1, V2);
    expect(again).toMatchObject({ rows_valid: 2, rows_quarantined: 1 });
    expect(await silverOf(1)).toEqual(['T1-1 2.0.0', 'T1-3 2.0.0']);
    expect(await lake.files('silver', 'transactions/year=2024/month=02/')).toEqual([]);
    expect(await lake.files('silver', '_pending/')).toEqual([]);
    // Written again once the February file was gone: the gold refresh it triggers recomputes February.
    const [manifestKey = ''] = await lake.files('silver', '_manifests/');
    const written = await silverRecord<Manifest>(manifestKey);
    expect(written.settled?.months).toEqual(['2024-02']);
    // A redelivery of the run keeps it: what gold compares must not go back to what it counted before the removal.
    await ingest(1, V2);
    const again2 = await silverRecord<Manifest>(manifestKey);
    expect(again2.settled).toEqual(written.settled);
  });

  it("removes the earlier run's rows from shared compacted files: a failed rewrite of one is finished by the next attempt", async () => {
    for (let n = 1; n <= 6; n++) await ingest(n, V1);
    await withMaintenanceLease(lake.store, { dataset: 'transactions', operation: 'compact', holder: 'test' }, () =>
      compactDataset({ store: lake.store, contracts: V1, dataset: 'transactions', workDir: lake.root }),
    );
    expect((await lake.files('silver', 'transactions/')).some((k) => k.includes('part-compacted'))).toBe(true);
    expect(await silverOf(1)).toEqual(['T1-1 1.0.0', 'T1-2 1.0.0', 'T1-3 1.0.0']);

    const flaky = failingOnce(
      lake.store,
      'putFile',
      (zone, key) => zone === 'silver' && key.includes('part-compacted'),
    );
    await expect(ingest(1, V2, flaky.store)).rejects.toThrow(/injected: putFile failed/);
    expect(flaky.failed()).toBe(true);
    expect(await lake.files('silver', '_pending/')).toHaveLength(1);

    await ingest(1, V2);
    expect(await silverOf(1)).toEqual(['T1-1 2.0.0', 'T1-3 2.0.0']);
    // The other producers' rows are untouched.
    for (let n = 2; n <= 6; n++) expect(await silverOf(n)).toEqual([`T${n}-1 1.0.0`, `T${n}-2 1.0.0`, `T${n}-3 1.0.0`]);
    expect(await lake.files('silver', '_pending/')).toEqual([]);
  });

  it('a delivery under an older contract, publishing while a newer run published, writes no manifest over it; its retry publishes whole', async () => {
    await ingest(1, V1);
    const older = heldAtManifest(lake.store);
    const first = ingest(1, V1, older.store);
    first.catch(() => {}); // awaited below
    await older.reached;
    // A replay under the new contract runs from start to end meanwhile: it removes the February file the older run wrote.
    await ingest(1, V2);
    older.go();
    await expect(first).rejects.toThrow(/changed while run .* was publishing/);
    expect(await expectManifestMatchesSilver()).toMatchObject({ contract_version: '2.0.0', rows_valid: 2 });

    await ingest(1, V1); // the retry
    expect(await expectManifestMatchesSilver()).toMatchObject({ contract_version: '1.0.0', rows_valid: 3 });
    expect(await lake.files('silver', '_pending/')).toEqual([]);
  });

  it('two deliveries of the same run publishing at once both succeed: the same keys, rows and one manifest', async () => {
    const held = heldAtManifest(lake.store);
    const first = ingest(1, V1, held.store);
    await held.reached;
    await ingest(1, V1);
    held.go();
    await expect(first).resolves.toMatchObject({ rows_valid: 3 });
    expect(await expectManifestMatchesSilver()).toMatchObject({ rows_valid: 3 });
    expect(await silverOf(1)).toEqual(['T1-1 1.0.0', 'T1-2 1.0.0', 'T1-3 1.0.0']);
    expect(await lake.files('silver', '_pending/')).toEqual([]);
  });

  it('a delivery whose uploads land after a newer run published and cleaned up: its files are named again, and removed by the retry under the newer contract', async () => {
    await ingest(1, V1);
    // The older delivery is held at its February upload while a replay under the new contract runs from start to end.
    const held = heldAt(lake.store, 'putFile', (zone, key) => zone === 'silver' && key.includes('month=02'));
    const first = ingest(1, V1, held.store);
    first.catch(() => {}); // awaited below
    await held.reached;
    await ingest(1, V2);
    held.go();
    await expect(first).rejects.toThrow(/changed while run .* was publishing/);
    // Its February file is in silver again, named by its intent record.
    expect(await silverOf(1)).toEqual(['T1-1 2.0.0', 'T1-2 1.0.0', 'T1-3 2.0.0']);
    expect(await lake.files('silver', '_pending/')).toHaveLength(1);

    await ingest(1, V2); // the message retried, on the new code
    expect(await expectManifestMatchesSilver()).toMatchObject({ contract_version: '2.0.0', rows_valid: 2 });
    expect(await silverOf(1)).toEqual(['T1-1 2.0.0', 'T1-3 2.0.0']);
    expect(await lake.files('silver', '_pending/')).toEqual([]);
  });

  it('a delivery of the same run whose uploads land after another delivery published and a compaction replaced its files fails, its files named', async () => {
    for (let n = 1; n <= 6; n++) await ingest(n, V1);
    const held = heldAt(lake.store, 'putFile', (zone, key) => zone === 'silver' && key.startsWith('transactions/'));
    const late = ingest(1, V1, held.store);
    late.catch(() => {}); // awaited below
    await held.reached;
    await ingest(1, V1); // another delivery of the same run: it replaces the late one's record and withdraws its own
    await withMaintenanceLease(lake.store, { dataset: 'transactions', operation: 'compact', holder: 'test' }, () =>
      compactDataset({ store: lake.store, contracts: V1, dataset: 'transactions', workDir: lake.root }),
    );
    held.go();
    // It re-created files the compaction replaced: it must not take the manifest in place as its own and go on.
    await expect(late).rejects.toThrow(/changed while run .* was publishing/);
    // Its files are named by its intent record again (lake status shows it; compaction leaves the source alone).
    const [record] = await lake.files('silver', '_pending/');
    const sourceId = /([0-9a-f]+)\.json$/.exec(record ?? '')?.[1] ?? 'none';
    const pending = await silverRecord<{ silver_keys: string[] }>(record ?? '');
    const recreated = (await lake.files('silver', 'transactions/')).filter((k) => k.includes(sourceId));
    expect(recreated.length).toBeGreaterThan(0);
    for (const k of recreated) expect(pending.silver_keys).toContain(k);
    expect(await silverOf(1)).toHaveLength(6); // seen twice: the compacted rows and the re-created files

    // The retry returns at the manifest the compaction rewrote, and removes what the record names and it does not.
    expect((await ingest(1, V1)).compactions?.length ?? 0).toBeGreaterThan(0);
    expect(await silverOf(1)).toEqual(['T1-1 1.0.0', 'T1-2 1.0.0', 'T1-3 1.0.0']);
    for (const k of recreated) expect(await lake.store.getBytes('silver', k)).toBeUndefined();
    expect(await lake.files('silver', '_pending/')).toEqual([]);
    await expectManifestMatchesSilver();
  });

  it("a replay that died after its manifest, then an erasure of the run: the retry still removes the earlier run's files", async () => {
    await replayDiedBeforeItsDeletes();
    expect(await silverOf(1)).toEqual(['T1-1 2.0.0', 'T1-2 1.0.0', 'T1-3 2.0.0']);
    // An erasure does not wait for intent records: it rewrites the new run's files and manifest meanwhile.
    await withMaintenanceLease(lake.store, { dataset: 'transactions', operation: 'erase', holder: 'test' }, () =>
      eraseRows({
        store: lake.store,
        contracts: V2,
        dataset: 'transactions',
        where: "account_id = 'ACC001'",
        requestedBy: 'dpo',
        workDir: lake.root,
      }),
    );
    expect(await silverOf(1)).toEqual(['T1-2 1.0.0', 'T1-3 2.0.0']);

    const again = await ingest(1, V2); // returns at the maintained manifest
    expect(again.erasures?.length ?? 0).toBeGreaterThan(0);
    expect(await silverOf(1)).toEqual(['T1-3 2.0.0']);
    // The manifest says which months the removal changed, for the gold refresh.
    const [manifestKey = ''] = await lake.files('silver', '_manifests/');
    const settled = await silverRecord<Manifest>(manifestKey);
    expect(settled.settled?.months).toEqual(['2024-02']);
    expect(await lake.files('silver', 'transactions/year=2024/month=02/')).toEqual([]);
    expect(await lake.files('silver', '_pending/')).toEqual([]);
  });

  it('two sources replayed at once, each removing its earlier rows from one shared compacted file: neither removal is lost', async () => {
    for (let n = 1; n <= 6; n++) await ingest(n, V1);
    await withMaintenanceLease(lake.store, { dataset: 'transactions', operation: 'compact', holder: 'test' }, () =>
      compactDataset({ store: lake.store, contracts: V1, dataset: 'transactions', workDir: lake.root }),
    );
    // Producer 1's replay is held with the compacted file rewritten, before putting it back; producer 2's runs meanwhile.
    const held = heldAt(lake.store, 'putFile', (zone, key) => zone === 'silver' && key.includes('part-compacted'));
    const first = ingest(1, V2, held.store);
    first.catch(() => {}); // awaited below
    await held.reached;
    await ingest(2, V2);
    held.go();
    await first;
    expect(await silverOf(1)).toEqual(['T1-1 2.0.0', 'T1-3 2.0.0']);
    expect(await silverOf(2)).toEqual(['T2-1 2.0.0', 'T2-3 2.0.0']);
    for (let n = 3; n <= 6; n++) expect(await silverOf(n)).toEqual([`T${n}-1 1.0.0`, `T${n}-2 1.0.0`, `T${n}-3 1.0.0`]);
  });

  it('an erasure and a replay rewriting one shared compacted file at once: the erasure stops and resumes, neither change is lost', async () => {
    for (let n = 1; n <= 6; n++) await ingest(n, V1);
    await withMaintenanceLease(lake.store, { dataset: 'transactions', operation: 'compact', holder: 'test' }, () =>
      compactDataset({ store: lake.store, contracts: V1, dataset: 'transactions', workDir: lake.root }),
    );
    const erase = (store: ObjectStore) =>
      eraseRows({
        store,
        contracts: V1,
        dataset: 'transactions',
        where: "account_id = 'ACC003'",
        requestedBy: 'dpo',
        workDir: lake.root,
      });
    // The erasure is held with the compacted file rewritten, before putting it back; producer 2's replay runs meanwhile
    // (it passed its look at the lease before the erasure took it).
    const held = heldAt(lake.store, 'putFile', (zone, key) => zone === 'silver' && key.includes('part-compacted'));
    const erasing = erase(held.store);
    erasing.catch(() => {}); // awaited below
    await held.reached;
    await ingest(2, V2);
    held.go();
    await expect(erasing).rejects.toThrow(/was replaced while the erasure rewrote it.*run the same erasure again/);
    await erase(lake.store);
    expect((await lake.silverRows()).filter((r) => r.account_id === 'ACC003')).toEqual([]);
    expect(await silverOf(2)).toEqual(['T2-1 2.0.0']);
    expect(await silverOf(4)).toEqual(['T4-1 1.0.0', 'T4-2 1.0.0']);
  });

  it("a replay that died rewriting a compacted file, then an erasure of the run: the retry removes the earlier run's rows from it", async () => {
    for (let n = 1; n <= 6; n++) await ingest(n, V1);
    await withMaintenanceLease(lake.store, { dataset: 'transactions', operation: 'compact', holder: 'test' }, () =>
      compactDataset({ store: lake.store, contracts: V1, dataset: 'transactions', workDir: lake.root }),
    );
    const flaky = failingOnce(
      lake.store,
      'putFile',
      (zone, key) => zone === 'silver' && key.includes('part-compacted'),
    );
    await expect(ingest(1, V2, flaky.store)).rejects.toThrow(/injected: putFile failed/);
    await withMaintenanceLease(lake.store, { dataset: 'transactions', operation: 'erase', holder: 'test' }, () =>
      eraseRows({
        store: lake.store,
        contracts: V2,
        dataset: 'transactions',
        where: "transaction_id = 'T1-1'",
        requestedBy: 'dpo',
        workDir: lake.root,
      }),
    );
    expect(await silverOf(1)).toEqual(['T1-2 1.0.0', 'T1-3 1.0.0', 'T1-3 2.0.0']);

    expect((await ingest(1, V2)).erasures?.length ?? 0).toBeGreaterThan(0);
    expect(await silverOf(1)).toEqual(['T1-3 2.0.0']);
    for (let n = 2; n <= 6; n++) expect(await silverOf(n)).toEqual([`T${n}-1 1.0.0`, `T${n}-2 1.0.0`, `T${n}-3 1.0.0`]);
    expect(await lake.files('silver', '_pending/')).toEqual([]);
  });

  it('a newer run does not publish while the retry at a maintained manifest removes keys they share; it publishes whole once that is done', async () => {
    await replayDiedBeforeItsDeletes();
    await eraseAcc001();
    // A late redelivery of the erased run, held at its removal of the earlier run's February file.
    const held = heldAt(lake.store, 'delete', (zone) => zone === 'silver');
    const late = ingest(1, V2, held.store);
    late.catch(() => {}); // awaited below
    await held.reached;
    // The replay under V3 would write that same key: it does not start while the removal is marked in the record.
    await expect(ingest(1, V3)).rejects.toThrow(/removing files of this source/);
    held.go();
    await late;
    const replay = await ingest(1, V3); // its retry
    // A replay under a new contract re-derives the rows from bronze, the erased one too (docs/runbook.md: erasures
    // are run again after such a replay).
    expect(replay).toMatchObject({ contract_version: '3.0.0', rows_valid: 3 });
    expect(await expectManifestMatchesSilver()).toMatchObject({ contract_version: '3.0.0' });
    expect(await silverOf(1)).toEqual(['T1-1 3.0.0', 'T1-2 3.0.0', 'T1-3 3.0.0']);
    expect(await lake.files('silver', '_pending/')).toEqual([]);
  });

  /**
   * Run V2 published and erased; a redelivery of it (it read the manifest before the erasure) writes its record over
   * that of a replay under V3 which has uploaded its February file: held there, the redelivery's record names the
   * replay's keys. Both are held: `afterRecord.go()` lets the redelivery on, `uploaded.go()` the replay.
   */
  async function sameRunRecordOverReplay() {
    await ingest(1, V2);
    const isRecord = (_: unknown, key: string) => key.startsWith('_pending/');
    const afterRecord = heldAt(lake.store, 'putBytes', isRecord, { after: true });
    const beforeRecord = heldAt(afterRecord.store, 'putBytes', isRecord);
    const redelivery = ingest(1, V2, beforeRecord.store);
    redelivery.catch(() => {}); // awaited by the caller
    await beforeRecord.reached;
    await eraseAcc001();
    const uploaded = heldAt(lake.store, 'putFile', (zone, key) => zone === 'silver' && key.includes('month=02'), {
      after: true,
    });
    const replay = ingest(1, V3, uploaded.store);
    replay.catch(() => {}); // awaited by the caller
    await uploaded.reached;
    beforeRecord.go();
    await afterRecord.reached;
    return { redelivery, afterRecord, replay, uploaded };
  }

  it("a retry settling a record that an attempt of its run wrote over a newer run's in flight: that run's manifest write fails, and its retry publishes whole", async () => {
    const { redelivery, afterRecord, replay, uploaded } = await sameRunRecordOverReplay();
    await ingest(1, V2); // another delivery of the run settles that record: it removes the replay's February file
    afterRecord.go();
    await redelivery;
    uploaded.go();
    await expect(replay).rejects.toThrow(/changed while run .* was publishing/);
    await ingest(1, V3); // the replay's retry
    expect(await expectManifestMatchesSilver()).toMatchObject({ contract_version: '3.0.0', rows_valid: 3 });
    expect(await lake.files('silver', '_pending/')).toEqual([]);
  });

  it("a removal's mark carried over into another run's record still holds that run off until the removal is done", async () => {
    const { redelivery, afterRecord, replay, uploaded } = await sameRunRecordOverReplay();
    // Another delivery of the run settles that record, held at its first delete (marked, the manifest written again).
    const deleting = heldAt(lake.store, 'delete', (zone) => zone === 'silver');
    const settling = ingest(1, V2, deleting.store);
    settling.catch(() => {}); // awaited below
    await deleting.reached;
    uploaded.go();
    await expect(replay).rejects.toThrow(/changed while run .* was publishing/); // it names its uploads again
    await expect(ingest(1, V3)).rejects.toThrow(/removing files of this source/); // its retry waits for the removal
    deleting.go();
    await settling;
    afterRecord.go();
    await redelivery;
    await ingest(1, V3);
    expect(await expectManifestMatchesSilver()).toMatchObject({ contract_version: '3.0.0', rows_valid: 3 });
  });

  it('an attempt naming its uploads again after a manifest conflict keeps the mark of a removal in progress', async () => {
    await replayDiedBeforeItsDeletes();
    // A redelivery of the run, held at its first upload; an erasure rewrites the run's manifest meanwhile.
    const held = heldAt(lake.store, 'putFile', (zone, key) => zone === 'silver' && key.startsWith('transactions/'));
    const redelivery = ingest(1, V2, held.store);
    redelivery.catch(() => {}); // awaited below
    await held.reached;
    await eraseAcc001();
    // A retry at the maintained manifest has marked the record and is removing what it names.
    const [key = ''] = await lake.files('silver', '_pending/');
    const record = await silverRecord<object>(key);
    await lake.store.putBytes('silver', key, JSON.stringify({ ...record, settling_since: new Date().toISOString() }));
    held.go();
    await expect(redelivery).rejects.toThrow(/changed while run .* was publishing/);
    const now = await silverRecord<PendingIngest>(key);
    expect(isSettling(now)).toBe(true);
  });

  it("a run that finds its record taken over after its manifest removes none of the earlier run's files: a newer run may be writing them", async () => {
    await ingest(1, V1);
    // The replay under V2 is held once its manifest is in place, before it removes the V1 February file.
    const held = heldAt(lake.store, 'putBytes', (_, key) => key.startsWith('_manifests/'), { after: true });
    const replay = ingest(1, V2, held.store);
    replay.catch(() => {}); // awaited below
    await held.reached;
    // A replay under V3 publishes whole meanwhile: it writes that same February key.
    expect(await ingest(1, V3)).toMatchObject({ contract_version: '3.0.0', rows_valid: 3 });
    held.go();
    await expect(replay).rejects.toThrow(/none was removed/);
    expect(await expectManifestMatchesSilver()).toMatchObject({ contract_version: '3.0.0', rows_valid: 3 });
  });

  it("a removal mark holds off another run's attempts for SETTLING_HOLD_MS, not its own run's", async () => {
    await replayDiedBeforeItsDeletes();
    await eraseAcc001();
    const [key = ''] = await lake.files('silver', '_pending/');
    const record = await silverRecord<object>(key);
    const mark = (ago: number) =>
      lake.store.putBytes(
        'silver',
        key,
        JSON.stringify({ ...record, settling_since: new Date(Date.now() - ago).toISOString() }),
      );
    await mark(60_000);
    await expect(ingest(1, V1)).rejects.toThrow(/removing files of this source/); // another run waits
    expect(await silverOf(1)).toEqual(['T1-2 1.0.0', 'T1-3 2.0.0']);
    await mark(SETTLING_HOLD_MS + 60_000); // past the hold: its retry is taken to be dead
    expect(isSettling(await silverRecord<PendingIngest>(key))).toBe(false);
    await mark(60_000); // a retry of the mark's own run takes the removal over at once
    await ingest(1, V2);
    expect(await silverOf(1)).toEqual(['T1-3 2.0.0']);
    // Its remover may still be deleting: the record is left holding only that mark, naming no keys, till it ends.
    const hold = await silverRecord<PendingIngest>(key);
    expect(hold).toMatchObject({ hold_only: true, silver_keys: [], quarantine_keys: [] });
    expect(isSettling(hold)).toBe(true);
    await expect(ingest(1, V1)).rejects.toThrow(/removing files of this source/);
  });

  it('an attempt that finds its run maintained between its intent record and its look at the lease puts back the record it replaced, and settles it', async () => {
    await replayDiedBeforeItsDeletes();
    // A redelivery of the new run, held once its intent record is written; an erasure runs meanwhile.
    const held = heldAt(lake.store, 'putBytes', (_, key) => key.startsWith('_pending/'), { after: true });
    const redelivery = ingest(1, V2, held.store);
    await held.reached;
    await eraseAcc001();
    held.go();
    expect((await redelivery).erasures?.length ?? 0).toBeGreaterThan(0);
    // The record naming the earlier run's February file is put back and settled at once (this attempt succeeds: no
    // retry would come): that file is gone, and the record with it.
    expect(await silverOf(1)).toEqual(['T1-3 2.0.0']);
    expect(await lake.files('silver', '_pending/')).toEqual([]);
  });

  it('the manifest is written again once the removal is done, so the gold refresh that follows sees silver without the removed files', async () => {
    await replayDiedBeforeItsDeletes();
    await eraseAcc001();
    const settledAt = async (): Promise<string | undefined> => {
      const [key = ''] = await lake.files('silver', '_manifests/');
      return (await silverRecord<Manifest>(key)).settled?.settled_at;
    };
    const held = heldAt(lake.store, 'delete', (zone) => zone === 'silver');
    const retry = ingest(1, V2, held.store);
    await held.reached;
    const before = await settledAt(); // written before the removal (the fence)
    expect(before).toBeDefined();
    await new Promise((r) => setTimeout(r, 5));
    held.go();
    await retry;
    const after = await settledAt();
    expect(after).toBeDefined();
    expect(after).not.toBe(before);
  });

  it('gold recomputes the month a settle removed, even when an erasure copied its first manifest write forward', async () => {
    let state = await months.replayDiedBeforeItsDeletes();
    await months.erase('ACC001');
    state = (await months.refresh(state)).nextState;
    const held = heldAt(lake.store, 'delete', (zone) => zone === 'silver');
    const settling = months.put(1, V2, held.store);
    await held.reached; // the manifest written (settled), the 2023-12 file not yet removed
    state = (await months.refresh(state)).nextState; // the refresh that write triggers: it still counts that file
    await months.erase('ACC003'); // an erasure meanwhile copies that manifest forward
    held.go();
    await settling;
    expect(await lake.files('silver', 'transactions/year=2023/month=12/')).toEqual([]);
    expect((await months.refresh(state)).months).toContain('2023-12');
  });

  it('the retry at a maintained manifest removes nothing while a maintenance holds the lease, and is retried', async () => {
    await replayDiedBeforeItsDeletes();
    const erase = () =>
      eraseRows({
        store: lake.store,
        contracts: V2,
        dataset: 'transactions',
        where: "account_id = 'ACC001'",
        requestedBy: 'dpo',
        workDir: lake.root,
      });
    await withMaintenanceLease(lake.store, { dataset: 'transactions', operation: 'erase', holder: 'test' }, erase);
    await withMaintenanceLease(lake.store, { dataset: 'transactions', operation: 'compact', holder: 'test' }, () =>
      expect(ingest(1, V2)).rejects.toThrow(/maintenance lease/),
    );
    expect(await silverOf(1)).toEqual(['T1-2 1.0.0', 'T1-3 2.0.0']);
    expect(await lake.files('silver', '_pending/')).toHaveLength(1);
    await ingest(1, V2);
    expect(await silverOf(1)).toEqual(['T1-3 2.0.0']);
  });
});
