/**
 * kill -9 of `lake ingest` at each phase of the engine's publish, then the same command again: the lake ends
 * exactly as one clean ingest leaves it (byte-identical silver and quarantine, same manifest), with the rows
 * and counts the test computed from its own input. See test/faults/README.md.
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
import { describeRun, ingestFromBronze, runLake, type ChildResult } from '../support/faults/processes.ts';

/** 3,000 records over six months: six silver files, 81 invalid and 29 malformed records. */
const OBJECT: BronzeInput = bronzeInput('kill-9.csv', {
  idPrefix: 'K',
  rows: 3000,
  months: ['2024-01', '2024-02', '2024-03', '2024-04', '2024-05', '2024-06'],
});
const SILVER_FILES = 6;

interface KillPoint {
  name: string;
  kill: FaultPoint;
  /** What the lake shows right after the kill: proves the kill came in the phase named. */
  midway: { manifest: boolean; pending: boolean; silverAtLeast?: number; silverAtMost?: number };
}

const SILVER_DATA = /\/silver\/transactions\/year=/;
const KILL_POINTS: readonly KillPoint[] = [
  {
    // The bronze file's second name in scratch: the sweep of the dead run's scratch must leave bronze whole.
    name: 'with the input placed in scratch (nothing published yet)',
    kill: { at: /\/lake-ingest-[^/]+\/input\.raw$/, ops: ['link', 'copyFile'] },
    midway: { manifest: false, pending: false, silverAtMost: 0 },
  },
  {
    name: 'after the intent record',
    // The first record of a source is written create-only: linked into place (over a record: renamed).
    kill: { at: /\/silver\/_pending\//, ops: ['rename', 'link'] },
    midway: { manifest: false, pending: true, silverAtMost: 0 },
  },
  {
    name: 'after 3 of 6 silver files',
    kill: { at: SILVER_DATA, ops: ['rename'], nth: 3 },
    midway: { manifest: false, pending: true, silverAtLeast: 3 },
  },
  {
    name: 'after every silver file, before the quarantine',
    kill: { at: SILVER_DATA, ops: ['rename'], nth: SILVER_FILES },
    midway: { manifest: false, pending: true, silverAtLeast: SILVER_FILES },
  },
  {
    name: 'after the quarantine upload',
    kill: { at: /\/quarantine\/transactions\/records\//, ops: ['rename'] },
    midway: { manifest: false, pending: true, silverAtLeast: SILVER_FILES },
  },
  {
    // Once the catalog lock is released; killed while holding it: a case below.
    name: 'after the partitions are registered',
    kill: { at: /\/catalog\.json\.lock$/, ops: ['rm'] },
    midway: { manifest: false, pending: true, silverAtLeast: SILVER_FILES },
  },
  {
    // A first manifest is linked into place (create only), a later one renamed over the one read.
    name: 'between writing the manifest and putting it in place',
    kill: { at: /\/silver\/_manifests\//, ops: ['rename', 'link'], when: 'before' },
    midway: { manifest: false, pending: true, silverAtLeast: SILVER_FILES },
  },
  {
    name: 'after the manifest',
    kill: { at: /\/silver\/_manifests\//, ops: ['rename', 'link'] },
    midway: { manifest: true, pending: true, silverAtLeast: SILVER_FILES },
  },
  {
    // For one source the stale-file cleanup deletes nothing (a re-run writes the same keys), so this is also
    // "before the stale-file cleanup".
    name: 'before the intent record is deleted',
    kill: { at: /\/silver\/_pending\//, ops: ['rm'], when: 'before' },
    midway: { manifest: true, pending: true, silverAtLeast: SILVER_FILES },
  },
];

function expectKilled(r: ChildResult): void {
  expect(r.signal, `the child was to be killed by the fault preload\n${describeRun(r)}`).toBe('SIGKILL');
  expect(r.stderr).toContain('[fault] SIGKILL');
}

function expectOk(r: ChildResult): void {
  expect(r.code, describeRun(r)).toBe(0);
}

describe('kill -9 during `lake ingest`, then the same command again', () => {
  let tmp: CaseDir;
  let referenceDir: string;

  const ingest = (lakeDir: string, env: Record<string, string> = {}) =>
    ingestFromBronze(lakeDir, OBJECT.key, { env, tmpDir: tmp.tmpDir });

  beforeAll(async () => {
    tmp = await caseDir();
    referenceDir = await tmp.lakeWith('reference', OBJECT);
    expectOk(await ingest(referenceDir));
    await expectExactLake(referenceDir, [OBJECT], tmp.dir);
  });
  afterAll(async () => tmp?.remove());

  it.concurrent.each(KILL_POINTS)('killed $name: recovers exactly', async ({ name, kill, midway }) => {
    const lakeDir = await tmp.lakeWith(name.replace(/\W+/g, '-'), OBJECT);
    expectKilled(await ingest(lakeDir, faultEnv({ kill })));

    const after = await readLakeFiles(lakeDir);
    expect(after.manifests.size > 0, 'a manifest right after the kill').toBe(midway.manifest);
    expect(after.pending.length > 0, 'an intent record right after the kill').toBe(midway.pending);
    if (midway.silverAtLeast !== undefined) expect(after.silver.size).toBeGreaterThanOrEqual(midway.silverAtLeast);
    if (midway.silverAtMost !== undefined) expect(after.silver.size).toBeLessThanOrEqual(midway.silverAtMost);

    expectOk(await ingest(lakeDir));
    await expectSameAsReference(await expectExactLake(lakeDir, [OBJECT], tmp.dir), referenceDir);
  });

  it.concurrent(
    'killed twice in a row (after 3 silver files, then after the manifest): the third run recovers exactly',
    async () => {
      const lakeDir = await tmp.lakeWith('twice', OBJECT);
      expectKilled(await ingest(lakeDir, faultEnv({ kill: { at: SILVER_DATA, ops: ['rename'], nth: 3 } })));
      expectKilled(
        await ingest(lakeDir, faultEnv({ kill: { at: /\/silver\/_manifests\//, ops: ['rename', 'link'] } })),
      );
      expectOk(await ingest(lakeDir));
      await expectSameAsReference(await expectExactLake(lakeDir, [OBJECT], tmp.dir), referenceDir);
    },
  );

  // Was a bug (issue 15 item 5): the lock of a killed holder was only broken after 60 s while ingests waited 30 s.
  // A lock whose owner is gone is taken over at once now.
  it.concurrent(
    'killed while holding the catalog lock (catalog written, lock not yet released): the same command right away recovers exactly',
    async () => {
      const lakeDir = await tmp.lakeWith('catalog-lock-held', OBJECT);
      expectKilled(await ingest(lakeDir, faultEnv({ kill: { at: /\/catalog\.json$/, ops: ['rename'] } })));
      expectOk(await ingest(lakeDir));
      await expectSameAsReference(await expectExactLake(lakeDir, [OBJECT], tmp.dir), referenceDir);
    },
  );

  it.concurrent(
    'killed right after the copy into bronze (a file from outside the lake): the same command ingests it exactly',
    async () => {
      const lakeDir = await tmp.lake('after-bronze-copy');
      const outside = await putBronze(await tmp.lake('landing'), OBJECT);
      const run = (env: Record<string, string> = {}) =>
        runLake(['ingest', outside, '--lake', lakeDir, '--dataset', 'transactions'], { env, tmpDir: tmp.tmpDir });
      // The copy is linked into place (create-only), then its staging name removed: killed just before that.
      expectKilled(
        await run(faultEnv({ kill: { at: /\/bronze\/transactions\/.*\.tmp$/, ops: ['unlink'], when: 'before' } })),
      );
      expectOk(await run());
      // Not compared with the reference: the bronze copy's mtime (silver's ingested_at) is the killed run's.
      await expectExactLake(lakeDir, [OBJECT], tmp.dir);
    },
  );
});
