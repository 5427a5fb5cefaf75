import { readFileSync } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from '@jest/globals';
import {
  compactDataset,
  ContractRegistry,
  eraseRows,
  loadContracts,
  MaintenanceInputError,
  manifestKey,
  parseContract,
  type CompactOptions,
  type Manifest,
  type ObjectStore,
} from '../../../engine/index.ts';
import { readWithDuckDb } from '../../support/duckdb-reader.ts';
import { settleLandsBeforeFirstWrite, withOverrides } from '../../support/store-faults.ts';
import { csv, createTestLake, type TestLake } from '../../support/local-lake.ts';

const contracts = loadContracts();
/** The same contract at another version: a re-ingest under it is another run of each source. */
const nextVersion = new ContractRegistry([
  parseContract(
    {
      ...(JSON.parse(readFileSync(new URL('../../../contracts/transactions.json', import.meta.url), 'utf8')) as object),
      version: '1.1.0',
    },
    'transactions.json',
  ),
]);

/** 1.2.0 accepts transactions from February 2024 on only: a replay under it quarantines a source's January rows. */
const fromFebruary = new ContractRegistry([
  parseContract(
    (() => {
      const document = JSON.parse(
        readFileSync(new URL('../../../contracts/transactions.json', import.meta.url), 'utf8'),
      ) as { columns: Array<{ name: string; checks?: object }> };
      return {
        ...document,
        version: '1.2.0',
        columns: document.columns.map((c) =>
          c.name === 'transaction_timestamp' ? { ...c, checks: { ...c.checks, min: '2024-02-01T00:00:00Z' } } : c,
        ),
      };
    })(),
    'transactions.json',
  ),
]);

const producerFile = (n: number): string =>
  csv(
    ...Array.from(
      { length: 3 },
      (_, i) => `T${n}-${i},ACC00${i},${n}.0${i},EUR,2024-01-${String(10 + i).padStart(2, '0')}T00:00:00Z`,
    ),
    `T${n}-x,ACC009,${n}.50,EUR,2024-02-01T00:00:00Z`,
  );

async function lakeWithSmallFiles(count = 6): Promise<{ lake: TestLake; manifests: Manifest[] }> {
  const lake = await createTestLake(contracts);
  const manifests: Manifest[] = [];
  for (let n = 1; n <= count; n++)
    manifests.push(await lake.ingest(`transactions/producer-${n}.csv`, producerFile(n), { etag: `etag-${n}` }));
  return { lake, manifests };
}

/** Rows of `a` not in `b` and of `b` not in `a`, with multiplicity, by DuckDB over the Parquet files. */
async function exceptAllBothWays(before: string, lake: TestLake): Promise<number[]> {
  const [r] = await readWithDuckDb(`CREATE TABLE before AS SELECT * FROM read_parquet('${before}');
    SELECT (SELECT count(*) FROM (SELECT * FROM before EXCEPT ALL SELECT * FROM ${lake.silverRelation()})) AS missing,
           (SELECT count(*) FROM (SELECT * FROM ${lake.silverRelation()} EXCEPT ALL SELECT * FROM before)) AS extra`);
  return [Number(r?.missing), Number(r?.extra)];
}

async function keepSilver(lake: TestLake): Promise<string> {
  const path = join(lake.root, 'before.parquet');
  await readWithDuckDb(`COPY (SELECT * FROM ${lake.silverRelation()}) TO '${path}' (FORMAT parquet)`);
  return path;
}

const compact = (lake: TestLake, extra: Partial<CompactOptions> = {}) =>
  compactDataset({ store: lake.store, contracts, dataset: 'transactions', workDir: lake.root, ...extra });

const manifestOf = async (lake: TestLake, m: Manifest): Promise<Manifest> =>
  JSON.parse(await readFile(join(lake.root, 'silver', manifestKey('transactions', m.source_id)), 'utf8')) as Manifest;

