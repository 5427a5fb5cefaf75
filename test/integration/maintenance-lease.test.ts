/**
 * Concurrent ingest vs. maintenance on AWS: the maintenance lease (engine/maintenance/lease.ts) in the silver
 * bucket, created with S3's `If-None-Match: *` on the emulator. A compaction and an ingest of the same
 * partition interleaved in the order that loses rows without the lease (the ingest rewrites an input of the
 * compaction between its second look and its switch); the bundled ingest function leaving a dataset alone
 * while its lease is held; `lake status --aws` showing interrupted maintenance; a stale lease refused with
 * the command that releases it. And the source's intent record, which an ingest writes with `If-None-Match: *` or
 * `If-Match` over exactly the record it read: a concurrent delivery's record written in between is not overwritten.
 */
import { HeadObjectCommand } from '@aws-sdk/client-s3';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from '@jest/globals';
import { expect } from '../support/expect.ts';
import { GlueCatalog } from '../../adapters/aws/glue-catalog.ts';
import { S3ObjectStore } from '../../adapters/aws/s3-store.ts';
import { ContractRegistry, loadContracts, parseContract } from '../../engine/contract/index.ts';
import {
  acquireMaintenanceLease,
  compactDataset,
  ingestObject,
  readMaintenanceLease,
  releaseMaintenanceLease,
  withMaintenanceLease,
  type MaintenanceLease,
  type Manifest,
  type PendingIngest,
} from '../../engine/index.ts';
import type { ObjectStore } from '../../engine/contract/index.ts';
import { withOverrides } from '../support/store-faults.ts';
import { writeTransactionsCsv } from '../../generator/generate.ts';
import { awsCli } from '../support/integration/aws-cli.ts';
import { ingestProducerFiles } from '../support/integration/producer-files.ts';
import {
  drain,
  getManifests,
  listKeys,
  putBronze,
  silverRows,
  skipReason,
  useLake,
  type LakeFixture,
} from '../support/integration/lake-fixture.ts';

const MONTH = 'transactions/year=2024/month=01/';

function store(fx: LakeFixture): S3ObjectStore {
  const { buckets } = fx.lake;
  return new S3ObjectStore(fx.clients.s3, {
    bronze: buckets.bronze,
    silver: buckets.silver,
    quarantine: buckets.quarantine,
  });
}

/** Producer files of January only, ingested by the bundled function. */
const januaryFiles = (fx: LakeFixture, count: number) =>
  ingestProducerFiles(fx, { count, rows: 80, from: '2024-01', to: '2024-01', seed: 11 });

/**
 * The ingest function's step for `key` under a new contract version (the same source, a new run: what a
 * replay after an additive contract change does), through the engine with the S3 and Glue adapters.
 */
async function reingestUnderNewContract(fx: LakeFixture, key: string): Promise<Manifest> {
  const raw = JSON.parse(await readFile(join(process.cwd(), 'contracts', 'transactions.json'), 'utf8')) as object;
  return ingestThroughEngine(
    fx,
    key,
    new ContractRegistry([parseContract({ ...raw, version: '1.99.0' }, 'transactions.json')]),
  );
}

/** The ingest function's step for `key`, through the engine with the S3 (or `objectStore`) and Glue adapters. */
async function ingestThroughEngine(
  fx: LakeFixture,
  key: string,
  contracts: ContractRegistry,
  objectStore: ObjectStore = store(fx),
): Promise<Manifest> {
  const head = await fx.clients.s3.send(new HeadObjectCommand({ Bucket: fx.lake.buckets.bronze, Key: key }));
  const body = await store(fx).getStream('bronze', key);
  return ingestObject(
    {
      bucket: fx.lake.buckets.bronze,
      key,
      versionId: head.VersionId,
      etag: head.ETag,
      lastModified: head.LastModified,
      size: head.ContentLength,
    },
    body,
    {
      contracts,
      store: objectStore,
      catalog: new GlueCatalog(fx.clients.glue, {
        database: fx.lake.glue.silverDatabase,
        bucket: fx.lake.buckets.silver,
      }),
      workDir: join(fx.scratchDir, 'ingest'),
    },
  );
}

