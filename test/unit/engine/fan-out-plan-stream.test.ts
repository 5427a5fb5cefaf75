/**
 * The plan reads the object as a stream and keeps no copy of it: the gzip expansion limits still stop a
 * bomb (and stop decompressing at the limit), a gzip's staged text never outlives a plan that does not fan
 * out, a file above what one invocation transforms is rejected whole with its original streamed to
 * quarantine, and the plan's own scratch (the JSON Lines key sample) stays within its budget.
 */
import { gzipSync } from 'node:zlib';
import { describe, it } from '@jest/globals';
import { expect } from '../../support/expect.ts';
import { withOverrides } from '../../support/store-faults.ts';
import { planFanOut, type FanOutPlanOptions, type PlanOutcome, type SourceRef } from '../../../engine/index.ts';
import { createTestLake, HEADER, type TestLake } from '../../support/local-lake.ts';
import { planOnLocalStore } from '../../support/unit/fan-out-vs-one-pass.ts';
import { contractsWithReadings, READING_COLUMNS } from '../../support/unit/ingest-inputs.ts';

const contracts = contractsWithReadings(READING_COLUMNS);
const row = (i: number) => `T${i},A${i % 3},1.00,EUR,2024-01-15T10:00:00Z`;
const CSV = [HEADER, ...Array.from({ length: 20_000 }, (_, i) => row(i + 1))].join('\n') + '\n';
const GZ = gzipSync(CSV, { level: 9 });

async function plan(
  lake: TestLake,
  key: string,
  content: string | Buffer,
  options: Partial<FanOutPlanOptions> = {},
  source: Partial<SourceRef> = {},
): Promise<PlanOutcome> {
  return planOnLocalStore(
    lake,
    key,
    content,
    { contracts, store: lake.store, catalog: lake.catalog, workDir: lake.root, fanOutChunkBytes: 4096, ...options },
    source,
  );
}

const manifestOf = (outcome: PlanOutcome) => {
  if (outcome.kind !== 'ingested') throw new Error('expected the plan to ingest (or reject) the file itself');
  return outcome.manifest;
};

