/**
 * A full disk (ENOSPC from the fault preload, from the Nth write on) during `lake ingest`: the command fails
 * loudly, nothing claims success (no manifest), and the same command once there is space again leaves the
 * lake exactly as one clean ingest does. See test/faults/README.md.
 */
import { afterAll, beforeAll, describe, it } from '@jest/globals';
import { expect } from '../support/expect.ts';
import { bronzeInput, caseDir, putBronze, type CaseDir } from '../support/faults/case-dir.ts';
import { faultEnv, type FaultPoint } from '../support/faults/faults.ts';
import {
  expectExactLake,
  expectSameAsReference,
  readLakeFiles,
  type BronzeInput,
} from '../support/faults/lake-state.ts';
import {
  describeRun,
  ingestFromBronze,
  runLake,
  startIngestBronze,
  type ChildResult,
} from '../support/faults/processes.ts';

/** 2,000 records over three months, 54 invalid and 19 malformed. */
const OBJECT: BronzeInput = bronzeInput('disk-full.csv', {
  idPrefix: 'D',
  rows: 2000,
  months: ['2024-01', '2024-02', '2024-03'],
});

interface FullDisk {
  name: string;
  enospc: Omit<FaultPoint, 'when'>;
  /** An intent record is left (the failure came after it: `lake status` lists the unfinished ingest). */
  pendingAfter: boolean;
  /** On a file system without hard links (copies instead of links). @default false */
  noHardLinks?: boolean;
}

const FULL_DISKS: readonly FullDisk[] = [
  // The bronze file's second name in the scratch directory (a link, or a copy where none can be made). DuckDB's
  // own scratch writes are native and out of the preload's reach; the spool of a streamed input: a case below.
  {
    name: 'placing the input in scratch',
    enospc: { at: /\/lake-ingest-[^/]+\/input\.raw$/, ops: ['link', 'copyFile'] },
    pendingAfter: false,
  },
  {
    name: 'copying the input to scratch (no hard links)',
    enospc: { at: /\/lake-ingest-[^/]+\/input\.raw$/, ops: ['copyFile'] },
    pendingAfter: false,
    noHardLinks: true,
  },
  {
    name: 'writing the intent record',
    enospc: { at: /\/silver\/_pending\//, ops: ['writeFile'] },
    pendingAfter: false,
  },
  {
    name: 'writing the first silver file',
    enospc: { at: /\/silver\/transactions\/year=/, ops: ['copyFile', 'link'] },
    pendingAfter: true,
  },
  {
    name: 'writing the second silver file',
    enospc: { at: /\/silver\/transactions\/year=/, ops: ['copyFile', 'link'], nth: 2 },
    pendingAfter: true,
  },
  {
    name: 'writing the quarantine',
    enospc: { at: /\/quarantine\/transactions\//, ops: ['copyFile', 'link'] },
    pendingAfter: true,
  },
  { name: 'writing the manifest', enospc: { at: /\/silver\/_manifests\//, ops: ['writeFile'] }, pendingAfter: true },
];

function expectFailedLoudly(r: ChildResult): void {
  expect(r.code, describeRun(r)).toBe(1);
  expect(r.stderr).toContain('[fault] ENOSPC');
  expect(r.stderr, 'the error names the problem and the file').toMatch(
    /transactions\/disk-full\.csv failed: ENOSPC: no space left on device/,
  );
  expect(r.stderr).toMatch(/error: 1 of 1 file could not be ingested/);
  expect(r.stdout).not.toMatch(/✓/);
}

describe('disk full during `lake ingest`, then the same command again', () => {
  let tmp: CaseDir;
  let referenceDir: string;

  const ingest = (lakeDir: string, env: Record<string, string> = {}) =>
    ingestFromBronze(lakeDir, OBJECT.key, { env, tmpDir: tmp.tmpDir });

  beforeAll(async () => {
    tmp = await caseDir();
    referenceDir = await tmp.lakeWith('reference', OBJECT);
    const r = await ingest(referenceDir);
    expect(r.code, describeRun(r)).toBe(0);
  });
  afterAll(async () => tmp?.remove());

  it.concurrent.each(FULL_DISKS)(
    'ENOSPC $name: fails loudly, claims nothing, recovers exactly',
    async ({ name, enospc, pendingAfter, noHardLinks }) => {
      const lakeDir = await tmp.lakeWith(name.replace(/\W+/g, '-'), OBJECT);
      expectFailedLoudly(await ingest(lakeDir, faultEnv({ enospc, noHardLinks })));

      const after = await readLakeFiles(lakeDir);
      expect([...after.manifests.keys()], 'no manifest: nothing claims success').toEqual([]);
      expect(after.pending.length > 0, 'intent record of the failed attempt').toBe(pendingAfter);

      const r = await ingest(lakeDir);
      expect(r.code, describeRun(r)).toBe(0);
      await expectSameAsReference(await expectExactLake(lakeDir, [OBJECT], tmp.dir), referenceDir);
    },
  );

  it.concurrent(
    "ENOSPC spooling a streamed input (the ingest function's path): fails loudly, recovers exactly",
    async () => {
      const lakeDir = await tmp.lakeWith('streamed-spool', OBJECT);
      const spool = (env: Record<string, string> = {}) =>
        startIngestBronze(lakeDir, OBJECT.key, { env, tmpDir: tmp.tmpDir });
      const failed = await spool(faultEnv({ enospc: { at: /\/lake-ingest-[^/]+\/input\.raw$/, ops: ['write'] } }));
      expect(failed.code, describeRun(failed)).toBe(1);
      expect(failed.stderr).toMatch(/\[fault\] ENOSPC before write \S*\/input\.raw/);
      expect(failed.stderr).toMatch(/ingest failed: Error: ENOSPC: no space left on device/);
      expect((await readLakeFiles(lakeDir)).manifests.size, 'no manifest: nothing claims success').toBe(0);

      const r = await spool();
      expect(r.code, describeRun(r)).toBe(0);
      await expectExactLake(lakeDir, [OBJECT], tmp.dir);
    },
  );

  it.concurrent('ENOSPC copying a file into bronze: fails loudly, nothing lands, recovers exactly', async () => {
    const lakeDir = await tmp.lake('bronze-copy');
    const outside = await putBronze(await tmp.lake('landing'), OBJECT);
    const run = (env: Record<string, string> = {}) =>
      runLake(['ingest', outside, '--lake', lakeDir, '--dataset', 'transactions'], { env, tmpDir: tmp.tmpDir });
    expectFailedLoudly(await run(faultEnv({ enospc: { at: /\/bronze\/transactions\/.*\.tmp$/, ops: ['open'] } })));
    const after = await readLakeFiles(lakeDir);
    expect({ manifests: after.manifests.size, silver: after.silver.size, pending: after.pending }).toEqual({
      manifests: 0,
      silver: 0,
      pending: [],
    });

    const r = await run();
    expect(r.code, describeRun(r)).toBe(0);
    await expectExactLake(lakeDir, [OBJECT], tmp.dir); // the bronze copy's mtime differs from the reference's
  });
});
