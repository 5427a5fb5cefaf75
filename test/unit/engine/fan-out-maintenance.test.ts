/**
 * An erasure or a compaction that lands between a fan-out's plan and its commit (a replay or a restarted
 * execution of an ingested source) is not undone by the commit: erased rows stay erased, compacted rows are
 * not written a second time, and the commit leaves no staging prefix and no intent record behind.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from '@jest/globals';
import { ContractRegistry, DEFAULT_CONTRACTS_DIR, parseContract } from '../../../engine/contract/index.ts';
import {
  commitFanOut,
  compactDataset,
  eraseRows,
  ingestObject,
  loadContracts,
  planFanOut,
  transformFanOutChunk,
  type FanOutPlan,
  type IngestOptions,
  type SourceRef,
} from '../../../engine/index.ts';
import { createTestLake, HEADER, type TestLake } from '../../support/local-lake.ts';

const contracts = loadContracts();
const row = (i: number, account: string) => `T${i},${account},1.00,EUR,2024-01-15T10:00:00Z`;
const CONTENT =
  [HEADER, ...Array.from({ length: 12 }, (_, i) => row(i + 1, i % 4 === 0 ? 'ACC001' : `A${i}`))].join('\n') + '\n';
const KEY = 'transactions/big.csv';
const SOURCE: SourceRef = {
  bucket: 'test-bronze',
  key: KEY,
  etag: 'etag-1',
  lastModified: new Date('2024-05-01T12:00:00Z'),
};
const options = (lake: TestLake): IngestOptions => ({
  contracts,
  store: lake.store,
  catalog: lake.catalog,
  workDir: lake.root,
});

async function plan(lake: TestLake, registry = contracts): Promise<FanOutPlan> {
  const outcome = await planFanOut(SOURCE, await lake.store.getStream('bronze', KEY), {
    ...options(lake),
    contracts: registry,
    fanOutChunkBytes: 60,
  });
  if (outcome.kind !== 'fan-out') throw new Error(`expected a fan-out plan, the file was ingested: ${outcome.why}`);
  return outcome.plan;
}

async function chunksAndCommit(lake: TestLake, planned: FanOutPlan) {
  for (const c of planned.chunks) await transformFanOutChunk(planned, c.index, options(lake));
  return commitFanOut(planned, options(lake));
}

async function ingestedOnce(): Promise<TestLake> {
  const lake = await createTestLake(contracts);
  await lake.store.putBytes('bronze', KEY, CONTENT);
  const first = await chunksAndCommit(lake, await plan(lake));
  expect(first.kind).toBe('committed');
  return lake;
}

/** An erasure of account ACC001's rows (3 of the 12). */
const eraseAcc001 = (lake: TestLake) =>
  eraseRows({
    store: lake.store,
    contracts,
    dataset: 'transactions',
    where: 'account_id = ACC001',
    requestedBy: 'test',
    workDir: lake.root,
  });

describe('maintenance between a fan-out plan and its commit', () => {
  it('an erasure between plan and commit stays erased', async () => {
    const lake = await ingestedOnce();
    const replay = await plan(lake); // planned before the erasure
    await eraseAcc001(lake);
    const rowsAfterErasure = (await lake.silverRows()).length;
    expect(rowsAfterErasure).toBe(9);

    const outcome = await chunksAndCommit(lake, replay);

    expect(outcome.kind).toBe('ingested');
    expect(outcome.manifest.erasures?.length).toBe(1);
    const silver = await lake.silverRows();
    expect(silver.filter((r) => r.account_id === 'ACC001')).toEqual([]);
    expect(silver.length).toBe(rowsAfterErasure);
    expect(await lake.files('silver', '_staging/')).toEqual([]);
    expect(await lake.files('silver', '_pending/')).toEqual([]);
  });

  it('a compaction that finds a fan-out in flight leaves the source alone, and the commit writes no duplicate', async () => {
    const lake = await ingestedOnce();
    const before = await lake.silverRows();
    const replay = await plan(lake);

    const report = await compactDataset({ store: lake.store, contracts, dataset: 'transactions', workDir: lake.root });

    expect(report.groups.length).toBeGreaterThan(0);
    expect(report.groups.every((g) => g.status === 'changed')).toBe(true);
    expect((await chunksAndCommit(lake, replay)).kind).toBe('committed');
    expect((await lake.silverRows()).length).toBe(before.length);
  });

  it('a compaction switched between plan and commit is not undone by the commit', async () => {
    const lake = await ingestedOnce();
    const before = await lake.silverRows();
    const replay = await plan(lake);
    // The compaction runs as if it looked before the plan wrote its intent record (the record is set aside meanwhile).
    const intent = (await lake.files('silver', '_pending/'))[0];
    if (!intent) throw new Error('the plan wrote no intent record');
    const intentBytes = await lake.store.getBytes('silver', intent);
    await lake.store.delete('silver', [intent]);
    const report = await compactDataset({ store: lake.store, contracts, dataset: 'transactions', workDir: lake.root });
    expect(report.groups.some((g) => g.status === 'compacted')).toBe(true);
    if (intentBytes) await lake.store.putBytes('silver', intent, intentBytes);

    const outcome = await chunksAndCommit(lake, replay);

    expect(outcome.kind).toBe('ingested');
    expect(outcome.manifest.compactions?.length).toBeGreaterThan(0);
    expect((await lake.silverRows()).length).toBe(before.length);
    expect(await lake.files('silver', '_staging/')).toEqual([]);
    expect(await lake.files('silver', '_pending/')).toEqual([]);
  });

  it("a redelivery returning at the maintained manifest leaves another run's fan-out in flight alone", async () => {
    const lake = await ingestedOnce();
    await eraseAcc001(lake);
    // A replay under a new contract version, planned and staged: its staging prefix is the source's, as the old run's was.
    const document = JSON.parse(readFileSync(join(DEFAULT_CONTRACTS_DIR, 'transactions.json'), 'utf8')) as {
      version: string;
    };
    const v2 = new ContractRegistry([parseContract({ ...document, version: '2.0.0' }, 'transactions-2.json')]);
    const replay = await plan(lake, v2);
    for (const c of replay.chunks) await transformFanOutChunk(replay, c.index, { ...options(lake), contracts: v2 });
    const staged = await lake.files('silver', '_staging/');
    // A late redelivery of the erased run returns at its maintained manifest.
    expect(
      (await ingestObject(SOURCE, await lake.store.getStream('bronze', KEY), options(lake))).erasures,
    ).toHaveLength(1);
    expect(await lake.files('silver', '_staging/')).toEqual(staged);
    await expect(commitFanOut(replay, { ...options(lake), contracts: v2 })).resolves.toMatchObject({
      kind: 'committed',
    });
  });
});
