/**
 * The local lake's maintenance lease (cli/local/maintenance-lease.ts, the rule of engine/maintenance/lease.ts):
 * a compaction and a local ingest (the path of `lake ingest`, `watch`, `replay`) of the same partition
 * interleaved in the order that loses rows without the rule — the ingest rewrites an input of the compaction
 * between its second look and its switch — and a lease left by a process that is gone, taken over by the next
 * ingest or maintenance.
 */
import { spawnSync } from 'node:child_process';
import { copyFile, mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import { hostname, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterEach, beforeEach, describe, it } from '@jest/globals';
import { expect } from '../../support/expect.ts';
import { currentOwner } from '../../../adapters/local/process-owner.ts';
import { withLocalMaintenanceLease } from '../../../cli/local/maintenance-lease.ts';
import { unlockAction } from '../../../cli/actions/unlock.ts';
import { processIo } from '../../../cli/io.ts';
import { ingestBronzeObject } from '../../../cli/local/ingest-run.ts';
import { LocalLake } from '../../../cli/local/lake.ts';
import { ContractRegistry, parseContract } from '../../../engine/contract/index.ts';
import {
  acquireMaintenanceLease,
  compactDataset,
  readMaintenanceLease,
  type MaintenanceLease,
} from '../../../engine/index.ts';
import { writeTransactionsCsv } from '../../../generator/generate.ts';
import { readWithDuckDb } from '../../support/duckdb-reader.ts';

const ROWS = 80;

/** The same contract under a new version: a re-ingest under it is a new run of the same source (as a replay after an additive change). */
async function contractsAt(version: string): Promise<ContractRegistry> {
  const raw = JSON.parse(await readFile(join(process.cwd(), 'contracts', 'transactions.json'), 'utf8')) as object;
  return new ContractRegistry([parseContract({ ...raw, version }, 'transactions.json')]);
}

/** The pid of a process that has ended (its start identity recorded as process-owner.ts records it). */
function deadOwner(): MaintenanceLease['owner'] {
  const child = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' });
  return { ...currentOwner(), pid: Number(child.stdout), start_ticks: 1 };
}

describe('the local maintenance lease', () => {
  let dir: string;
  let lake: LocalLake;
  const ids: string[] = [];
  /** A `lake compact` killed while it held the dataset's lease. */
  const leaseOfDeadCompaction = () =>
    acquireMaintenanceLease(lake.store, {
      dataset: 'transactions',
      operation: 'compact',
      holder: 'someone@here (lake compact)',
      owner: deadOwner(),
    });

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'lake-local-lease-'));
    lake = new LocalLake(dir, await contractsAt('1.0.0'), 1);
    ids.length = 0;
    for (let i = 0; i < 3; i++) {
      const csv = join(dir, `partner-${i}.csv`);
      await writeTransactionsCsv(csv, {
        rows: ROWS,
        accounts: 2,
        from: '2024-01',
        to: '2024-01',
        firstId: i * 1000,
        seed: 11 + i,
        badRowRatio: 0,
      });
      const key = `transactions/partner-${i}.csv`;
      await mkdir(dirname(lake.bronzePath(key)), { recursive: true });
      await copyFile(csv, lake.bronzePath(key));
      const m = await ingestBronzeObject(lake, key);
      expect(m.rows_valid).toBe(ROWS);
    }
    for (const r of await silverRows()) ids.push(String(r.transaction_id));
    expect(ids).toHaveLength(3 * ROWS);
  });
  afterEach(async () => rm(dir, { recursive: true, force: true }));

  const silverRows = () =>
    readWithDuckDb(
      `SELECT transaction_id, contract_version FROM read_parquet('${dir}/silver/transactions/**/*.parquet', hive_partitioning = true) ORDER BY transaction_id`,
    );
  const compact = (afterSecondLook?: () => Promise<void>) =>
    compactDataset({
      store: lake.store,
      contracts: lake.contracts,
      dataset: 'transactions',
      workDir: join(dir, 'scratch'),
      afterSecondLook,
    });

  /** Every transaction id exactly once; the manifests name exactly the Parquet files silver holds and count its rows. */
  async function expectEveryRowOnce(): Promise<void> {
    const rows = await silverRows();
    expect(rows.map((r) => String(r.transaction_id)).sort()).toEqual([...ids].sort());
    const manifests = await lake.manifests('transactions');
    const named = [...new Set(manifests.flatMap((m) => m.partitions.flatMap((p) => p.files)))].sort();
    const files: string[] = [];
    for await (const o of lake.store.list('silver', 'transactions/')) if (o.key.endsWith('.parquet')) files.push(o.key);
    expect(named).toEqual(files.sort());
    expect(manifests.reduce((s, m) => s + m.rows_valid, 0)).toBe(rows.length);
  }

  it('an ingest of a compaction input between its second look and its switch backs off; run again after, every row exactly once', async () => {
    const newVersion = new LocalLake(dir, await contractsAt('1.99.0'), 1);
    const raced: unknown[] = [];
    await mkdir(join(dir, 'scratch'));
    const report = await withLocalMaintenanceLease(lake, 'transactions', 'compact', () =>
      compact(async () => {
        // Another process's `lake replay` of partner-0 under the new contract version, right here.
        raced.push(await ingestBronzeObject(newVersion, 'transactions/partner-0.csv').catch((e: unknown) => e));
      }),
    );
    expect(report.groups.map((g) => g.status)).toEqual(['compacted']);
    expect(raced).toHaveLength(1);
    // Nothing lost, nothing doubled (without the rule the ingest's rows are deleted by the switch: 80 rows gone).
    await expectEveryRowOnce();
    // How: the raced ingest wrote nothing and said why.
    expect((raced[0] as Error).name).toBe('MaintenanceLeaseHeldError');
    expect((raced[0] as Error).message).toMatch(
      new RegExp(
        `the ingest of transactions/partner-0\\.csv of transactions did nothing: the compaction compact-\\S+ by \\S+ \\(lake compact\\), pid ${process.pid} holds`,
      ),
    );
    expect(await readMaintenanceLease(lake.store, 'transactions')).toBeUndefined();
    const pending: string[] = [];
    for await (const o of lake.store.list('silver', '_pending/')) pending.push(o.key);
    expect(pending).toEqual([]);

    // Run again once the compaction has finished: it lands, and the next compaction folds it in.
    await ingestBronzeObject(newVersion, 'transactions/partner-0.csv');
    await withLocalMaintenanceLease(lake, 'transactions', 'compact', () => compact());
    await expectEveryRowOnce();
    const byVersion: Record<string, number> = {};
    for (const r of await silverRows())
      byVersion[String(r.contract_version)] = (byVersion[String(r.contract_version)] ?? 0) + 1;
    expect(byVersion).toEqual({ '1.0.0': 2 * ROWS, '1.99.0': ROWS });
  });

  it('a lease whose holder process is gone is released by the next ingest (with a note), which then lands', async () => {
    const dead = await leaseOfDeadCompaction();
    const notes: string[] = [];
    const newVersion = new LocalLake(dir, await contractsAt('1.99.0'), 1);
    const m = await ingestBronzeObject(newVersion, 'transactions/partner-1.csv', undefined, {
      onNote: (t) => notes.push(t),
    });
    expect(m.status).toBe('succeeded');
    expect(notes.join('')).toContain(`released the maintenance lease ${dead.lease_id} of transactions`);
    expect(await readMaintenanceLease(lake.store, 'transactions')).toBeUndefined();
    await expectEveryRowOnce();
  });

  it('a lease held by a live process, or by a process of another host, is never taken over', async () => {
    for (const owner of [currentOwner(), { ...deadOwner()!, host: `not-${hostname()}` }]) {
      const lease = await acquireMaintenanceLease(lake.store, {
        dataset: 'transactions',
        operation: 'erase',
        holder: 'someone (lake erase)',
        owner,
      });
      await expect(ingestBronzeObject(lake, 'transactions/partner-2.csv')).rejects.toThrow(
        /holds the maintenance lease/,
      );
      process.env.LAKE_MAINTENANCE_LOCK_WAIT_MS = '0';
      try {
        await expect(withLocalMaintenanceLease(lake, 'transactions', 'compact', () => compact())).rejects.toThrow(
          /another maintenance command is rewriting transactions: the erasure .* holds .*; the compaction did nothing/,
        );
      } finally {
        delete process.env.LAKE_MAINTENANCE_LOCK_WAIT_MS;
      }
      expect((await readMaintenanceLease(lake.store, 'transactions'))?.lease_id).toBe(lease.lease_id);
      await lake.store.delete('silver', ['_maintenance/leases/transactions.json']);
    }
    await expectEveryRowOnce();
  });

  it('a lease past its expiry whose process still runs is not offered for unlock, and `lake unlock` refuses it without --force', async () => {
    const lease = await acquireMaintenanceLease(lake.store, {
      dataset: 'transactions',
      operation: 'erase',
      holder: 'a long erase (lake erase)',
      owner: currentOwner(),
      ttlMs: -1,
    });
    process.env.LAKE_MAINTENANCE_LOCK_WAIT_MS = '0';
    try {
      const refused = withLocalMaintenanceLease(lake, 'transactions', 'compact', () => compact());
      await expect(refused).rejects.toThrow(/the compaction did nothing/);
      await expect(refused).rejects.toMatchObject({ hint: 'run it again when that one has finished' });
    } finally {
      delete process.env.LAKE_MAINTENANCE_LOCK_WAIT_MS;
    }
    const printed: string[] = [];
    const io = { ...processIo(), print: (text: string) => void printed.push(text) };
    const unlock = { lake: dir, dataset: 'transactions', lease: lease.lease_id };
    await expect(unlockAction(unlock, io)).rejects.toThrow(/held by a process that is still running/);
    expect((await readMaintenanceLease(lake.store, 'transactions'))?.lease_id).toBe(lease.lease_id);
    await unlockAction({ ...unlock, force: true }, io);
    expect(await readMaintenanceLease(lake.store, 'transactions')).toBeUndefined();
    expect(printed.join('')).toMatch(/Released the maintenance lease/);
  });

  it('of several commands meeting the same dead lease, exactly one takes it over and holds the dataset; the others are refused', async () => {
    const dead = await leaseOfDeadCompaction();
    const notes: string[] = [];
    process.env.LAKE_MAINTENANCE_LOCK_WAIT_MS = '0';
    let holding = 0;
    let most = 0;
    try {
      const outcomes = await Promise.allSettled(
        Array.from({ length: 6 }, () =>
          withLocalMaintenanceLease(
            lake,
            'transactions',
            'compact',
            async () => {
              most = Math.max(most, ++holding);
              await new Promise((r) => setImmediate(r));
              holding--;
            },
            { onTakeover: (n) => notes.push(n) },
          ),
        ),
      );
      expect(notes).toHaveLength(1);
      expect(notes[0]).toContain(dead.lease_id);
      expect(most).toBe(1);
      expect(outcomes.filter((o) => o.status === 'fulfilled').length).toBeGreaterThanOrEqual(1);
      for (const o of outcomes)
        if (o.status === 'rejected') expect(String(o.reason)).toMatch(/another maintenance command is rewriting/);
    } finally {
      delete process.env.LAKE_MAINTENANCE_LOCK_WAIT_MS;
    }
    expect(await readMaintenanceLease(lake.store, 'transactions')).toBeUndefined();
  });
});
