/** /tmp outlives a runtime killed by a timeout: a new runtime removes the scratch an earlier one left. */
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import { sweepAbandonedScratch } from '../../../lambdas/ingest/ingest-object.ts';

describe('sweepAbandonedScratch', () => {
  let workDir: string;
  beforeEach(async () => {
    workDir = await mkdtemp(join(tmpdir(), 'lambda-tmp-'));
  });
  afterEach(() => rm(workDir, { recursive: true, force: true }));

  it('removes every ingest-* directory (with its spooled input) and nothing else', async () => {
    for (const name of ['ingest-aB3dE9', 'ingest-Zz0000']) {
      await mkdir(join(workDir, name, 'lake-ingest-x'), { recursive: true });
      await writeFile(join(workDir, name, 'lake-ingest-x', 'input.raw'), 'x'.repeat(1024));
    }
    await writeFile(join(workDir, 'other-tool.lock'), '');
    expect(sweepAbandonedScratch(workDir).sort()).toEqual(['ingest-Zz0000', 'ingest-aB3dE9']);
    expect(await readdir(workDir)).toEqual(['other-tool.lock']);
  });

  it('a missing work directory is nothing to sweep', () => {
    expect(sweepAbandonedScratch(join(workDir, 'absent'))).toEqual([]);
    expect(existsSync(join(workDir, 'absent'))).toBe(false);
  });
});
