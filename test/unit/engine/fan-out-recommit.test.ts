/**
 * A fan-out commit retried after its manifest was written (its plan is gone) finishes what the first attempt
 * may not have: the run's event is published again (the first attempt may have failed on exactly that), and
 * a same-run intent record left by a crash before its last delete is removed.
 */
import { readFile } from 'node:fs/promises';
import { describe, expect, it } from '@jest/globals';
import { LocalEventLog } from '../../../adapters/local/event-log.ts';
import {
  commitFanOut,
  committedManifest,
  loadContracts,
  loadPlan,
  planFanOut,
  readSilverRecord,
  transformFanOutChunk,
  type EventPublisher,
  type FanOutPlan,
  type IngestOptions,
  type SourceRef,
} from '../../../engine/index.ts';
import { createTestLake, HEADER, type TestLake } from '../../support/local-lake.ts';

const contracts = loadContracts();
const CONTENT =
  [HEADER, ...Array.from({ length: 10 }, (_, i) => `T${i},A${i % 3},1.00,EUR,2024-01-15T10:00:00Z`)].join('\n') + '\n';
const KEY = 'transactions/big.csv';
const SOURCE: SourceRef = {
  bucket: 'test-bronze',
  key: KEY,
  etag: 'etag-1',
  lastModified: new Date('2024-05-01T12:00:00Z'),
};
const options = (lake: TestLake, events?: EventPublisher): IngestOptions => ({
  contracts,
  store: lake.store,
  catalog: lake.catalog,
  workDir: lake.root,
  ...(events ? { events } : {}),
});

/** Fault injection: the event bus refuses the publish. */
const refusingBus: EventPublisher = {
  publish: () => Promise.reject(new Error('EventBridge PutEvents: ServiceUnavailable')),
};

async function plannedAndChunked(lake: TestLake): Promise<FanOutPlan> {
  await lake.store.putBytes('bronze', KEY, CONTENT);
  const outcome = await planFanOut(SOURCE, await lake.store.getStream('bronze', KEY), {
    ...options(lake),
    fanOutChunkBytes: 60,
  });
  if (outcome.kind !== 'fan-out') throw new Error(`expected a fan-out: ${outcome.why}`);
  for (const c of outcome.plan.chunks) await transformFanOutChunk(outcome.plan, c.index, options(lake));
  return outcome.plan;
}

describe('a fan-out commit retried after it committed', () => {
  it('publishes the event a failed publish lost', async () => {
    const lake = await createTestLake(contracts);
    const plan = await plannedAndChunked(lake);
    await expect(commitFanOut(plan, options(lake, refusingBus))).rejects.toThrow(/ServiceUnavailable/);
    expect(await loadPlan(options(lake), plan.dataset, plan.source_id)).toBeUndefined();
    const log = new LocalEventLog(lake.root);

    const manifest = await committedManifest(options(lake, log), plan.dataset, plan.source_id, plan.run_id);

    expect(manifest?.run_id).toBe(plan.run_id);
    const events = (await readFile(log.path('transactions'), 'utf8'))
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { 'detail-type': string; detail: { run_id: string; rows_valid: number } });
    expect(events).toHaveLength(1);
    expect(events[0]?.['detail-type']).toBe('Ingest Completed');
    expect(events[0]?.detail).toMatchObject({ run_id: plan.run_id, rows_valid: 10 });
  });

  it('removes a same-run intent record the first attempt left', async () => {
    const lake = await createTestLake(contracts);
    const plan = await plannedAndChunked(lake);
    const [intentKey] = await lake.files('silver', '_pending/');
    if (!intentKey) throw new Error('the plan wrote no intent record');
    const intent = await lake.store.getBytes('silver', intentKey);
    expect((await commitFanOut(plan, options(lake))).kind).toBe('committed');
    // A crash between the manifest and the last delete: the intent record is still there.
    await lake.store.putBytes('silver', intentKey, intent ?? new Uint8Array());

    const manifest = await committedManifest(options(lake), plan.dataset, plan.source_id, plan.run_id);

    expect(manifest?.run_id).toBe(plan.run_id);
    expect(await lake.files('silver', '_pending/')).toEqual([]);
    expect(await lake.files('silver', '_staging/')).toEqual([]);
    expect((await lake.silverRows()).length).toBe(10);
  });

  it('leaves a same-run record marked by a removal in progress to its remover', async () => {
    const lake = await createTestLake(contracts);
    const plan = await plannedAndChunked(lake);
    const [intentKey] = await lake.files('silver', '_pending/');
    if (!intentKey) throw new Error('the plan wrote no intent record');
    const intent = await readSilverRecord<object>(lake.store, intentKey);
    if (!intent) throw new Error('the intent record is not JSON');
    expect((await commitFanOut(plan, options(lake))).kind).toBe('committed');
    const marked = JSON.stringify({ ...intent, settling_since: new Date().toISOString() });
    await lake.store.putBytes('silver', intentKey, marked);

    expect((await committedManifest(options(lake), plan.dataset, plan.source_id, plan.run_id))?.run_id).toBe(
      plan.run_id,
    );
    expect(Buffer.from((await lake.store.getBytes('silver', intentKey)) ?? []).toString()).toBe(marked);
  });
});
