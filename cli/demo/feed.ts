/**
 * The demo's source files: January–April 2024 of a transactions feed, the way real producers deliver it —
 * two header styles, CRLF, gzip, a reordered header, a late file that re-sends rows, and a partner file
 * missing a required column. About 1% of rows are bad, of every kind.
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { writeTransactionsCsv, type GenerationReport, type WriteOptions } from '../../generator/generate.ts';

export const DEMO_FEED = { from: '2024-01', to: '2024-04' } as const;
export const DEMO_SEED = 2024;

export interface DemoFile {
  name: string;
  path: string;
  rows: number;
  /** What the generator wrote (undefined for the hand-written partner file). */
  report?: GenerationReport;
}

const PARTNER_FEED =
  'TransactionID,CustomerID,TransactionAmount,TransactionTimestamp\n' +
  'PF-0001,ACC001,-42.50,2024-04-03T09:15:00Z\nPF-0002,ACC002,120.00,2024-04-03T11:02:41Z\nPF-0003,ACC003,-8.99,2024-04-04T16:40:12Z\n';

export interface DemoFeedOptions {
  rowsPerMonth: number;
  accounts: number;
}

function monthFile(month: number, options: DemoFeedOptions, extra: Partial<WriteOptions> = {}): WriteOptions {
  const m = `2024-${String(month).padStart(2, '0')}`;
  return {
    rows: options.rowsPerMonth,
    accounts: options.accounts,
    from: m,
    to: m,
    feed: DEMO_FEED,
    seed: DEMO_SEED,
    firstId: month * 10_000_000,
    badRowRatio: 0.0095, // about 1%, just under the alert threshold
    ...extra,
  };
}

export async function writeDemoFeed(dir: string, options: DemoFeedOptions): Promise<DemoFile[]> {
  const march = monthFile(3, options, {
    header: 'snake',
    columnOrder: ['transaction_timestamp', 'transaction_id', 'account_id', 'currency', 'amount'],
    gzip: true,
  });
  const plans: Array<[string, WriteOptions]> = [
    ['2024-01.csv', monthFile(1, options)],
    ['2024-02.csv', monthFile(2, options, { lineEnding: '\r\n' })],
    ['2024-03.csv.gz', march],
    // A late file: April, plus 1% of March's transactions sent again (exact duplicates, resolved in gold).
    ['2024-04.csv', monthFile(4, options, { resend: { of: march, rows: Math.ceil(options.rowsPerMonth / 100) } })],
  ];
  const files: DemoFile[] = [];
  for (const [name, plan] of plans) {
    const path = join(dir, name);
    const report = await writeTransactionsCsv(path, plan);
    files.push({ name, path, rows: report.rows, report });
  }
  // A partner whose export lacks the Currency column: the whole file is rejected (MISSING_COLUMNS).
  const partner = join(dir, '2024-04-partner-feed.csv');
  await writeFile(partner, PARTNER_FEED);
  files.push({ name: '2024-04-partner-feed.csv', path: partner, rows: PARTNER_FEED.trimEnd().split('\n').length - 1 });
  return files;
}
