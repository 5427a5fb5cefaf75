import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from '@jest/globals';
import { assertConservation } from '../../../engine/ingest.ts';
import {
  EngineInvariantError,
  manifestKey,
  pendingKey,
  type Manifest,
  type PendingIngest,
} from '../../../engine/index.ts';
import { csv, createTestLake, type TestLake } from '../../support/local-lake.ts';

const ROWS = csv(
  'T1,A,1.00,EUR,2024-01-05T00:00:00Z',
  'T2,B,2.00,USD,2024-02-05T00:00:00Z',
  'T3,C,bad,EUR,2024-02-06T00:00:00Z',
);

async function snapshot(lake: TestLake) {
  const silver = await lake.files('silver', 'transactions/');
  const bytes = await Promise.all(silver.map((k) => readFile(join(lake.root, 'silver', k))));
  return {
    silver,
    bytes: bytes.map((b) => b.toString('base64')),
    rows: await lake.silverRows(),
    quarantine: await lake.quarantineRows(),
  };
}

/** Pretends an earlier run of the same source (e.g. under an older contract) also wrote a December file. */
async function plantEarlierRunFile(lake: TestLake, m: Manifest): Promise<string> {
  const staleKey = `transactions/year=2023/month=12/part-${m.source_id}-00000.parquet`;
  await lake.store.putBytes('silver', staleKey, 'old');
  const previous: Manifest = {
    ...m,
    partitions: [
      ...m.partitions,
      { values: { year: '2023', month: '12' }, prefix: 'transactions/year=2023/month=12/', rows: 1, files: [staleKey] },
    ],
  };
  await lake.store.putBytes('silver', manifestKey('transactions', m.source_id), JSON.stringify(previous));
  return staleKey;
}

/**
 * Fault injection: every manifest write fails (a local directory cannot be made to fail on demand). Returns the
 * function that ends it.
 */
function failManifestWrites(lake: TestLake): () => void {
  const putBytes = lake.store.putBytes.bind(lake.store);
  lake.store.putBytes = async (zone, key, body, type, options) => {
    if (key.startsWith('_manifests/')) throw new Error('injected: manifest upload failed');
    return putBytes(zone, key, body, type, options);
  };
  return () => {
    lake.store.putBytes = putBytes;
  };
}

/**
 * An attempt of the same source that uploaded and never finished (e.g. under an older contract): its silver and
 * quarantine files and its intent record, which also names a file of another source.
 */
async function plantAbandonedAttempt(lake: TestLake, m: Manifest) {
  const abandonedKey = `transactions/year=2023/month=11/part-${m.source_id}-00000.parquet`;
  const abandonedQuarantine = `transactions/records/${m.source_id}-old.parquet`;
  const otherSourceKey = 'transactions/year=2023/month=11/part-0000000000000000-00000.parquet';
  await lake.store.putBytes('silver', abandonedKey, 'from an attempt under an older contract');
  await lake.store.putBytes('quarantine', abandonedQuarantine, 'its quarantine');
  await lake.store.putBytes('silver', otherSourceKey, 'another source');
  const intent: PendingIngest = {
    dataset: 'transactions',
    run_id: 'old',
    source: m.source,
    started_at: m.started_at,
    silver_keys: [abandonedKey, otherSourceKey],
    quarantine_keys: [abandonedQuarantine],
  };
  await lake.store.putBytes('silver', pendingKey('transactions', m.source_id), JSON.stringify(intent));
  return { abandonedKey, abandonedQuarantine, otherSourceKey };
}

