/**
 * The scheduled compaction function (lambdas/compaction) against the emulated lake: its handler, configured
 * as lib/maintenance/lake-compaction.ts configures it, compacts what the bundled ingest function wrote, under
 * the dataset's lease; a lease held by an operator skips the dataset, a stale one fails the run; a run short of
 * time starts nothing.
 */
import { join } from 'node:path';
import type { Context } from 'aws-lambda';
import { afterEach, describe, it } from '@jest/globals';
import { expect } from '../support/expect.ts';
import { S3ObjectStore } from '../../adapters/aws/s3-store.ts';
import { loadContracts } from '../../engine/contract/index.ts';
import { acquireMaintenanceLease, readMaintenanceLease } from '../../engine/index.ts';
import { handler } from '../../lambdas/compaction/handler.ts';
import {
  runScheduledCompaction,
  scheduledCompactionHolder,
  type ScheduledCompactionDependencies,
} from '../../lambdas/compaction/process.ts';
import { COMPACTION_ENV } from '../../wiring/names.ts';
import { ingestProducerFiles } from '../support/integration/producer-files.ts';
import { listKeys, silverRows, skipReason, useLake, type LakeFixture } from '../support/integration/lake-fixture.ts';

const smallFiles = (fx: LakeFixture, count: number) =>
  ingestProducerFiles(fx, { count, rows: 60, accounts: 2, from: '2024-01', to: '2024-02', seed: 31 });

function context(remainingMs: number): Context {
  return {
    functionName: 'medallion-it-compaction',
    awsRequestId: 'req-1',
    getRemainingTimeInMillis: () => remainingMs,
  } as unknown as Context;
}

const rowKey = (r: Record<string, unknown>) => JSON.stringify(r);

