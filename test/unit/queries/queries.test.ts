/**
 * The shipped queries/*.sql run on DuckDB against the fixed fixture (test/fixtures/analytics), with gold built
 * by the local refresh. Every expected figure below is worked out by hand from the fixture rows.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { refreshGoldLocal } from '../../../adapters/local/gold-refresh.ts';
import { DuckDbTestEngine } from '../../fixtures/analytics/duckdb-engine.ts';
import { attachLake, buildLake } from '../../fixtures/analytics/lake.ts';
import { runQueryFile } from '../../fixtures/analytics/queries.ts';
import { BASE_SOURCES } from '../../fixtures/analytics/transactions.ts';
import { DEFAULT_GOLD_TABLE } from '../../../datasets/index.ts';

type Balance = [account: string, month: string, balance: string | null];

function balances(rows: Array<Record<string, unknown>>): Balance[] {
  return rows.map((r) => [r.account_id as string, r.month as string, r.balance as string | null]);
}

/**
 * Q1 2024 from the base fixture (sources A, B, C; deduplicated):
 * - ACC001: 2023-12 +100.00 (opening), Jan +250.00 (T002, sent twice: once) −24.00 (T003, twice in one file: once)
 *   = 326.00; no activity in Feb/Mar → 326.00 carried forward.
 * - ACC002: nothing in Jan → NULL; Feb −25.50; Mar T008 corrected −90.00 → −100.00 (latest ingest) → −125.50.
 * - ACC003: T007 at 2024-01-31T23:30−02:00 = 2024-02-01T01:30Z → NULL in Jan, 40.00 in Feb; Mar +10.00 → 50.00.
 * - ACC004: first transaction in April → not listed for Q1.
 * - ACC005: Jan +500.00 −120.25 = 379.75; Feb carried 379.75; Mar +20.00 (USD, summed as booked) → 399.75.
 */
const Q1_2024: Balance[] = [
  ['ACC001', '2024-01', '326.00'],
  ['ACC001', '2024-02', '326.00'],
  ['ACC001', '2024-03', '326.00'],
  ['ACC002', '2024-01', null],
  ['ACC002', '2024-02', '-25.50'],
  ['ACC002', '2024-03', '-125.50'],
  ['ACC003', '2024-01', null],
  ['ACC003', '2024-02', '40.00'],
  ['ACC003', '2024-03', '50.00'],
  ['ACC005', '2024-01', '379.75'],
  ['ACC005', '2024-02', '379.75'],
  ['ACC005', '2024-03', '399.75'],
];

/** Across a year end, starting before any data: every account NULL until its first month. */
const NOV_2023_TO_FEB_2024: Balance[] = [
  ['ACC001', '2023-11', null],
  ['ACC001', '2023-12', '100.00'],
  ['ACC001', '2024-01', '326.00'],
  ['ACC001', '2024-02', '326.00'],
  ['ACC002', '2023-11', null],
  ['ACC002', '2023-12', null],
  ['ACC002', '2024-01', null],
  ['ACC002', '2024-02', '-25.50'],
  ['ACC003', '2023-11', null],
  ['ACC003', '2023-12', null],
  ['ACC003', '2024-01', null],
  ['ACC003', '2024-02', '40.00'],
  ['ACC005', '2023-11', null],
  ['ACC005', '2023-12', null],
  ['ACC005', '2024-01', '379.75'],
  ['ACC005', '2024-02', '379.75'],
];

