import { createHash } from 'node:crypto';
import { gunzipSync } from 'node:zlib';
import { PassThrough } from 'node:stream';
import { describe, expect, it } from '@jest/globals';
import {
  expectedMonthEndBalances,
  GENERATED_REASONS,
  transactionsCsv,
  writeTransactionsCsv,
  type TransactionsOptions,
} from '../../../generator/generate.ts';

async function text(
  options: TransactionsOptions & { gzip?: boolean },
): Promise<{ text: string; report: Awaited<ReturnType<typeof writeTransactionsCsv>> }> {
  const sink = new PassThrough();
  const chunks: Buffer[] = [];
  sink.on('data', (c: Buffer) => chunks.push(c));
  const report = await writeTransactionsCsv(sink, options);
  const bytes = Buffer.concat(chunks);
  return { text: (options.gzip ? gunzipSync(bytes) : bytes).toString('utf8'), report };
}

describe('transactions generator', () => {
  it('is deterministic: the same options give the same bytes; another seed other bytes', async () => {
    const a = await text({ rows: 2000, seed: 1 });
    const b = await text({ rows: 2000, seed: 1 });
    const c = await text({ rows: 2000, seed: 2 });
    const md5 = (s: string) => createHash('md5').update(s).digest('hex');
    expect(md5(a.text)).toBe(md5(b.text));
    expect(md5(a.text)).not.toBe(md5(c.text));
    expect(a.report.bytes).toBe(Buffer.byteLength(a.text));
  });

  it('makes about the requested share of bad rows, of every reason, and counts them exactly', async () => {
    const { text: csv, report } = await text({ rows: 20_000, badRowRatio: 0.01 });
    const lines = csv.trimEnd().split('\n');
    expect(lines).toHaveLength(20_001);
    expect(report.rows).toBe(20_000);
    expect(report.badRows).toBe(Object.values(report.reasons).reduce((a, b) => a + b, 0));
    expect(report.badRows / report.rows).toBeGreaterThan(0.008);
    expect(report.badRows / report.rows).toBeLessThan(0.012);
    for (const reason of GENERATED_REASONS) expect(report.reasons[reason]).toBeGreaterThan(10);
    const fieldCounts = new Set(lines.slice(1).map((l) => l.replace(/"[^"]*"/g, 'Q').split(',').length));
    expect(fieldCounts).toEqual(new Set([4, 5, 6])); // malformed rows: one field short, one too many
  });

  it('writes both producer header styles, any column order, CRLF, offsets and zone-less timestamps', async () => {
    const { text: pascal } = await text({ rows: 500, offsetRatio: 0.2 });
    expect(pascal.split('\n')[0]).toBe('TransactionID,CustomerID,TransactionAmount,Currency,TransactionTimestamp');
    expect(pascal).toMatch(/,\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}[+-]\d{2}:\d{2}\n/);
    expect(pascal).toMatch(/,\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}\n/);
    const { text: snake } = await text({
      rows: 10,
      header: 'snake',
      lineEnding: '\r\n',
      columnOrder: ['currency', 'amount', 'transaction_timestamp', 'account_id', 'transaction_id'],
    });
    expect(snake.split('\r\n')[0]).toBe('currency,amount,transaction_timestamp,account_id,transaction_id');
    expect(snake.split('\r\n')[1]).toMatch(/^[A-Z$]*,[^,]*,[^,]*,(ACC\d{3})?,(TX\d{10})?$/);
  });

  it('re-sends rows of an earlier file byte for byte, and keeps them out of the expected balances', async () => {
    const feed = { from: '2024-01', to: '2024-02' };
    const jan: TransactionsOptions = { rows: 1000, accounts: 4, from: '2024-01', to: '2024-01', feed, firstId: 1 };
    const janOut = await text(jan);
    const febOut = await text({
      rows: 1000,
      accounts: 4,
      from: '2024-02',
      to: '2024-02',
      feed,
      firstId: 5000,
      resend: { of: jan, rows: 25 },
    });
    expect(febOut.report.resentRows).toBe(25);
    const janLines = new Set(janOut.text.split('\n').slice(1));
    const repeated = febOut.text
      .split('\n')
      .slice(1)
      .filter((l) => l && janLines.has(l));
    expect(repeated).toHaveLength(25);
    expect(repeated.every((l) => /^TX0000000\d{3},/.test(l))).toBe(true);
    const balances = expectedMonthEndBalances([janOut.report, febOut.report]);
    const sum = (r: typeof janOut.report, m: number) => r.netCents.reduce((s, acc) => s + (acc[m] ?? 0), 0);
    const febTotal = [...balances.values()].reduce((s, perMonth) => s + (perMonth.get('2024-02') ?? 0), 0);
    expect(febTotal).toBe(sum(janOut.report, 0) + sum(febOut.report, 1));
  });

  it('gzips when asked, and streams with backpressure', async () => {
    const { text: unzipped, report } = await text({ rows: 300, gzip: true });
    expect(unzipped.split('\n')).toHaveLength(302);
    expect(report.rows).toBe(300);
    const { stream } = transactionsCsv({ rows: 200_000 });
    let chunks = 0;
    for await (const chunk of stream) {
      expect((chunk as Buffer).length).toBeLessThanOrEqual(256 * 1024);
      chunks++;
    }
    expect(chunks).toBeGreaterThan(10);
  });

  it('rejects impossible options with a clear message', () => {
    expect(() => transactionsCsv({ rows: -1 })).toThrow(/rows must be a whole number/);
    expect(() => transactionsCsv({ rows: 1, from: '2024-13' })).toThrow(/YYYY-MM/);
    expect(() => transactionsCsv({ rows: 1, from: '2024-03', to: '2024-01' })).toThrow(/after/);
    expect(() => transactionsCsv({ rows: 1, columnOrder: ['amount'] })).toThrow(/columnOrder/);
  });
});
