/**
 * The local lake's lock files (adapters/local/file-lock.ts) under overlap and crashes: the place for the
 * stale-gold-lock cases to come with the fix of issue 15 (item 5). The case here exposes a bug and is written
 * as it should pass, marked `it.fails` until that fix; remove `.fails` with it. A process killed while holding
 * the catalog lock: kill-9.test.ts. See test/faults/README.md.
 */
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bronzeInput, caseDir, putBronze, type CaseDir } from './support/case-dir.ts';
import { faultEnv } from './support/faults.ts';
import { expectExactLake } from './support/lake-state.ts';
import { describeRun, runLake } from './support/processes.ts';

const Q1 = ['2024-01', '2024-02', '2024-03'] as const;

describe('lock files of the local lake', () => {
  let tmp: CaseDir;
  beforeAll(async () => {
    tmp = await caseDir();
  });
  afterAll(async () => tmp?.remove());

  const ingest = (lakeDir: string, key: string, env: Record<string, string> = {}) =>
    runLake(['ingest', join(lakeDir, 'bronze', ...key.split('/')), '--lake', lakeDir], { env, tmpDir: tmp.tmpDir });

  // BUG (issue 15, item 5 — an overlapping gold refresh exits 1): two `lake ingest` of different files whose
  // gold refreshes overlap. The barrier holds the first process inside the gold lock until the second has
  // tried to take it, so the overlap is certain. Today the second exits 1 ("another gold refresh holds …")
  // although its silver is complete. A refresh must wait for the lock (bounded), or be reported without
  // failing an ingest that succeeded.
  it.fails('two `lake ingest` whose gold refreshes overlap: both exit 0, silver holds the union', async () => {
    const a = bronzeInput('gold-overlap-a.csv', { idPrefix: 'GA', rows: 1000, months: Q1 });
    const b = bronzeInput('gold-overlap-b.csv', { idPrefix: 'GB', rows: 1200, months: Q1 });
    const lakeDir = await tmp.lake('gold-overlap');
    for (const o of [a, b]) await putBronze(lakeDir, o);
    const goldLock = /\/gold\/_state\/[^/]+\.lock$/;
    const barrier = { dir: join(tmp.dir, 'gold-overlap-barrier'), parties: 2, ops: ['open'] as const };
    const [ra, rb] = await Promise.all([
      ingest(lakeDir, a.key, faultEnv({ barrier: { ...barrier, at: goldLock, when: 'after' } })), // holds the lock
      ingest(lakeDir, b.key, faultEnv({ barrier: { ...barrier, at: goldLock, when: 'after' } })),
    ]);
    for (const r of [ra, rb]) expect(r.stderr, 'both reached the gold lock').toContain('[fault] BARRIER');
    expect(ra.code, describeRun(ra)).toBe(0);
    expect(rb.code, describeRun(rb)).toBe(0);
    await expectExactLake(lakeDir, [a, b], tmp.dir);
  });
});
