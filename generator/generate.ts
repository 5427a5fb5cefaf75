/**
 * Realistic, deterministic transactions CSV, as producers send it: the data of `lake demo`, the e2e tests
 * and the engine benchmark.
 *
 * Every row is a pure function of (seed, row id, time window), so a later file can re-send rows of an
 * earlier one byte for byte, and the same options always give the same bytes. The report says exactly
 * which rows are bad and why, and the net amount per account and UTC month of the valid rows, so tests can
 * check the lake's answers against ground truth.
 */
import { createWriteStream } from 'node:fs';
import { Readable, type Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGzip } from 'node:zlib';
import {
  buildAccounts,
  ByteSink,
  CANONICAL_ORDER,
  RowFactory,
  type GeneratedReason,
  type Row,
  type TransactionField,
  type Window,
} from './generate-rows.ts';

export { GENERATED_REASONS, type GeneratedReason, type TransactionField } from './generate-rows.ts';

export type HeaderStyle = 'pascal' | 'snake';

export interface TransactionsOptions {
  /** Data rows in the file (re-sent rows included). */
  rows: number;
  /** @default 100 */
  accounts?: number;
  /** First and last month of the transactions in this file, `YYYY-MM`, inclusive. @default '2024-01'…'2024-04' */
  from?: string;
  to?: string;
  /** The whole feed's months when this file is one of several: accounts open over the feed. @default from…to */
  feed?: { from: string; to: string };
  /** @default 42 */
  seed?: number;
  /** Id of the first row; give each file of a feed its own range. @default 1 */
  firstId?: number;
  /** Share of rows that are bad, spread evenly over the reasons. @default 0.01 */
  badRowRatio?: number;
  /** Share of timestamps written with a UTC offset instead of `Z`. @default 0.05 */
  offsetRatio?: number;
  /** @default 'pascal' */
  header?: HeaderStyle;
  /** Column order; producers do not agree on one. @default the canonical order */
  columnOrder?: readonly TransactionField[];
  /** @default '\n' */
  lineEnding?: '\n' | '\r\n';
  /** Re-send this many valid rows of an earlier file of the same feed, byte for byte, mixed into this one. */
  resend?: { of: TransactionsOptions; rows: number };
}

export interface GenerationReport {
  rows: number;
  validRows: number;
  badRows: number;
  /** Valid rows that repeat an earlier file's row (same id and content). */
  resentRows: number;
  reasons: Record<GeneratedReason, number>;
  /** Bytes of CSV text (before any compression). */
  bytes: number;
  accounts: string[];
  /** `YYYY-MM` of each column of `netCents`. */
  months: string[];
  /** Net amount in cents of the valid, first-sent rows per account (row) and UTC month (column). */
  netCents: number[][];
  /** Valid, first-sent rows per account and UTC month (same shape as `netCents`). */
  validCounts: number[][];
}

const HEADERS: Record<HeaderStyle, Record<TransactionField, string>> = {
  pascal: {
    transaction_id: 'TransactionID',
    account_id: 'CustomerID',
    amount: 'TransactionAmount',
    currency: 'Currency',
    transaction_timestamp: 'TransactionTimestamp',
  },
  snake: {
    transaction_id: 'transaction_id',
    account_id: 'account_id',
    amount: 'amount',
    currency: 'currency',
    transaction_timestamp: 'transaction_timestamp',
  },
};

function parseMonth(text: string, what: string): { year: number; month: number } {
  const m = /^(\d{4})-(\d{2})$/.exec(text);
  const month = Number(m?.[2]);
  if (!m || month < 1 || month > 12) throw new Error(`${what} must be a month written YYYY-MM, got "${text}"`);
  return { year: Number(m[1]), month };
}

function monthWindow(from: string, to: string, what: string): Window {
  const a = parseMonth(from, `${what} start`);
  const b = parseMonth(to, `${what} end`);
  const window = { start: Date.UTC(a.year, a.month - 1, 1), end: Date.UTC(b.year, b.month, 1) };
  if (window.end <= window.start) throw new Error(`${what}: ${from} is after ${to}`);
  return window;
}

function monthsOf(window: Window): string[] {
  const months: string[] = [];
  for (
    let d = new Date(window.start);
    d.getTime() < window.end;
    d = new Date(Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + 1, 1))
  ) {
    months.push(d.toISOString().slice(0, 7));
  }
  return months;
}

interface FilePlan {
  rows: number;
  firstId: number;
  headerLine: string;
  /** Canonical field index of each output column. */
  order: number[];
  lineEnding: Buffer;
  window: Window;
  feed: Window;
  factory: RowFactory;
}

function plan(options: TransactionsOptions): FilePlan {
  const from = options.from ?? '2024-01';
  const to = options.to ?? '2024-04';
  const seed = options.seed ?? 42;
  const accounts = options.accounts ?? 100;
  if (!Number.isInteger(options.rows) || options.rows < 0)
    throw new Error(`rows must be a whole number ≥ 0, got ${options.rows}`);
  if (!Number.isInteger(accounts) || accounts < 1)
    throw new Error(`accounts must be a whole number ≥ 1, got ${accounts}`);
  const window = monthWindow(from, to, 'months');
  const feed = options.feed ? monthWindow(options.feed.from, options.feed.to, 'feed') : window;
  if (window.start < feed.start || window.end > feed.end)
    throw new Error(`months ${from}…${to} must lie within the feed`);
  const columns = options.columnOrder ?? CANONICAL_ORDER;
  const order = columns.map((f) => CANONICAL_ORDER.indexOf(f));
  if (order.length !== CANONICAL_ORDER.length || new Set(order).size !== order.length || order.includes(-1)) {
    throw new Error(`columnOrder must name each of ${CANONICAL_ORDER.join(', ')} once`);
  }
  const lineEnding = options.lineEnding ?? '\n';
  const names = HEADERS[options.header ?? 'pascal'];
  return {
    rows: options.rows,
    firstId: options.firstId ?? 1,
    headerLine: columns.map((f) => names[f]).join(',') + lineEnding,
    order,
    lineEnding: Buffer.from(lineEnding, 'latin1'),
    window,
    feed,
    factory: new RowFactory(
      seed,
      buildAccounts(seed, accounts, feed),
      options.badRowRatio ?? 0.01,
      options.offsetRatio ?? 0.05,
    ),
  };
}

