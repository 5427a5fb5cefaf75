import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from '@jest/globals';
import { settleLandsBeforeFirstWrite, withOverrides } from '../../support/store-faults.ts';
import {
  ContractRegistry,
  eraseRows,
  ERASURES_PREFIX,
  loadContracts,
  manifestKey,
  parseContract,
  PredicateError,
  reflectedRun,
  type ErasureRecord,
  type Manifest,
  type ObjectStore,
} from '../../../engine/index.ts';
import { pendingSources, type GoldState } from '../../../engine/gold/index.ts';
import { ACCOUNT_MONTHLY_BALANCE } from '../../../datasets/index.ts';
import { readWithDuckDb } from '../../support/duckdb-reader.ts';
import { csv, createTestLake, type TestLake } from '../../support/local-lake.ts';

const contracts = loadContracts();
const JAN = csv(
  'T1,ACC001,1.00,EUR,2024-01-05T00:00:00Z',
  'T2,ACC002,2.00,USD,2024-01-06T00:00:00Z',
  'T3,ACC001,bad,EUR,2024-01-07T00:00:00Z',
  'T4,ACC0011,4.00,EUR,2024-01-08T00:00:00Z',
);
const FEB = csv(
  'T5,ACC001,5.00,EUR,2024-02-05T00:00:00Z',
  'T6,ACC003,6.00,GBP,2024-02-06T00:00:00Z',
  'T7,ACC003,7.00,XXX,2024-02-07T00:00:00Z',
);

async function lakeWithTwoSources(): Promise<{ lake: TestLake; jan: Manifest; feb: Manifest }> {
  const lake = await createTestLake(contracts);
  const jan = await lake.ingest('transactions/2024-01.csv', JAN);
  const feb = await lake.ingest('transactions/2024-02.csv', FEB, { etag: 'etag-2' });
  return { lake, jan, feb };
}

async function manifestOf(lake: TestLake, m: Manifest): Promise<Manifest> {
  return JSON.parse(
    await readFile(join(lake.root, 'silver', manifestKey('transactions', m.source_id)), 'utf8'),
  ) as Manifest;
}

async function fileState(lake: TestLake): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const zone of ['silver', 'quarantine'] as const) {
    for (const k of await lake.files(zone)) {
      const s = await stat(join(lake.root, zone, k));
      out[`${zone}/${k}`] = `${s.size}:${s.mtimeMs}`;
    }
  }
  return out;
}

const erase = (
  lake: TestLake,
  where: string,
  extra: { dryRun?: boolean; piiSalt?: string; contracts?: ContractRegistry; dataset?: string } = {},
) =>
  eraseRows({
    store: lake.store,
    contracts: extra.contracts ?? contracts,
    dataset: extra.dataset ?? 'transactions',
    where,
    requestedBy: 'dpo@example.org',
    workDir: lake.root,
    ...extra,
  });

