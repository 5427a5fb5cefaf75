/**
 * A ≥ 200 MiB bronze file, uploaded with a multipart upload, ingested by the bundled function in its own
 * process (a cold container) whose peak RSS is measured: the body is streamed and DuckDB spills within its
 * memory limit, so memory stays far below the function's MemorySize whatever the file size.
 */
import { DeleteMessageCommand } from '@aws-sdk/client-sqs';
import { Upload } from '@aws-sdk/lib-storage';
import { createReadStream, createWriteStream, statSync } from 'node:fs';
import { once } from 'node:events';
import { join } from 'node:path';
import { describe, expect, it } from '@jest/globals';
import { invokeInChild } from '../support/integration/child-invoke.ts';
import { receive, sqsEventFrom } from '../support/integration/lambda-runtime.ts';
import {
  downloadPrefix,
  duckdb,
  getManifests,
  gluePartitions,
  skipReason,
  useLake,
} from '../support/integration/lake-fixture.ts';

const TARGET_BYTES = Number(process.env.MEDALLION_IT_LARGE_MIB ?? 200) * 1024 * 1024;
const BAD_EVERY = 100_000;
const CURRENCIES = ['EUR', 'USD', 'GBP', 'JPY', 'CHF', 'CAD', 'AUD'];

/** Writes a transactions CSV of at least `minBytes`; every BAD_EVERY-th row has an invalid currency. */
async function writeLargeCsv(path: string, minBytes: number): Promise<{ rows: number; bad: number; bytes: number }> {
  const out = createWriteStream(path);
  let bytes = 0;
  let rows = 0;
  let bad = 0;
  const header = 'TransactionID,CustomerID,TransactionAmount,Currency,TransactionTimestamp\n';
  out.write(header);
  bytes += header.length;
  while (bytes < minBytes) {
    const lines: string[] = [];
    for (let i = 0; i < 10_000; i++) {
      rows++;
      const invalid = rows % BAD_EVERY === 0;
      if (invalid) bad++;
      const month = String((rows % 3) + 1).padStart(2, '0');
      const day = String((rows % 28) + 1).padStart(2, '0');
      const currency = invalid ? 'XXX' : CURRENCIES[rows % CURRENCIES.length];
      const amount = (((rows % 100_000) - 40_000) / 100).toFixed(2);
      lines.push(
        `TX-${String(rows).padStart(10, '0')},CUST-${rows % 50_000},${amount},${currency},2024-${month}-${day}T12:34:56.789Z`,
      );
    }
    const chunk = `${lines.join('\n')}\n`;
    bytes += Buffer.byteLength(chunk);
    if (!out.write(chunk)) await once(out, 'drain');
  }
  out.end();
  await once(out, 'finish');
  return { rows, bad, bytes };
}

(skipReason ? describe.skip : describe)('a ≥ 200 MiB file', () => {
  const lake = useLake();

  it('uploaded multipart, is ingested by the bundled function in its own process with bounded memory', async () => {
    const fx = lake();
    const source = join(fx.scratchDir, 'large.csv');
    const generated = await writeLargeCsv(source, TARGET_BYTES);
    expect(statSync(source).size).toBeGreaterThanOrEqual(TARGET_BYTES);

    const key = 'transactions/large/2024-q1 full export.csv';
    const t0 = Date.now();
    const upload = new Upload({
      client: fx.clients.s3,
      params: { Bucket: fx.lake.buckets.bronze, Key: key, Body: createReadStream(source) },
      partSize: 16 * 1024 * 1024,
      queueSize: 2,
    });
    const uploaded = await upload.done();
    const uploadMs = Date.now() - t0;

    // moto announces a completed multipart upload twice (identical events); only the first is run here,
    // the duplicate is deleted unprocessed (redelivery is covered by ingest.test.ts).
    const received = await receive(fx.clients.sqs, fx.lake.queue.url, 10);
    const announced = received.map(
      (m) => JSON.parse(m.Body!) as { detail: { object: { key: string; 'version-id': string } } },
    );
    expect(announced.length).toBeGreaterThanOrEqual(1);
    expect(new Set(announced.map((e) => `${e.detail.object.key}@${e.detail.object['version-id']}`))).toEqual(
      new Set([`${key}@${uploaded.VersionId ?? announced[0]!.detail.object['version-id']}`]),
    );
    const messages = received.slice(0, 1);
    for (const duplicate of received.slice(1)) {
      await fx.clients.sqs.send(
        new DeleteMessageCommand({ QueueUrl: fx.lake.queue.url, ReceiptHandle: duplicate.ReceiptHandle! }),
      );
    }

    const result = await invokeInChild(fx, sqsEventFrom(fx.lake, messages), { LOG_LEVEL: 'WARN' });
    expect(result.error).toBeUndefined();
    expect(result.response).toEqual({ batchItemFailures: [] });
    await fx.clients.sqs.send(
      new DeleteMessageCommand({ QueueUrl: fx.lake.queue.url, ReceiptHandle: messages[0]!.ReceiptHandle! }),
    );

    const [manifest] = await getManifests(fx, 'transactions');
    expect(manifest).toMatchObject({
      status: 'succeeded',
      rows_in: generated.rows,
      rows_valid: generated.rows - generated.bad,
      rows_quarantined: generated.bad,
      bytes_in: generated.bytes,
      reasons: { INVALID_CURRENCY: generated.bad },
    });
    expect((await gluePartitions(fx, 'transactions')).map((p) => p.Values)).toEqual([
      ['2024', '01'],
      ['2024', '02'],
      ['2024', '03'],
    ]);
    const dir = await downloadPrefix(fx, fx.lake.buckets.silver, 'transactions/');
    const [counts] = await duckdb(
      `SELECT count(*) AS n, count(DISTINCT transaction_id) AS ids FROM read_parquet('${join(dir, 'transactions')}/**/*.parquet', hive_partitioning = true)`,
    );
    expect(counts).toEqual({ n: String(generated.rows - generated.bad), ids: String(generated.rows - generated.bad) });

    const peak = Math.round(result.maxRssMb);
    console.log(
      `[large file] ${(generated.bytes / 2 ** 20).toFixed(0)} MiB, ${generated.rows} rows: upload ${(uploadMs / 1000).toFixed(1)} s, ` +
        `ingest ${(result.durationMs / 1000).toFixed(1)} s, peak RSS ${peak} MB (function MemorySize ${fx.lake.fn.memorySize} MB, DUCKDB_MEMORY_LIMIT ${fx.lake.fn.environment.DUCKDB_MEMORY_LIMIT})`,
    );
    // Bounded by DuckDB's memory limit plus a fixed overhead, not by the file (measured: 455 MB at 50 MiB,
    // 513 MB at 200 MiB): well inside the function's memory.
    expect(peak).toBeLessThan(fx.lake.fn.memorySize * 0.75);
  });
});