function emptyReport(p: FilePlan): GenerationReport {
  const months = monthsOf(p.feed);
  return {
    rows: 0,
    validRows: 0,
    badRows: 0,
    resentRows: 0,
    reasons: { MISSING_REQUIRED: 0, INVALID_CURRENCY: 0, INVALID_AMOUNT: 0, INVALID_TIMESTAMP: 0, MALFORMED_ROW: 0 },
    bytes: 0,
    accounts: p.factory.accounts.map((a) => a.id),
    months,
    netCents: p.factory.accounts.map(() => months.map(() => 0)),
    validCounts: p.factory.accounts.map(() => months.map(() => 0)),
  };
}

const CHUNK_BYTES = 256 * 1024;
/** Longer than any generated line. */
const MAX_LINE_BYTES = 512;

function* csvChunks(
  p: FilePlan,
  resend: { plan: FilePlan; rows: number } | undefined,
  report: GenerationReport,
): Generator<Buffer> {
  const feedStartMonth = p.factory.monthNumber(p.feed.start);
  report.bytes += p.headerLine.length;
  yield Buffer.from(p.headerLine, 'latin1');

  // Re-sent rows are spread evenly through the file, as a producer's retry would interleave them,
  // and taken from all over the earlier file.
  const resendEvery = resend && resend.rows > 0 ? Math.max(1, Math.floor(p.rows / resend.rows)) : 0;
  const earlierRows = Math.max(1, resend?.plan.rows ?? 1);
  let resendCursor = 0;
  const sink = new ByteSink(CHUNK_BYTES);
  for (let i = 0; i < p.rows; i++) {
    let row: Row | undefined;
    let factory = p.factory;
    if (resend && resendEvery && report.resentRows < resend.rows && i % resendEvery === resendEvery - 1) {
      const earlier = resend.plan;
      for (let tries = 0; tries < 16 && row === undefined; tries++) {
        const candidate = earlier.factory.make(
          earlier.firstId + ((resendCursor++ * 7919) % earlierRows),
          earlier.window,
        );
        if (candidate.reason === undefined) row = candidate; // only valid rows are re-sent
      }
      if (row) {
        report.resentRows++;
        factory = earlier.factory;
      }
    }
    const isResent = row !== undefined;
    row ??= p.factory.make(p.firstId + i, p.window);

    if (sink.pos + MAX_LINE_BYTES > CHUNK_BYTES) {
      report.bytes += sink.pos;
      yield sink.take();
    }
    factory.write(sink, row, p.order, p.lineEnding);

    report.rows++;
    if (row.reason) {
      report.badRows++;
      report.reasons[row.reason]++;
    } else {
      report.validRows++;
      if (!isResent) {
        const m = row.monthNumber - feedStartMonth;
        const net = report.netCents[row.account] as number[];
        const count = report.validCounts[row.account] as number[];
        net[m] = (net[m] as number) + row.cents;
        count[m] = (count[m] as number) + 1;
      }
    }
  }
  report.bytes += sink.pos;
  if (sink.pos) yield sink.take();
}

/** The CSV as a stream that honours backpressure. `report` is complete once the stream has ended. */
export function transactionsCsv(options: TransactionsOptions): { stream: Readable; report: GenerationReport } {
  const p = plan(options);
  const report = emptyReport(p);
  const resend = options.resend
    ? { plan: plan({ ...options.resend.of, feed: options.feed ?? options.resend.of.feed }), rows: options.resend.rows }
    : undefined;
  return { stream: Readable.from(csvChunks(p, resend, report), { objectMode: false }), report };
}

export interface WriteOptions extends TransactionsOptions {
  /** gzip the output, as a `.csv.gz` producer would. */
  gzip?: boolean;
  /** @default 6 */
  gzipLevel?: number;
}

/** Writes the CSV to a file path or a writable stream (which is ended when done). */
export async function writeTransactionsCsv(
  target: string | Writable,
  options: WriteOptions,
): Promise<GenerationReport> {
  const { stream, report } = transactionsCsv(options);
  const out = typeof target === 'string' ? createWriteStream(target) : target;
  if (options.gzip) await pipeline(stream, createGzip({ level: options.gzipLevel ?? 6 }), out);
  else await pipeline(stream, out);
  return report;
}

/**
 * Month-end balances implied by the reports of one feed's files: the running sum per account, in cents;
 * undefined (NULL) before the account's first valid transaction.
 */
export function expectedMonthEndBalances(
  reports: readonly GenerationReport[],
): Map<string, Map<string, number | undefined>> {
  const result = new Map<string, Map<string, number | undefined>>();
  const first = reports[0];
  if (!first) return result;
  first.accounts.forEach((account, a) => {
    const perMonth = new Map<string, number | undefined>();
    let running: number | undefined;
    first.months.forEach((month, m) => {
      const hasActivity = reports.some((r) => (r.validCounts[a]?.[m] ?? 0) > 0);
      if (hasActivity || running !== undefined)
        running = (running ?? 0) + reports.reduce((sum, r) => sum + (r.netCents[a]?.[m] ?? 0), 0);
      perMonth.set(month, running);
    });
    result.set(account, perMonth);
  });
  return result;
}
