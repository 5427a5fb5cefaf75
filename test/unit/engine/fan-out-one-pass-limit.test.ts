/**
 * A file routed to the fan-out that cannot be cut into chunks is ingested in one pass only when its text fits
 * what one invocation transforms (`onePassMaxBytes`, the routing threshold); a larger one is rejected whole
 * as TOO_LARGE_FOR_ONE_PASS — original kept in quarantine, a manifest that says so — instead of timing
 * out on every attempt. Small files keep their one-pass outcome.
 */
import { describe, expect, it } from '@jest/globals';
import {
  commitFanOut,
  FileReason,
  loadContracts,
  planFanOut,
  transformFanOutChunk,
  type FanOutChunkResult,
  type IngestOptions,
  type SourceRef,
} from '../../../engine/index.ts';
import { createTestLake, HEADER, type TestLake } from '../../support/local-lake.ts';

const contracts = loadContracts();
const row = (i: number) => `T${i},A${i % 3},1.00,EUR,2024-01-15T10:00:00Z`;
// CRLF and LF mixed: the byte scan cannot vouch for chunk bounds, so the plan falls back to one pass.
const MIXED = [HEADER, ...Array.from({ length: 10 }, (_, i) => row(i + 1))].join('\n').replace('\n', '\r\n') + '\n';
const CLEAN = [HEADER, ...Array.from({ length: 10 }, (_, i) => row(i + 1))].join('\n') + '\n';
const sourceOf = (key: string): SourceRef => ({
  bucket: 'test-bronze',
  key,
  etag: 'etag-1',
  lastModified: new Date('2024-05-01T12:00:00Z'),
});
const options = (lake: TestLake, onePassMaxBytes?: number): IngestOptions => ({
  contracts,
  store: lake.store,
  catalog: lake.catalog,
  workDir: lake.root,
  ...(onePassMaxBytes === undefined ? {} : { onePassMaxBytes }),
});

async function planOf(lake: TestLake, key: string, content: string, onePassMaxBytes?: number) {
  await lake.store.putBytes('bronze', key, content);
  return planFanOut(sourceOf(key), await lake.store.getStream('bronze', key), {
    ...options(lake, onePassMaxBytes),
    fanOutChunkBytes: 60,
  });
}

describe('fan-out fallbacks to one pass, above what one invocation transforms', () => {
  it('a file the plan cannot chunk is rejected whole as TOO_LARGE_FOR_ONE_PASS when its text exceeds the limit', async () => {
    const lake = await createTestLake(contracts);
    const key = 'transactions/mixed-line-ends.csv';

    const outcome = await planOf(lake, key, MIXED, 100);

    if (outcome.kind !== 'ingested') throw new Error('expected the plan to fall back to one pass');
    const m = outcome.manifest;
    expect(m.status).toBe('rejected');
    expect(m.quarantine.file_reason).toBe(FileReason.TOO_LARGE_FOR_ONE_PASS);
    expect(m.reasons).toEqual({ [FileReason.TOO_LARGE_FOR_ONE_PASS]: 1 });
    expect(m.rows_in).toBe(m.rows_valid + m.rows_quarantined);
    expect(m.quarantine.file_key).not.toBeNull();
    const kept = await lake.store.getBytes('quarantine', m.quarantine.file_key ?? '');
    expect(Buffer.from(kept ?? new Uint8Array()).toString('utf8')).toBe(MIXED);
    expect(await lake.silverRows()).toEqual([]);
    expect(await lake.files('silver', '_pending/')).toEqual([]);
  });

  it('the same file within the limit is ingested in one pass as before', async () => {
    const lake = await createTestLake(contracts);

    const outcome = await planOf(lake, 'transactions/mixed-line-ends.csv', MIXED, MIXED.length);

    if (outcome.kind !== 'ingested') throw new Error('expected the plan to fall back to one pass');
    expect(outcome.manifest.status).toBe('succeeded');
    expect(outcome.manifest.rows_valid).toBe(10);
  });

  it("a chunk's rejection at commit rejects a file above the limit whole, with the chunk's own reason and where it was", async () => {
    const lake = await createTestLake(contracts);
    const key = 'transactions/clean.csv';
    const planned = await planOf(lake, key, CLEAN);
    if (planned.kind !== 'fan-out') throw new Error(`expected a fan-out: ${planned.why}`);
    const { plan } = planned;
    for (const c of plan.chunks) await transformFanOutChunk(plan, c.index, options(lake));
    // Fault injection: the first chunk recorded a rejection (what a chunk the reader refuses records).
    const first = await readChunkResult(lake, plan.staging_prefix, 0);
    await lake.store.putBytes(
      'silver',
      first.key,
      JSON.stringify({ ...first.result, rejection: { reason: FileReason.UNREADABLE, detail: 'injected' } }),
    );

    const outcome = await commitFanOut(plan, options(lake, 100));

    expect(outcome.kind).toBe('ingested');
    expect(outcome.manifest.status).toBe('rejected');
    expect(outcome.manifest.quarantine.file_reason).toBe(FileReason.UNREADABLE);
    expect(outcome.manifest.reasons).toEqual({ [FileReason.UNREADABLE]: 1 });
    const { start, end } = first.result.range;
    expect(outcome.manifest.quarantine.file_detail).toBe(`chunk 0 (bytes ${start}-${end} of the text): injected`);
    expect(outcome.manifest.bytes_in_uncompressed).toBe(CLEAN.length);
    const kept = await lake.store.getBytes('quarantine', outcome.manifest.quarantine.file_key ?? '');
    expect(Buffer.from(kept ?? new Uint8Array()).toString('utf8')).toBe(CLEAN);
    expect(await lake.silverRows()).toEqual([]);
    expect(await lake.files('silver', '_staging/')).toEqual([]);
    expect(await lake.files('silver', '_pending/')).toEqual([]);
  });
});

async function readChunkResult(
  lake: TestLake,
  stagingPrefix: string,
  index: number,
): Promise<{ key: string; result: FanOutChunkResult }> {
  for (const key of await lake.files('silver', stagingPrefix)) {
    if (!key.endsWith('.json')) continue;
    const bytes = await lake.store.getBytes('silver', key);
    const parsed = JSON.parse(Buffer.from(bytes ?? new Uint8Array()).toString('utf8')) as Partial<FanOutChunkResult>;
    if (parsed.index === index && parsed.range) return { key, result: parsed as FanOutChunkResult };
  }
  throw new Error(`no result of chunk ${index} under ${stagingPrefix}`);
}
