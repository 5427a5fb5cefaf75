import { mkdir, writeFile } from 'node:fs/promises';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, it } from '@jest/globals';
import { expect } from '../support/expect.ts';
import {
  expectedMonthEndBalances,
  writeTransactionsCsv,
  type GenerationReport,
  type WriteOptions,
} from '../../generator/generate.ts';
import type { Manifest } from '../../engine/contract/index.ts';
import { hasStackTrace, lake, scratchDir } from '../support/e2e/cli.ts';

const FEED = { from: '2024-01', to: '2024-03' };
const JAN: WriteOptions = {
  rows: 3000,
  accounts: 5,
  from: '2024-01',
  to: '2024-01',
  feed: FEED,
  seed: 7,
  firstId: 1,
  badRowRatio: 0.02,
};
const FEB: WriteOptions = {
  rows: 3000,
  accounts: 5,
  from: '2024-02',
  to: '2024-03',
  feed: FEED,
  seed: 7,
  firstId: 100_000,
  header: 'snake',
  gzip: true,
  resend: { of: JAN, rows: 40 },
};

describe('lake ingest + lake query: a round trip through the local lake', () => {
  let scratch: Awaited<ReturnType<typeof scratchDir>>;
  let lakeDir: string;
  let jan: GenerationReport;
  let feb: GenerationReport;
  const run = (...args: string[]) => lake([...args, '--lake', lakeDir], { cwd: scratch.dir });

  beforeAll(async () => {
    scratch = await scratchDir();
    lakeDir = join(scratch.dir, 'my-lake');
    await mkdir(join(scratch.dir, 'landing', 'transactions'), { recursive: true });
    jan = await writeTransactionsCsv(join(scratch.dir, 'jan.csv'), JAN);
    feb = await writeTransactionsCsv(join(scratch.dir, 'landing', 'transactions', 'feb-mar.csv.gz'), FEB);
  });
  afterAll(async () => scratch.remove());

  it('ingests a file: a summary, bad rows quarantined and reported, exit 0', async () => {
    const r = await run('ingest', join(scratch.dir, 'jan.csv'));
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/✓ transactions\/jan\.csv\s+3,000 rows/);
    expect(r.stdout).toContain(`${jan.validRows.toLocaleString('en-US')} valid`);
    expect(r.stdout).toMatch(/Quarantined, by reason:/);
    for (const [reason, n] of Object.entries(jan.reasons))
      if (n) expect(r.stdout).toMatch(new RegExp(`${reason}\\s+${n} rows`));
    expect(hasStackTrace(r.stderr)).toBe(false);
  });

  it('finds the dataset from a folder name, reads gzip and snake_case headers, and prints manifests with --json', async () => {
    const r = await run('ingest', join(scratch.dir, 'landing'), '--json');
    expect(r.code).toBe(0);
    const manifests = JSON.parse(r.stdout) as Manifest[];
    expect(manifests).toHaveLength(1);
    const m = manifests[0] as Manifest;
    expect(m.source.key).toBe('transactions/feb-mar.csv.gz');
    expect(m.compression).toBe('gzip');
    expect(m.rows_in).toBe(feb.rows);
    expect(m.rows_valid).toBe(feb.validRows);
    expect(m.rows_quarantined).toBe(feb.badRows);
    for (const [reason, n] of Object.entries(feb.reasons)) expect(m.reasons[reason] ?? 0).toBe(n);
  });

  it('leaves the producer one event per ingest in _events/<dataset>.jsonl, with the counts by reason', async () => {
    const lines = readFileSync(join(lakeDir, '_events', 'transactions.jsonl'), 'utf8')
      .trim()
      .split('\n');
    const events = lines.map(
      (l) =>
        JSON.parse(l) as {
          source: string;
          'detail-type': string;
          detail: {
            source: { key: string };
            rows_in: number;
            rows_quarantined: number;
            reasons: Record<string, number>;
            status: string;
            contract_version: string;
          };
        },
    );
    expect(events.map((e) => [e.source, e['detail-type'], e.detail.source.key, e.detail.status])).toEqual([
      ['medallion.lake', 'Ingest Completed', 'transactions/jan.csv', 'completed_with_rejects'],
      ['medallion.lake', 'Ingest Completed', 'transactions/feb-mar.csv.gz', 'completed_with_rejects'],
    ]);
    expect(events[1]?.detail).toMatchObject({
      rows_in: feb.rows,
      rows_quarantined: feb.badRows,
      contract_version: '1.0.0',
    });
    for (const [reason, n] of Object.entries(feb.reasons)) expect(events[1]?.detail.reasons[reason] ?? 0).toBe(n);
  });

  it('queries silver with the table names analysts use, in table, csv and json', async () => {
    const sql = 'SELECT count(*) AS n, count(DISTINCT transaction_id) AS ids FROM silver.transactions';
    const json = await run('query', '--sql', sql, '--format', 'json');
    expect(json.code).toBe(0);
    expect(JSON.parse(json.stdout)).toEqual([
      { n: jan.validRows + feb.validRows, ids: jan.validRows + feb.validRows - feb.resentRows },
    ]);
    const csv = await run('query', sql, '--format', 'csv');
    expect(csv.stdout).toBe(
      `n,ids\n${jan.validRows + feb.validRows},${jan.validRows + feb.validRows - feb.resentRows}\n`,
    );
    const table = await run(
      'query',
      '--sql',
      'SELECT year, month, count(*) AS n FROM silver.transactions GROUP BY year, month ORDER BY year, month',
    );
    expect(table.stdout).toMatch(/^year\s+month\s+n\n[─ ]+\n2024\s+01\s+\d+\n2024\s+02\s+\d+\n2024\s+03\s+\d+\n$/);
    expect(table.stderr).toMatch(/\(3 rows, /);
  });

  it('answers the month-end balance question from a query file, duplicates resolved, as the generator expects', async () => {
    const r = await run(
      'query',
      '--file',
      'month_end_balances',
      '--param',
      'from_month=2024-01',
      '--param',
      'to_month=2024-03',
      '--json',
    );
    expect(r.code).toBe(0);
    const rows = JSON.parse(r.stdout) as Array<{ account_id: string; month: string; balance: string | null }>;
    const expected = expectedMonthEndBalances([jan, feb]);
    expect(rows.length).toBeGreaterThan(0);
    for (const row of rows) {
      const cents = expected.get(row.account_id)?.get(row.month);
      expect(
        row.balance === null ? undefined : Math.round(Number(row.balance) * 100),
        `${row.account_id} ${row.month}`,
      ).toBe(cents);
    }
  });

  it('reads quarantine and gold through the same names', async () => {
    const q = await run('query', '--sql', 'SELECT count(*) AS n FROM quarantine.transactions', '--json');
    expect(JSON.parse(q.stdout)[0].n).toBe(jan.badRows + feb.badRows);
    const g = await run(
      'query',
      '--sql',
      'SELECT count(DISTINCT account_id) AS accounts FROM gold.account_monthly_balance',
      '--json',
    );
    expect(JSON.parse(g.stdout)[0].accounts).toBe(5);
  });

  it('re-ingesting the same file changes nothing', async () => {
    const r = await run('ingest', join(scratch.dir, 'jan.csv'));
    expect(r.code).toBe(0);
    const n = await run('query', '--sql', 'SELECT count(*) AS n FROM silver.transactions', '--json');
    expect(JSON.parse(n.stdout)[0].n).toBe(jan.validRows + feb.validRows);
  });

  it('refuses different content under a name bronze already holds (raw input is immutable)', async () => {
    const other = join(scratch.dir, 'elsewhere', 'jan.csv');
    await mkdir(join(scratch.dir, 'elsewhere'), { recursive: true });
    await writeFile(
      other,
      'TransactionID,CustomerID,TransactionAmount,Currency,TransactionTimestamp\nX1,ACC001,1.00,EUR,2024-01-05T00:00:00Z\n',
    );
    const r = await run('ingest', other);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/error: bronze already holds a different transactions\/jan\.csv/);
    expect(r.stderr).toMatch(/hint: raw input is immutable/);
  });

  it('shows status: partitions, counts, quarantine rate and gold freshness', async () => {
    const r = await run('status', '--json');
    expect(r.code).toBe(0);
    const status = JSON.parse(r.stdout);
    const tx = status.datasets.find((d: { name: string }) => d.name === 'transactions');
    expect(tx.rows).toBe(jan.validRows + feb.validRows);
    expect(tx.partitions.map((p: { values: Record<string, string> }) => `${p.values.year}-${p.values.month}`)).toEqual([
      '2024-01',
      '2024-02',
      '2024-03',
    ]);
    expect(tx.partitions.every((p: { registered: boolean }) => p.registered)).toBe(true);
    expect(tx.rows_quarantined).toBe(jan.badRows + feb.badRows);
    expect(tx.above_alert_threshold).toBe(true); // 2% bad rows in these files
    expect(status.gold[0].up_to_date).toBe(true);
    const text = await run('status');
    expect(text.stdout).toMatch(/Partitions of transactions/);
    expect(text.stdout).toMatch(/⚠ transactions: \d\.\d+% of rows quarantined, above the 1% alert threshold/);
  });

  it('lists an ingest that never finished (an intent record without a manifest) in status', async () => {
    const dir = join(lakeDir, 'silver', '_pending', 'transactions');
    mkdirSync(dir, { recursive: true });
    const intent = {
      dataset: 'transactions',
      run_id: 'r',
      source: { bucket: 'b', key: 'transactions/crashed.csv', version_id: null, etag: null },
      started_at: '2024-05-01T10:00:00.000Z',
      silver_keys: ['a', 'b'],
      quarantine_keys: [],
    };
    writeFileSync(join(dir, 'feedface.json'), JSON.stringify(intent));
    // A removal's hold (a record naming no keys, engine/intent.ts) is no unfinished ingest: not listed.
    const hold = { ...intent, source: { ...intent.source, key: 'transactions/held.csv' }, silver_keys: [] };
    writeFileSync(join(dir, 'beadfeed.json'), JSON.stringify({ ...hold, hold_only: true }));
    try {
      const status = JSON.parse((await run('status', '--json')).stdout);
      expect(status.unfinished_ingests).toEqual([
        {
          dataset: 'transactions',
          source: 'transactions/crashed.csv',
          started_at: '2024-05-01T10:00:00.000Z',
          silver_files: 2,
          state: 'abandoned',
        },
      ]);
      // Its rows may be in silver, readable by queries, and in no gold month: gold is not "up to date".
      expect(status.gold[0]).toMatchObject({ up_to_date: false, unfinished_sources: 1 });
      const text = (await run('status')).stdout;
      expect(text).toMatch(/Unfinished ingests[\s\S]*transactions\/crashed\.csv\s+2\s+abandoned/);
      expect(text).toMatch(/stale: 1 unfinished ingest\(s\) in silver not reflected/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    expect(JSON.parse((await run('status', '--json')).stdout).unfinished_ingests).toEqual([]);
  });

  it('browses quarantine: a summary, rows by reason, rows by source', async () => {
    const summary = await run('quarantine');
    expect(summary.code).toBe(0);
    expect(summary.stdout).toMatch(/Rejected rows by reason/);
    expect(summary.stdout).toMatch(/transactions\/jan\.csv\s+\d+/);
    const byReason = await run('quarantine', '--reason', 'invalid_amount', '--format', 'json', '--limit', '1000');
    const rows = JSON.parse(byReason.stdout) as Array<{ reasons: string[]; details: string[] }>;
    expect(rows).toHaveLength(jan.reasons.INVALID_AMOUNT + feb.reasons.INVALID_AMOUNT);
    expect(
      rows.every((r) => r.reasons.includes('INVALID_AMOUNT') && r.details.some((d) => d.startsWith('amount:'))),
    ).toBe(true);
    const bySource = await run('quarantine', '--source', 'feb-mar.csv.gz', '--limit', '3');
    expect(bySource.stdout).toMatch(/transactions\/feb-mar\.csv\.gz/);
    expect(bySource.stderr).toMatch(/showing 3 of \d+ rows/);
  });
});
