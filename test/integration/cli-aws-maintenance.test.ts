/**
 * `lake compact --aws` and `lake erase --aws` against the emulated lake (S3 + Glue provisioned from the
 * synthesized template; the bundled ingest function fills silver): the same engine use cases as locally, on
 * the buckets, with partition locations unchanged and redeliveries duplicating nothing afterwards.
 */
import { ListObjectVersionsCommand } from '@aws-sdk/client-s3';
import { describe, it } from '@jest/globals';
import { expect } from '../support/expect.ts';
import type { GenerationReport } from '../../generator/generate.ts';
import { awsCli } from '../support/integration/aws-cli.ts';
import { ingestProducerFiles } from '../support/integration/producer-files.ts';
import {
  drain,
  getManifests,
  getText,
  gluePartitions,
  listKeys,
  quarantineRows,
  silverRows,
  skipReason,
  useLake,
  type LakeFixture,
} from '../support/integration/lake-fixture.ts';

const cli = awsCli;

/** Several small producer files of the same months, ingested by the bundled function. */
const smallFiles = (fx: LakeFixture, count: number): Promise<GenerationReport> =>
  ingestProducerFiles(fx, { count, rows: 120, from: '2024-01', to: '2024-02', seed: 7, badRowRatio: 0.05 });

const rowKey = (r: Record<string, unknown>) => JSON.stringify(r);

(skipReason ? describe.skip : describe)('lake compact --aws and lake erase --aws, against the emulated lake', () => {
  const lake = useLake();

  it('compact --aws: many small files per month become one, same rows, same partition locations; twice changes nothing; a redelivery duplicates nothing', async () => {
    const fx = lake();
    await smallFiles(fx, 4);
    const before = (await silverRows(fx, 'transactions')).map(rowKey).sort();
    const partitionsBefore = await gluePartitions(fx, 'transactions');
    expect(await listKeys(fx, fx.lake.buckets.silver, 'transactions/year=2024/month=01/')).toHaveLength(4);

    const dry = await cli(fx, ['compact', '--dry-run']);
    expect(dry.code, dry.stderr).toBe(0);
    expect(dry.stdout).toMatch(/would compact 8 files into 2 files/);
    expect(await listKeys(fx, fx.lake.buckets.silver, 'transactions/year=2024/month=01/')).toHaveLength(4);

    const r = await cli(fx, ['compact', '--dataset', 'transactions', '--json']);
    expect(r.code, r.stderr).toBe(0);
    const [report] = JSON.parse(r.stdout) as Array<{
      files_before: number;
      files_after: number;
      groups: Array<{ status: string }>;
    }>;
    expect(report).toMatchObject({ files_before: 8, files_after: 2 });
    expect(report?.groups.map((g) => g.status)).toEqual(['compacted', 'compacted']);
    expect(await listKeys(fx, fx.lake.buckets.silver, 'transactions/year=2024/month=01/')).toEqual([
      expect.stringMatching(/\/part-compacted-[0-9a-f]{16}\.parquet$/),
    ]);
    // Same multiset of rows both ways (sorted JSON of every row, lineage columns included).
    expect((await silverRows(fx, 'transactions')).map(rowKey).sort()).toEqual(before);
    expect((await gluePartitions(fx, 'transactions')).map((p) => p.StorageDescriptor?.Location)).toEqual(
      partitionsBefore.map((p) => p.StorageDescriptor?.Location),
    );
    for (const m of await getManifests(fx, 'transactions')) expect(m.compactions).toHaveLength(2);
    expect(await listKeys(fx, fx.lake.buckets.silver, '_maintenance/compactions/')).toEqual([]);

    const again = await cli(fx, ['compact']);
    expect(again.code, again.stderr).toBe(0);
    expect(again.stdout).toMatch(/nothing to compact/);

    // The same object versions announced again (`lake replay --aws`, as an SQS redelivery does): the function
    // keeps the compacted rows as they are instead of writing the sources' own files again.
    const replay = await cli(fx, ['replay', '--dataset', 'transactions']);
    expect(replay.code, replay.stderr).toBe(0);
    expect((await drain(fx)).length).toBeGreaterThan(0);
    expect((await silverRows(fx, 'transactions')).map(rowKey).sort()).toEqual(before);
    expect(await listKeys(fx, fx.lake.buckets.silver, 'transactions/year=2024/month=01/')).toHaveLength(1);
  });

  it('erase --aws: removes an account from silver and quarantine, records the erasure in the silver bucket, and a dry run writes nothing', async () => {
    const fx = lake();
    const report = await smallFiles(fx, 2);
    const account = report.accounts[0] as string;
    const rows = await silverRows(fx, 'transactions');
    const matching = rows.filter((r) => r.account_id === account).length;
    expect(matching).toBeGreaterThan(0);
    const quarantinedBefore = (await quarantineRows(fx, 'transactions')).length;

    const dry = await cli(fx, [
      'erase',
      '--dataset',
      'transactions',
      '--where',
      `account_id = '${account}'`,
      '--dry-run',
      '--json',
    ]);
    expect(dry.code, dry.stderr).toBe(0);
    expect(JSON.parse(dry.stdout)).toMatchObject({ status: 'dry_run', rows_removed: { silver: matching } });
    expect(await listKeys(fx, fx.lake.buckets.silver, '_audit/')).toEqual([]);
    expect(await silverRows(fx, 'transactions')).toHaveLength(rows.length);

    const r = await cli(fx, [
      'erase',
      '--dataset',
      'transactions',
      '--where',
      `account_id = '${account}'`,
      '--requested-by',
      'ticket DPO-7',
      '--json',
    ]);
    expect(r.code, r.stderr).toBe(0);
    const record = JSON.parse(r.stdout) as {
      erasure_id: string;
      rows_removed: { silver: number; quarantine: number };
      requested_by: string;
      files: Array<{ zone: string; key: string; earlier_versions_deleted: number }>;
    };
    expect(record.rows_removed.silver).toBe(matching);
    // The versioned buckets kept the replaced bytes as earlier versions: those are deleted for good.
    for (const f of record.files) {
      expect(f.earlier_versions_deleted, f.key).toBeGreaterThanOrEqual(1);
      const bucket = f.zone === 'silver' ? fx.lake.buckets.silver : fx.lake.buckets.quarantine;
      const versions = await fx.clients.s3.send(new ListObjectVersionsCommand({ Bucket: bucket, Prefix: f.key }));
      expect((versions.Versions ?? []).filter((v) => v.Key === f.key).length, f.key).toBe(1);
    }
    const after = await silverRows(fx, 'transactions');
    expect(after.map(rowKey)).toEqual(rows.filter((x) => x.account_id !== account).map(rowKey));
    expect((await quarantineRows(fx, 'transactions')).length).toBe(quarantinedBefore - record.rows_removed.quarantine);
    const audit = JSON.parse(
      await getText(fx, fx.lake.buckets.silver, `_audit/erasures/transactions/${record.erasure_id}.json`),
    ) as typeof record;
    expect(audit).toEqual(record);
    expect(JSON.stringify(audit)).not.toContain(account);
    const manifests = await getManifests(fx, 'transactions');
    expect(manifests.reduce((s, m) => s + (m.erasures ?? []).reduce((t, e) => t + e.rows_valid_removed, 0), 0)).toBe(
      matching,
    );
    for (const m of manifests) expect(m.rows_in).toBe(m.rows_valid + m.rows_quarantined);

    const bad = await cli(fx, ['erase', '--dataset', 'transactions', '--where', 'owner = x']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/unknown column "owner"/);
  });
});
