/**
 * A file ingested through the fan-out path — the synthesized state machine's definition run step by step
 * (Plan → Map over the chunks → Commit) against the bundled function — gives the same silver rows,
 * quarantine rows (numbers, reasons, details), manifest counts and Glue partitions as the one-invocation
 * path gives the same bytes; a chunk whose staging fails (S3 503s from a fault proxy) is retried by the
 * state machine and leaves no duplicate; nothing of the fan-out is left in staging or as an intent record.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { startFaultProxy, s3SlowDown, type FaultProxy } from '../support/integration/fault-proxy.ts';
import {
  ingestCounts,
  putForFanOut,
  quarantineRowsOf,
  runFanOutExecution,
  silverRowsWithoutLineage,
} from '../support/integration/fan-out.ts';
import { lambdaContext } from '../support/integration/lambda-runtime.ts';
import {
  drain,
  getManifests,
  gluePartitions,
  listKeys,
  putBronze,
  quarantineRows,
  silverRows,
  skipReason,
  useLake,
} from '../support/integration/lake-fixture.ts';
import { type ExecutionTrace } from '../support/integration/state-machine.ts';

/** Small chunks so that a small file has many: every cut is a place a record could be lost or doubled. */
const CHUNK_BYTES = 2048;
const HEADER = 'TransactionID,CustomerID,TransactionAmount,Currency,TransactionTimestamp';

/** 400 records over three months; records 5k and 5k+1 are bad (two in a row, of different kinds), plus blank lines and quoted newlines. */
function transactionsCsv(): string {
  const lines = [HEADER];
  for (let i = 1; i <= 400; i++) {
    const month = String((i % 3) + 1).padStart(2, '0');
    const ts = `2024-${month}-${String((i % 28) + 1).padStart(2, '0')}T10:00:00Z`;
    if (i % 5 === 0)
      lines.push(i % 10 === 0 ? `T${i},C${i},1.00,EUR` : `T${i},C${i},12.345,EUR,${ts}`); // too few fields | too many decimals
    else if (i % 5 === 1 && i > 1)
      lines.push(`T${i},C${i},7.00,XXX,${ts}`); // currency not allowed
    else if (i % 37 === 0) lines.push(`"T${i}","C${i}\nsecond line",3.50,USD,${ts}`);
    else lines.push(`T${i},C${i},${(i / 4).toFixed(2)},GBP,${ts}`);
    if (i % 53 === 0) lines.push('');
  }
  return `${lines.join('\n')}\n`;
}

const CONTENT = transactionsCsv();
const isBad = (line: string): boolean => /XXX|12\.345/.test(line) || line.split(',').length === 4;

let proxy: FaultProxy | undefined;

