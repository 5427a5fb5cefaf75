/**
 * A lake on a file system without hard links (exFAT, some SMB and FUSE mounts: link(2) fails with EPERM, made
 * so here by the fault preload): locks and create-only bronze fall back to exclusive creates, handed-over scratch
 * files to copies, so ingests still work exactly, and bronze still refuses a different file under a name it
 * holds. See test/faults/README.md.
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, it } from '@jest/globals';
import { expect } from '../support/expect.ts';
import { bronzeInput, caseDir, putBronze, type CaseDir } from '../support/faults/case-dir.ts';
import { faultEnv } from '../support/faults/faults.ts';
import { expectExactLake } from '../support/faults/lake-state.ts';
import { describeRun, runLake } from '../support/faults/processes.ts';

describe('a lake on a file system without hard links', () => {
  let tmp: CaseDir;
  beforeAll(async () => {
    tmp = await caseDir();
  });
  afterAll(async () => tmp.remove());

  it('ingests exactly (bronze copy, catalog and gold locks), and bronze stays create-only', async () => {
    const object = bronzeInput('no-links.csv', { idPrefix: 'N', rows: 1500, months: ['2024-01', '2024-02'] });
    const lakeDir = await tmp.lake('no-links');
    const outside = await putBronze(await tmp.lake('landing'), object);
    const env = faultEnv({ noHardLinks: true });
    const run = (path: string) =>
      runLake(['ingest', path, '--lake', lakeDir, '--dataset', 'transactions'], { env, tmpDir: tmp.tmpDir });

    const first = await run(outside);
    expect(first.code, describeRun(first)).toBe(0);
    expect(first.stderr).toContain('[fault] EPERM link'); // the fallbacks were taken, not links
    // The bronze file is copied into scratch, and handed-over scratch (silver files, the quarantine records) into
    // the lake, where they cannot be linked.
    expect(first.stderr).toMatch(/\[fault\] EPERM link \S*\/lake-ingest-[^/]+\/input\.raw/);
    expect(first.stderr).toMatch(/\[fault\] EPERM link \S*\/silver\/transactions\/year=/);
    expect(first.stderr).toMatch(/\[fault\] EPERM link \S*\/quarantine\/transactions\//);
    expect(first.stdout).toMatch(/gold .* refreshed/);
    await expectExactLake(lakeDir, [object], tmp.dir);

    await writeFile(
      join(tmp.dir, 'no-links.csv'),
      'TransactionID,CustomerID,TransactionAmount,Currency,TransactionTimestamp\nX1,A,1.00,EUR,2024-01-01T00:00:00Z\n',
    );
    const refused = await run(join(tmp.dir, 'no-links.csv'));
    expect(refused.code, describeRun(refused)).not.toBe(0);
    expect(refused.stderr).toMatch(/bronze already holds a different transactions\/no-links\.csv/);
    await expectExactLake(lakeDir, [object], tmp.dir);
  });
});