/** Every transaction id once, and the manifests name exactly the Parquet files silver holds and count their rows. */
async function expectEveryRowOnce(fx: LakeFixture, expectedIds: readonly string[]): Promise<void> {
  const rows = await silverRows(fx, 'transactions');
  expect(rows.map((r) => String(r.transaction_id)).sort()).toEqual([...expectedIds].sort());
  const manifests = await getManifests(fx, 'transactions');
  const named = new Set(manifests.flatMap((m) => m.partitions.flatMap((p) => p.files)));
  const files = (await listKeys(fx, fx.lake.buckets.silver, 'transactions/')).filter((k) => k.endsWith('.parquet'));
  expect([...named].sort()).toEqual(files);
  expect(manifests.reduce((s, m) => s + m.rows_valid, 0)).toBe(rows.length);
  for (const m of manifests) expect(m.rows_in).toBe(m.rows_valid + m.rows_quarantined);
}

(skipReason ? describe.skip : describe)('the maintenance lease: ingests and maintenance on the same dataset', () => {
  const lake = useLake();

  it('a re-ingest of a compaction input between its second look and its switch: the ingest backs off, its retry lands after, every row exactly once', async () => {
    const fx = lake();
    await januaryFiles(fx, 3);
    const ids = (await silverRows(fx, 'transactions')).map((r) => String(r.transaction_id));
    expect(await listKeys(fx, fx.lake.buckets.silver, MONTH)).toHaveLength(3);

    const raced: unknown[] = [];
    const report = await withMaintenanceLease(
      store(fx),
      { dataset: 'transactions', operation: 'compact', holder: 'the test' },
      () =>
        compactDataset({
          store: store(fx),
          contracts: loadContracts(),
          dataset: 'transactions',
          workDir: join(fx.scratchDir, 'compact'),
          // The ingest of partner-0 under a new contract version rewrites one of the inputs right here.
          afterSecondLook: async () => {
            raced.push(await reingestUnderNewContract(fx, 'transactions/partner-0.csv').catch((e: unknown) => e));
          },
        }),
    );
    expect(report.groups.map((g) => g.status)).toEqual(['compacted']);
    expect(raced).toHaveLength(1);
    expect(await listKeys(fx, fx.lake.buckets.silver, '_pending/')).toEqual([]);
    expect(await listKeys(fx, fx.lake.buckets.silver, '_maintenance/leases/')).toEqual([]);

    // The message is retried (SQS) once the lease is gone; the next compaction (a scheduled one) runs after it.
    await reingestUnderNewContract(fx, 'transactions/partner-0.csv');
    await withMaintenanceLease(store(fx), { dataset: 'transactions', operation: 'compact', holder: 'the test' }, () =>
      compactDataset({
        store: store(fx),
        contracts: loadContracts(),
        dataset: 'transactions',
        workDir: join(fx.scratchDir, 'compact'),
      }),
    );
    await expectEveryRowOnce(fx, ids);
    const byVersion: Record<string, number> = {};
    for (const r of await silverRows(fx, 'transactions'))
      byVersion[String(r.contract_version)] = (byVersion[String(r.contract_version)] ?? 0) + 1;
    expect(byVersion).toEqual({ '1.0.0': 160, '1.99.0': 80 });
    // How: the raced ingest wrote nothing and said why.
    expect((raced[0] as Error).name).toBe('MaintenanceLeaseHeldError');
    expect((raced[0] as Error).message).toMatch(
      /the ingest of transactions\/partner-0\.csv of transactions did nothing/,
    );
  });

  it('the ingest function leaves a dataset alone while its lease is held (the message is retried), and lands once it is released', async () => {
    const fx = lake();
    const lease = await acquireMaintenanceLease(store(fx), {
      dataset: 'transactions',
      operation: 'erase',
      holder: 'an operator',
    });
    const path = join(fx.scratchDir, 'late.csv');
    await writeTransactionsCsv(path, {
      rows: 40,
      accounts: 2,
      from: '2024-01',
      to: '2024-01',
      seed: 5,
      badRowRatio: 0,
    });
    await putBronze(fx, 'transactions/late.csv', await readFile(path));
    const blocked = await drain(fx, { maxInvocations: 1, retryImmediately: true });
    expect(blocked.flatMap((i) => i.failed).length).toBeGreaterThan(0);
    expect(fx.output.join('\n')).toMatch(/holds the maintenance lease/);
    expect(await getManifests(fx, 'transactions')).toEqual([]);
    expect(await listKeys(fx, fx.lake.buckets.silver, 'transactions/')).toEqual([]);
    expect(await listKeys(fx, fx.lake.buckets.silver, '_pending/')).toEqual([]);

    const status = await awsCli(fx, ['status']);
    expect(status.code, status.stderr).toBe(0);
    expect(status.stdout).toMatch(/Unfinished maintenance/);
    expect(status.stdout).toContain(lease.lease_id);

    const compact = await awsCli(fx, ['compact', '--dataset', 'transactions']);
    expect(compact.code).toBe(2);
    expect(compact.stderr).toMatch(/the compact of transactions did nothing: the erasure .* by an operator holds/);

    const unlock = await awsCli(fx, ['unlock', '--dataset', 'transactions', '--lease', lease.lease_id]);
    expect(unlock.code, unlock.stderr).toBe(0);
    expect(unlock.stdout).toMatch(/Released the maintenance lease/);
    await drain(fx);
    const manifests = await getManifests(fx, 'transactions');
    expect(manifests.map((m) => [m.source.key, m.rows_valid])).toEqual([['transactions/late.csv', 40]]);
  });

  it("a holder's release after lake unlock freed its lease and another maintenance took it: the new lease stays (If-Match)", async () => {
    const fx = lake();
    const s3 = store(fx);
    const acquire = (holder: string) =>
      acquireMaintenanceLease(s3, { dataset: 'transactions', operation: 'compact', holder });
    const ours = await acquire('slow compaction');
    let next: MaintenanceLease | undefined;
    let injected = false;
    // Between the release's read of the lease and its delete: lake unlock releases it, another compaction takes it.
    const racing = withOverrides(s3, {
      getBytesWithEtag: async (...args: Parameters<ObjectStore['getBytesWithEtag']>) => {
        const read = await s3.getBytesWithEtag(...args);
        if (!injected) {
          injected = true;
          expect(await releaseMaintenanceLease(s3, 'transactions', ours.lease_id)).toBe('released');
          next = await acquire('next compaction');
        }
        return read;
      },
    });
    expect(await releaseMaintenanceLease(racing, 'transactions', ours.lease_id)).toBe('held_by_another');
    expect((await readMaintenanceLease(s3, 'transactions'))?.lease_id).toBe(next?.lease_id);
    expect(await releaseMaintenanceLease(s3, 'transactions', next!.lease_id)).toBe('released');
  });

  it('a stale lease (its holder crashed) is never taken over: compact --aws names it and the command that releases it', async () => {
    const fx = lake();
    const lease = await acquireMaintenanceLease(store(fx), {
      dataset: 'transactions',
      operation: 'compact',
      holder: 'a crashed laptop',
      ttlMs: 0,
    });
    const compact = await awsCli(fx, ['compact', '--dataset', 'transactions']);
    expect(compact.code).toBe(2);
    expect(compact.stderr).toContain(
      `npx lake unlock --dataset transactions --lease ${lease.lease_id} --aws --stack MedallionLake-it`,
    );
    expect(compact.stderr).toMatch(/expired at .* its holder probably stopped/);
    const status = await awsCli(fx, ['status', '--json']);
    expect(JSON.parse(status.stdout)).toMatchObject({
      unfinished_maintenance: [
        {
          kind: 'lease',
          state: 'stale lease',
          resume: `npx lake unlock --dataset transactions --lease ${lease.lease_id} --aws --stack MedallionLake-it`,
        },
      ],
    });
    const wrong = await awsCli(fx, ['unlock', '--dataset', 'transactions', '--lease', 'compact-not-this-one']);
    expect(wrong.code).toBe(2);
    expect(wrong.stderr).toMatch(/is not the one held/);
    expect(await listKeys(fx, fx.lake.buckets.silver, '_maintenance/leases/')).toEqual([
      '_maintenance/leases/transactions.json',
    ]);
  });

  it('lake status --aws lists a compaction that stopped between its upload and its switch, with the command that finishes it', async () => {
    const fx = lake();
    await januaryFiles(fx, 2);
    const ids = (await silverRows(fx, 'transactions')).map((r) => String(r.transaction_id));
    await expect(
      compactDataset({
        store: store(fx),
        contracts: loadContracts(),
        dataset: 'transactions',
        workDir: join(fx.scratchDir, 'compact'),
        beforeSwitch: () => Promise.reject(new Error('killed')),
      }),
    ).rejects.toThrow('killed');
    const status = await awsCli(fx, ['status', '--json']);
    expect(status.code, status.stderr).toBe(0);
    expect(JSON.parse(status.stdout)).toMatchObject({
      unfinished_maintenance: [
        {
          kind: 'compaction',
          state: 'interrupted',
          resume: 'npx lake compact --dataset transactions --aws --stack MedallionLake-it',
        },
      ],
    });
    const resumed = await awsCli(fx, ['compact', '--dataset', 'transactions']);
    expect(resumed.code, resumed.stderr).toBe(0);
    expect(resumed.stdout).toMatch(/interrupted compaction .* was finished/);
    const after = await awsCli(fx, ['status']);
    expect(after.stdout).toMatch(/No unfinished maintenance/);
    await expectEveryRowOnce(fx, ids);
  });

  it("a delivery writing the source's intent record between the publish's read and its write (If-None-Match, If-Match): its keys are named too, nothing orphaned", async () => {
    const fx = lake();
    await januaryFiles(fx, 1);
    const ids = (await silverRows(fx, 'transactions')).map((r) => String(r.transaction_id));
    const [first] = await getManifests(fx, 'transactions');
    const s3 = store(fx);
    // A delivery of the same source under another contract (other keys): its record and its silver file (a copy of
    // the source's January rows: seen twice while it stays), written right before this publish's first intent
    // write. It then dies. This publish dies too, before its manifest.
    const otherKey = `transactions/year=2023/month=11/part-${first!.source_id}-00000.parquet`;
    const other: PendingIngest = {
      dataset: 'transactions',
      run_id: 'a run under another contract',
      source: first!.source,
      started_at: first!.started_at,
      silver_keys: [otherKey],
      quarantine_keys: [],
      attempt_id: 'the other delivery',
    };
    let raced = false;
    const racing = withOverrides(s3, {
      putBytes: async (...args: Parameters<ObjectStore['putBytes']>) => {
        if (args[1].startsWith('_pending/') && !raced) {
          raced = true;
          await s3.putBytes('silver', args[1], JSON.stringify(other), 'application/json');
          await s3.copy('silver', first!.partitions[0]!.files[0]!, otherKey);
        }
        if (args[1].startsWith('_manifests/')) throw new Error('killed before the manifest');
        return s3.putBytes(...args);
      },
    });
    await expect(ingestThroughEngine(fx, 'transactions/partner-0.csv', loadContracts(), racing)).rejects.toThrow(
      /killed before the manifest/,
    );
    expect(raced).toBe(true);
    const [intentKey] = await listKeys(fx, fx.lake.buckets.silver, '_pending/');
    const left = JSON.parse(Buffer.from((await s3.getBytes('silver', intentKey!)) ?? []).toString()) as {
      silver_keys: string[];
    };
    expect(left.silver_keys).toEqual(expect.arrayContaining([...first!.partitions[0]!.files, otherKey]));

    await ingestThroughEngine(fx, 'transactions/partner-0.csv', loadContracts()); // the retry; both others dead
    await expectEveryRowOnce(fx, ids);
    expect(await listKeys(fx, fx.lake.buckets.silver, '_pending/')).toEqual([]);
  });
});