(skipReason ? describe.skip : describe)('fan-out of a file too large for one invocation', () => {
  const lake = useLake({
    functionEndpoint: async (moto) => {
      proxy = await startFaultProxy(moto);
      return proxy.endpoint;
    },
  });
  beforeAll(() => {
    // Read by the function's configuration on its first invocation (as the template's FAN_OUT_CHUNK_BYTES would be).
    process.env.FAN_OUT_CHUNK_BYTES = String(CHUNK_BYTES);
  });
  afterAll(async () => proxy?.close());

  it('gives what the one-invocation path gives: silver, quarantine, manifest counts, Glue partitions; nothing left staged', async () => {
    const fx = lake();
    const fanKey = 'transactions/fan-out/export.csv';
    const trace: ExecutionTrace = { tasks: [] };
    const output = await runFanOutExecution(fx, fanKey, await putForFanOut(fx, fanKey, CONTENT), { trace });

    const plan = output.plan as {
      fanned_out: boolean;
      chunks: Array<{ index: number; start: number; end: number }>;
      dataset: string;
      source_id: string;
    };
    expect(plan.fanned_out).toBe(true);
    expect(plan.chunks.length).toBeGreaterThanOrEqual(8);
    expect(trace.tasks.map((t) => t.state)).toEqual(['Plan', ...plan.chunks.map(() => 'Chunk'), 'Commit']);
    expect(output.commit).toMatchObject({ outcome: 'committed', status: 'succeeded' });
    const partitionsAfterFanOut = await gluePartitions(fx, 'transactions');
    expect(partitionsAfterFanOut.map((p) => p.Values)).toEqual([
      ['2024', '01'],
      ['2024', '02'],
      ['2024', '03'],
    ]);

    // The same bytes through the ordinary path (SQS → one invocation).
    const oneKey = 'transactions/one-invocation/export.csv';
    await putBronze(fx, oneKey, CONTENT);
    const invocations = await drain(fx);
    expect(invocations.flatMap((i) => i.failed)).toEqual([]);

    const manifests = await getManifests(fx, 'transactions');
    const fanned = manifests.find((m) => m.source.key === fanKey)!;
    const single = manifests.find((m) => m.source.key === oneKey)!;
    expect(fanned.engine.chunks).toBe(plan.chunks.length);
    expect(single.engine.chunks).toBe(1);
    expect(ingestCounts(fanned, false)).toEqual(ingestCounts(single, false));
    expect(fanned.rows_in).toBe(400);
    expect(fanned.rows_in).toBe(fanned.rows_valid + fanned.rows_quarantined);
    expect(fanned.rows_quarantined).toBeGreaterThan(100);
    expect(await silverRowsWithoutLineage(fx, 'transactions', fanKey)).toEqual(
      await silverRowsWithoutLineage(fx, 'transactions', oneKey),
    );
    expect(await quarantineRowsOf(fx, 'transactions', fanKey)).toEqual(
      await quarantineRowsOf(fx, 'transactions', oneKey),
    );
    // The one-invocation ingest of the same rows needed no partition the fan-out had not registered.
    expect((await gluePartitions(fx, 'transactions')).map((p) => [p.Values, p.StorageDescriptor?.Location])).toEqual(
      partitionsAfterFanOut.map((p) => [p.Values, p.StorageDescriptor?.Location]),
    );

    // Cuts fall between two bad records (a bad record on each side of a cut).
    const text = Buffer.from(CONTENT);
    const badAroundCut = plan.chunks.filter((c) => {
      const before = text.subarray(0, c.start).toString().trimEnd().split('\n').pop() ?? '';
      const after = text.subarray(c.start).toString().split('\n')[0] ?? '';
      return c.start > 0 && isBad(before) && isBad(after);
    });
    expect(badAroundCut.length).toBeGreaterThan(0);

    expect(await listKeys(fx, fx.lake.buckets.silver, '_staging/')).toEqual([]);
    expect(await listKeys(fx, fx.lake.buckets.silver, '_pending/')).toEqual([]);
  });

  it('a chunk that fails once (S3 503s while it stages) is retried by the state machine and leaves no duplicate', async () => {
    const fx = lake();
    const key = 'transactions/fan-out/retried.csv';
    const versionId = await putForFanOut(fx, key, CONTENT);
    // Every attempt of the SDK to write chunk 3's result record fails, on the first invocation of that chunk only.
    let failing = true;
    proxy!.setRule((req) =>
      failing && req.method === 'PUT' && /_staging\/.*chunk-00003\/result\.json/.test(req.url ?? '')
        ? s3SlowDown
        : undefined,
    );
    const trace: ExecutionTrace = { tasks: [] };
    try {
      const output = await runFanOutExecution(fx, key, versionId, {
        invoke: async (payload) => {
          try {
            return (await fx.handler(payload, lambdaContext(fx.lake))) as never;
          } finally {
            if (proxy!.faulted.length > 0) failing = false;
          }
        },
        trace,
      });
      expect((output as { commit: unknown }).commit).toMatchObject({ outcome: 'committed' });
    } finally {
      proxy!.setRule(undefined);
    }
    expect(proxy!.faulted.length).toBeGreaterThan(0);
    const failed = trace.tasks.filter((t) => t.failed);
    expect(failed).toEqual([
      expect.objectContaining({ state: 'Chunk', payload: expect.objectContaining({ index: 3 }) }),
    ]);

    const [manifest] = await getManifests(fx, 'transactions');
    expect(manifest!.rows_in).toBe(400);
    const rows = await silverRows(fx, 'transactions');
    expect(rows).toHaveLength(manifest!.rows_valid);
    expect(new Set(rows.map((r) => r.transaction_id)).size).toBe(rows.length);
    const quarantined = await quarantineRows(fx, 'transactions');
    expect(quarantined).toHaveLength(manifest!.rows_quarantined);
    expect(new Set(quarantined.map((r) => Number(r.record_number))).size).toBe(quarantined.length);
    expect(await listKeys(fx, fx.lake.buckets.silver, '_staging/')).toEqual([]);
    expect(await listKeys(fx, fx.lake.buckets.silver, '_pending/')).toEqual([]);
  });
});
