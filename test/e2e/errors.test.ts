import { spawnSync } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, it } from '@jest/globals';
import { expect } from '../support/expect.ts';
import { cliEnv, hasStackTrace, lake, REPO_ROOT, scratchDir, type CliResult } from '../support/e2e/cli.ts';

const COMMANDS = [
  'demo',
  'ingest',
  'query',
  'status',
  'quarantine',
  'replay',
  'watch',
  'dlq',
  'dlq status',
  'dlq redrive',
  'fanout',
  'fanout list',
  'fanout redrive',
  'unlock',
];

/** A user mistake: exit 2, one `error:` line with what is wrong, a `hint:` with what to do, no stack trace. */
function expectUsageError(r: CliResult, message: RegExp, hint?: RegExp): void {
  expect(r.code, `${r.stdout}\n${r.stderr}`).toBe(2);
  expect(r.stderr).toMatch(message);
  if (hint) expect(r.stderr).toMatch(hint);
  expect(hasStackTrace(r.stderr)).toBe(false);
  expect(r.stdout).toBe('');
}

describe('lake: help, errors and exit codes', () => {
  let scratch: Awaited<ReturnType<typeof scratchDir>>;
  let lakeDir: string;
  const inScratch = (...args: string[]) => lake(args, { cwd: scratch.dir });

  beforeAll(async () => {
    scratch = await scratchDir();
    lakeDir = join(scratch.dir, 'lake');
    await writeFile(
      join(scratch.dir, 'ok.csv'),
      'TransactionID,CustomerID,TransactionAmount,Currency,TransactionTimestamp\nT1,ACC001,10.00,EUR,2024-01-05T10:00:00Z\n',
    );
    expect((await inScratch('ingest', 'ok.csv', '--lake', lakeDir)).code).toBe(0);
  });
  afterAll(async () => scratch.remove());

  it('--help works for the program and every command, exit 0', async () => {
    const top = await inScratch('--help');
    expect(top.code).toBe(0);
    for (const c of ['demo', 'ingest', 'query', 'status', 'quarantine', 'replay', 'watch', 'dlq', 'fanout'])
      expect(top.stdout).toMatch(new RegExp(`^  ${c}\\b`, 'm'));
    expect(top.stdout).toMatch(/Exit codes:/);
    const results = await Promise.all(COMMANDS.map((c) => inScratch(...c.split(' '), '--help')));
    results.forEach((r, i) => {
      expect(r.code, COMMANDS[i]).toBe(0);
      expect(r.stdout).toContain(`Usage: lake ${COMMANDS[i]}`);
    });
    expect((await inScratch('--version')).stdout).toMatch(/^\d+\.\d+\.\d+\n$/);
  });

  it('unknown commands and options are usage errors with a suggestion', async () => {
    const r = await inScratch('injest', 'x.csv');
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/unknown command 'injest'/);
    expect(r.stderr).toMatch(/Did you mean ingest\?/);
    const o = await inScratch('query', '--sq', 'SELECT 1', '--lake', lakeDir);
    expect(o.code).toBe(2);
    expect(o.stderr).toMatch(/unknown option '--sq'/);
    const f = await inScratch('query', 'SELECT 1', '--format', 'xml', '--lake', lakeDir);
    expect(f.code).toBe(2);
    expect(f.stderr).toMatch(/Allowed choices are table, csv, json/);
  });

  it('no lake: says where it looked and how to make one', async () => {
    const empty = join(scratch.dir, 'empty');
    await mkdir(empty);
    expectUsageError(
      await lake(['status'], { cwd: empty }),
      /error: no lake in \.lake here or in a parent directory/,
      /hint: create one with `npx lake demo`/,
    );
    expectUsageError(
      await inScratch('query', 'SELECT 1', '--lake', join(scratch.dir, 'missing')),
      /error: no lake at .*missing \(from --lake\)/,
    );
  });

  it('a directory that is not a lake is never written into', async () => {
    const busy = join(scratch.dir, 'busy');
    await mkdir(busy);
    await writeFile(join(busy, 'notes.txt'), 'mine');
    expectUsageError(
      await inScratch('ingest', 'ok.csv', '--lake', busy),
      /error: .*busy is not empty and is not a lake/,
    );
  });

  it('unknown dataset, missing file, nothing to ingest', async () => {
    expectUsageError(
      await inScratch('ingest', 'ok.csv', '--dataset', 'payments', '--lake', lakeDir),
      /error: unknown dataset "payments"/,
      /hint: known datasets: transactions/,
    );
    expectUsageError(
      await inScratch('ingest', 'nope.csv', '--lake', lakeDir),
      /error: no such file or directory: nope\.csv/,
    );
    await mkdir(join(scratch.dir, 'void'));
    expectUsageError(await inScratch('ingest', 'void', '--lake', lakeDir), /error: void holds no files to ingest/);
    expectUsageError(await inScratch('ingest', '--lake', lakeDir), /error: missing required argument 'paths'/);
  });

  it('--threads (and LAKE_THREADS) must be a whole number ≥ 1; a valid one ingests', async () => {
    expectUsageError(
      await inScratch('ingest', 'ok.csv', '--lake', lakeDir, '--threads', '0'),
      /--threads must be a whole number ≥ 1, got "0"/,
    );
    expectUsageError(
      await lake(['replay', '--lake', lakeDir], { cwd: scratch.dir, env: { LAKE_THREADS: 'many' } }),
      /--threads must be a whole number ≥ 1, got "many"/,
    );
    expect((await inScratch('ingest', 'ok.csv', '--lake', lakeDir, '--threads', '2')).code).toBe(0);
  });

  it('SQL errors carry the engine message and the table names', async () => {
    expectUsageError(
      await inScratch('query', 'SELECT * FROM silver.transaction', '--lake', lakeDir),
      /error: the query failed: Catalog Error: Table with name transaction does not exist/,
      /hint: tables: silver\.transactions, gold\./,
    );
    expectUsageError(
      await inScratch('query', 'SELEC 1', '--lake', lakeDir),
      /error: the query failed: Parser Error: syntax error at or near "SELEC"/,
    );
    expectUsageError(await inScratch('query', '--lake', lakeDir), /error: nothing to run/, /--sql/);
    expectUsageError(
      await inScratch('query', '--file', 'no_such_query', '--lake', lakeDir),
      /error: no query file "no_such_query"/,
      /hint: query files in queries\/: .*month_end_balances/,
    );
    expectUsageError(
      await inScratch('query', '--file', 'month_end_balances', '--param', 'from_month=2024-13', '--lake', lakeDir),
      /parameter "from_month" must be a month/,
    );
  });

  it('bad data is not an error: a file with only bad rows, or rejected whole, still exits 0', async () => {
    await writeFile(
      join(scratch.dir, 'bad.csv'),
      'TransactionID,CustomerID,TransactionAmount,Currency,TransactionTimestamp\nT9,ACC001,abc,EUR,2024-02-30\n',
    );
    await writeFile(join(scratch.dir, 'empty.csv'), '');
    const r = await inScratch('ingest', 'bad.csv', 'empty.csv', '--lake', lakeDir);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/✓ transactions\/bad\.csv\s+1 rows?: 0 valid, 1 quarantined/);
    expect(r.stdout).toMatch(/✗ transactions\/empty\.csv\s+rejected: EMPTY_FILE/);
    const q = await inScratch('quarantine', '--lake', lakeDir);
    expect(q.stdout).toMatch(/Files rejected whole/);
    expect(q.stdout).toMatch(/transactions\/empty\.csv\s+EMPTY_FILE/);
  });

  it('AWS mode: --stack is required, and the dead-letter queue is AWS-only', async () => {
    expectUsageError(
      await inScratch('query', 'SELECT 1', '--aws'),
      /error: --aws needs the stack name/,
      /--stack NAME/,
    );
    expectUsageError(
      await inScratch('dlq', 'status'),
      /error: the dead-letter queue belongs to the deployed lake/,
      /--aws --stack NAME/,
    );
    expectUsageError(
      await inScratch('fanout', 'list'),
      /error: fan-out executions belong to the deployed lake/,
      /--aws --stack NAME/,
    );
    expectUsageError(
      await inScratch('status', '--stack', 'X', '--lake', lakeDir),
      /--stack only applies in AWS mode/,
      /add --aws/,
    );
    expectUsageError(await inScratch('watch', '.', '--stack', 'X', '--lake', lakeDir), /unknown option '--stack'/);
  });

  it('a failure that loses work exits 1 without a stack trace', async () => {
    // The lake's catalog is unreadable (a directory where the file should be): the ingest cannot register partitions.
    const broken = join(scratch.dir, 'broken');
    await mkdir(join(broken, 'catalog.json'), { recursive: true });
    const r = await inScratch('ingest', 'ok.csv', '--lake', broken);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/✗ transactions\/ok\.csv failed: EISDIR/);
    expect(r.stderr).toMatch(/error: 1 of 1 file could not be ingested/);
    expect(r.stderr).toMatch(/hint: fix the cause shown above and run the same command again/);
    expect(hasStackTrace(r.stderr)).toBe(false);
  });
});

describe('the package bin', () => {
  it('`npx lake` runs the CLI from a clone, offline', () => {
    const r = spawnSync('npx', ['--offline', 'lake', '--version'], {
      cwd: REPO_ROOT,
      encoding: 'utf8',
      env: cliEnv(),
      timeout: 60_000,
    });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/^\d+\.\d+\.\d+\n$/);
  });
});
