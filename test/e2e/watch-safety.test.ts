/**
 * `lake watch` loses nothing: a stalling writer's file is taken complete, a different version of an ingested
 * name is refused loudly (and shown by `lake status`), and a file copied into bronze by a watcher that was
 * killed before ingesting it is ingested on restart.
 */
import { existsSync } from 'node:fs';
import { appendFile, copyFile, mkdir, rename, rm, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { Manifest } from '../../engine/contract/index.ts';
import { LocalObjectStore } from '../../adapters/local/local-store.ts';
import { currentOwner } from '../../adapters/local/process-owner.ts';
import { acquireMaintenanceLease, releaseMaintenanceLease } from '../../engine/index.ts';
import { faultEnv } from '../support/faults/faults.ts';
import { lake, scratchDir, startLake, waitForOutput } from '../support/e2e/cli.ts';

const HEADER = 'TransactionID,CustomerID,TransactionAmount,Currency,TransactionTimestamp\n';
const rows = (prefix: string, n: number) =>
  Array.from(
    { length: n },
    (_, i) =>
      `${prefix}${i},ACC00${i % 3},${i + 1}.25,EUR,2024-01-${String((i % 28) + 1).padStart(2, '0')}T10:00:00Z\n`,
  ).join('');

describe('lake watch: nothing is lost', () => {
  let scratch: Awaited<ReturnType<typeof scratchDir>>;
  let lakeDir: string;
  const run = (...args: string[]) => lake([...args, '--lake', lakeDir], { cwd: scratch.dir });
  const count = async (where: string) =>
    JSON.parse(
      (await run('query', '--sql', `SELECT count(*) AS n FROM silver.transactions WHERE ${where}`, '--json')).stdout,
    )[0].n as number;

  beforeAll(async () => {
    scratch = await scratchDir();
    lakeDir = join(scratch.dir, 'lake');
  });
  afterAll(async () => scratch.remove());

  it('a writer that pauses for longer than the poll interval does not get its file taken half-written', async () => {
    const landing = join(scratch.dir, 'slow');
    await mkdir(landing);
    const watch = startLake(['watch', landing, '--lake', lakeDir, '--interval', '100', '--quiet-period', '3000'], {
      cwd: scratch.dir,
    });
    const exited = new Promise<number | null>((resolve) => watch.on('close', resolve));
    await waitForOutput(watch, 'stdout', (t) => t.includes('Watching'));

    // The first part ends inside a record: cut there, `…23:59:59.999+05:00` would read as a UTC time.
    const file = join(landing, 'slow.csv');
    await writeFile(file, `${HEADER}${rows('S', 20)}CUT1,ACC001,5.00,EUR,2024-01-31T23:59:59.999`);
    await waitForOutput(watch, 'stderr', (t) => t.includes('slow.csv is changing'));
    await sleep(300); // the writer stalls for three poll intervals, well inside the quiet period
    await appendFile(file, `+05:00\n${rows('T', 10)}`);

    const out = await waitForOutput(watch, 'stdout', (t) => /✓ transactions\/slow\.csv/.test(t), 60_000);
    expect(out).toMatch(/✓ transactions\/slow\.csv\s+31 rows: 31 valid/);
    watch.kill('SIGINT');
    expect(await exited).toBe(0);
    const cut = await run(
      'query',
      '--sql',
      "SELECT CAST(transaction_timestamp AS VARCHAR) AS at FROM silver.transactions WHERE transaction_id = 'CUT1'",
      '--json',
    );
    expect(JSON.parse(cut.stdout)).toEqual([{ at: '2024-01-31 18:59:59.999' }]);
  });

  it('a file whose ingest failed for the machine (disk full) is tried again by the running watch, and ingested', async () => {
    const landing = join(scratch.dir, 'full-disk');
    await mkdir(landing);
    const freed = join(scratch.dir, 'disk-freed');
    // The bronze copy fails with ENOSPC until the marker exists (the fault preload of the faults tier).
    const env = faultEnv({
      enospc: { at: /\/bronze\/transactions\/full\.csv\.[^/]+\.tmp$/, ops: ['open'], until: freed },
    });
    const watch = startLake(['watch', landing, '--lake', lakeDir, '--interval', '100', '--quiet-period', '200'], {
      cwd: scratch.dir,
      env,
    });
    const exited = new Promise<number | null>((resolve) => watch.on('close', resolve));
    await waitForOutput(watch, 'stdout', (t) => t.includes('Watching'));
    await writeFile(join(landing, 'full.csv'), `${HEADER}${rows('F', 7)}`);
    await waitForOutput(
      watch,
      'stderr',
      (t) => /✗ full\.csv: ENOSPC: no space left on device.*\(tried again in/.test(t),
      60_000,
    );
    await writeFile(freed, '');
    const out = await waitForOutput(watch, 'stdout', (t) => /✓ transactions\/full\.csv/.test(t), 60_000);
    expect(out).toMatch(/✓ transactions\/full\.csv\s+7 rows: 7 valid/);
    watch.kill('SIGINT');
    expect(await exited).toBe(1); // it failed once while watching: said in the exit code too
    expect(await count("transaction_id LIKE 'F%'")).toBe(7);
  });

  it('a file met by a maintenance lease (a compaction running) is tried again by the running watch, and ingested once it is released', async () => {
    const landing = join(scratch.dir, 'under-lease');
    await mkdir(landing);
    // The lake must exist for the lease: the watch creates it; then a running compaction (this process) holds it.
    const watch = startLake(['watch', landing, '--lake', lakeDir, '--interval', '100', '--quiet-period', '200'], {
      cwd: scratch.dir,
    });
    const exited = new Promise<number | null>((resolve) => watch.on('close', resolve));
    await waitForOutput(watch, 'stdout', (t) => t.includes('Watching'));
    const store = new LocalObjectStore(lakeDir);
    const lease = await acquireMaintenanceLease(store, {
      dataset: 'transactions',
      operation: 'compact',
      holder: 'operator (lake compact)',
      owner: currentOwner(),
    });
    await writeFile(join(landing, 'leased.csv'), `${HEADER}${rows('L', 5)}`);
    await waitForOutput(
      watch,
      'stderr',
      (t) =>
        /✗ leased\.csv: the ingest of transactions\/leased\.csv of transactions did nothing: the compaction .*holds the maintenance lease.*\(tried again in/.test(
          t,
        ),
      60_000,
    );
    expect(await releaseMaintenanceLease(store, 'transactions', lease.lease_id)).toBe('released');
    const out = await waitForOutput(watch, 'stdout', (t) => /✓ transactions\/leased\.csv/.test(t), 60_000);
    expect(out).toMatch(/✓ transactions\/leased\.csv\s+5 rows: 5 valid/);
    watch.kill('SIGINT');
    expect(await exited).toBe(1); // it failed once while watching: said in the exit code too
    expect(await count("transaction_id LIKE 'L%'")).toBe(5);
  });

  it('a different, longer version of an ingested file is refused loudly, counted as failed, and shown by status', async () => {
    const landing = join(scratch.dir, 'versions');
    await mkdir(landing);
    const file = join(landing, 'v.csv');
    await writeFile(file, `${HEADER}${rows('V', 5)}`);
    const first = await run('watch', landing, '--once', '--quiet-period', '0');
    expect(first.code).toBe(0);
    expect(first.stdout).toMatch(/✓ transactions\/v\.csv\s+5 rows/);

    await appendFile(file, rows('W', 7));
    const second = await run('watch', landing, '--once', '--quiet-period', '0');
    expect(second.code).toBe(1);
    expect(second.stderr).toMatch(
      /✗ NOT INGESTED: v\.csv\n\s+bronze already holds a different transactions\/v\.csv .*this file is .*was NOT ingested/,
    );
    expect(second.stderr).toMatch(/hint: raw input is immutable: give the new file another name/);
    expect(second.stdout).toMatch(/Done: 0 files ingested, 1 failed\./);
    const status = JSON.parse((await run('status', '--json')).stdout);
    expect(status.refused_files).toEqual([expect.objectContaining({ path: file, key: 'transactions/v.csv' })]);
    expect((await run('status')).stdout).toMatch(/Refused by lake watch[\s\S]*v\.csv/);

    await rename(file, join(landing, 'v-complete.csv')); // what the hint says
    const third = await run('watch', landing, '--once', '--quiet-period', '0');
    expect(third.code).toBe(0);
    expect(third.stdout).toMatch(/✓ transactions\/v-complete\.csv\s+12 rows/);
    expect(JSON.parse((await run('status', '--json')).stdout).refused_files).toEqual([]);
    expect(await count("transaction_id LIKE 'W%'")).toBe(7);
  });

  it('a file copied into bronze by a watcher killed before ingesting it is ingested on restart; status lists it meanwhile', async () => {
    const landing = join(scratch.dir, 'killed');
    await mkdir(landing);
    const file = join(landing, 'k.csv');
    await writeFile(file, `${HEADER}${rows('K', 9)}`);
    // What the killed watcher left: the bronze copy (create-only, complete), no manifest.
    await mkdir(join(lakeDir, 'bronze', 'transactions'), { recursive: true });
    await copyFile(file, join(lakeDir, 'bronze', 'transactions', 'k.csv'));

    const before = JSON.parse((await run('status', '--json')).stdout);
    expect(before.bronze_not_ingested).toEqual([
      expect.objectContaining({ key: 'transactions/k.csv', state: 'not ingested' }),
    ]);
    expect((await run('status')).stdout).toMatch(/In bronze, not ingested[\s\S]*transactions\/k\.csv/);

    const restart = await run('watch', landing, '--once', '--quiet-period', '0', '--json');
    expect(restart.code).toBe(0);
    const manifests = restart.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Manifest);
    expect(manifests.map((m) => [m.source.key, m.rows_in, m.rows_valid + m.rows_quarantined])).toEqual([
      ['transactions/k.csv', 9, 9],
    ]);
    expect(JSON.parse((await run('status', '--json')).stdout).bronze_not_ingested).toEqual([]);
    expect(await count("transaction_id LIKE 'K%'")).toBe(9);
  });

  it('keeps watching when another gold refresh holds the lock: the ingests succeed and the watch exits 0', async () => {
    const landing = join(scratch.dir, 'busy-gold');
    await mkdir(landing);
    const lock = join(lakeDir, 'gold', '_state', 'account_monthly_balance.lock');
    await mkdir(join(lakeDir, 'gold', '_state'), { recursive: true });
    if (!existsSync(join(lakeDir, 'lake.json'))) await writeFile(join(lakeDir, 'lake.json'), '{"lake_format":1}\n'); // when run alone
    await writeFile(
      lock,
      JSON.stringify({
        pid: process.pid,
        host: hostname(),
        process_started_at: '',
        acquired_at: new Date().toISOString(),
        nonce: 'test',
      }),
    );
    try {
      const watch = startLake(['watch', landing, '--lake', lakeDir, '--interval', '100', '--quiet-period', '0'], {
        cwd: scratch.dir,
        env: { LAKE_GOLD_LOCK_WAIT_MS: '0' },
      });
      const exited = new Promise<number | null>((resolve) => watch.on('close', resolve));
      await waitForOutput(watch, 'stdout', (t) => t.includes('Watching'));
      for (const name of ['g1', 'g2']) {
        await writeFile(join(scratch.dir, `${name}.part`), `${HEADER}${rows(name.toUpperCase(), 3)}`);
        await rename(join(scratch.dir, `${name}.part`), join(landing, `${name}.csv`)); // written aside, renamed into place
        await waitForOutput(watch, 'stderr', (t) => t.includes('gold not refreshed here'), 60_000);
      }
      watch.kill('SIGINT');
      expect(await exited).toBe(0);
      expect(await count("transaction_id LIKE 'G%'")).toBe(6);
    } finally {
      await rm(lock, { force: true });
    }
  });
});
