/**
 * The fan-out's plan never holds the object locally: the bundled Plan step runs in a process that may not
 * write any file as large as the object's text, nor as its compressed bytes (RLIMIT_FSIZE, a write past it
 * kills the process), and still plans a gzip CSV (decompressed on the fly, its text staged by multipart
 * upload) and a JSON Lines file (chunked, every chunk binding keys from the staged sample). The chunks and
 * commit then give the same silver rows, quarantine rows and manifest counts as the one-invocation path
 * gives the same bytes.
 */
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { beforeAll, describe, expect, it } from '@jest/globals';
import { invokeInChild } from '../support/integration/child-invoke.ts';
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
  listKeys,
  putBronze,
  skipReason,
  useLake,
  type LakeFixture,
} from '../support/integration/lake-fixture.ts';
import type { ExecutionTrace } from '../support/integration/state-machine.ts';

/** Chunks of 1 MiB; the Plan step's process may not write a file of 1 MiB. */
const CHUNK_BYTES = 1 << 20;
const PLAN_FILE_LIMIT = 1 << 20;
const REPO_CONTRACTS = join(import.meta.dirname, '..', '..', 'contracts');

const readingsContract = {
  name: 'readings',
  version: '1.0.0',
  description: 'Device readings, one JSON object per line.',
  owner: 'iot-data',
  bronzePrefix: 'readings/',
  source: { format: 'jsonl' },
  columns: [
    { name: 'reading_id', type: 'bigint', required: true, aliases: ['id'], description: 'Reading id.' },
    { name: 'device', type: 'string', required: true, description: 'Device name.' },
    { name: 'value', type: 'decimal(10,2)', required: false, description: 'The reading.' },
  ],
  partitionBy: [],
};

/** About 5.5 MB of CSV text (1.4 MB compressed: over 1 MiB too): bad records, blank lines and quoted newlines throughout. */
function transactionsCsv(): string {
  const lines = ['TransactionID,CustomerID,TransactionAmount,Currency,TransactionTimestamp'];
  for (let i = 1; i <= 120_000; i++) {
    const ts = `2024-${String((i % 3) + 1).padStart(2, '0')}-${String((i % 28) + 1).padStart(2, '0')}T10:${String(i % 60).padStart(2, '0')}:00Z`;
    if (i % 997 === 0) lines.push(`T${i},C${i},1.00,EUR`);
    else if (i % 1009 === 0) lines.push(`T${i},C${i},7.00,XXX,${ts}`);
    else if (i % 1013 === 0) lines.push(`"T${i}","C${i}\nsecond line",3.50,USD,${ts}`);
    else lines.push(`T${i},C${(i * 7919) % 100_003},${((i * 37) % 100_000) / 100},GBP,${ts}`);
    if (i % 4_999 === 0) lines.push('');
  }
  return `${lines.join('\n')}\n`;
}

/** About 2.8 MB of JSON Lines: lines that are not objects, blank lines, an alias spelling after line 1. */
function readingsJsonl(): string {
  const lines: string[] = [];
  for (let i = 1; i <= 60_000; i++) {
    if (i % 1_201 === 0) lines.push('not json');
    else if (i % 1_301 === 0) lines.push('');
    else if (i % 1_409 === 0) lines.push(`{"reading_id":${i}}`);
    else if (i % 2 === 0) lines.push(`{"id":${i},"device":"d${i % 97}","value":${(i % 10_000) / 100}}`);
    else lines.push(`{"reading_id":${i},"device":"d${i % 97}","value":"${(i % 10_000) / 100}"}`);
  }
  return `${lines.join('\n')}\n`;
}

