/**
 * A large object transformed in record-aligned chunks, two at once, as the ingest function does with two
 * vCPUs: a chunk that fails (disk full while it is staged) fails the whole ingest loudly with nothing
 * published, a process killed while chunks run publishes nothing, and the next delivery leaves the lake
 * exactly as one clean ingest does — byte for byte. See test/faults/README.md.
 */
import { afterAll, beforeAll, describe, it } from '@jest/globals';
import { expect } from '../support/expect.ts';
import { bronzeInput, caseDir, type CaseDir } from '../support/faults/case-dir.ts';
import { faultEnv, type FaultPoint } from '../support/faults/faults.ts';
import {
  expectExactLake,
  expectSameAsReference,
  readLakeFiles,
  type BronzeInput,
} from '../support/faults/lake-state.ts';
import { describeRun, startIngestBronze } from '../support/faults/processes.ts';

/** 120,000 records (6 MiB) in chunks of 2 MiB (the engine's default is 32 MiB from 64 MiB on): 3 chunks. */
const OBJECT: BronzeInput = bronzeInput('chunked.csv', {
  idPrefix: 'C',
  rows: 120_000,
  months: ['2024-01', '2024-02', '2024-03', '2024-04'],
});
/** Writing the n-th chunk (0-based) to its own file: as the scan reads it (teed, under a partial name) or copied. */
const chunkStaged = (n: number): RegExp => new RegExp(`/chunk-0000${n}/input\\.txt(\\.partial)?$`);

describe('an ingest in parallel chunks', () => {
  let tmp: CaseDir;
  let referenceDir: string;
  const deliver = (lakeDir: string, env: Record<string, string> = {}) =>
    startIngestBronze(lakeDir, OBJECT.key, {
      env: { INGEST_THREADS: '2', CHUNK_BYTES: String(2 << 20), ...env },
      tmpDir: tmp.tmpDir,
    });

  beforeAll(async () => {
    tmp = await caseDir();
    referenceDir = await tmp.lakeWith('reference', OBJECT);
    const r = await deliver(referenceDir);
    expect(r.code, describeRun(r)).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ chunks: 3 });
    await expectExactLake(referenceDir, [OBJECT], tmp.dir);
  });
  afterAll(async () => tmp.remove());

  /** Disk full at `at` fails the ingest loudly with nothing published; the next delivery leaves the exact lake. */
  async function diskFullThenExact(name: string, at: RegExp, ops: FaultPoint['ops']): Promise<void> {
    const lakeDir = await tmp.lakeWith(name, OBJECT);
    const failed = await deliver(lakeDir, faultEnv({ enospc: { at, ops } }));
    expect(failed.code, describeRun(failed)).toBe(1);
    expect(failed.stderr).toMatch(/ENOSPC: no space left on device/);
    const midway = await readLakeFiles(lakeDir);
    expect(
      [midway.manifests.size, midway.silver.size, midway.pending.length],
      'no manifest, no silver file, no intent record',
    ).toEqual([0, 0, 0]);

    const retried = await deliver(lakeDir);
    expect(retried.code, describeRun(retried)).toBe(0);
    await expectSameAsReference(await expectExactLake(lakeDir, [OBJECT], tmp.dir), referenceDir);
  }

  it.concurrent(
    'a chunk failing (disk full staging the third) fails the ingest, nothing published; the next delivery is exact',
    () => diskFullThenExact('enospc', chunkStaged(2), ['write']),
  );

  it.concurrent(
    "a silver footer rewrite failing (disk full, one of the second chunk's: rewritten once its DuckDB work is done) fails the ingest, nothing published; the next delivery is exact",
    // Its footer is rewritten in place: the file opened for it is the first the engine opens of it (DuckDB's are native).
    () =>
      diskFullThenExact('enospc-footer', /\/chunks-out\/year=2024\/month=02\/chunk-00001-part_\d+\.parquet$/, ['open']),
  );

  it.concurrent(
    'killed (SIGKILL) while the second chunk is staged: nothing published; the next delivery is exact',
    async () => {
      const lakeDir = await tmp.lakeWith('killed', OBJECT);
      const killed = await deliver(lakeDir, faultEnv({ kill: { at: chunkStaged(1), ops: ['write'], when: 'before' } }));
      expect(killed.signal, describeRun(killed)).toBe('SIGKILL');
      expect((await readLakeFiles(lakeDir)).manifests.size).toBe(0);

      const retried = await deliver(lakeDir);
      expect(retried.code, describeRun(retried)).toBe(0);
      await expectSameAsReference(await expectExactLake(lakeDir, [OBJECT], tmp.dir), referenceDir);
    },
  );
});
