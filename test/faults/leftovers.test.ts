/**
 * What a killed ingest leaves on disk besides the lake's objects: its scratch directory (a spooled copy of
 * the input and DuckDB's outputs) and half-written `*.tmp` objects. The lake itself recovers exactly
 * (kill-9.test.ts); these cases check that the litter is cleaned up too (issue 15: "crashed runs leave
 * scratch directories and bronze/….tmp files forever"). The CLI gives every run its own scratch directory
 * under `<lake>/.work/`, naming its owner; the next run removes those whose owner is gone. See
 * test/faults/README.md.
 */
import { readdir, utimes } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, it } from '@jest/globals';
import { expect } from '../support/expect.ts';
import { bronzeInput, caseDir, putBronze, type CaseDir } from '../support/faults/case-dir.ts';
import { faultEnv } from '../support/faults/faults.ts';
import { expectExactLake, readLakeFiles, scratchLeftovers } from '../support/faults/lake-state.ts';
import { describeRun, ingestFromBronze, runLake, type ChildResult } from '../support/faults/processes.ts';

const OBJECT = bronzeInput('leftovers.csv', { idPrefix: 'L', rows: 1000, months: ['2024-01', '2024-02'] });
const A_DAY_AGO = new Date(Date.now() - 24 * 3600_000);

/**
 * Ages what the killed run left (its modification times; its owner, this host's dead process, is what the sweep
 * goes by here: its age rule, for other hosts, reads change times too, which no test can set back).
 */
async function ageLeftovers(lakeDir: string, workDir: string): Promise<void> {
  const files = await readLakeFiles(lakeDir);
  for (const t of files.tmp) await utimes(join(lakeDir, ...t.split('/')), A_DAY_AGO, A_DAY_AGO);
  for (const d of await readdir(workDir).catch(() => [])) await utimes(join(workDir, d), A_DAY_AGO, A_DAY_AGO);
}

/** The local store's key-lock files (`locks/objects/*.tmp`: put markers and the files they link). */
async function keyLockFiles(lakeDir: string): Promise<string[]> {
  return (await readdir(join(lakeDir, 'locks', 'objects')).catch(() => [] as string[])).filter((n) =>
    n.endsWith('.tmp'),
  );
}

function expectKilled(r: ChildResult): void {
  expect(r.signal, describeRun(r)).toBe('SIGKILL');
}

describe('litter of a killed ingest', () => {
  let tmp: CaseDir;
  beforeAll(async () => {
    tmp = await caseDir();
  });
  afterAll(async () => tmp?.remove());

  it.concurrent(
    'killed between writing the manifest and renaming it: the next run removes its scratch directory and .tmp',
    async () => {
      const lakeDir = await tmp.lake('manifest-tmp');
      const workDir = join(tmp.dir, 'work-manifest-tmp');
      await putBronze(lakeDir, OBJECT);
      const run = (env: Record<string, string> = {}) => ingestFromBronze(lakeDir, OBJECT.key, { env, tmpDir: workDir });
      expectKilled(
        await run(faultEnv({ kill: { at: /\/silver\/_manifests\//, ops: ['rename', 'link'], when: 'before' } })),
      );
      expect((await readLakeFiles(lakeDir)).tmp.length, 'the kill left a .tmp').toBeGreaterThan(0);
      // Killed in the manifest put's last step: its key-lock marker and its process's file the markers link are left.
      expect(await keyLockFiles(lakeDir), 'the kill left its key-lock files').toEqual(
        expect.arrayContaining([expect.stringMatching(/^put-marker\./), expect.stringMatching(/\.put\./)]),
      );
      const scratch = join(lakeDir, '.work');
      expect(await readdir(scratch), 'the kill left its scratch directory').toHaveLength(1);
      await ageLeftovers(lakeDir, scratch);

      const r = await run();
      expect(r.code, describeRun(r)).toBe(0);
      await expectExactLake(lakeDir, [OBJECT], tmp.dir);
      expect(await readdir(scratch), 'scratch directories left in the lake').toEqual([]);
      expect(await scratchLeftovers(workDir), 'nothing in TMPDIR either').toEqual([]);
      expect((await readLakeFiles(lakeDir)).tmp, '.tmp files left in the lake').toEqual([]);
      // The killed run's swept by the next one; the next one's own file removed as it exited.
      expect(await keyLockFiles(lakeDir), 'key-lock files left in the lake').toEqual([]);
    },
  );

  it.concurrent(
    'killed while copying into bronze: the same command ingests the file and removes the .tmp',
    async () => {
      const lakeDir = await tmp.lake('bronze-tmp');
      const workDir = join(tmp.dir, 'work-bronze-tmp');
      const outside = await putBronze(await tmp.lake('landing'), OBJECT);
      const run = (env: Record<string, string> = {}) =>
        runLake(['ingest', outside, '--lake', lakeDir, '--dataset', 'transactions'], { env, tmpDir: workDir });
      // The copy goes to a staging name first (then is linked into place): killed once it is opened.
      expectKilled(
        await run(faultEnv({ kill: { at: /\/bronze\/transactions\/.*\.tmp$/, ops: ['open'], when: 'after' } })),
      );
      expect(await readdir(join(lakeDir, 'bronze', 'transactions')), 'only the .tmp of the copy').toEqual([
        expect.stringMatching(/\.tmp$/),
      ]);
      await ageLeftovers(lakeDir, workDir);

      const r = await run();
      expect(r.code, describeRun(r)).toBe(0);
      await expectExactLake(lakeDir, [OBJECT], tmp.dir);
      expect((await readLakeFiles(lakeDir)).tmp, '.tmp files left in the lake').toEqual([]);
    },
  );
});
