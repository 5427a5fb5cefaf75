/**
 * Concurrent writers into one lake, each a process running the engine as the ingest Lambda does
 * (support/ingest-bronze.ts): different sources into the same partitions, and the same object delivered ten
 * times at once (duplicate S3 events). A barrier of the fault preload makes the processes be in the same
 * publish phase at the same moment, so the overlap is certain rather than a matter of timing.
 * See test/faults/README.md.
 */
import { join } from 'node:path';
import { afterAll, beforeAll, describe, it } from '@jest/globals';
import { expect } from '../support/expect.ts';
import { bronzeInput, caseDir, putBronze, type CaseDir } from '../support/faults/case-dir.ts';
import { faultEnv, type BarrierPoint } from '../support/faults/faults.ts';
import { expectExactLake, expectSameAsReference } from '../support/faults/lake-state.ts';
import { describeRun, startIngestBronze, type ChildResult } from '../support/faults/processes.ts';

const Q1 = ['2024-01', '2024-02', '2024-03'] as const;

function expectAllSucceeded(results: readonly ChildResult[]): void {
  for (const r of results) expect(r.code, describeRun(r)).toBe(0);
}

/**
 * Where the processes meet: all have written their intent record (the first of a source is linked into place:
 * written create-only), or all are about to register partitions.
 */
const MEETING_POINTS: ReadonlyArray<{ name: string; at: Omit<BarrierPoint, 'dir' | 'parties'> }> = [
  {
    name: 'all publishing at once (after their intent records)',
    at: { at: /\/silver\/_pending\//, ops: ['rename', 'link'] },
  },
  {
    name: 'all registering partitions at once (before the catalog lock)',
    at: { at: /\/catalog\.json\.lock\.[^/]+\.tmp$/, ops: ['writeFile'], when: 'before' },
  },
];

describe('concurrent ingests of different sources into the same partitions', () => {
  let tmp: CaseDir;
  beforeAll(async () => {
    tmp = await caseDir();
  });
  afterAll(async () => tmp?.remove());

  const A = bronzeInput('same-partitions-a.csv', { idPrefix: 'A', rows: 2000, months: Q1 });
  const B = bronzeInput('same-partitions-b.csv', {
    idPrefix: 'B',
    rows: 2500,
    months: Q1,
    invalidEvery: 29,
    malformedEvery: 83,
  });

  it.concurrent.each(MEETING_POINTS)(
    'two processes, $name: both manifests, silver holds exactly the union',
    async ({ name, at }) => {
      const lakeDir = await tmp.lake(name.replace(/\W+/g, '-'));
      for (const object of [A, B]) await putBronze(lakeDir, object);
      const env = faultEnv({
        barrier: { ...at, dir: join(tmp.dir, `barrier-${name.replace(/\W+/g, '-')}`), parties: 2 },
      });
      const results = await Promise.all(
        [A, B].map((o) => startIngestBronze(lakeDir, o.key, { env, tmpDir: tmp.tmpDir })),
      );
      expectAllSucceeded(results);
      for (const r of results) expect(r.stderr, 'both reached the meeting point').toContain('[fault] BARRIER');
      await expectExactLake(lakeDir, [A, B], tmp.dir);
    },
  );
});

describe('the same object delivered ten times at once (duplicate S3 events)', () => {
  const OBJECT = bronzeInput('redelivered.csv', { idPrefix: 'R', rows: 3000, months: [...Q1, '2024-04'] });
  const DELIVERIES = 10;
  let tmp: CaseDir;
  let referenceDir: string;

  beforeAll(async () => {
    tmp = await caseDir();
    referenceDir = await tmp.lake('reference');
    await putBronze(referenceDir, OBJECT);
    expectAllSucceeded([await startIngestBronze(referenceDir, OBJECT.key, { tmpDir: tmp.tmpDir })]);
  });
  afterAll(async () => tmp?.remove());

  it('ten processes, all publishing at once (their intent records written, before their first silver file): one manifest, no duplicates, byte-identical to one ingest', async () => {
    const lakeDir = await tmp.lake('redelivered');
    await putBronze(lakeDir, OBJECT);
    // Not right after the intent record: the deliveries write that one key in turn, each over the record it read,
    // under the key's lock (a barrier there would hold the lock while the others wait for it).
    const env = faultEnv({
      barrier: {
        at: /\/silver\/transactions\/year=/,
        ops: ['copyFile', 'link'], // a silver file is linked from the scratch (a copy where it cannot be)
        when: 'before',
        dir: join(tmp.dir, 'barrier'),
        parties: DELIVERIES,
      },
    });
    const results = await Promise.all(
      Array.from({ length: DELIVERIES }, () => startIngestBronze(lakeDir, OBJECT.key, { env, tmpDir: tmp.tmpDir })),
    );
    expectAllSucceeded(results);
    for (const r of results) expect(r.stderr, 'every delivery reached the meeting point').toContain('[fault] BARRIER');
    const sourceIds = new Set(results.map((r) => (JSON.parse(r.stdout) as { source_id: string }).source_id));
    expect(sourceIds.size, 'every delivery is the same source').toBe(1);
    const files = await expectExactLake(lakeDir, [OBJECT], tmp.dir);
    expect(files.manifests.size).toBe(1);
    await expectSameAsReference(files, referenceDir);
  });
});