describe('analyst queries on the fixture lake', () => {
  let engine: DuckDbTestEngine;
  let lake: string;

  beforeAll(async () => {
    lake = await mkdtemp(join(tmpdir(), 'lake-queries-'));
    engine = await DuckDbTestEngine.open();
    await buildLake(engine, lake, BASE_SOURCES);
    await refreshGoldLocal({ table: DEFAULT_GOLD_TABLE, lakeDir: lake, engine });
  });

  afterAll(async () => {
    await engine?.close();
    if (lake) await rm(lake, { recursive: true, force: true });
  });

  it('month_end_balances: the case’s Q1 2024 table, with NULLs, carry-forward, dedup and UTC months', async () => {
    const rows = await runQueryFile(engine, 'month_end_balances');
    expect(balances(rows)).toEqual(Q1_2024);
  });

  it('month_end_balances: a range across a year end, starting before the first transaction', async () => {
    const rows = await runQueryFile(engine, 'month_end_balances', { from_month: '2023-11', to_month: '2024-02' });
    expect(balances(rows)).toEqual(NOV_2023_TO_FEB_2024);
  });

  it('month_end_balances_from_silver returns the same rows as the gold-based query', async () => {
    const ranges: Array<Record<string, string>> = [
      {},
      { from_month: '2023-11', to_month: '2024-02' },
      { from_month: '2024-02', to_month: '2024-06' },
    ];
    for (const params of ranges) {
      const fromGold = await runQueryFile(engine, 'month_end_balances', params);
      const fromSilver = await runQueryFile(engine, 'month_end_balances_from_silver', params);
      expect(fromSilver).toEqual(fromGold);
    }
    expect(balances(await runQueryFile(engine, 'month_end_balances_from_silver'))).toEqual(Q1_2024);
  });

  it('month_end_balances reads only the range’s gold partitions (unreadable files elsewhere are never opened)', async () => {
    const poisonLake = await mkdtemp(join(tmpdir(), 'lake-pruning-'));
    const other = await DuckDbTestEngine.open();
    try {
      await buildLake(other, poisonLake, BASE_SOURCES);
      await refreshGoldLocal({ table: DEFAULT_GOLD_TABLE, lakeDir: poisonLake, engine: other });
      // April is gold's last month; 2099 is a partition far outside any range. Neither may be read for Q1.
      await writeFile(
        join(poisonLake, 'gold/account_monthly_balance/year=2024/month=04/part-00000.parquet'),
        'not parquet',
      );
      await rm(join(poisonLake, 'gold/account_monthly_balance/year=2099'), { recursive: true, force: true });
      await writeFile(
        join(poisonLake, 'silver/transactions/year=2024/month=04/part-src-c-00000.parquet'),
        'not parquet',
      );
      await attachLake(other, poisonLake);
      expect(balances(await runQueryFile(other, 'month_end_balances'))).toEqual(Q1_2024);
      const completeness = await runQueryFile(other, 'dq_completeness');
      expect(completeness[0]?.rows_checked).toBe('12');
      await expect(
        runQueryFile(other, 'month_end_balances', { from_month: '2024-03', to_month: '2024-04' }),
      ).rejects.toThrow();
    } finally {
      await other.close();
      await rm(poisonLake, { recursive: true, force: true });
    }
  });

  it('deduplicated_transactions: one row per id, the latest ingest’s values, in the UTC month', async () => {
    const rows = await runQueryFile(engine, 'deduplicated_transactions');
    // T001 (Dec) and T010 (Apr) fall outside Q1. T002 wins from batch-b (landed later), T008 from batch-c.
    expect(rows.map((r) => [r.transaction_id, r.account_id, r.amount, r.month, r.source_key, r.versions_seen])).toEqual(
      [
        ['T004', 'ACC005', '500.00', '01', 'transactions/2024-01/batch-a.csv', '1'],
        ['T002', 'ACC001', '250.00', '01', 'transactions/2024-02/batch-b.csv', '2'],
        ['T003', 'ACC001', '-24.00', '01', 'transactions/2024-01/batch-a.csv', '2'],
        ['T005', 'ACC005', '-120.25', '01', 'transactions/2024-01/batch-a.csv', '1'],
        ['T007', 'ACC003', '40.00', '02', 'transactions/2024-02/batch-b.csv', '1'],
        ['T006', 'ACC002', '-25.50', '02', 'transactions/2024-02/batch-b.csv', '1'],
        ['T008', 'ACC002', '-100.00', '03', 'transactions/2024-03/batch-c.csv', '2'],
        ['T011', 'ACC005', '20.00', '03', 'transactions/2024-03/batch-c.csv', '1'],
        ['T009', 'ACC003', '10.00', '03', 'transactions/2024-03/batch-c.csv', '1'],
      ],
    );
    expect(rows.find((r) => r.transaction_id === 'T007')?.transaction_timestamp).toBe('2024-02-01 01:30:00');
  });

  it('gold.transactions_latest view agrees with the query file', async () => {
    const view = (
      await engine.query('SELECT transaction_id, amount FROM gold.transactions_latest ORDER BY transaction_id')
    ).rows;
    expect(view.map((r) => `${String(r.transaction_id)}:${String(r.amount)}`)).toEqual([
      'T001:100.00',
      'T002:250.00',
      'T003:-24.00',
      'T004:500.00',
      'T005:-120.25',
      'T006:-25.50',
      'T007:40.00',
      'T008:-100.00',
      'T009:10.00',
      'T010:75.00',
      'T011:20.00',
    ]);
  });

  it('dq_quarantine_rate_by_reason: rows_in = 14 valid + 3 rejected = 17', async () => {
    const rows = await runQueryFile(engine, 'dq_quarantine_rate_by_reason');
    expect(
      rows.map((r) => [
        r.reason,
        r.quarantined_rows,
        r.rows_in,
        r.quarantine_rate,
        r.rejected_files,
        r.above_threshold,
      ]),
    ).toEqual([
      ['ALL_REASONS', '3', '17', 0.176471, '0', true], // 3/17
      ['INVALID_AMOUNT', '1', '17', 0.058824, '0', true], // 1/17
      ['INVALID_CURRENCY', '1', '17', 0.058824, '0', true],
      ['INVALID_TIMESTAMP', '1', '17', 0.058824, '0', true],
      ['MISSING_REQUIRED', '1', '17', 0.058824, '0', true],
      ['EMPTY_FILE', '0', '17', 0, '1', false],
    ]);
  });

  it('dq_quarantine_rate_by_source: per file, latest ingest first', async () => {
    const rows = await runQueryFile(engine, 'dq_quarantine_rate_by_source');
    expect(
      rows.map((r) => [
        r.source_key,
        r.rows_in,
        r.rows_valid,
        r.rows_quarantined,
        r.quarantine_rate,
        r.above_threshold,
        r.file_rejection_reason,
      ]),
    ).toEqual([
      ['transactions/2024-03/empty.csv', '0', '0', '0', null, null, 'EMPTY_FILE'],
      ['transactions/2024-03/batch-c.csv', '4', '4', '0', 0, false, null],
      ['transactions/2024-02/batch-b.csv', '5', '4', '1', 0.2, true, null], // 1/5
      ['transactions/2024-01/batch-a.csv', '8', '6', '2', 0.25, true, null], // 2/8
    ]);
  });

  it('dq_duplicate_ids: 14 rows, 11 ids; T002 re-sent, T003 twice in one file, T008 corrected', async () => {
    const [row] = await runQueryFile(engine, 'dq_duplicate_ids');
    expect(row).toEqual({
      total_rows: '14',
      distinct_ids: '11',
      duplicate_rows: '3',
      duplicated_ids: '3',
      resent_ids: '2', // T002 (A, B), T008 (B, C)
      within_source_ids: '1', // T003
      conflicting_ids: '1', // T008: -90.00 vs -100.00
      cross_month_ids: '0',
      duplicate_rate: 0.214286, // 3/14
    });
  });

  it('dq_completeness: the 12 silver rows of Q1 all carry every required field', async () => {
    const rows = await runQueryFile(engine, 'dq_completeness');
    expect(rows.map((r) => [r.field, r.rows_checked, r.rows_missing, r.completeness])).toEqual([
      ['transaction_id', '12', '0', 1],
      ['account_id', '12', '0', 1],
      ['amount', '12', '0', 1],
      ['currency', '12', '0', 1],
      ['transaction_timestamp', '12', '0', 1],
    ]);
  });

  it('dq_freshness: latest landing is the rejected file (2024-04-06), gold is up to date with silver', async () => {
    const [row] = await runQueryFile(engine, 'dq_freshness');
    expect(row).toMatchObject({
      dataset: 'transactions',
      latest_ingested_at: '2024-04-06 06:00:00',
      latest_transaction_at: '2024-04-03 09:00:00',
      latest_silver_month: '2024-04',
      latest_gold_month: '2024-04',
      gold_up_to_date: true,
      sources_ingested: '3',
    });
    expect(typeof row?.hours_since_ingest).toBe('number');
  });

  it('dq_mixed_currency_accounts: ACC005 mixes EUR and USD', async () => {
    const rows = await runQueryFile(engine, 'dq_mixed_currency_accounts');
    expect(rows).toEqual([
      { account_id: 'ACC005', currencies: '2', first_currency: 'EUR', last_currency: 'USD', row_count: '3' },
    ]);
  });
});
