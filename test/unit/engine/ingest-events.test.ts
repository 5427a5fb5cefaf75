import { readFile, rm } from 'node:fs/promises';
import { afterAll, describe, expect, it } from '@jest/globals';
import { LocalEventLog } from '../../../adapters/local/event-log.ts';
import { ingestObject, loadContracts, type EventPublisher, type LakeEvent } from '../../../engine/index.ts';
import { createTestLake, csv, type TestLake } from '../../support/local-lake.ts';

async function* once(text: string): AsyncIterable<Uint8Array> {
  yield Buffer.from(text, 'utf8');
}

describe('ingest events (producer feedback)', () => {
  const lakes: TestLake[] = [];
  afterAll(async () => Promise.all(lakes.map((l) => rm(l.root, { recursive: true, force: true }))));

  async function ingest(lake: TestLake, key: string, text: string, events: EventPublisher) {
    return ingestObject({ bucket: 'b', key, etag: 'e1', lastModified: new Date('2024-05-01T12:00:00Z') }, once(text), {
      contracts: loadContracts(),
      store: lake.store,
      catalog: lake.catalog,
      workDir: lake.root,
      events,
    });
  }

  async function logged(log: LocalEventLog, dataset: string): Promise<Record<string, unknown>[]> {
    return (await readFile(log.path(dataset), 'utf8'))
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, unknown>);
  }

  it('appends one EventBridge-shaped event per ingest: completed, completed with rejects, rejected whole', async () => {
    const lake = await createTestLake();
    lakes.push(lake);
    const log = new LocalEventLog(lake.root);
    const clean = await ingest(lake, 'transactions/clean.csv', csv('T1,A1,1.00,EUR,2024-01-01T00:00:00Z'), log);
    await ingest(
      lake,
      'transactions/mixed.csv',
      csv('T2,A1,1.00,EUR,2024-01-01T00:00:00Z', 'T3,A1,1.001,XXX,2024-01-01T00:00:00Z'),
      log,
    );
    await ingest(lake, 'transactions/empty.csv', '', log);
    await ingest(lake, 'elsewhere/x.csv', 'a,b\n1,2\n', log);

    const events = await logged(log, 'transactions');
    expect(events.map((e) => [e.source, e['detail-type'], (e.detail as { status: string }).status])).toEqual([
      ['medallion.lake', 'Ingest Completed', 'completed'],
      ['medallion.lake', 'Ingest Completed', 'completed_with_rejects'],
      ['medallion.lake', 'Ingest Rejected', 'rejected'],
    ]);
    expect(events[0]?.detail).toEqual({
      dataset: 'transactions',
      owner: 'payments-data',
      status: 'completed',
      source: { bucket: 'b', key: 'transactions/clean.csv', version_id: null },
      manifest_key: `_manifests/transactions/${clean.source_id}.json`,
      run_id: clean.run_id,
      contract_version: '1.0.0',
      rows_in: 1,
      rows_valid: 1,
      rows_quarantined: 0,
      reasons: {},
      file_reason: null,
      file_detail: null,
      quarantine_key: null,
      ingested_at: '2024-05-01T12:00:00.000Z',
      finished_at: clean.finished_at,
    });
    expect(events[0]?.time).toBe(clean.finished_at);
    expect(events[1]?.detail).toMatchObject({
      rows_in: 2,
      rows_valid: 1,
      rows_quarantined: 1,
      reasons: { INVALID_AMOUNT: 1, INVALID_CURRENCY: 1 },
    });
    expect(events[2]?.detail).toMatchObject({
      rows_in: 0,
      file_reason: 'EMPTY_FILE',
      quarantine_key: expect.stringContaining('transactions/files/'),
    });
    expect((await logged(log, 'unknown_dataset'))[0]).toMatchObject({
      'detail-type': 'Ingest Rejected',
      detail: { owner: 'unknown', file_reason: 'UNKNOWN_DATASET' },
    });
  });

  it('fails the ingest when the event cannot be published, and a retry publishes it (at least once)', async () => {
    const lake = await createTestLake();
    lakes.push(lake);
    const seen: LakeEvent[] = [];
    // Fault injection: a publisher that is down once.
    let down = true;
    const flaky: EventPublisher = {
      async publish(event) {
        if (down) {
          down = false;
          throw new Error('event bus unavailable');
        }
        seen.push(event);
      },
    };
    const text = csv('T1,A1,1.00,EUR,2024-01-01T00:00:00Z');
    await expect(ingest(lake, 'transactions/a.csv', text, flaky)).rejects.toThrow('event bus unavailable');
    const manifest = await ingest(lake, 'transactions/a.csv', text, flaky);
    expect(seen.map((e) => e.detail.run_id)).toEqual([manifest.run_id]);
    expect(await lake.silverRows()).toHaveLength(1); // the retry replaced, never appended
  });
});
