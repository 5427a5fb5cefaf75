/**
 * `lake compact` killed (SIGKILL) while it holds the dataset's maintenance lease: the lease names a process that
 * is gone, so the next local command on this machine — an ingest or a compaction — releases it (and says so)
 * instead of backing off until a person runs `lake unlock`; the lake then ends exact. See test/faults/README.md.
 */
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, it } from '@jest/globals';
import { expect } from '../support/expect.ts';
import { bronzeInput, caseDir, putBronze, type CaseDir } from '../support/faults/case-dir.ts';
import { faultEnv, type FaultPoint } from '../support/faults/faults.ts';
import { expectExactLake, type BronzeInput } from '../support/faults/lake-state.ts';
import { describeRun, ingestFromBronze, runLake } from '../support/faults/processes.ts';
import type { MaintenanceLease } from '../../engine/index.ts';

/** Three producer files of the same month: the compaction has a partition of several small files to rewrite. */
const FIRST: BronzeInput = bronzeInput('lease-a.csv', { idPrefix: 'LA', rows: 400, months: ['2024-03'] });
const SECOND: BronzeInput = bronzeInput('lease-b.csv', { idPrefix: 'LB', rows: 400, months: ['2024-03'] });
const LATE: BronzeInput = bronzeInput('lease-c.csv', { idPrefix: 'LC', rows: 300, months: ['2024-03'] });

/** Right after the compacted file lands in silver, before the switch: the compaction holds its lease. */
const KILL_AFTER_COMPACTED_FILE: FaultPoint = {
  at: /\/silver\/transactions\/year=2024\/month=03\/part-compacted-[0-9a-f]{16}\.parquet$/,
  ops: ['rename'],
};

describe('a killed lake compact leaves its maintenance lease; the next command on this machine takes it over', () => {
  let dir: CaseDir;
  beforeAll(async () => {
    dir = await caseDir();
  });
  afterAll(async () => dir.remove());

  async function killedCompaction(name: string): Promise<{ lakeDir: string; lease: MaintenanceLease }> {
    const lakeDir = await dir.lakeWith(name, FIRST);
    await putBronze(lakeDir, SECOND);
    for (const o of [FIRST, SECOND]) {
      const r = await ingestFromBronze(lakeDir, o.key, { tmpDir: dir.tmpDir });
      expect(r.code, describeRun(r)).toBe(0);
    }
    const killed = await runLake(['compact', '--dataset', 'transactions', '--lake', lakeDir], {
      tmpDir: dir.tmpDir,
      env: faultEnv({ kill: KILL_AFTER_COMPACTED_FILE }),
    });
    expect(killed.signal, describeRun(killed)).toBe('SIGKILL');
    // Killed mid-run: the compacted file is in silver, its inputs not yet switched away.
    const month = await readdir(join(lakeDir, 'silver', 'transactions', 'year=2024', 'month=03'));
    expect(month.filter((f) => f.startsWith('part-compacted-'))).toHaveLength(1);
    expect(month.filter((f) => f.endsWith('.parquet'))).toHaveLength(3);
    const lease = JSON.parse(
      await readFile(join(lakeDir, 'silver', '_maintenance', 'leases', 'transactions.json'), 'utf8'),
    ) as MaintenanceLease;
    expect(lease.operation).toBe('compact');
    expect(lease.owner?.pid).toEqual(expect.any(Number));
    return { lakeDir, lease };
  }

  it('the next lake ingest releases it with a note and lands; the next compaction finishes; exact lake', async () => {
    const { lakeDir, lease } = await killedCompaction('ingest-first');
    await putBronze(lakeDir, LATE);
    const ingest = await ingestFromBronze(lakeDir, LATE.key, { tmpDir: dir.tmpDir });
    expect(ingest.code, describeRun(ingest)).toBe(0);
    expect(ingest.stderr).toContain(
      `released the maintenance lease ${lease.lease_id} of transactions: its holder (${lease.holder}, pid ${lease.owner?.pid}) is no longer running`,
    );
    const compact = await runLake(['compact', '--dataset', 'transactions', '--lake', lakeDir], { tmpDir: dir.tmpDir });
    expect(compact.code, describeRun(compact)).toBe(0);
    await expectExactLake(lakeDir, [FIRST, SECOND, LATE], dir.dir, { compacted: true });
  });

  it('the next lake compact releases it with a note and finishes (or undoes) the killed one; exact lake', async () => {
    const { lakeDir, lease } = await killedCompaction('compact-first');
    const compact = await runLake(['compact', '--dataset', 'transactions', '--lake', lakeDir], { tmpDir: dir.tmpDir });
    expect(compact.code, describeRun(compact)).toBe(0);
    expect(compact.stderr).toContain(`released the maintenance lease ${lease.lease_id} of transactions`);
    await expectExactLake(lakeDir, [FIRST, SECOND], dir.dir, { compacted: true });
    const files = await runLake(['compact', '--dataset', 'transactions', '--dry-run', '--lake', lakeDir], {
      tmpDir: dir.tmpDir,
    });
    expect(files.stdout, describeRun(files)).toMatch(/nothing to compact \(1 file in 1 partition\)/);
  });
});