describe('the streaming plan', () => {
  it.each([
    ['its size unknown up front (checked once the stream ends)', {}],
    ['its size declared (S3 Content-Length: checked as the text arrives)', { size: GZ.length }],
  ])('a gzip beyond the expansion ratio is rejected as one pass rejects it, %s', async (_, source) => {
    const limits = { expansionLimits: { maxRatio: 5, ratioFloorBytes: 1024, maxBytes: 1 << 30 } };
    const onePass = await createTestLake(contracts, limits);
    const reference = await onePass.ingest('transactions/bomb.csv.gz', GZ);
    const lake = await createTestLake(contracts);
    const m = manifestOf(await plan(lake, 'transactions/bomb.csv.gz', GZ, limits, source));
    expect(m).toMatchObject({ status: 'rejected', rows_in: 0, reasons: { EXPANSION_LIMIT: 1 } });
    expect(m.quarantine.file_detail).toBe(reference.quarantine.file_detail);
    expect(await lake.files('silver', '_staging/')).toEqual([]);
  });

  it('above the one-pass limit, a bomb is rejected whole in the plan: decompression stops at the cap, the original is streamed to quarantine', async () => {
    const lake = await createTestLake(contracts);
    const outcome = await plan(
      lake,
      'transactions/capped.csv.gz',
      GZ,
      { expansionLimits: { maxRatio: 1000, ratioFloorBytes: 1024, maxBytes: 100_000 }, onePassMaxBytes: 1000 },
      { size: GZ.length },
    );
    const m = manifestOf(outcome);
    expect(m).toMatchObject({ status: 'rejected', rows_in: 0, reasons: { EXPANSION_LIMIT: 1 }, bytes_in: GZ.length });
    const stoppedAt = Number(/decompression stopped at (\d+) bytes/.exec(m.quarantine.file_detail ?? '')?.[1]);
    expect(stoppedAt).toBeGreaterThan(100_000);
    expect(stoppedAt).toBeLessThan(CSV.length);
    const kept = await lake.store.getBytes('quarantine', m.quarantine.file_key ?? '');
    expect(Buffer.from(kept ?? []).equals(GZ)).toBe(true);
    expect(await lake.files('silver', '_staging/')).toEqual([]);
    expect(await lake.files('silver', '_pending/')).toEqual([]);
  });

  it('a corrupt gzip is UNREADABLE, within the one-pass limit and above it', async () => {
    const corrupt = Buffer.concat([GZ.subarray(0, 2000), Buffer.alloc(50, 7), GZ.subarray(2050)]);
    for (const onePassMaxBytes of [undefined, 1000]) {
      const lake = await createTestLake(contracts);
      const m = manifestOf(await plan(lake, 'transactions/corrupt.csv.gz', corrupt, { onePassMaxBytes }));
      expect(m, `onePassMaxBytes ${onePassMaxBytes}`).toMatchObject({ status: 'rejected', reasons: { UNREADABLE: 1 } });
      expect(m.quarantine.file_detail).toMatch(/gzip data is corrupt/);
      expect(await lake.files('silver', '_staging/')).toEqual([]);
    }
  });

  it('above the one-pass limit, binary text is UNREADABLE as soon as its first 64 KiB are in, not after decompressing all of it', async () => {
    // 8 MiB of NUL bytes: past the plan's 1 MiB expansion cap, so only an early check sees the NUL bytes first.
    const binary = gzipSync(Buffer.alloc(8 << 20));
    const generous = { expansionLimits: { maxRatio: 1e6, ratioFloorBytes: 1024, maxBytes: 1 << 30 } };
    const reference = await (await createTestLake(contracts, generous)).ingest('transactions/blob.csv.gz', binary);
    const lake = await createTestLake(contracts);
    const m = manifestOf(
      await plan(
        lake,
        'transactions/blob.csv.gz',
        binary,
        { planExpansionLimits: { maxRatio: 1e6, ratioFloorBytes: 1024, maxBytes: 1 << 20 }, onePassMaxBytes: 1000 },
        { size: binary.length },
      ),
    );
    expect(m).toMatchObject({ status: 'rejected', rows_in: 0, reasons: { UNREADABLE: 1 }, bytes_in: binary.length });
    expect(m.quarantine.file_detail).toBe(reference.quarantine.file_detail);
    expect(await lake.files('silver', '_staging/')).toEqual([]);
  });

  it('a gzip whose text cannot be chunked (mixed line ends) leaves no staged text; one pass as before', async () => {
    const text = `${HEADER}\r\n${row(1)}\r\n${Array.from({ length: 300 }, (_, i) => row(i + 2)).join('\n')}\n`;
    const onePass = await createTestLake(contracts);
    const reference = await onePass.ingest('transactions/mixed.csv.gz', gzipSync(text));
    const lake = await createTestLake(contracts);
    const outcome = await plan(lake, 'transactions/mixed.csv.gz', gzipSync(text));
    expect(outcome.kind === 'ingested' && outcome.why).toBe('CRLF and LF line ends are mixed');
    const m = manifestOf(outcome);
    expect([m.status, m.rows_valid, m.compression]).toEqual([reference.status, reference.rows_valid, 'gzip']);
    expect(await lake.files('silver', '_staging/')).toEqual([]);
  });

  it("the plan's own expansion limits apply to the stream (its text is not stored locally); one pass keeps the scratch-bound ones", async () => {
    const scratchBound = { expansionLimits: { maxRatio: 1000, ratioFloorBytes: 1024, maxBytes: 100_000 } };
    const lake = await createTestLake(contracts);
    const outcome = await plan(lake, 'transactions/wide.csv.gz', GZ, {
      ...scratchBound,
      planExpansionLimits: { maxRatio: 1000, ratioFloorBytes: 1024, maxBytes: 1 << 30 },
    });
    expect(outcome.kind).toBe('fan-out');
    const bound = await plan(await createTestLake(contracts), 'transactions/wide.csv.gz', GZ, scratchBound);
    expect(manifestOf(bound).reasons).toEqual({ EXPANSION_LIMIT: 1 });
  });

  it('a gzip that is fanned out is planned over its staged text', async () => {
    const lake = await createTestLake(contracts);
    const outcome = await plan(lake, 'transactions/ok.csv.gz', GZ);
    if (outcome.kind !== 'fan-out') throw new Error(`not fanned out: ${outcome.why}`);
    expect(outcome.plan.text).toEqual({
      zone: 'silver',
      key: `${outcome.plan.staging_prefix}text.txt`,
      version_id: null,
    });
    expect(outcome.plan.sizes).toEqual({ bytesIn: GZ.length, bytesUncompressed: CSV.length, compression: 'gzip' });
    const staged = await lake.store.getBytes('silver', outcome.plan.text.key);
    expect(Buffer.from(staged ?? []).toString()).toBe(CSV);
  });

  it('a staging upload that fails fails the plan (the state machine retries it): no plan, no intent record', async () => {
    const lake = await createTestLake(contracts);
    // Fault injection: the store takes 64 KiB of the text, then its upload fails.
    const store = withOverrides(lake.store, {
      async putStream(_zone: string, _key: string, body: AsyncIterable<Uint8Array>): Promise<void> {
        let taken = 0;
        for await (const part of body) if ((taken += part.length) > 64 << 10) throw new Error('injected: S3 is down');
      },
    });
    await lake.store.putBytes('bronze', 'transactions/ok.csv.gz', GZ);
    await expect(
      planFanOut(
        { bucket: 'test-bronze', key: 'transactions/ok.csv.gz', etag: 'etag-1' },
        await lake.store.getStream('bronze', 'transactions/ok.csv.gz'),
        { contracts, store, catalog: lake.catalog, workDir: lake.root, fanOutChunkBytes: 4096 },
      ),
    ).rejects.toThrow(/injected: S3 is down/);
    expect(await lake.files('silver', '_staging/')).toEqual([]);
    expect(await lake.files('silver', '_pending/')).toEqual([]);
  });

  it("a JSON Lines key sample over the plan's scratch budget sends the file to one pass", async () => {
    const jsonl = Array.from({ length: 2000 }, (_, i) => `{"reading_id":${i},"device":"d${i}"}`).join('\n');
    const lake = await createTestLake(contracts);
    const within = await plan(lake, 'readings/r.jsonl', jsonl, { planScratchBytes: jsonl.length });
    expect(within.kind).toBe('fan-out');
    const over = await plan(await createTestLake(contracts), 'readings/r.jsonl', jsonl, { planScratchBytes: 10_000 });
    expect(over.kind === 'ingested' && over.why).toBe(
      `its key sample is ${jsonl.length} bytes, over the plan's 10000-byte scratch budget`,
    );
    expect(manifestOf(over)).toMatchObject({ status: 'succeeded', rows_valid: 2000 });
  });
});
