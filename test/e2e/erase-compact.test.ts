import { mkdir, readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, it } from '@jest/globals';
import { expect } from '../support/expect.ts';
import { LocalObjectStore } from '../../adapters/local/local-store.ts';
import { currentOwner } from '../../adapters/local/process-owner.ts';
import { acquireMaintenanceLease, releaseMaintenanceLease } from '../../engine/index.ts';
import { writeTransactionsCsv, type GenerationReport } from '../../generator/generate.ts';
import { lake, scratchDir } from '../support/e2e/cli.ts';

/** Many small producer files of the same months, as a partner feed sends them. */
const FILES = 6;

describe('lake erase and lake compact, as a user runs them', () => {
  let scratch: Awaited<ReturnType<typeof scratchDir>>;
  let lakeDir: string;
  let report: GenerationReport;
  const run = (...args: string[]) => lake([...args, '--lake', lakeDir], { cwd: scratch.dir });
  const query = async (sql: string) =>
    JSON.parse((await run('query', '--sql', sql, '--json')).stdout) as Array<Record<string, unknown>>;
  const fingerprint = (where = 'true') =>
    query(
      `SELECT count(*) AS n, sum(amount) AS total, count(DISTINCT ingest_run_id) AS runs, count(DISTINCT source_key) AS sources FROM silver.transactions WHERE ${where}`,
    );
  const silverFiles = async (month: string) =>
    (await readdir(join(lakeDir, 'silver', 'transactions', 'year=2024', `month=${month}`))).filter((f) =>
      f.endsWith('.parquet'),
    );

  beforeAll(async () => {
    scratch = await scratchDir();
    lakeDir = join(scratch.dir, 'lake');
    const landing = join(scratch.dir, 'landing');
    await mkdir(landing);
    for (let i = 0; i < FILES; i++) {
      report = await writeTransactionsCsv(join(landing, `partner-${i}.csv`), {
        rows: 300,
        accounts: 4,
        from: '2024-01',
        to: '2024-02',
        firstId: i * 10_000,
        seed: 42 + i,
      });
    }
    const r = await run('ingest', landing, '--dataset', 'transactions');
    expect(r.code, r.stderr).toBe(0);
  }, 120_000);
  afterAll(async () => scratch.remove());

  it('compacts many small files per month into one, with the same rows, and a second run changes nothing', async () => {
    expect(await silverFiles('01')).toHaveLength(FILES);
    const before = await fingerprint();
    const dry = await run('compact', '--dry-run');
    expect(dry.code, dry.stderr).toBe(0);
    expect(dry.stdout).toMatch(/would compact 12 files into 2 files \(12 → 2 files\)/);
    expect(await silverFiles('01')).toHaveLength(FILES);

    const r = await run('compact', '--dataset', 'transactions');
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/compacted 12 files into 2 files/);
    expect(await silverFiles('01')).toEqual([expect.stringMatching(/^part-compacted-[0-9a-f]{16}\.parquet$/)]);
    expect(await fingerprint()).toEqual(before);

    const again = await run('compact');
    expect(again.code).toBe(0);
    expect(again.stdout).toMatch(/transactions: nothing to compact \(2 files in 2 partitions\)/);

    const replay = await run('replay');
    expect(replay.code, replay.stderr).toBe(0);
    expect(await fingerprint()).toEqual(before); // re-ingesting compacted sources duplicates nothing
  });

  it('refuses bad compaction options with a usage error', async () => {
    for (const args of [
      ['--partition', 'year=2024/month=01'],
      ['--target-size', 'big'],
      ['--dataset', 'transactions', '--partition', 'month=01'],
      ['--dataset', 'nope'],
    ]) {
      const r = await run('compact', ...args);
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.stderr).toMatch(/error: /);
      expect(r.stderr).not.toMatch(/\n\s+at /);
    }
  });

  it('erases an account from silver, quarantine and gold, with a dry run first and an audit record', async () => {
    const account = report.accounts[1] as string;
    const before = await fingerprint(`account_id = '${account}'`);
    expect(Number(before[0]?.n)).toBeGreaterThan(0);
    const others = await fingerprint(`account_id <> '${account}'`);
    const goldOthers = await query(
      `SELECT * FROM gold.account_monthly_balance WHERE account_id <> '${account}' ORDER BY account_id, year, month`,
    );

    const dry = await run('erase', '--dataset', 'transactions', '--where', `account_id = '${account}'`, '--dry-run');
    expect(dry.code, dry.stderr).toBe(0);
    expect(dry.stdout).toMatch(new RegExp(`Would remove ${Number(before[0]?.n).toLocaleString('en-US')} silver rows`));
    expect(dry.stdout).toMatch(/dry run: nothing was written/);
    expect(await fingerprint(`account_id = '${account}'`)).toEqual(before);

    const r = await run(
      'erase',
      '--dataset',
      'transactions',
      '--where',
      `account_id = '${account}'`,
      '--requested-by',
      'DPO ticket 42',
      '--json',
    );
    expect(r.code, r.stderr).toBe(0);
    const record = JSON.parse(r.stdout) as {
      erasure_id: string;
      status: string;
      rows_removed: { silver: number; quarantine: number };
      requested_by: string;
    };
    expect(record).toMatchObject({
      status: 'completed',
      requested_by: 'DPO ticket 42',
      rows_removed: { silver: Number(before[0]?.n) },
    });
    expect(record.rows_removed.quarantine).toBeGreaterThan(0);
    expect(r.stdout).not.toContain(account);

    expect(Number((await fingerprint(`account_id = '${account}'`))[0]?.n)).toBe(0);
    expect(await fingerprint(`account_id <> '${account}'`)).toEqual(others);
    expect(
      await query(`SELECT count(*) AS n FROM quarantine.transactions WHERE raw_record LIKE '%"${account}"%'`),
    ).toEqual([{ n: 0 }]);
    expect(
      await query(`SELECT count(*) AS n FROM gold.account_monthly_balance WHERE account_id = '${account}'`),
    ).toEqual([{ n: 0 }]);
    expect(
      await query(
        `SELECT * FROM gold.account_monthly_balance WHERE account_id <> '${account}' ORDER BY account_id, year, month`,
      ),
    ).toEqual(goldOthers);
    const audit = JSON.parse(
      await readFile(
        join(lakeDir, 'silver', '_audit', 'erasures', 'transactions', `${record.erasure_id}.json`),
        'utf8',
      ),
    ) as typeof record;
    expect(audit).toEqual(record);

    // A replay of the (unchanged) sources does not bring the erased rows back.
    expect((await run('replay')).code).toBe(0);
    expect(Number((await fingerprint(`account_id = '${account}'`))[0]?.n)).toBe(0);

    const nothing = await run('erase', '--dataset', 'transactions', '--where', `account_id = '${account}'`);
    expect(nothing.code).toBe(0);
    expect(nothing.stdout).toMatch(/No row of transactions matches account_id = <the value>: nothing changed/);
  });

  it('refuses predicates it cannot take, with the reason and no stack trace', async () => {
    const cases: Array<[string, RegExp]> = [
      ['acct = 1', /unknown column "acct"/],
      ["account_id = 'a' OR 1=1", /--where: /],
      ['account_id LIKE x', /only an equality/],
      ['amount = ten', /not a valid decimal/],
    ];
    for (const [where, message] of cases) {
      const r = await run('erase', '--dataset', 'transactions', '--where', where);
      expect(r.code, where).toBe(2);
      expect(r.stderr).toMatch(message);
      expect(r.stderr).not.toMatch(/\n\s+at /);
    }
    expect((await run('erase', '--dataset', 'nope', '--where', 'a = 1')).stderr).toMatch(/unknown dataset "nope"/);
  });

  it('refuses while another maintenance command holds the dataset, and `lake ingest` backs off, nothing lost; both go on once it is released', async () => {
    const before = await fingerprint();
    const store = new LocalObjectStore(lakeDir);
    // Another command of this machine, still running (this test's own process), holds the lease.
    const lease = await acquireMaintenanceLease(store, {
      dataset: 'transactions',
      operation: 'compact',
      holder: 'operator@laptop (lake compact)',
      owner: currentOwner(),
    });
    const late = join(scratch.dir, 'late.csv');
    await writeTransactionsCsv(late, {
      rows: 50,
      accounts: 2,
      from: '2024-01',
      to: '2024-01',
      firstId: 900_000,
      seed: 7,
      badRowRatio: 0,
    });
    try {
      const r = await lake(['erase', '--dataset', 'transactions', '--where', 'account_id = X', '--lake', lakeDir], {
        cwd: scratch.dir,
        env: { LAKE_MAINTENANCE_LOCK_WAIT_MS: '0' },
      });
      expect(r.code).toBe(2);
      expect(r.stderr).toMatch(
        new RegExp(
          `another maintenance command is rewriting transactions: the compaction ${lease.lease_id} by operator@laptop \\(lake compact\\), pid ${process.pid} holds the maintenance lease since \\S+; the erasure did nothing`,
        ),
      );
      const c = await lake(['compact', '--lake', lakeDir], {
        cwd: scratch.dir,
        env: { LAKE_MAINTENANCE_LOCK_WAIT_MS: '0' },
      });
      expect(c.code).toBe(2);
      expect(c.stderr).toMatch(/the compaction did nothing/);

      const i = await run('ingest', late, '--dataset', 'transactions');
      expect(i.code).toBe(1);
      expect(i.stderr).toContain(
        `the ingest of transactions/late.csv of transactions did nothing: the compaction ${lease.lease_id} by operator@laptop (lake compact), pid ${process.pid} holds the maintenance lease`,
      );
      expect(i.stderr).toContain(
        `Nothing was written to silver (the file is kept in bronze): run \`lake ingest ${late}\` again when the compaction has finished`,
      );
      expect(await fingerprint()).toEqual(before);
      const pending: string[] = [];
      for await (const o of store.list('silver', '_pending/')) pending.push(o.key);
      expect(pending, 'no intent record left').toEqual([]);
    } finally {
      expect(await releaseMaintenanceLease(store, 'transactions', lease.lease_id)).toBe('released');
    }
    const again = await run('ingest', late, '--dataset', 'transactions');
    expect(again.code, again.stderr).toBe(0);
    const [after] = await fingerprint();
    expect(Number(after?.n)).toBe(Number(before[0]?.n) + 50);
    const compacted = await run('compact', '--dataset', 'transactions');
    expect(compacted.code, compacted.stderr).toBe(0);
    expect(await fingerprint()).toEqual([after]);

    // An ingest that passed its lease check before the erasure took the lease (its intent record) is named.
    const intent = '_pending/transactions/in-flight.json';
    await store.putBytes('silver', intent, JSON.stringify({ source: { key: 'transactions/in-flight.csv' } }));
    // A removal's hold (a record naming no keys, engine/intent.ts) writes nothing: not named.
    const hold = '_pending/transactions/held.json';
    await store.putBytes('silver', hold, JSON.stringify({ source: { key: 'transactions/held.csv' }, hold_only: true }));
    try {
      const erased = await run('erase', '--dataset', 'transactions', '--where', 'account_id = NOBODY');
      expect(erased.code, erased.stderr).toBe(0);
      expect(erased.stderr).toContain(
        '1 ingest of transactions was in flight when the erasure started (silver/_pending/transactions/: transactions/in-flight.csv): run this erasure again once it has finished',
      );
    } finally {
      await store.delete('silver', [intent, hold]);
    }
  });
});