(skipReason ? describe.skip : describe)('scheduled compaction function', () => {
  const lake = useLake();
  const saved = { ...process.env };
  afterEach(() => {
    for (const k of Object.keys(process.env)) if (!(k in saved)) delete process.env[k];
    Object.assign(process.env, saved);
  });

  const deps = (fx: LakeFixture, remainingMs = 600_000): ScheduledCompactionDependencies & { logs: string[] } => {
    const logs: string[] = [];
    return {
      store: new S3ObjectStore(fx.clients.s3, { silver: fx.lake.buckets.silver }),
      contracts: loadContracts(),
      datasets: [],
      workDir: join(fx.scratchDir, 'compaction'),
      functionName: 'medallion-it-compaction',
      requestId: 'req-2',
      remainingMs: () => remainingMs,
      logger: { info: (m) => logs.push(`info ${m}`), error: (m) => logs.push(`error ${m}`) },
      logs,
    };
  };

  it('the handler, configured by its environment, compacts each month into one file with the same rows and releases the lease', async () => {
    const fx = lake();
    await smallFiles(fx, 3);
    const before = (await silverRows(fx, 'transactions')).map(rowKey).sort();
    Object.assign(process.env, {
      [COMPACTION_ENV.silverBucket]: fx.lake.buckets.silver,
      [COMPACTION_ENV.contractsDir]: join(process.cwd(), 'contracts'),
      [COMPACTION_ENV.workDir]: join(fx.scratchDir, 'fn-tmp'),
      [COMPACTION_ENV.datasets]: 'transactions',
      AWS_ENDPOINT_URL: fx.lake.endpoint,
      AWS_REGION: fx.lake.region,
      AWS_ACCESS_KEY_ID: fx.lake.accountId,
      AWS_SECRET_ACCESS_KEY: 'moto',
    });
    const results = await handler({ source: 'aws.events', 'detail-type': 'Scheduled Event' }, context(600_000));
    expect(results.map((r) => [r.dataset, r.outcome, r.report?.files_before, r.report?.files_after])).toEqual([
      ['transactions', 'compacted', 6, 2],
    ]);
    for (const month of ['01', '02'])
      expect(await listKeys(fx, fx.lake.buckets.silver, `transactions/year=2024/month=${month}/`)).toEqual([
        expect.stringMatching(/part-compacted-[0-9a-f]{16}\.parquet$/),
      ]);
    expect((await silverRows(fx, 'transactions')).map(rowKey).sort()).toEqual(before);
    expect(await listKeys(fx, fx.lake.buckets.silver, '_maintenance/leases/')).toEqual([]);
    expect(await listKeys(fx, fx.lake.buckets.silver, '_maintenance/compactions/')).toEqual([]);
  });

  it('skips a dataset whose lease an operator holds, fails on a stale lease (the errors alarm), and starts nothing when short of time', async () => {
    const fx = lake();
    await smallFiles(fx, 2);
    const d = deps(fx);
    const lease = await acquireMaintenanceLease(d.store, {
      dataset: 'transactions',
      operation: 'erase',
      holder: 'ana',
    });
    expect(await runScheduledCompaction(d)).toEqual([
      expect.objectContaining({ dataset: 'transactions', outcome: 'lease_held' }),
    ]);
    expect(d.logs).toEqual(['info skipped: another maintenance holds the lease']);
    expect(await listKeys(fx, fx.lake.buckets.silver, 'transactions/year=2024/month=01/')).toHaveLength(2);

    await d.store.delete('silver', ['_maintenance/leases/transactions.json']);
    await acquireMaintenanceLease(d.store, { dataset: 'transactions', operation: 'compact', holder: 'x', ttlMs: 0 });
    await expect(runScheduledCompaction(d)).rejects.toThrow(/transactions held by a stale maintenance lease/);
    expect(lease.lease_id).not.toBe('');

    await d.store.delete('silver', ['_maintenance/leases/transactions.json']);
    const late = deps(fx, 60_000);
    expect(await runScheduledCompaction(late)).toEqual([
      { dataset: 'transactions', outcome: 'out_of_time', detail: 'left for the next run' },
    ]);
    expect(await listKeys(fx, fx.lake.buckets.silver, '_maintenance/')).toEqual([]);
    await expect(runScheduledCompaction({ ...d, datasets: ['orders'] })).rejects.toThrow(/unknown dataset\(s\) orders/);
  });
  it('takes over an expired lease an earlier run of the function left (timed out or killed); an unexpired one is skipped', async () => {
    const fx = lake();
    await smallFiles(fx, 2);
    const d = deps(fx);
    const earlier = scheduledCompactionHolder('medallion-it-compaction', 'req-1');
    // An earlier run still within its time: skipped, its lease left alone.
    const running = await acquireMaintenanceLease(d.store, {
      dataset: 'transactions',
      operation: 'compact',
      holder: earlier,
      ttlMs: 600_000,
    });
    expect(await runScheduledCompaction(d)).toEqual([
      expect.objectContaining({ dataset: 'transactions', outcome: 'lease_held' }),
    ]);
    expect((await readMaintenanceLease(d.store, 'transactions'))?.lease_id).toBe(running.lease_id);

    // The same run past its lease's expiry (its function timed out: no `finally` ran): taken over and compacted.
    await d.store.delete('silver', ['_maintenance/leases/transactions.json']);
    await acquireMaintenanceLease(d.store, {
      dataset: 'transactions',
      operation: 'compact',
      holder: earlier,
      ttlMs: 0,
    });
    const [result] = await runScheduledCompaction(d);
    expect([result?.outcome, result?.report?.files_before, result?.report?.files_after]).toEqual(['compacted', 4, 2]);
    expect(d.logs).toContain('info took over the expired lease of an earlier scheduled run');
    expect(await listKeys(fx, fx.lake.buckets.silver, '_maintenance/leases/')).toEqual([]);

    // Another function's expired lease is not its own: it fails the run as any stale lease does.
    await acquireMaintenanceLease(d.store, {
      dataset: 'transactions',
      operation: 'compact',
      holder: scheduledCompactionHolder('medallion-other-compaction', 'req-9'),
      ttlMs: 0,
    });
    await expect(runScheduledCompaction(d)).rejects.toThrow(/transactions held by a stale maintenance lease/);
  });
});
