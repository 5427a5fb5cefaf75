/**
 * Files built to break the engine, through `lake ingest` as a user runs it: a record larger than the
 * reader's buffer (plain and inside a gzip), a file hundreds of columns wide, a gzip bomb. Each ends with
 * exit 0 and every record accounted for against the test's own counts — never a vanished record, never a
 * failure that would repeat on every retry. See test/faults/README.md.
 */
import { mkdir, utimes, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, it } from '@jest/globals';
import { expect } from '../support/expect.ts';
import type { Manifest } from '../../engine/index.ts';
import { caseDir, LANDED_AT, type CaseDir } from '../support/faults/case-dir.ts';
import { generateInput, type GeneratedInput } from '../support/faults/input.ts';
import { DATASET, expectExactLake, readLakeFiles, type BronzeInput } from '../support/faults/lake-state.ts';
import { describeRun, runLake } from '../support/faults/processes.ts';

const SPEC = { rows: 2000, months: ['2024-01', '2024-02', '2024-03'] } as const;

/** The input with a record of `bytes` bytes inserted after record `after`: quarantined as RECORD_TOO_LARGE, the records after it renumbered. */
function withOversizeRecord(input: GeneratedInput, after: number, bytes: number): GeneratedInput {
  const lines = input.text.split('\n');
  const record = `OVERSIZE,ACC001,1.00,EUR,2024-01-01T00:00:00Z,${'B'.repeat(bytes)}`;
  lines.splice(after + 1, 0, record);
  const quarantined = [
    ...input.quarantined.map((q) => (q.record_number > after ? { ...q, record_number: q.record_number + 1 } : q)),
    { record_number: after + 1, reason: 'RECORD_TOO_LARGE' },
  ];
  return {
    ...input,
    text: lines.join('\n'),
    rows: input.rows + 1,
    quarantined,
    reasons: { ...input.reasons, RECORD_TOO_LARGE: 1 },
  };
}

/** The input with `n` columns no contract claims appended to its header and every record. */
function withExtraColumns(input: GeneratedInput, n: number): GeneratedInput {
  const header = Array.from({ length: n }, (_, i) => `producer_extra_${i}`).join(',');
  const values = Array.from({ length: n }, (_, i) => `x${i}`).join(',');
  const lines = input.text
    .split('\n')
    .map((line, i) => (i === 0 ? `${line},${header}` : line === '' ? line : `${line},${values}`));
  return { ...input, text: lines.join('\n') };
}

async function putBytes(lakeDir: string, key: string, bytes: Uint8Array | string): Promise<string> {
  const path = join(lakeDir, 'bronze', ...key.split('/'));
  await mkdir(dirname(path), { recursive: true });
  await writeFile(path, bytes);
  await utimes(path, LANDED_AT, LANDED_AT);
  return path;
}

describe('adversarial files through `lake ingest`', () => {
  let tmp: CaseDir;
  beforeAll(async () => {
    tmp = await caseDir();
  });
  afterAll(async () => tmp.remove());

  async function ingest(name: string, key: string, bytes: Uint8Array | string): Promise<string> {
    const lakeDir = await tmp.lake(name);
    const path = await putBytes(lakeDir, key, bytes);
    const run = await runLake(['ingest', path, '--lake', lakeDir], { tmpDir: tmp.tmpDir });
    expect(run.code, describeRun(run)).toBe(0);
    return lakeDir;
  }

  it.concurrent(
    'a 33 MiB record between 1,000 records each side is quarantined (RECORD_TOO_LARGE), counted in rows_in',
    async () => {
      const object: BronzeInput = {
        key: `${DATASET}/oversize.csv`,
        input: withOversizeRecord(generateInput({ idPrefix: 'O', ...SPEC }), 1000, 33 << 20),
      };
      const lakeDir = await ingest('oversize', object.key, object.input.text);
      await expectExactLake(lakeDir, [object], tmp.dir);
    },
  );

  it.concurrent('the same inside a gzip', async () => {
    const object: BronzeInput = {
      key: `${DATASET}/oversize.csv.gz`,
      input: withOversizeRecord(generateInput({ idPrefix: 'G', ...SPEC }), 1000, 33 << 20),
    };
    const lakeDir = await ingest('oversize-gz', object.key, gzipSync(object.input.text, { level: 1 }));
    await expectExactLake(lakeDir, [object], tmp.dir);
  });

  it.concurrent(
    'a file 400 columns wide (it ran DuckDB out of memory on every retry): every record accounted for',
    async () => {
      const object: BronzeInput = {
        key: `${DATASET}/wide.csv`,
        input: withExtraColumns(generateInput({ idPrefix: 'W', ...SPEC }), 400),
      };
      const lakeDir = await ingest('wide', object.key, object.input.text);
      await expectExactLake(lakeDir, [object], tmp.dir);
    },
  );

  it.concurrent(
    'a gzip bomb (100 MiB from ~100 KB) is refused as EXPANSION_LIMIT, the original kept whole, nothing in silver',
    async () => {
      const line = 'B1,ACC001,1.00,EUR,2024-01-01T00:00:00Z\n';
      const bomb = gzipSync(
        `TransactionID,CustomerID,TransactionAmount,Currency,TransactionTimestamp\n${line.repeat(Math.ceil((100 << 20) / line.length))}`,
        { level: 9 },
      );
      const key = `${DATASET}/bomb.csv.gz`;
      const lakeDir = await ingest('bomb', key, bomb);
      const files = await readLakeFiles(lakeDir);
      const [manifest, ...others] = [...files.manifests.values()] as Manifest[];
      expect(others).toEqual([]);
      expect(manifest).toMatchObject({
        status: 'rejected',
        rows_in: 0,
        reasons: { EXPANSION_LIMIT: 1 },
        quarantine: { file_reason: 'EXPANSION_LIMIT' },
      });
      expect(manifest?.quarantine.file_detail).toMatch(
        /beyond 200× its \d+ compressed bytes; decompression stopped at/,
      );
      expect([...files.silver.keys()]).toEqual([]);
      expect(files.quarantine.has(manifest?.quarantine.file_key ?? '')).toBe(true);
    },
  );
});