describe('erasure', () => {
  it('removes exactly the matching rows from silver and quarantine, records them per source, and keeps every other row', async () => {
    const { lake, jan, feb } = await lakeWithTwoSources();
    const silverBefore = await lake.silverRows();
    const record = await erase(lake, "account_id = 'ACC001'");

    const silverAfter = await lake.silverRows();
    expect(silverAfter.map((r) => r.transaction_id)).toEqual(['T2', 'T4', 'T6']);
    // Every remaining row is byte-for-byte the row it was (lineage included).
    expect(silverAfter).toEqual(silverBefore.filter((r) => r.account_id !== 'ACC001'));
    // Quarantine: T3 (ACC001, bad amount) is gone, T7 (ACC003) stays.
    expect((await lake.quarantineRows()).map((r) => JSON.parse(String(r.raw_record)).TransactionID)).toEqual(['T7']);

    expect(record.status).toBe('completed');
    expect(record.rows_removed).toEqual({ silver: 2, quarantine: 1 });
    expect(record.months).toEqual(['2024-01', '2024-02']);
    expect(record.predicate.column).toBe('account_id');
    expect(JSON.stringify(record)).not.toContain('ACC001');
    expect(record.sources).toEqual([
      {
        run_id: jan.run_id,
        source_id: jan.source_id,
        source_key: 'transactions/2024-01.csv',
        rows_valid_removed: 1,
        rows_quarantined_removed: 1,
      },
      {
        run_id: feb.run_id,
        source_id: feb.source_id,
        source_key: 'transactions/2024-02.csv',
        rows_valid_removed: 1,
        rows_quarantined_removed: 0,
      },
    ]);
    // The audit record is in silver/_audit/erasures/, as returned.
    const [auditKey] = await lake.files('silver', ERASURES_PREFIX);
    expect(auditKey).toBe(`${ERASURES_PREFIX}transactions/${record.erasure_id}.json`);
    expect(JSON.parse(await readFile(join(lake.root, 'silver', auditKey as string), 'utf8'))).toEqual(record);

    // Manifests keep what the ingest saw (conservation holds) and explain what silver holds now.
    const janNow = await manifestOf(lake, jan);
    expect(janNow.rows_in).toBe(janNow.rows_valid + janNow.rows_quarantined);
    expect(janNow.erasures).toEqual([
      {
        erasure_id: record.erasure_id,
        erased_at: record.started_at,
        record_key: auditKey,
        rows_valid_removed: 1,
        rows_quarantined_removed: 1,
        // the files whose rows it counts (each once): the January silver file and the quarantine file
        files: record.files
          .filter((f) => f.zone === 'quarantine' || f.key.includes('/month=01/'))
          .map((f) => `${f.zone}/${f.key}`),
      },
    ]);
    expect(janNow.erasures?.[0]?.files).toHaveLength(2);
    const silverJan = silverAfter.filter((r) => r.ingest_run_id === jan.run_id).length;
    expect(silverJan).toBe(janNow.rows_valid - 1);
  });

  it('makes gold see the erased sources as pending, so their months are recomputed', async () => {
    const { lake, jan, feb } = await lakeWithTwoSources();
    const state: GoldState = {
      state_version: 1,
      table: 'account_monthly_balance',
      build_version: 'x',
      refresh_id: 'r',
      first_month: '2024-01',
      last_month: '2024-02',
      sources: {
        [jan.source_id]: { run_id: jan.run_id, months: ['2024-01'] },
        [feb.source_id]: { run_id: feb.run_id, months: ['2024-02'] },
      },
    };
    const table = { ...ACCOUNT_MONTHLY_BALANCE, buildVersion: 'x' };
    expect(pendingSources([jan, feb], state, table).manifests).toEqual([]);
    await erase(lake, 'account_id = ACC002');
    const now = [await manifestOf(lake, jan), await manifestOf(lake, feb)];
    expect(pendingSources(now, state, table).manifests.map((m) => m.source_id)).toEqual([jan.source_id]);
    expect(reflectedRun(now[0] as Manifest)).not.toBe(jan.run_id);
  });

  it('a dry run reports the same and writes nothing', async () => {
    const { lake } = await lakeWithTwoSources();
    const before = await fileState(lake);
    const dry = await erase(lake, "account_id = 'ACC001'", { dryRun: true });
    expect(await fileState(lake)).toEqual(before);
    expect(dry).toMatchObject({ status: 'dry_run', dry_run: true, rows_removed: { silver: 2, quarantine: 1 } });
    expect(dry.files.map((f) => `${f.zone}:${f.rows_removed}`).sort()).toEqual([
      'quarantine:1',
      'silver:1',
      'silver:1',
    ]);
  });

  it('a predicate matching nothing changes nothing; running an erasure again removes nothing more', async () => {
    const { lake } = await lakeWithTwoSources();
    const none = await erase(lake, "account_id = 'NOBODY'");
    expect(none.rows_removed).toEqual({ silver: 0, quarantine: 0 });
    expect(none.files).toEqual([]);
    await erase(lake, 'account_id = ACC001');
    const after = await fileState(lake);
    const again = await erase(lake, 'account_id = ACC001');
    expect(again.rows_removed).toEqual({ silver: 0, quarantine: 0 });
    const files = Object.keys(await fileState(lake)).filter((k) => !k.includes('_audit/'));
    expect(files).toEqual(Object.keys(after).filter((k) => !k.includes('_audit/')));
  });

  it('matches typed values: a decimal and a timestamp as the contract types them', async () => {
    const { lake } = await lakeWithTwoSources();
    expect((await erase(lake, 'amount = 2', { dryRun: true })).rows_removed.silver).toBe(1);
    expect(
      (await erase(lake, "transaction_timestamp = '2024-02-06T01:00:00+01:00'", { dryRun: true })).rows_removed.silver,
    ).toBe(1);
  });

  it.each([
    ['account = ACC001', /unknown column "account".*account_id/],
    ["account_id != 'ACC001'", /cannot read the predicate|not a plain value/],
    ["account_id = 'ACC001' OR 1=1", /unterminated|plain value|doubled/],
    ["account_id = 'x' OR 'a'='a'", /doubled/],
    ['account_id = ACC001; DROP TABLE x', /not a plain value/],
    ['account_id IN (1, 2)', /cannot read the predicate/],
    ['account_id =', /no value/],
    ["account_id = '  '", /blank/],
    ['amount = lots', /not a valid decimal\(18,2\) for column amount/],
  ])('refuses %s before touching anything', async (where, message) => {
    const { lake } = await lakeWithTwoSources();
    const before = await fileState(lake);
    const error = await erase(lake, where).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(PredicateError);
    expect((error as Error).message).toMatch(message);
    expect(await fileState(lake)).toEqual(before);
  });

  it('a quoted value is a value, never SQL', async () => {
    const { lake } = await lakeWithTwoSources();
    const record = await erase(lake, "account_id = 'x'' OR ''1''=''1'");
    expect(record.rows_removed).toEqual({ silver: 0, quarantine: 0 });
    expect(await lake.silverRows()).toHaveLength(5);
  });

  it('a hash PII column: the raw value is hashed with the lake salt as the ingest hashes it', async () => {
    const people = parseContract(
      {
        name: 'people',
        version: '1',
        bronzePrefix: 'people/',
        source: { format: 'csv', delimiter: ',' },
        columns: [
          { name: 'person_id', type: 'string', required: true },
          { name: 'email', type: 'string', pii: 'hash' },
          { name: 'age', type: 'int', checks: { min: 0 } },
        ],
        partitionBy: [],
      },
      'people.json',
    );
    const registry = new ContractRegistry([people]);
    const lake = await createTestLake(registry, {});
    // createTestLake ingests without a salt; a salted lake is built by hand here.
    const { ingestObject } = await import('../../../engine/index.ts');
    const body = 'person_id,email,age\n1,ana@example.org,30\n2,bob@example.org,40\n3,ana@example.org,-1\n';
    await lake.store.putBytes('bronze', 'people/p.csv', body);
    await ingestObject(
      { bucket: 'b', key: 'people/p.csv', etag: 'e' },
      (async function* () {
        yield Buffer.from(body);
      })(),
      {
        contracts: registry,
        store: lake.store,
        catalog: lake.catalog,
        workDir: lake.root,
        piiSalt: 'pepper',
      },
    );
    const unsalted = await erase(lake, 'email = ana@example.org', {
      contracts: registry,
      dataset: 'people',
      dryRun: true,
    });
    expect(unsalted.rows_removed.silver).toBe(0);
    const record = await erase(lake, " email = ' ana@example.org' ", {
      contracts: registry,
      dataset: 'people',
      piiSalt: 'pepper',
    });
    expect(record.rows_removed).toEqual({ silver: 1, quarantine: 0 });
    expect(record.predicate.value_hash_algorithm).toMatch(/hmac/);
    const rows = await readWithDuckDb(`SELECT person_id FROM read_parquet('${lake.root}/silver/people/*.parquet')`);
    expect(rows).toEqual([{ person_id: '2' }]);
    const audit = (await lake.files('silver', ERASURES_PREFIX))[0] as string;
    const written = JSON.parse(await readFile(join(lake.root, 'silver', audit), 'utf8')) as ErasureRecord;
    expect(JSON.stringify(written)).not.toContain('ana@');
  });

  it('deletes a whole rejected file kept in quarantine when it holds the value (gzip too), and keeps the others', async () => {
    const { lake } = await lakeWithTwoSources();
    const { gzipSync } = await import('node:zlib');
    const rejected = await lake.ingest('transactions/broken.csv.gz', gzipSync('Who,What\nACC001,1\n'), {
      etag: 'etag-3',
    });
    const other = await lake.ingest('transactions/other.csv', 'Who,What\nACC002,1\n', { etag: 'etag-4' });
    expect([rejected.status, other.status]).toEqual(['rejected', 'rejected']);
    const record = await erase(lake, 'account_id = ACC001');
    expect(record.files.filter((f) => f.action === 'deleted').map((f) => f.key)).toEqual([
      rejected.quarantine.file_key,
    ]);
    expect(await lake.files('quarantine', 'transactions/files/')).toEqual([other.quarantine.file_key]);
    // A redelivery of the rejected object does not put the copy back.
    await lake.ingest('transactions/broken.csv.gz', gzipSync('Who,What\nACC001,1\n'), { etag: 'etag-3' });
    expect(await lake.files('quarantine', 'transactions/files/')).toEqual([other.quarantine.file_key]);
  });

  it('a re-ingest of an erased source (the same run: a redelivery, a replay) does not bring the rows back', async () => {
    const { lake, jan } = await lakeWithTwoSources();
    await erase(lake, 'account_id = ACC001');
    const rows = await lake.silverRows();
    const quarantined = await lake.quarantineRows();
    const again = await lake.ingest('transactions/2024-01.csv', JAN);
    expect(again.run_id).toBe(jan.run_id);
    expect(again.erasures).toHaveLength(1);
    expect(await lake.silverRows()).toEqual(rows);
    expect(await lake.quarantineRows()).toEqual(quarantined);
  });

  it('an interrupted erasure (a failing upload half-way) is finished by running it again; every removed row is counted once', async () => {
    const { lake, jan, feb } = await lakeWithTwoSources();
    // Fault injection: the second Parquet upload fails, as a full disk or a lost connection would.
    let puts = 0;
    const failing = withOverrides(lake.store, {
      putFile: async (...args: Parameters<typeof lake.store.putFile>) => {
        if (args[1].endsWith('.parquet') && ++puts === 2) throw new Error('injected: upload failed');
        return lake.store.putFile(...args);
      },
    });
    const first = await eraseRows({
      store: failing,
      contracts,
      dataset: 'transactions',
      where: 'account_id = ACC001',
      requestedBy: 't',
      workDir: lake.root,
    }).catch((e: unknown) => e);
    expect((first as Error).message).toMatch(/injected/);
    const [started] = await lake.files('silver', ERASURES_PREFIX);
    expect(JSON.parse(await readFile(join(lake.root, 'silver', started as string), 'utf8'))).toMatchObject({
      status: 'started',
    });
    expect((await lake.silverRows()).filter((r) => r.account_id === 'ACC001')).toHaveLength(1); // one file done, one not

    const second = await erase(lake, 'account_id = ACC001');
    expect(second.status).toBe('completed');
    expect((await lake.silverRows()).filter((r) => r.account_id === 'ACC001')).toEqual([]);
    expect((await lake.quarantineRows()).map((r) => JSON.parse(String(r.raw_record)).TransactionID)).toEqual(['T7']);
    const removed = async (m: Manifest) =>
      ((await manifestOf(lake, m)).erasures ?? []).reduce(
        (s, e) => s + e.rows_valid_removed + e.rows_quarantined_removed,
        0,
      );
    expect((await removed(jan)) + (await removed(feb))).toBe(3); // 2 silver + 1 quarantined, each once
    expect((await lake.silverRows()).length).toBe(jan.rows_valid + feb.rows_valid - 2);
  });

  // Fault injection: the process dies right after the n-th rewritten Parquet is uploaded (the upload went
  // through; nothing after it ran), as a Lambda timeout or an out-of-memory kill would.
  it.each([1, 2, 3])(
    'an erasure that dies right after uploading rewritten file %i: running it again resumes it, every manifest records it once, and a re-ingest keeps the rows out',
    async (dieAfter) => {
      const { lake, jan, feb } = await lakeWithTwoSources();
      let puts = 0;
      const dying = withOverrides(lake.store, {
        putFile: async (...args: Parameters<typeof lake.store.putFile>) => {
          const put = await lake.store.putFile(...args);
          if (args[1].endsWith('.parquet') && ++puts === dieAfter) throw new Error('injected: died after upload');
          return put;
        },
      });
      const first = await eraseRows({
        store: dying,
        contracts,
        dataset: 'transactions',
        where: 'account_id = ACC001',
        requestedBy: 't',
        workDir: lake.root,
      }).catch((e: unknown) => e);
      expect((first as Error).message).toMatch(/injected/);

      const second = await erase(lake, 'account_id = ACC001');
      expect(second.status).toBe('completed');
      // The interrupted record is resumed and completed under its id, not left `started` beside a new one.
      expect(await lake.files('silver', ERASURES_PREFIX)).toEqual([
        `${ERASURES_PREFIX}transactions/${second.erasure_id}.json`,
      ]);
      expect(second.rows_removed).toEqual({ silver: 2, quarantine: 1 });
      expect(second.files.map((f) => `${f.zone}:${f.rows_removed}`).sort()).toEqual([
        'quarantine:1',
        'silver:1',
        'silver:1',
      ]);
      expect(second.sources.map((s) => [s.source_key, s.rows_valid_removed, s.rows_quarantined_removed])).toEqual([
        ['transactions/2024-01.csv', 1, 1],
        ['transactions/2024-02.csv', 1, 0],
      ]);
      const counted = async (m: Manifest) =>
        ((await manifestOf(lake, m)).erasures ?? []).map((e) => [
          e.erasure_id,
          e.rows_valid_removed,
          e.rows_quarantined_removed,
        ]);
      expect(await counted(jan)).toEqual([[second.erasure_id, 1, 1]]);
      expect(await counted(feb)).toEqual([[second.erasure_id, 1, 0]]);

      // A redelivered event or a replay of both sources (same contract): the erased rows stay out.
      const silver = await lake.silverRows();
      const quarantined = await lake.quarantineRows();
      expect(silver.filter((r) => r.account_id === 'ACC001')).toEqual([]);
      await lake.ingest('transactions/2024-01.csv', JAN);
      await lake.ingest('transactions/2024-02.csv', FEB, { etag: 'etag-2' });
      expect(await lake.silverRows()).toEqual(silver);
      expect(await lake.quarantineRows()).toEqual(quarantined);
    },
  );

  it('an erasure that dies before deleting the earlier versions of a replaced file deletes them when resumed', async () => {
    const { lake } = await lakeWithTwoSources();
    // Fault injection: a versioned store (the local one keeps no versions) whose first purge dies.
    const purged: string[] = [];
    const versioned = withOverrides<ObjectStore>(lake.store, {
      purgeEarlierVersions: async (zone: string, key: string) => {
        purged.push(`${zone}/${key}`);
        if (purged.length === 1) throw new Error('injected: died before the purge');
        return 1;
      },
    });
    const run = () =>
      eraseRows({
        store: versioned,
        contracts,
        dataset: 'transactions',
        where: 'account_id = ACC001',
        requestedBy: 't',
        workDir: lake.root,
      });
    expect(String(await run().catch((e: unknown) => e))).toMatch(/injected/);
    const record = await run();
    const firstFile = purged[0] as string;
    expect(purged.filter((k) => k === firstFile)).toHaveLength(2);
    expect(record.files.map((f) => f.earlier_versions_deleted)).toEqual([1, 1, 1]);
  });

  it('an erasure whose manifest update fails is finished by running it again, and a re-ingest then keeps the rows out', async () => {
    const lake = await createTestLake(contracts);
    const only = csv('T1,ACC001,1.00,EUR,2024-01-05T00:00:00Z', 'T2,ACC002,2.00,USD,2024-01-06T00:00:00Z');
    const m = await lake.ingest('transactions/2024-01.csv', only);
    // Fault injection: every manifest write fails.
    const failing = withOverrides(lake.store, {
      putBytes: async (...args: Parameters<typeof lake.store.putBytes>) => {
        if (args[1].includes('_manifests')) throw new Error('injected: manifest write failed');
        return lake.store.putBytes(...args);
      },
    });
    const first = await eraseRows({
      store: failing,
      contracts,
      dataset: 'transactions',
      where: 'account_id = ACC001',
      requestedBy: 't',
      workDir: lake.root,
    }).catch((e: unknown) => e);
    expect((first as Error).message).toMatch(/injected/);
    const second = await erase(lake, 'account_id = ACC001');
    expect(second.status).toBe('completed');
    const again = await lake.ingest('transactions/2024-01.csv', only);
    expect(again.run_id).toBe(m.run_id);
    expect((await lake.silverRows()).map((r) => r.transaction_id)).toEqual(['T2']);
    expect((await manifestOf(lake, m)).erasures?.map((e) => [e.erasure_id, e.rows_valid_removed])).toEqual([
      [second.erasure_id, 1],
    ]);
  });

  it('a manifest changed between its read and the erasure writing it keeps that change (a settle announcing a removal is not undone)', async () => {
    const { lake, jan } = await lakeWithTwoSources();
    const key = manifestKey('transactions', jan.source_id);
    const settledAt = '2026-12-04T10:00:00.000Z';
    const record = await eraseRows({
      store: settleLandsBeforeFirstWrite(lake.store, key, settledAt),
      contracts,
      dataset: 'transactions',
      where: 'account_id = ACC002',
      requestedBy: 't',
      workDir: lake.root,
    });
    const after = await manifestOf(lake, jan);
    expect(after.settled?.settled_at).toBe(settledAt);
    expect(after.erasures?.map((e) => [e.erasure_id, e.rows_valid_removed])).toEqual([[record.erasure_id, 1]]);
    expect((await lake.silverRows()).map((r) => r.transaction_id).sort()).toEqual(['T1', 'T4', 'T5', 'T6']);
  });

  it('quarantined lines that could not be parsed match when the value stands in them as a whole field', async () => {
    const lake = await createTestLake(contracts);
    await lake.ingest(
      'transactions/m.csv',
      csv(
        'T1,ACC001,1.00,EUR,2024-01-05T00:00:00Z,extra',
        'T2,ACC0012,1.00,EUR,2024-01-05T00:00:00Z,extra',
        'T3,ACC002,1.00,EUR,2024-01-05T00:00:00Z',
      ),
    );
    expect((await lake.quarantineRows()).map((r) => r.reasons)).toEqual([['MALFORMED_ROW'], ['MALFORMED_ROW']]);
    const record = await erase(lake, 'account_id = ACC001');
    expect(record.rows_removed).toEqual({ silver: 0, quarantine: 1 });
    expect((await lake.quarantineRows()).map((r) => r.raw_record)).toEqual([
      'T2,ACC0012,1.00,EUR,2024-01-05T00:00:00Z,extra',
    ]);
  });

  describe('whole rejected files hold the raw input, PII included', () => {
    const people = parseContract(
      {
        name: 'people',
        version: '1.0.0',
        bronzePrefix: 'people/',
        source: { format: 'csv', delimiter: ',' },
        columns: [
          { name: 'person_id', type: 'string', required: true },
          { name: 'email', type: 'string', pii: 'hash' },
          { name: 'phone', type: 'string', pii: 'drop' },
        ],
        partitionBy: [],
      },
      'people.json',
    );
    const registry = new ContractRegistry([people]);
    const onPeople = { contracts: registry, dataset: 'people' };

    async function lakeWithRejectedPeople(): Promise<{
      lake: TestLake;
      kept: Manifest;
      bad: Manifest;
      other: Manifest;
    }> {
      const lake = await createTestLake(registry, {});
      const kept = await lake.ingest(
        'people/ok.csv',
        'person_id,email,phone\n1,ana@example.org,+351900\n2,bob@example.org,+351901\n',
      );
      // The header lacks the required person_id: each file is rejected whole and kept byte for byte.
      const bad = await lake.ingest('people/bad.csv', 'id,email,phone\n1,ana@example.org,+351900\n', { etag: 'e2' });
      const other = await lake.ingest('people/other.csv', 'id,email,phone\n2,bob@example.org,+351901\n', {
        etag: 'e3',
      });
      expect([kept.status, bad.status, other.status]).toEqual(['succeeded', 'rejected', 'rejected']);
      return { lake, kept, bad, other };
    }

    it('erasing by a hash PII column deletes the rejected file holding the raw value, and a redelivery does not put it back', async () => {
      const { lake, bad, other } = await lakeWithRejectedPeople();
      const record = await erase(lake, 'email = ana@example.org', onPeople);
      expect(record.rows_removed).toEqual({ silver: 1, quarantine: 0 });
      expect(record.files.filter((f) => f.action === 'deleted').map((f) => f.key)).toEqual([bad.quarantine.file_key]);
      expect(await lake.files('quarantine', 'people/files/')).toEqual([other.quarantine.file_key]);
      expect((await lake.silverRows('people', 'person_id')).map((r) => r.person_id)).toEqual(['2']);
      await lake.ingest('people/bad.csv', 'id,email,phone\n1,ana@example.org,+351900\n', { etag: 'e2' });
      expect(await lake.files('quarantine', 'people/files/')).toEqual([other.quarantine.file_key]);
    });

    it('erasing by a drop PII column deletes the rejected file holding the raw value and leaves silver as it is', async () => {
      const { lake, bad, other } = await lakeWithRejectedPeople();
      const silver = await lake.silverRows('people', 'person_id');
      const record = await erase(lake, 'phone = +351900', onPeople);
      expect(record.rows_removed).toEqual({ silver: 0, quarantine: 0 });
      expect(record.files.map((f) => [f.action, f.key])).toEqual([['deleted', bad.quarantine.file_key]]);
      expect(await lake.files('quarantine', 'people/files/')).toEqual([other.quarantine.file_key]);
      expect(await lake.silverRows('people', 'person_id')).toEqual(silver);
    });
  });
});
