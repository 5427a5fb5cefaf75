/**
 * The local lake's lock files (adapters/local/file-lock.ts) under overlap and crashes (issue 15, item 5): a
 * lock names its owner, is taken over when the owner is gone, and is waited for with a bound. A process killed
 * while holding the catalog lock: kill-9.test.ts. See test/faults/README.md.
 */
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, it } from '@jest/globals';
import { expect } from '../support/expect.ts';
import { bronzeInput, caseDir, putBronze, type CaseDir } from '../support/faults/case-dir.ts';
import { faultEnv } from '../support/faults/faults.ts';
import { expectExactLake } from '../support/faults/lake-state.ts';
import { describeRun, ingestFromBronze } from '../support/faults/processes.ts';

const Q1 = ['2024-01', '2024-02', '2024-03'] as const;

describe('lock files of the local lake', () => {
  let tmp: CaseDir;
  beforeAll(async () => {
    tmp = await caseDir();
  });
  afterAll(async () => tmp?.remove());

  const ingest = (lakeDir: string, key: string, env: Record<string, string> = {}) =>
    ingestFromBronze(lakeDir, key, { env, tmpDir: tmp.tmpDir });

  // Was a bug (issue 15, item 5): the second of two overlapping gold refreshes exited 1 ("another gold refresh
  // holds …") although its silver was complete. Both processes meet at a barrier as they take the gold lock
  // (after writing the lock's content aside, before linking it into place), so the overlap is certain.
  it('two `lake ingest` whose gold refreshes overlap: both exit 0, silver holds the union', async () => {
    const a = bronzeInput('gold-overlap-a.csv', { idPrefix: 'GA', rows: 1000, months: Q1 });
    const b = bronzeInput('gold-overlap-b.csv', { idPrefix: 'GB', rows: 1200, months: Q1 });
    const lakeDir = await tmp.lake('gold-overlap');
    for (const o of [a, b]) await putBronze(lakeDir, o);
    const goldLock = /\/gold\/_state\/[^/]+\.lock\.[^/]+\.tmp$/;
    const barrier = { dir: join(tmp.dir, 'gold-overlap-barrier'), parties: 2, ops: ['writeFile'] as const };
    const [ra, rb] = await Promise.all([
      ingest(lakeDir, a.key, faultEnv({ barrier: { ...barrier, at: goldLock, when: 'after' } })), // holds the lock
      ingest(lakeDir, b.key, faultEnv({ barrier: { ...barrier, at: goldLock, when: 'after' } })),
    ]);
    for (const r of [ra, rb]) expect(r.stderr, 'both reached the gold lock').toContain('[fault] BARRIER');
    expect(ra.code, describeRun(ra)).toBe(0);
    expect(rb.code, describeRun(rb)).toBe(0);
    await expectExactLake(lakeDir, [a, b], tmp.dir);
  });

  it('an ingest killed while holding the gold lock: the next ingest takes the lock over at once and refreshes gold', async () => {
    const a = bronzeInput('gold-stale-a.csv', { idPrefix: 'SA', rows: 800, months: Q1 });
    const b = bronzeInput('gold-stale-b.csv', { idPrefix: 'SB', rows: 900, months: Q1 });
    const lakeDir = await tmp.lake('gold-stale');
    for (const o of [a, b]) await putBronze(lakeDir, o);
    // The lock is linked into place, then its staging name removed: killed in between, holding the lock.
    const killed = await ingest(
      lakeDir,
      a.key,
      faultEnv({ kill: { at: /\/gold\/_state\/[^/]+\.lock\.[^/]+\.tmp$/, ops: ['unlink'], when: 'before' } }),
    );
    expect(killed.signal, describeRun(killed)).toBe('SIGKILL');
    expect(await readdir(join(lakeDir, 'gold', '_state')), 'the killed run left its lock').toContainEqual(
      expect.stringMatching(/\.lock$/),
    );

    const next = await ingest(lakeDir, b.key);
    expect(next.code, describeRun(next)).toBe(0);
    expect(next.stdout + next.stderr).toMatch(/gold .* refreshed/);
    expect(await readdir(join(lakeDir, 'gold', '_state')), 'no lock left').not.toContainEqual(
      expect.stringMatching(/\.lock$/),
    );
    await expectExactLake(lakeDir, [a, b], tmp.dir);
  });
});
