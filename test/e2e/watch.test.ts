import { mkdir, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { writeTransactionsCsv } from '../../generator/generate.ts';
import { lake, scratchDir, startLake, waitForOutput } from '../support/e2e/cli.ts';

describe('lake watch: files are ingested as they appear', () => {
  let scratch: Awaited<ReturnType<typeof scratchDir>>;
  let lakeDir: string;
  let landing: string;

  beforeAll(async () => {
    scratch = await scratchDir();
    lakeDir = join(scratch.dir, 'lake');
    landing = join(scratch.dir, 'landing');
    await mkdir(landing);
  });
  afterAll(async () => scratch.remove());

  it('picks up a file dropped into the directory, and stops cleanly on Ctrl-C', async () => {
    const watch = startLake(['watch', landing, '--lake', lakeDir, '--interval', '200', '--quiet-period', '1000'], {
      cwd: scratch.dir,
    });
    const exited = new Promise<number | null>((resolve) => watch.on('close', resolve));
    await waitForOutput(watch, 'stdout', (t) => t.includes('Watching'));

    // Written elsewhere, then moved in: how producers deliver files atomically.
    const report = await writeTransactionsCsv(join(scratch.dir, 'incoming.tmp'), {
      rows: 500,
      accounts: 3,
      from: '2024-03',
      to: '2024-03',
    });
    await rename(join(scratch.dir, 'incoming.tmp'), join(landing, '2024-03.csv'));
    const out = await waitForOutput(watch, 'stdout', (t) => /gold account_monthly_balance/.test(t), 60_000);
    expect(out).toMatch(/✓ transactions\/2024-03\.csv\s+500 rows/);

    // A file still being written is left alone until it stops changing, and a partial-download name never counts.
    await writeFile(join(landing, 'big.csv.part'), 'not yet');
    await writeFile(
      join(landing, 'later.csv'),
      'TransactionID,CustomerID,TransactionAmount,Currency,TransactionTimestamp\n',
    );
    await writeFile(
      join(landing, 'later.csv'),
      'TransactionID,CustomerID,TransactionAmount,Currency,TransactionTimestamp\nL1,ACC001,5.00,EUR,2024-03-02T10:00:00Z\n',
      { flag: 'w' },
    );
    await waitForOutput(watch, 'stdout', (t) => /✓ transactions\/later\.csv\s+1 rows?/.test(t), 60_000);

    watch.kill('SIGINT');
    expect(await exited).toBe(0);

    const count = await lake([
      'query',
      '--sql',
      'SELECT count(*) AS n FROM silver.transactions',
      '--json',
      '--lake',
      lakeDir,
    ]);
    expect(JSON.parse(count.stdout)[0].n).toBe(report.validRows + 1);
  });

  it('--once ingests what is there and exits; files already in the lake are skipped', async () => {
    const r = await lake(['watch', landing, '--lake', lakeDir, '--once', '--quiet-period', '0']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/= transactions\/2024-03\.csv is already in the lake/);
    expect(r.stdout).toMatch(/Done: 0 files ingested, 2 already in the lake\./);
  });

  it('explains a directory that does not exist', async () => {
    const r = await lake(['watch', join(scratch.dir, 'nope'), '--lake', lakeDir]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/error: no such directory: .*nope\nhint: create it first/);
  });
});