describe('idempotency and conservation', () => {
  it('processing the same source again gives the same keys, the same bytes and no duplicate rows', async () => {
    const lake = await createTestLake();
    const first = await lake.ingest('transactions/a.csv', ROWS);
    const before = await snapshot(lake);
    const second = await lake.ingest('transactions/a.csv', ROWS);
    const third = await lake.ingest('transactions/a.csv', ROWS);
    expect(await snapshot(lake)).toEqual(before);
    expect(before.rows).toHaveLength(2);
    expect([second.run_id, third.run_id]).toEqual([first.run_id, first.run_id]);
    expect(second.partitions).toEqual(first.partitions);
  });

  it('two different sources (other key, or other version of the same key) never collide', async () => {
    const lake = await createTestLake();
    const a = await lake.ingest('transactions/a.csv', ROWS);
    const b = await lake.ingest('transactions/b.csv', ROWS);
    const a2 = await lake.ingest('transactions/a.csv', ROWS, { versionId: 'v2' });
    expect(new Set([a.source_id, b.source_id, a2.source_id]).size).toBe(3);
    expect(await lake.files('silver', 'transactions/')).toHaveLength(6);
    expect(await lake.silverRows()).toHaveLength(6); // duplicates across sources are resolved in the analyst layer
  });

  it('a re-run removes files an earlier run of the same source wrote but this run does not, only after publishing', async () => {
    const lake = await createTestLake();
    const m = await lake.ingest('transactions/a.csv', ROWS);
    const staleKey = await plantEarlierRunFile(lake, m);
    expect(await lake.files('silver', 'transactions/year=2023/')).toEqual([staleKey]);

    await lake.ingest('transactions/a.csv', ROWS);
    expect(await lake.files('silver', 'transactions/year=2023/')).toEqual([]);
    const manifest = JSON.parse(
      Buffer.from((await lake.store.getBytes('silver', manifestKey('transactions', m.source_id))) ?? []).toString(),
    ) as Manifest;
    expect(manifest.partitions.map((p) => p.prefix)).not.toContain('transactions/year=2023/month=12/');
  });

  it('writes the manifest as the completion marker, named with a leading underscore path Athena skips', async () => {
    const lake = await createTestLake();
    const m = await lake.ingest('transactions/a.csv', ROWS);
    expect(await lake.files('silver', '_manifests/')).toEqual([`_manifests/transactions/${m.source_id}.json`]);
    expect(m).toMatchObject({
      rows_in: 3,
      rows_valid: 2,
      rows_quarantined: 1,
      reasons: { INVALID_AMOUNT: 1 },
      contract_version: '1.0.0',
    });
    expect(m.bytes_out).toBe(
      (await Promise.all(m.partitions.flatMap((p) => p.files).map((k) => lake.store.getBytes('silver', k)))).reduce(
        (s, b) => s + (b?.length ?? 0),
        0,
      ),
    );
    expect(Date.parse(m.finished_at)).toBeGreaterThanOrEqual(Date.parse(m.started_at));
  });

  it('keeps the stale files of an earlier run when publishing the new manifest fails', async () => {
    const lake = await createTestLake();
    const m = await lake.ingest('transactions/a.csv', ROWS);
    const staleKey = await plantEarlierRunFile(lake, m);
    failManifestWrites(lake);
    await expect(lake.ingest('transactions/a.csv', ROWS)).rejects.toThrow(/manifest upload failed/);
    expect(await lake.files('silver', 'transactions/year=2023/')).toEqual([staleKey]);
  });

  it('leaves an intent record naming its files when an attempt never finishes; the next success removes it', async () => {
    const lake = await createTestLake();
    const restore = failManifestWrites(lake);
    await expect(lake.ingest('transactions/a.csv', ROWS)).rejects.toThrow(/manifest upload failed/);
    restore();
    // The attempt's files are in silver, described by no manifest, but named by its intent record.
    const [intentKey] = await lake.files('silver', '_pending/');
    expect(intentKey).toMatch(/^_pending\/transactions\/[0-9a-f]+\.json$/);
    const intent = JSON.parse(
      Buffer.from((await lake.store.getBytes('silver', intentKey as string)) ?? []).toString('utf8'),
    ) as PendingIngest;
    expect(intent.silver_keys.sort()).toEqual(await lake.files('silver', 'transactions/'));
    expect(intent.quarantine_keys).toHaveLength(1);
    expect(await lake.files('silver', '_manifests/')).toEqual([]);

    const m = await lake.ingest('transactions/a.csv', ROWS);
    expect(intentKey).toBe(pendingKey('transactions', m.source_id));
    expect(await lake.files('silver', '_pending/')).toEqual([]);
    expect(await lake.files('silver', '_manifests/')).toEqual([manifestKey('transactions', m.source_id)]);
  });

  it("removes the files of an abandoned attempt that the finished run does not write, and only this source's", async () => {
    const lake = await createTestLake();
    const m = await lake.ingest('transactions/a.csv', ROWS);
    const { otherSourceKey } = await plantAbandonedAttempt(lake, m);
    await lake.ingest('transactions/a.csv', ROWS);
    expect(await lake.files('silver', 'transactions/year=2023/')).toEqual([otherSourceKey]);
    expect(await lake.files('silver', '_pending/')).toEqual([]);
  });

  it("an abandoned attempt's files are still removed when the attempt after it dies too", async () => {
    const lake = await createTestLake();
    const m = await lake.ingest('transactions/a.csv', ROWS);
    const { abandonedKey, abandonedQuarantine, otherSourceKey } = await plantAbandonedAttempt(lake, m);
    // The next attempt writes its own record over the abandoned one, then dies before its manifest.
    const restore = failManifestWrites(lake);
    await expect(lake.ingest('transactions/a.csv', ROWS)).rejects.toThrow(/manifest upload failed/);
    restore();
    const dying = JSON.parse(
      Buffer.from((await lake.store.getBytes('silver', pendingKey('transactions', m.source_id))) ?? []).toString(),
    ) as PendingIngest;
    expect(dying.silver_keys).toContain(abandonedKey);
    expect(dying.silver_keys).not.toContain(otherSourceKey); // only this source's keys are carried on
    expect(dying.quarantine_keys).toContain(abandonedQuarantine);
    await lake.ingest('transactions/a.csv', ROWS);
    expect(await lake.files('silver', 'transactions/year=2023/')).toEqual([otherSourceKey]);
    expect(await lake.files('quarantine', 'transactions/records/')).not.toContain(abandonedQuarantine);
    expect(await lake.files('silver', '_pending/')).toEqual([]);
  });

  it('fails loudly when counts do not add up', () => {
    const base = {
      rows_in: 3,
      rows_valid: 2,
      rows_quarantined: 1,
      reasons: { X: 1 },
      partitions: [{ rows: 2 }],
      source: { key: 'k' },
    } as unknown as Manifest;
    expect(() => assertConservation(base)).not.toThrow();
    expect(() => assertConservation({ ...base, rows_in: 4 })).toThrow(EngineInvariantError);
    expect(() => assertConservation({ ...base, partitions: [] })).toThrow(/partitions of k hold 0 rows/);
    expect(() => assertConservation({ ...base, reasons: {} })).toThrow(/without a reason/);
  });
});
