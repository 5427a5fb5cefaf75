/**
 * The local gold refresh on real Parquet (test/fixtures/analytics): full build, incremental refresh after
 * later files, idempotency, the swap never leaving gold half-written, and gold agreeing with silver.
 */
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { hostname, tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { deadPid } from '../../support/processes.ts';
import { LockBusyError } from '../../../adapters/local/file-lock.ts';
import { GOLD_PART_FILE, refreshGoldLocal } from '../../../adapters/local/gold-refresh.ts';
import type { GoldState } from '../../../engine/gold/plan.ts';
import type { QueryEngine, QueryResult } from '../../../engine/ports.ts';
import { DuckDbTestEngine } from '../../fixtures/analytics/duckdb-engine.ts';
import { addSource, attachLake, buildLake } from '../../fixtures/analytics/lake.ts';
import { runQueryFile } from '../../fixtures/analytics/queries.ts';
import { BASE_SOURCES, SOURCE_D, SOURCE_E } from '../../fixtures/analytics/transactions.ts';
import { DEFAULT_GOLD_TABLE } from '../../../datasets/index.ts';

const GOLD_ROWS =
  'SELECT account_id, net_flow, txn_count, closing_balance, first_txn_month, last_txn_month, year, month FROM gold.account_monthly_balance ORDER BY year, month, account_id';

/** Every file under the gold table: content hash and modification time. */
async function goldFiles(lake: string): Promise<Record<string, { hash: string; mtime: number }>> {
  const root = join(lake, 'gold', 'account_monthly_balance');
  const out: Record<string, { hash: string; mtime: number }> = {};
  const walk = async (dir: string): Promise<void> => {
    for (const e of await readdir(dir, { withFileTypes: true })) {
      const p = join(dir, e.name);
      if (e.isDirectory()) await walk(p);
      else
        out[relative(root, p)] = {
          hash: createHash('sha256')
            .update(await readFile(p))
            .digest('hex'),
          mtime: (await stat(p)).mtimeMs,
        };
    }
  };
  await walk(root);
  return out;
}

const hashes = (files: Record<string, { hash: string }>) =>
  Object.fromEntries(Object.entries(files).map(([k, v]) => [k, v.hash]));

async function newLake(prefix: string): Promise<{ lake: string; engine: DuckDbTestEngine }> {
  return { lake: await mkdtemp(join(tmpdir(), prefix)), engine: await DuckDbTestEngine.open() };
}

describe('local gold refresh', () => {
  let lake: string;
  let engine: DuckDbTestEngine;
  const cleanup: Array<() => Promise<void>> = [];

  beforeAll(async () => {
    ({ lake, engine } = await newLake('lake-gold-'));
    cleanup.push(
      () => engine.close(),
      () => rm(lake, { recursive: true, force: true }),
    );
    await buildLake(engine, lake, BASE_SOURCES);
  });

  afterAll(async () => {
    for (const c of cleanup.reverse()) await c();
  });

  it('builds every month from the first transaction to the latest month, with hand-checked rows', async () => {
    const { plan, rows } = await refreshGoldLocal({ table: DEFAULT_GOLD_TABLE, lakeDir: lake, engine });
    expect(plan.kind).toBe('full');
    expect(plan.months).toEqual(['2023-12', '2024-01', '2024-02', '2024-03', '2024-04']);
    // 2023-12: ACC001. Jan: +ACC005. Feb: +ACC002, ACC003. Mar: same 4. Apr: +ACC004.
    expect(rows).toEqual({ '2023-12': 1, '2024-01': 2, '2024-02': 4, '2024-03': 4, '2024-04': 5 });
    const gold = (await engine.query(GOLD_ROWS)).rows.filter((r) => r.month === '01' || r.month === '02');
    expect(
      gold.map((r) => [
        r.month,
        r.account_id,
        r.net_flow,
        r.txn_count,
        r.closing_balance,
        r.first_txn_month,
        r.last_txn_month,
      ]),
    ).toEqual([
      // January: T002 and T003 each once (re-sent / repeated in one file); ACC005 500.00 − 120.25.
      ['01', 'ACC001', '226.00', '2', '326.00', '2023-12', '2024-01'],
      ['01', 'ACC005', '379.75', '2', '379.75', '2024-01', '2024-01'],
      // February: quiet accounts carry their balance with net_flow 0; ACC003's T007 is February in UTC.
      ['02', 'ACC001', '0.00', '0', '326.00', '2023-12', '2024-01'],
      ['02', 'ACC002', '-25.50', '1', '-25.50', '2024-02', '2024-02'],
      ['02', 'ACC003', '40.00', '1', '40.00', '2024-02', '2024-02'],
      ['02', 'ACC005', '0.00', '0', '379.75', '2024-01', '2024-01'],
    ]);
  });

  it('writes one Parquet file per month, typed as the Glue table declares (decimal(38,2), bigint, string)', async () => {
    const file = join(lake, 'gold/account_monthly_balance/year=2024/month=01', GOLD_PART_FILE);
    const schema = (
      await engine.query(
        `SELECT name, type, logical_type, precision, scale FROM parquet_schema('${file}') WHERE name <> 'duckdb_schema'`,
      )
    ).rows;
    const described = schema.map((c) => [
      c.name,
      c.precision === null ? c.type : `decimal(${String(c.precision)},${String(c.scale)})`,
    ]);
    expect(described).toEqual([
      ['account_id', 'BYTE_ARRAY'],
      ['net_flow', 'decimal(38,2)'],
      ['txn_count', 'INT64'],
      ['closing_balance', 'decimal(38,2)'],
      ['first_txn_month', 'BYTE_ARRAY'],
      ['last_txn_month', 'BYTE_ARRAY'],
    ]);
    expect(Object.keys(await goldFiles(lake)).sort()).toEqual(
      ['2023/12', '2024/01', '2024/02', '2024/03', '2024/04'].map(
        (ym) => `year=${ym.slice(0, 4)}/month=${ym.slice(5)}/${GOLD_PART_FILE}`,
      ),
    );
  });

  it('re-running with nothing new is a no-op: no file is rewritten', async () => {
    const before = await goldFiles(lake);
    const { plan } = await refreshGoldLocal({ table: DEFAULT_GOLD_TABLE, lakeDir: lake, engine });
    expect(plan.kind).toBe('noop');
    expect(await goldFiles(lake)).toEqual(before);
  });

  it('a later file rewrites only the affected months: from the month of a superseded version to the newest', async () => {
    const before = await goldFiles(lake);
    await addSource(engine, lake, SOURCE_D);
    await attachLake(engine, lake);
    const { plan } = await refreshGoldLocal({ table: DEFAULT_GOLD_TABLE, lakeDir: lake, engine });
    // D writes Feb (T013), Mar (T005 moved), Apr (T012), May (T014 at 2024-04-30T23:00−05:00). The probe finds
    // T005's older January version, so January changes too; December 2023 does not.
    expect(plan.kind).toBe('incremental');
    expect(plan.months).toEqual(['2024-01', '2024-02', '2024-03', '2024-04', '2024-05']);
    const after = await goldFiles(lake);
    expect(after['year=2023/month=12/part-00000.parquet']).toEqual(before['year=2023/month=12/part-00000.parquet']);

    await addSource(engine, lake, SOURCE_E);
    await attachLake(engine, lake);
    const onlyMay = await refreshGoldLocal({ table: DEFAULT_GOLD_TABLE, lakeDir: lake, engine });
    expect(onlyMay.plan.months).toEqual(['2024-05']);
    const afterE = await goldFiles(lake);
    for (const k of Object.keys(after).filter((k) => !k.includes('month=05'))) expect(afterE[k]).toEqual(after[k]);
  });

  it('incremental refreshes end where a full build of the same sources does, row for row and byte for byte', async () => {
    const fresh = await newLake('lake-gold-full-');
    cleanup.push(
      () => fresh.engine.close(),
      () => rm(fresh.lake, { recursive: true, force: true }),
    );
    await buildLake(fresh.engine, fresh.lake, [...BASE_SOURCES, SOURCE_D, SOURCE_E]);
    const { plan } = await refreshGoldLocal({ table: DEFAULT_GOLD_TABLE, lakeDir: fresh.lake, engine: fresh.engine });
    expect(plan.kind).toBe('full');
    expect((await fresh.engine.query(GOLD_ROWS)).rows).toEqual((await engine.query(GOLD_ROWS)).rows);
    expect(hashes(await goldFiles(fresh.lake))).toEqual(hashes(await goldFiles(lake)));
  });

  it('rebuilding from scratch over an existing gold gives identical files (idempotent)', async () => {
    const before = hashes(await goldFiles(lake));
    await rm(join(lake, 'gold', '_state'), { recursive: true });
    const { plan } = await refreshGoldLocal({ table: DEFAULT_GOLD_TABLE, lakeDir: lake, engine });
    expect(plan.kind).toBe('full');
    expect(hashes(await goldFiles(lake))).toEqual(before);
  });

  it('balances from gold equal balances straight from silver, and the hand-checked Jan–May table', async () => {
    const params = { from_month: '2024-01', to_month: '2024-05' };
    const fromGold = await runQueryFile(engine, 'month_end_balances', params);
    expect(await runQueryFile(engine, 'month_end_balances_from_silver', params)).toEqual(fromGold);
    const table: Record<string, Array<string | null>> = {};
    for (const r of fromGold) (table[r.account_id as string] ??= []).push(r.balance as string | null);
    expect(table).toEqual({
      ACC001: ['326.00', '341.00', '341.00', '341.00', '341.00'], // + T013 15.00 on 2024-02-29T23:59:59.999Z
      ACC002: [null, '-25.50', '-125.50', '-125.50', '-125.00'], // + T015 0.50 in May
      ACC003: [null, '40.00', '50.00', '50.00', '50.00'],
      ACC004: [null, null, null, '45.00', '45.00'], // 75.00 − 30.00
      ACC005: ['500.00', '500.00', '399.75', '399.75', '399.75'], // T005 −120.25 moved from Jan to Mar
      ACC006: [null, null, null, null, '5.00'], // 2024-04-30T23:00−05:00 is May in UTC
    });
  });

  it('a failure mid-refresh leaves gold and its state exactly as they were; the next run completes', async () => {
    await addSource(engine, lake, {
      ...SOURCE_E,
      sourceId: 'src-f',
      key: 'transactions/2024-06/batch-f.csv',
      runId: 'run-f',
      rows: [{ id: 'T016', account: 'ACC001', amount: '1.00', currency: 'EUR', at: '2024-01-15T00:00:00Z' }],
    });
    await attachLake(engine, lake);
    const before = await goldFiles(lake);
    const state = await readFile(join(lake, 'gold/_state/account_monthly_balance.json'), 'utf8');
    let copies = 0;
    const failing: QueryEngine = {
      query: async (sql: string): Promise<QueryResult> => {
        if (sql.startsWith('COPY') && ++copies === 3) throw new Error('disk full');
        return engine.query(sql);
      },
      close: async () => {},
    };
    await expect(refreshGoldLocal({ table: DEFAULT_GOLD_TABLE, lakeDir: lake, engine: failing })).rejects.toThrow(
      'disk full',
    );
    expect(await goldFiles(lake)).toEqual(before);
    expect(await readFile(join(lake, 'gold/_state/account_monthly_balance.json'), 'utf8')).toBe(state);
    expect(await readdir(join(lake, 'gold/_staging/account_monthly_balance'))).toEqual([]);

    const { plan } = await refreshGoldLocal({ table: DEFAULT_GOLD_TABLE, lakeDir: lake, engine });
    expect(plan.months).toEqual(['2024-01', '2024-02', '2024-03', '2024-04', '2024-05']);
    const [jan] = (
      await runQueryFile(engine, 'month_end_balances', { from_month: '2024-01', to_month: '2024-01' })
    ).filter((r) => r.account_id === 'ACC001');
    expect(jan?.balance).toBe('327.00');
  });

  it('refuses at once (wait 0) while another live refresh holds the lock, naming its holder', async () => {
    const lock = join(lake, 'gold/_state/account_monthly_balance.lock');
    await writeFile(
      lock,
      JSON.stringify({
        pid: process.pid,
        host: hostname(),
        process_started_at: '',
        acquired_at: '2024-05-01T00:00:00Z',
        nonce: 'x',
      }),
    );
    try {
      await expect(refreshGoldLocal({ table: DEFAULT_GOLD_TABLE, lakeDir: lake, engine })).rejects.toThrow(
        new RegExp(`held by pid ${process.pid} since 2024-05-01`),
      );
    } finally {
      await rm(lock, { force: true });
    }
  });

  it('takes over the lock of a refresh that crashed (its process is gone): no manual clean-up', async () => {
    const lock = join(lake, 'gold/_state/account_monthly_balance.lock');
    await writeFile(
      lock,
      JSON.stringify({
        pid: deadPid(),
        host: hostname(),
        process_started_at: '',
        acquired_at: new Date().toISOString(),
        nonce: 'crashed',
      }),
    );
    await mkdir(join(lake, 'gold/_staging/account_monthly_balance/crashed-attempt'), { recursive: true });
    const { plan } = await refreshGoldLocal({ table: DEFAULT_GOLD_TABLE, lakeDir: lake, engine });
    expect(plan.kind).toBe('noop');
    expect(existsSync(lock)).toBe(false);
    expect(await readdir(join(lake, 'gold/_staging/account_monthly_balance')).catch(() => [])).toEqual([]); // the crashed attempt's staging is gone
  });

  it('a refresh that could not wait for the lock is done by the holder, which runs another pass', async () => {
    // The holder pauses at the end of its pass (when it recreates the gold views); meanwhile a new source is
    // ingested and a second refresh, not waiting, gives up. The holder must then reflect the new source too.
    let pausedAtViews!: () => void;
    const paused = new Promise<void>((r) => (pausedAtViews = r));
    let resume!: () => void;
    const resumed = new Promise<void>((r) => (resume = r));
    let pauses = 0;
    const pausing: QueryEngine = {
      query: async (sql: string): Promise<QueryResult> => {
        if (sql.includes('VIEW gold.') && pauses++ === 0) {
          pausedAtViews();
          await resumed;
        }
        return engine.query(sql);
      },
      close: async () => {},
    };
    const holder = refreshGoldLocal({ table: DEFAULT_GOLD_TABLE, lakeDir: lake, engine: pausing });
    await paused;
    await addSource(engine, lake, {
      ...SOURCE_E,
      sourceId: 'src-g',
      key: 'transactions/2024-06/batch-g.csv',
      runId: 'run-g',
      rows: [{ id: 'T017', account: 'ACC001', amount: '2.00', currency: 'EUR', at: '2024-05-15T00:00:00Z' }],
    });
    await attachLake(engine, lake);
    await expect(
      refreshGoldLocal({ table: DEFAULT_GOLD_TABLE, lakeDir: lake, engine, lockWaitMs: 0 }),
    ).rejects.toBeInstanceOf(LockBusyError);
    resume();
    const { plan } = await holder;
    expect(plan.months).toEqual(['2024-05']);
    const state = JSON.parse(
      await readFile(join(lake, 'gold/_state/account_monthly_balance.json'), 'utf8'),
    ) as GoldState;
    expect(state.sources['src-g']?.run_id).toBe('run-g');
  });
});
