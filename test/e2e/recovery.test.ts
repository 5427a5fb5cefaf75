/**
 * What crashed or concurrent runs leave behind does not break the next command: a stale gold lock is taken
 * over, an overlapping refresh does not fail an ingest, scratch of crashed runs is removed (that of running
 * ones kept), `lake status` tells an unfinished ingest from an empty lake, and symbolic links are never
 * followed.
 */
import { existsSync } from 'node:fs';
import { mkdir, readdir, rm, symlink, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { hostTag } from '../../adapters/local/process-owner.ts';
import { deadPid } from '../support/processes.ts';
import { lake, scratchDir } from '../support/e2e/cli.ts';

const HEADER = 'TransactionID,CustomerID,TransactionAmount,Currency,TransactionTimestamp\n';

describe('recovery and concurrency of the local lake', () => {
  let scratch: Awaited<ReturnType<typeof scratchDir>>;
  let lakeDir: string;
  let lockFile: string;
  const run = (args: string[], env: Record<string, string> = {}) =>
    lake([...args, '--lake', lakeDir], { cwd: scratch.dir, env });
  const csv = async (name: string, id: string) => {
    const path = join(scratch.dir, name);
    await writeFile(path, `${HEADER}${id},ACC001,1.00,EUR,2024-02-01T10:00:00Z\n`);
    return path;
  };
  const lockHeldBy = (pid: number) =>
    writeFile(
      lockFile,
      JSON.stringify({
        pid,
        host: hostname(),
        process_started_at: '',
        acquired_at: new Date().toISOString(),
        nonce: 'test',
      }),
    );

  beforeAll(async () => {
    scratch = await scratchDir();
    lakeDir = join(scratch.dir, 'lake');
    lockFile = join(lakeDir, 'gold', '_state', 'account_monthly_balance.lock');
    expect((await run(['ingest', await csv('first.csv', 'F1')])).code).toBe(0);
  });
  afterAll(async () => scratch.remove());

  it('a gold lock left by a crashed refresh is taken over: the next ingest refreshes gold and exits 0', async () => {
    await lockHeldBy(deadPid());
    const r = await run(['ingest', await csv('after-crash.csv', 'C1')]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/gold account_monthly_balance refreshed/);
    expect(existsSync(lockFile)).toBe(false);
  });

  it('an ingest that meets a running refresh succeeds (exit 0), says who refreshes gold, and status shows gold stale', async () => {
    await lockHeldBy(process.pid); // this test process: alive, and never lets go
    const r = await run(['ingest', await csv('overlap.csv', 'O1'), '--json'], { LAKE_GOLD_LOCK_WAIT_MS: '0' });
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toHaveLength(1);
    expect(r.stderr).toMatch(
      new RegExp(
        `! gold not refreshed here: another refresh \\(pid ${process.pid} since .*\\) is still running and picks up new ingests while it runs`,
      ),
    );
    const status = JSON.parse((await run(['status', '--json'])).stdout);
    expect(status.gold[0]).toMatchObject({ up_to_date: false, pending_sources: 1 });
  });

  it('removes the scratch and half-written copies of crashed runs before ingesting, keeps those of running ones', async () => {
    await rm(lockFile); // the "running refresh" of the previous test ends
    const dead = deadPid();
    const crashed = join(lakeDir, '.work', `${dead}-${hostTag()}-0badc0de`);
    await mkdir(join(crashed, 'lake-ingest-x1'), { recursive: true });
    await writeFile(join(crashed, 'lake-ingest-x1', 'input.raw'), Buffer.alloc(1 << 20));
    const running = join(lakeDir, '.work', `${process.pid}-${hostTag()}-0badc0de`);
    await mkdir(running, { recursive: true });
    const halfCopy = join(lakeDir, 'bronze', 'transactions', `gone.csv.${dead}-${hostTag()}-12345678.tmp`);
    await writeFile(halfCopy, 'TransactionID,Cust');

    const r = await run(['ingest', await csv('next.csv', 'N1')]);
    expect(r.code).toBe(0);
    expect(r.stderr).toMatch(/removed 2 leftovers of crashed runs \(1\.0 MB\)/);
    expect(existsSync(crashed)).toBe(false);
    expect(existsSync(halfCopy)).toBe(false);
    expect(await readdir(join(lakeDir, '.work'))).toEqual([`${process.pid}-${hostTag()}-0badc0de`]); // the ingest's own scratch is gone too
    const status = JSON.parse((await run(['status', '--json'])).stdout);
    expect(status.gold[0].up_to_date).toBe(true); // this ingest's refresh also covered the deferred one
  });

  it('status of a lake whose only ingest never finished does not say "Nothing ingested yet"', async () => {
    const other = join(scratch.dir, 'unfinished-lake');
    await mkdir(join(other, 'silver', '_pending', 'transactions'), { recursive: true });
    await writeFile(join(other, 'lake.json'), '{"lake_format":1}\n');
    const intent = {
      dataset: 'transactions',
      run_id: 'r',
      source: { bucket: 'bronze', key: 'transactions/big.csv', version_id: null, etag: 'e' },
      started_at: '2024-05-01T10:00:00.000Z',
      silver_keys: ['a'],
      quarantine_keys: [],
    };
    await writeFile(join(other, 'silver', '_pending', 'transactions', 'abc.json'), JSON.stringify(intent));
    const r = await lake(['status', '--lake', other], { cwd: scratch.dir });
    expect(r.code).toBe(0);
    expect(r.stdout).not.toMatch(/Nothing ingested yet/);
    expect(r.stdout).toMatch(/Unfinished ingests[\s\S]*transactions\/big\.csv\s+1\s+abandoned/);
    expect(r.stdout).not.toMatch(/up to date/);
  });

  it('never follows a symbolic link: an argument that is one is named and not ingested; inside a directory too', async () => {
    const secret = await csv('secret.csv', 'SECRET');
    const link = join(scratch.dir, 'link.csv');
    await symlink(secret, link);
    const alone = await run(['ingest', link]);
    expect(alone.code).toBe(2);
    expect(alone.stderr).toMatch(
      /error: nothing to ingest \(skipped .*link\.csv: a symbolic link: links are never followed/,
    );

    const landing = join(scratch.dir, 'landing');
    await mkdir(landing);
    await csv('landing/real.csv', 'R1');
    await symlink(secret, join(landing, 'linked.csv'));
    const dir = await run(['ingest', landing]);
    expect(dir.code).toBe(0);
    expect(dir.stderr).toMatch(/- skipped \S*linked\.csv: a symbolic link: links are never followed/);
    expect(dir.stdout).toMatch(/✓ transactions\/real\.csv/);
    expect(existsSync(join(lakeDir, 'bronze', 'transactions', 'link.csv'))).toBe(false);
    expect(existsSync(join(lakeDir, 'bronze', 'transactions', 'linked.csv'))).toBe(false);
  });
});