const count = async (lake: TestLake): Promise<number> =>
  Number((await readWithDuckDb(`SELECT count(*) AS n FROM ${lake.silverRelation()}`))[0]?.n);

/** Input files of the January partition (what a switch deletes last). */
const isInput = (key: string): boolean => key.includes('/year=2024/month=01/part-');

/**
 * The store, failing the first silver delete that includes a key `matches` (the process killed there: nothing of it
 * deleted), every other call going to the lake's store.
 */
function killedAtDelete(lake: TestLake, matches: (key: string) => boolean, what: string): ObjectStore {
  let failed = false;
  return withOverrides<ObjectStore>(lake.store, {
    delete: async (zone, keys) => {
      if (!failed && zone === 'silver' && keys.some(matches)) {
        failed = true;
        throw new Error(`injected: ${what}`);
      }
      return lake.store.delete(zone, keys);
    },
  });
}

describe('compaction', () => {
  it('rewrites a partition of many small files as one file with the same rows and lineage (EXCEPT ALL both ways)', async () => {
    const { lake, manifests } = await lakeWithSmallFiles();
    expect(await lake.files('silver', 'transactions/year=2024/month=01/')).toHaveLength(6);
    const before = await keepSilver(lake);
    const report = await compact(lake);

    expect(report.groups.map((g) => [g.partition, g.inputs.length, g.rows, g.status])).toEqual([
      ['transactions/year=2024/month=01/', 6, 18, 'compacted'],
      ['transactions/year=2024/month=02/', 6, 6, 'compacted'],
    ]);
    expect(report).toMatchObject({ files_before: 12, files_after: 2 });
    const jan = await lake.files('silver', 'transactions/year=2024/month=01/');
    expect(jan).toEqual([report.groups[0]?.file]);
    expect(jan[0]).toMatch(/\/part-compacted-[0-9a-f]{16}\.parquet$/);
    expect(await exceptAllBothWays(before, lake)).toEqual([0, 0]);
    // Every row still names its source and run.
    const perRun = await readWithDuckDb(
      `SELECT ingest_run_id, source_key, count(*) AS n FROM ${lake.silverRelation()} GROUP BY ALL ORDER BY source_key`,
    );
    expect(perRun.map((r) => [r.ingest_run_id, r.source_key, Number(r.n)])).toEqual(
      manifests.map((m) => [m.run_id, m.source.key, 4]),
    );
    // Manifests point at the compacted files, still account for every row, and say what was replaced.
    for (const m of manifests) {
      const now = await manifestOf(lake, m);
      expect(now.rows_in).toBe(now.rows_valid + now.rows_quarantined);
      expect(now.partitions.flatMap((p) => p.files)).toEqual(report.groups.map((g) => g.file));
      expect(now.compactions?.map((c) => c.replaced)).toEqual(m.partitions.map((p) => p.files));
    }
  });

  it('is idempotent: a second run changes nothing', async () => {
    const { lake } = await lakeWithSmallFiles();
    await compact(lake);
    const files = await lake.files('silver');
    const times = await Promise.all(files.map(async (k) => (await stat(join(lake.root, 'silver', k))).mtimeMs));
    const again = await compact(lake);
    expect(again.groups).toEqual([]);
    expect(again.files_before).toBe(again.files_after);
    expect(await lake.files('silver')).toEqual(files);
    expect(await Promise.all(files.map(async (k) => (await stat(join(lake.root, 'silver', k))).mtimeMs))).toEqual(
      times,
    );
  });

  it('continueWhile: a run out of time stops before its next group, switches nothing half-way, and the next run does the rest', async () => {
    const { lake } = await lakeWithSmallFiles();
    const rows = await count(lake);
    let asked = 0;
    const first = await compact(lake, { continueWhile: () => ++asked <= 1 });
    expect(first.groups.map((g) => [g.partition, g.status])).toEqual([
      ['transactions/year=2024/month=01/', 'compacted'],
    ]);
    expect(first.stopped).toMatch(/out of time/);
    expect(await lake.files('silver', 'transactions/year=2024/month=02/')).toHaveLength(6);
    expect(await lake.files('silver', '_maintenance/compactions/')).toEqual([]);
    expect(await count(lake)).toBe(rows);
    const second = await compact(lake);
    expect(second.stopped).toBeUndefined();
    expect(second.groups.map((g) => [g.partition, g.status])).toEqual([
      ['transactions/year=2024/month=02/', 'compacted'],
    ]);
    expect(await count(lake)).toBe(rows);
  });

  it('groups files up to the target size, and only the partition asked for', async () => {
    const { lake } = await lakeWithSmallFiles();
    const [one] = await lake.files('silver', 'transactions/year=2024/month=01/');
    const size = (await stat(join(lake.root, 'silver', one as string))).size;
    const dry = await compact(lake, {
      partition: 'year=2024/month=01',
      targetBytes: Math.floor(size * 2.5),
      dryRun: true,
    });
    expect(dry.groups.map((g) => [g.inputs.length, g.status])).toEqual([
      [2, 'would_compact'],
      [2, 'would_compact'],
      [2, 'would_compact'],
    ]);
    expect(await lake.files('silver', 'transactions/year=2024/month=01/')).toHaveLength(6);
    const report = await compact(lake, { partition: 'year=2024/month=01', targetBytes: Math.floor(size * 2.5) });
    expect(report.groups.every((g) => g.status === 'compacted')).toBe(true);
    expect(await lake.files('silver', 'transactions/year=2024/month=01/')).toHaveLength(3);
    expect(await lake.files('silver', 'transactions/year=2024/month=02/')).toHaveLength(6);
  });

  it('refuses a partition that is not one of the dataset', async () => {
    const { lake } = await lakeWithSmallFiles(2);
    for (const partition of ['month=01', 'year=2024/day=01', "year=2024'; --"]) {
      await expect(compact(lake, { partition })).rejects.toThrow(MaintenanceInputError);
    }
    await expect(compact(lake, { partition: 'year=2024' })).resolves.toMatchObject({ files_after: 2 });
  });

  it('a re-ingest of a compacted source (the same run) does not duplicate its rows', async () => {
    const { lake, manifests } = await lakeWithSmallFiles();
    await compact(lake);
    const before = await keepSilver(lake);
    const again = await lake.ingest('transactions/producer-3.csv', producerFile(3), { etag: 'etag-3' });
    expect(again.run_id).toBe(manifests[2]?.run_id);
    expect(await count(lake)).toBe(24);
    expect(await exceptAllBothWays(before, lake)).toEqual([0, 0]);
  });

  it('a re-ingest under another contract version moves the source out of the compacted file: no duplicates, nothing lost', async () => {
    const { lake, manifests } = await lakeWithSmallFiles();
    const report = await compact(lake);
    const m3 = manifests[2] as Manifest;
    const { ingestObject } = await import('../../../engine/index.ts');
    const body = producerFile(3);
    const fresh = await ingestObject(
      {
        bucket: 'test-bronze',
        key: 'transactions/producer-3.csv',
        etag: 'etag-3',
        lastModified: new Date('2024-05-01T12:00:00Z'),
      },
      (async function* () {
        yield Buffer.from(body);
      })(),
      {
        contracts: nextVersion,
        store: lake.store,
        catalog: lake.catalog,
        workDir: lake.root,
      },
    );
    expect(fresh.run_id).not.toBe(m3.run_id);
    const runs = await readWithDuckDb(`SELECT ingest_run_id, count(*) AS n FROM ${lake.silverRelation()} GROUP BY ALL`);
    expect(await count(lake)).toBe(24);
    expect(runs.find((r) => r.ingest_run_id === m3.run_id)).toBeUndefined();
    expect(Number(runs.find((r) => r.ingest_run_id === fresh.run_id)?.n)).toBe(4);
    // The compacted files hold the other five sources only.
    const inCompacted = await readWithDuckDb(
      `SELECT count(*) AS n FROM read_parquet([${report.groups.map((g) => `'${lake.root}/silver/${g.file}'`).join(', ')}])`,
    );
    expect(Number(inCompacted[0]?.n)).toBe(20);
    // A later compaction takes the re-ingested files in with the rest of the new small files only.
    const next = await compact(lake);
    expect(next.repaired).toEqual([]);
    expect(await count(lake)).toBe(24);
  });

  it('an ingest that changes an input between the upload and the switch wins: the group is left as it was', async () => {
    const { lake, manifests } = await lakeWithSmallFiles(3);
    const { ingestObject } = await import('../../../engine/index.ts');
    const report = await compact(lake, {
      partition: 'year=2024/month=01',
      beforeSwitch: async () => {
        const body = producerFile(2);
        await ingestObject(
          {
            bucket: 'test-bronze',
            key: 'transactions/producer-2.csv',
            etag: 'etag-2',
            lastModified: new Date('2024-05-01T12:00:00Z'),
          },
          (async function* () {
            yield Buffer.from(body);
          })(),
          {
            contracts: nextVersion,
            store: lake.store,
            catalog: lake.catalog,
            workDir: lake.root,
          },
        );
      },
    });
    expect(report.groups.map((g) => g.status)).toEqual(['changed']);
    expect((await lake.files('silver', 'transactions/year=2024/month=01/')).some((k) => k.includes('compacted'))).toBe(
      false,
    );
    expect(await count(lake)).toBe(12);
    expect(await lake.files('silver', '_maintenance/')).toEqual([]);
    expect((await manifestOf(lake, manifests[0] as Manifest)).compactions).toBeUndefined();
  });

  it('an ingest finishing between the second look at a source (its intent record, then its manifest) wins too', async () => {
    const { lake, manifests } = await lakeWithSmallFiles(3);
    const { ingestObject, pendingKey } = await import('../../../engine/index.ts');
    const m2 = manifests[1] as Manifest;
    let armed = false;
    let reingested: Manifest | undefined;
    // A delivery of producer 2 under the next contract version (the same keys), which passed its look at the lease
    // before the compaction took it, publishes to its end right when the compaction reads that source's intent record.
    const racing = withOverrides<ObjectStore>(lake.store, {
      getBytes: async (zone, key) => {
        if (armed && !reingested && zone === 'silver' && key === pendingKey('transactions', m2.source_id))
          reingested = await ingestObject(
            {
              bucket: 'test-bronze',
              key: 'transactions/producer-2.csv',
              etag: 'etag-2',
              lastModified: new Date('2024-05-01T12:00:00Z'),
            },
            (async function* () {
              yield Buffer.from(producerFile(2));
            })(),
            { contracts: nextVersion, store: lake.store, catalog: lake.catalog, workDir: lake.root },
          );
        return lake.store.getBytes(zone, key);
      },
    });
    const report = await compact(lake, {
      store: racing,
      partition: 'year=2024/month=01',
      beforeSwitch: async () => {
        armed = true;
      },
    });
    expect(reingested?.run_id).not.toBe(m2.run_id);
    expect(report.groups.map((g) => g.status)).toEqual(['changed']);
    expect(await count(lake)).toBe(12);
    const runs = await readWithDuckDb(`SELECT ingest_run_id, count(*) AS n FROM ${lake.silverRelation()} GROUP BY ALL`);
    expect(Number(runs.find((r) => r.ingest_run_id === reingested?.run_id)?.n)).toBe(4);
    expect(runs.find((r) => r.ingest_run_id === m2.run_id)).toBeUndefined();
  });

  it('a switch stopped before its input deletes, a re-ingest of one source, then the recovery: it points the manifests back at their inputs', async () => {
    const { lake } = await lakeWithSmallFiles(3);
    // The switch dies after pointing the manifests at the compacted file, before deleting the inputs.
    const dying = killedAtDelete(lake, isInput, 'killed before the input deletes');
    await expect(compact(lake, { store: dying, partition: 'year=2024/month=01' })).rejects.toThrow(/injected/);
    const { ingestObject, readManifests } = await import('../../../engine/index.ts');
    // Its lease released (a person, or an ingest taking a dead holder's), a replay of producer 1 publishes.
    await ingestObject(
      {
        bucket: 'test-bronze',
        key: 'transactions/producer-1.csv',
        etag: 'etag-1',
        lastModified: new Date('2024-05-01T12:00:00Z'),
      },
      (async function* () {
        yield Buffer.from(producerFile(1));
      })(),
      { contracts: nextVersion, store: lake.store, catalog: lake.catalog, workDir: lake.root },
    );
    const report = await compact(lake, { partition: 'year=2024/month=01' });
    expect(report.recovered.map((r) => r.outcome)).toEqual(['undone']);
    const missing: string[] = [];
    for (const { manifest } of await readManifests(lake.store, { dataset: 'transactions', onDamaged: 'throw' }))
      for (const f of manifest.partitions.flatMap((p) => p.files))
        if ((await lake.store.getBytes('silver', f)) === undefined) missing.push(`${manifest.source.key}: ${f}`);
    expect(missing).toEqual([]);
    expect(await count(lake)).toBe(12);
  });

  /** Producer `n` replayed under `contracts` (another run of the source). */
  const replay = async (lake: TestLake, n: number, contracts: ContractRegistry): Promise<Manifest> => {
    const { ingestObject } = await import('../../../engine/index.ts');
    return ingestObject(
      {
        bucket: 'test-bronze',
        key: `transactions/producer-${n}.csv`,
        etag: `etag-${n}`,
        lastModified: new Date('2024-05-01T12:00:00Z'),
      },
      (async function* () {
        yield Buffer.from(producerFile(n));
      })(),
      { contracts, store: lake.store, catalog: lake.catalog, workDir: lake.root },
    );
  };
  /** Transaction ids in silver, sorted, and the silver files no manifest names. */
  const silverState = async (lake: TestLake) => {
    const { readManifests } = await import('../../../engine/index.ts');
    const named = new Set<string>();
    for (const { manifest } of await readManifests(lake.store, { dataset: 'transactions', onDamaged: 'throw' }))
      for (const f of manifest.partitions.flatMap((p) => p.files)) named.add(f);
    return {
      ids: (await lake.silverRows()).map((r) => String(r.transaction_id)).sort(),
      unnamed: (await lake.files('silver', 'transactions/')).filter((f) => f.endsWith('.parquet') && !named.has(f)),
    };
  };
  const allRows = (except?: number): string[] =>
    [1, 2, 3].flatMap((k) => (k === except ? [`T${k}-x`] : [`T${k}-0`, `T${k}-1`, `T${k}-2`, `T${k}-x`])).sort();

  it('the undo of a switch stopped before its input deletes deletes the inputs of a source replayed since: its removed rows stay removed', async () => {
    const { lake } = await lakeWithSmallFiles(3);
    const dying = killedAtDelete(lake, isInput, 'killed before the input deletes');
    await expect(compact(lake, { store: dying, partition: 'year=2024/month=01' })).rejects.toThrow(/injected/);
    await replay(lake, 1, fromFebruary); // its January rows quarantined: it writes no January file
    const report = await compact(lake, { partition: 'year=2024/month=01' });
    expect(report.recovered.map((r) => r.outcome)).toEqual(['undone']);
    expect(await silverState(lake)).toEqual({ ids: allRows(1), unnamed: [] });
  });

  it('the undo of a switch stopped between its manifest edits, a source not yet switched replayed since: no row twice', async () => {
    const { lake } = await lakeWithSmallFiles(3);
    let manifestWrites = 0;
    const switched: string[] = [];
    const dying = withOverrides<ObjectStore>(lake.store, {
      putBytes: async (...args: Parameters<ObjectStore['putBytes']>) => {
        if (args[0] === 'silver' && args[1].startsWith('_manifests/')) {
          if (++manifestWrites === 2) throw new Error('injected: killed between the manifest edits');
          switched.push(args[1]);
        }
        return lake.store.putBytes(...args);
      },
    });
    await expect(compact(lake, { store: dying, partition: 'year=2024/month=01' })).rejects.toThrow(/injected/);
    const { readManifests } = await import('../../../engine/index.ts');
    const manifests = await readManifests(lake.store, { dataset: 'transactions', onDamaged: 'throw' });
    const notSwitched = [1, 2, 3].find(
      (n) => !switched.includes(manifests.find((e) => e.manifest.source.key.endsWith(`producer-${n}.csv`))?.key ?? ''),
    );
    if (notSwitched === undefined) throw new Error('every manifest was switched');
    await replay(lake, notSwitched, fromFebruary);
    const report = await compact(lake, { partition: 'year=2024/month=01' });
    expect(report.recovered.map((r) => r.outcome)).toEqual(['undone']);
    expect(await silverState(lake)).toEqual({ ids: allRows(notSwitched), unnamed: [] });
  });

  /** The store, failing the input deletes of the switch after deleting the first of them (S3 DeleteObjects errors). */
  const inputDeletesStopPartWay = (lake: TestLake) => {
    let failed = false;
    const deleted: string[] = [];
    const store = withOverrides<ObjectStore>(lake.store, {
      delete: async (zone, keys) => {
        if (!failed && zone === 'silver' && keys.length > 1 && keys.every(isInput)) {
          failed = true;
          deleted.push(keys[0] as string);
          await lake.store.delete(zone, [keys[0] as string]);
          throw new Error('injected: DeleteObjects partly failed');
        }
        return lake.store.delete(zone, keys);
      },
    });
    return { store, deleted };
  };

  it('a switch stopped part-way through its input deletes, another source replayed since: finished, no row twice or lost', async () => {
    const { lake, manifests } = await lakeWithSmallFiles(3);
    const stopping = inputDeletesStopPartWay(lake);
    await expect(compact(lake, { store: stopping.store, partition: 'year=2024/month=01' })).rejects.toThrow(/injected/);
    const other = [1, 2, 3].find((n) => !stopping.deleted.some((k) => k.includes(manifests[n - 1]?.source_id ?? '?')));
    if (other === undefined) throw new Error('no source kept its input');
    await replay(lake, other, fromFebruary);
    const report = await compact(lake, { partition: 'year=2024/month=01' });
    expect(report.recovered.map((r) => r.outcome)).toEqual(['finished']);
    expect(await silverState(lake)).toEqual({ ids: allRows(other), unnamed: [] });
  });

  it('a switch stopped part-way through its input deletes, a manifest since unreadable: the compacted file stays (left)', async () => {
    const { lake, manifests } = await lakeWithSmallFiles(3);
    const stopping = inputDeletesStopPartWay(lake);
    await expect(compact(lake, { store: stopping.store, partition: 'year=2024/month=01' })).rejects.toThrow(/injected/);
    const owner = manifests.find((m) => stopping.deleted.some((k) => k.includes(m.source_id)));
    if (!owner) throw new Error('no owner of the deleted input');
    await replay(lake, owner === manifests[0] ? 2 : 1, fromFebruary); // the runs are no longer as read
    await lake.store.putBytes('silver', manifestKey('transactions', owner.source_id), '{"torn');
    const report = await compact(lake, { partition: 'year=2024/month=01' });
    expect(report.recovered.map((r) => r.outcome)).toEqual(['left']);
    // Its January rows are only in the compacted file: it stays.
    expect(
      (await lake.silverRows()).filter((r) => String(r.transaction_id).startsWith(`T${manifests.indexOf(owner) + 1}-`)),
    ).toHaveLength(4);
  });

  it('a manifest unreadable for one run leaves the whole recovery undone until it reads again: no row lost', async () => {
    const { lake, manifests } = await lakeWithSmallFiles(3);
    const stopping = inputDeletesStopPartWay(lake);
    await expect(compact(lake, { store: stopping.store, partition: 'year=2024/month=01' })).rejects.toThrow(/injected/);
    const owner = manifests.find((m) => stopping.deleted.some((k) => k.includes(m.source_id)));
    if (!owner) throw new Error('no owner of the deleted input');
    const key = manifestKey('transactions', owner.source_id);
    const saved = await lake.store.getBytes('silver', key);
    await lake.store.putBytes('silver', key, '{"torn');
    let asked = 0; // a scheduled run out of time after its recovery and repair, before any new group
    const first = await compact(lake, { partition: 'year=2024/month=01', continueWhile: () => ++asked <= 2 });
    expect(first.recovered.map((r) => r.outcome)).toEqual(['left']);
    await lake.store.putBytes('silver', key, saved ?? '');
    const second = await compact(lake, { partition: 'year=2024/month=01' });
    expect(second.recovered.map((r) => r.outcome)).toEqual(['finished']);
    expect(await silverState(lake)).toEqual({ ids: allRows(), unnamed: [] });
  });

  it('a source replayed under another contract and back (the same run id) before the recovery: the rewritten file is not switched onto', async () => {
    const { lake } = await lakeWithSmallFiles(3);
    const dying = killedAtDelete(lake, isInput, 'killed before the input deletes');
    await expect(compact(lake, { store: dying, partition: 'year=2024/month=01' })).rejects.toThrow(/injected/);
    const replayed = await replay(lake, 1, nextVersion); // removes its earlier rows from the compacted file
    await replay(lake, 1, contracts); // back: the first run id again
    expect(replayed.contract_version).toBe('1.1.0');
    const report = await compact(lake, { partition: 'year=2024/month=01' });
    expect(report.recovered.map((r) => r.outcome)).toEqual(['undone']);
    expect(await silverState(lake)).toEqual({ ids: allRows(), unnamed: [] });
  });

  it('a switch killed before deleting its intent, another source replayed since: the recovery finishes, not left for good', async () => {
    const { lake } = await lakeWithSmallFiles(3);
    const dying = killedAtDelete(
      lake,
      (k) => k.startsWith('_maintenance/compactions/'),
      'killed before the intent delete',
    );
    await expect(compact(lake, { store: dying, partition: 'year=2024/month=01' })).rejects.toThrow(/injected/);
    await replay(lake, 1, fromFebruary);
    const report = await compact(lake, { partition: 'year=2024/month=01' });
    expect(report.recovered.map((r) => r.outcome)).toEqual(['finished']);
    expect((await compact(lake, { partition: 'year=2024/month=01' })).recovered).toEqual([]);
    expect(await silverState(lake)).toEqual({ ids: allRows(1), unnamed: [] });
  });

  it('an interrupted compaction (crash after the upload) is finished by the next run: no duplicates left', async () => {
    const { lake } = await lakeWithSmallFiles(3);
    const before = await keepSilver(lake);
    await expect(
      compact(lake, { partition: 'year=2024/month=01', beforeSwitch: async () => Promise.reject(new Error('killed')) }),
    ).rejects.toThrow('killed');
    expect(await count(lake)).toBe(12 + 9); // the compacted file and its inputs, both readable for now
    const report = await compact(lake);
    expect(report.recovered.map((r) => r.outcome)).toEqual(['finished']);
    expect(await count(lake)).toBe(12);
    expect(await exceptAllBothWays(before, lake)).toEqual([0, 0]);
    expect(await lake.files('silver', '_maintenance/compactions/')).toEqual([]);
  });

  it('continueWhile also bounds the recovery: a run out of time recovers nothing and starts no group; the next finishes it', async () => {
    const { lake } = await lakeWithSmallFiles(3);
    await expect(
      compact(lake, { partition: 'year=2024/month=01', beforeSwitch: async () => Promise.reject(new Error('killed')) }),
    ).rejects.toThrow('killed');
    const late = await compact(lake, { continueWhile: () => false });
    expect([late.recovered, late.groups, late.stopped]).toEqual([[], [], expect.stringMatching(/out of time/)]);
    expect(await lake.files('silver', '_maintenance/compactions/')).toHaveLength(1);
    const next = await compact(lake);
    expect(next.recovered.map((r) => r.outcome)).toEqual(['finished']);
    expect(await count(lake)).toBe(12);
  });

  it('an interrupted compaction met while an ingest of one of its sources is in flight is undone, not switched under it', async () => {
    const { lake, manifests } = await lakeWithSmallFiles(3);
    const before = await keepSilver(lake);
    await expect(
      compact(lake, { partition: 'year=2024/month=01', beforeSwitch: async () => Promise.reject(new Error('killed')) }),
    ).rejects.toThrow('killed');
    const inFlight = `_pending/transactions/${manifests[0]?.source_id}.json`;
    await lake.store.putBytes('silver', inFlight, JSON.stringify({ dataset: 'transactions', run_id: 'r' }));
    const report = await compact(lake, { partition: 'year=2024/month=01' });
    expect(report.recovered.map((r) => r.outcome)).toEqual(['undone']);
    expect(report.groups.map((g) => g.status)).toEqual(['changed']);
    expect(await count(lake)).toBe(12);
    expect(await exceptAllBothWays(before, lake)).toEqual([0, 0]);
    await lake.store.delete('silver', [inFlight]);
    expect((await compact(lake)).groups.map((g) => g.status)).toEqual(['compacted', 'compacted']);
    expect(await exceptAllBothWays(before, lake)).toEqual([0, 0]);
  });

  it('a manifest changed between its read and the switch keeps that change (a settle announcing a removal is not undone)', async () => {
    const { lake, manifests } = await lakeWithSmallFiles(3);
    const m1 = manifests[0] as Manifest;
    const settledAt = '2026-12-04T10:00:00.000Z';
    const key = manifestKey('transactions', m1.source_id);
    await compact(lake, { store: settleLandsBeforeFirstWrite(lake.store, key, settledAt) });
    const after = await manifestOf(lake, m1);
    expect(after.settled?.settled_at).toBe(settledAt);
    expect(after.compactions).toHaveLength(2); // its January and February files, each moved into its compacted file
    expect(await count(lake)).toBe(12);
  });

  it('an ingest whose manifest overwrote the switch is repaired by the next compaction, then re-ingests stay single', async () => {
    const { lake, manifests } = await lakeWithSmallFiles(3);
    const m1 = manifests[0] as Manifest;
    await compact(lake);
    // A concurrent ingest of the same run wrote its manifest over the compaction's (naming the deleted input).
    await lake.store.putBytes('silver', manifestKey('transactions', m1.source_id), JSON.stringify(m1));
    const report = await compact(lake);
    expect(report.repaired.map((r) => r.action)).toEqual(['repointed', 'repointed']);
    expect((await manifestOf(lake, m1)).compactions).toHaveLength(2);
    await lake.ingest('transactions/producer-1.csv', producerFile(1), { etag: 'etag-1' });
    expect(await count(lake)).toBe(12);
  });

  it('erasure works across compacted files and counts per source', async () => {
    const { lake, manifests } = await lakeWithSmallFiles(3);
    await compact(lake);
    const record = await eraseRows({
      store: lake.store,
      contracts,
      dataset: 'transactions',
      where: 'account_id = ACC001',
      requestedBy: 't',
      workDir: lake.root,
    });
    expect(record.rows_removed.silver).toBe(3);
    expect(record.sources.map((s) => [s.source_id, s.rows_valid_removed])).toEqual(
      manifests.map((m) => [m.source_id, 1]),
    );
    expect(await count(lake)).toBe(9);
  });
});