(skipReason ? describe.skip : describe)('fan-out plan of an object larger than the plan may write locally', () => {
  const lake = useLake();
  let contractsDir = '';
  beforeAll(() => {
    contractsDir = mkdtempSync(join(lake().scratchDir, 'contracts-'));
    copyFileSync(join(REPO_CONTRACTS, 'transactions.json'), join(contractsDir, 'transactions.json'));
    writeFileSync(join(contractsDir, 'readings.json'), JSON.stringify(readingsContract, null, 2));
    // Read by the function's configuration on its first invocation (in this process and in every child).
    process.env.FAN_OUT_CHUNK_BYTES = String(CHUNK_BYTES);
    process.env.CONTRACTS_DIR = contractsDir;
  });

  const env = (): Record<string, string> => ({ FAN_OUT_CHUNK_BYTES: String(CHUNK_BYTES), CONTRACTS_DIR: contractsDir });

  /** Plan in a child process under the file-size limit; chunks and commit in this (warm) container. */
  async function fanOut(fx: LakeFixture, key: string, versionId: string | undefined, trace: ExecutionTrace) {
    let planRssMb = 0;
    const output = (await runFanOutExecution(fx, key, versionId, {
      invoke: async (payload) => {
        if ((payload as { fanOut?: string }).fanOut !== 'plan')
          return (await fx.handler(payload, lambdaContext(fx.lake))) as never;
        const result = await invokeInChild(fx, payload, env(), { fileSizeBytes: PLAN_FILE_LIMIT });
        if (result.error) throw Object.assign(new Error(result.error.message), { name: result.error.name });
        planRssMb = result.maxRssMb;
        return result.response as never;
      },
      trace,
    })) as { plan: { fanned_out: boolean; chunks: unknown[]; why?: string }; commit: unknown };
    return { output, planRssMb };
  }

  it('the file-size limit is real: a process under it cannot write a file past it', () => {
    const path = join(lake().scratchDir, 'too-large.bin');
    const run = spawnSync('prlimit', [
      `--fsize=${PLAN_FILE_LIMIT}`,
      '--',
      process.execPath,
      '-e',
      `require('node:fs').writeFileSync(${JSON.stringify(path)}, Buffer.alloc(${PLAN_FILE_LIMIT + 1}))`,
    ]);
    expect(run.status === 0 && run.signal === null).toBe(false);
  });

  it.each([
    ['transactions', 'transactions/fan-out/export.csv.gz', () => gzipSync(transactionsCsv()), 'transaction_id'],
    ['readings', 'readings/fan-out/export.jsonl', () => Buffer.from(readingsJsonl()), 'reading_id'],
  ])(
    '%s: %s is planned without a local copy and equals the one-invocation path',
    async (dataset, key, make, orderBy) => {
      const fx = lake();
      const body = make();
      const text = key.endsWith('.gz') ? transactionsCsv() : body.toString();
      expect(Math.min(body.length, Buffer.byteLength(text))).toBeGreaterThan(PLAN_FILE_LIMIT);
      const trace: ExecutionTrace = { tasks: [] };

      const { output, planRssMb } = await fanOut(fx, key, await putForFanOut(fx, key, body), trace);

      expect(output.plan.why).toBeUndefined();
      expect(output.plan.fanned_out).toBe(true);
      expect(output.plan.chunks.length).toBeGreaterThanOrEqual(3);
      expect(output.commit).toMatchObject({ outcome: 'committed', status: 'succeeded' });
      expect(planRssMb).toBeGreaterThan(0);

      const oneKey = key.replace('/fan-out/', '/one-invocation/');
      await putBronze(fx, oneKey, body);
      expect((await drain(fx)).flatMap((i) => i.failed)).toEqual([]);
      const manifests = await getManifests(fx, dataset);
      const fanned = manifests.find((m) => m.source.key === key)!;
      const single = manifests.find((m) => m.source.key === oneKey)!;
      expect(fanned.engine.chunks).toBe(output.plan.chunks.length);
      expect(ingestCounts(fanned, true)).toEqual(ingestCounts(single, true));
      expect(fanned.rows_in).toBe(fanned.rows_valid + fanned.rows_quarantined);
      expect(fanned.rows_quarantined).toBeGreaterThan(10);
      expect(await silverRowsWithoutLineage(fx, dataset, key, orderBy)).toEqual(
        await silverRowsWithoutLineage(fx, dataset, oneKey, orderBy),
      );
      expect(await quarantineRowsOf(fx, dataset, key)).toEqual(await quarantineRowsOf(fx, dataset, oneKey));
      expect(await listKeys(fx, fx.lake.buckets.silver, '_staging/')).toEqual([]);
      expect(await listKeys(fx, fx.lake.buckets.silver, '_pending/')).toEqual([]);
    },
  );
});
