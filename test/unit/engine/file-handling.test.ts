import { gzipSync } from 'node:zlib';
import { beforeEach, describe, expect, it } from '@jest/globals';
import { csv, createTestLake, HEADER, type TestLake } from '../../support/local-lake.ts';

const GOOD = 'T1,A,10.00,EUR,2024-01-15T10:00:00Z';

describe('whole-file outcomes and source formats', () => {
  let lake: TestLake;
  beforeEach(async () => {
    lake = await createTestLake();
  });

  async function expectRejected(key: string, content: string | Uint8Array, reason: string, detail: RegExp) {
    const m = await lake.ingest(key, content);
    expect(m).toMatchObject({
      status: 'rejected',
      rows_in: 0,
      rows_valid: 0,
      rows_quarantined: 0,
      reasons: { [reason]: 1 },
      partitions: [],
    });
    expect(m.quarantine.file_reason).toBe(reason);
    expect(m.quarantine.file_detail).toMatch(detail);
    const dataset = m.dataset;
    const records = (await lake.quarantineRows(dataset)).filter((r) => r.source_key === key);
    expect(records).toHaveLength(1);
    expect(records[0]).toMatchObject({ source_key: key, reasons: [reason], record_number: null, dataset });
    // The whole original object is kept next to its record, byte for byte.
    const kept = await lake.store.getBytes('quarantine', m.quarantine.file_key ?? '');
    expect(Buffer.from(kept ?? []).equals(Buffer.from(content))).toBe(true);
    expect(await lake.files('silver', `${dataset}/`)).toEqual([]);
    return m;
  }

  it('EMPTY_FILE for zero bytes and for whitespace only', async () => {
    await expectRejected('transactions/empty.csv', '', 'EMPTY_FILE', /no content/);
    await expectRejected('transactions/blank.csv', ' \r\n\n', 'EMPTY_FILE', /only whitespace/);
  });

  it('MISSING_COLUMNS when a required column is absent', async () => {
    await expectRejected(
      'transactions/cols.csv',
      'TransactionID,CustomerID,Currency\nT1,A,EUR\n',
      'MISSING_COLUMNS',
      /amount, transaction_timestamp not found/,
    );
  });

  it('UNREADABLE for corrupt gzip and for binary content', async () => {
    const gz = gzipSync(Buffer.from(csv(GOOD)));
    const corrupt = Buffer.concat([gz.subarray(0, 12), Buffer.from('garbage-garbage-garbage')]);
    await expectRejected('transactions/corrupt.csv.gz', corrupt, 'UNREADABLE', /gzip data is corrupt/);
    await expectRejected(
      'transactions/image.csv',
      Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x00, 0x00, 0x1a, 0x0a]),
      'UNREADABLE',
      /NUL bytes/,
    );
  });

  it('UNKNOWN_DATASET when no contract owns the key prefix', async () => {
    const m = await expectRejected(
      'invoices/2024.csv',
      csv(GOOD),
      'UNKNOWN_DATASET',
      /no dataset contract owns "invoices\/2024.csv" \(known bronze prefixes: transactions\/\)/,
    );
    expect(m.dataset).toBe('unknown_dataset');
  });

  it('a header-only file succeeds with zero rows and writes nothing but its manifest', async () => {
    const m = await lake.ingest('transactions/header-only.csv', `${HEADER}\n`);
    expect(m).toMatchObject({ status: 'succeeded', rows_in: 0, rows_valid: 0, rows_quarantined: 0, partitions: [] });
    expect(await lake.files('silver')).toEqual([`_manifests/transactions/${m.source_id}.json`]);
  });

  it('detects gzip from the bytes, whatever the key says', async () => {
    const m = await lake.ingest(
      'transactions/no-extension',
      gzipSync(Buffer.from(csv(GOOD, 'T2,B,-1.50,USD,2024-01-16T00:00:00Z'))),
    );
    expect(m).toMatchObject({ compression: 'gzip', rows_in: 2, rows_valid: 2 });
    expect(m.bytes_in).toBeLessThan(m.bytes_in_uncompressed + 30);
    expect((await lake.silverRows()).map((r) => r.amount)).toEqual(['10.00', '-1.50']);
  });

  it('handles a UTF-8 BOM, CRLF line ends and quoted fields with newlines and quotes', async () => {
    const text = `\uFEFF${HEADER}\r\n"T1 ""quoted""",A,1.00,EUR,2024-01-01T00:00:00Z\r\n"T2\r\nsecond line",B,2.00,USD,2024-01-02T00:00:00Z\r\n`;
    const m = await lake.ingest('transactions/crlf.csv', text);
    expect(m).toMatchObject({ rows_in: 2, rows_valid: 2, rows_quarantined: 0 });
    expect(m.columns.matched.transaction_id).toBe('TransactionID');
    expect((await lake.silverRows()).map((r) => r.transaction_id)).toEqual(['T1 "quoted"', 'T2\r\nsecond line']);
  });

  it('reads a CSV that mixes CRLF and LF line ends (concatenated exports) row by row', async () => {
    const text = `${HEADER}\r\nT1,A,1.00,EUR,2024-01-01\r\nT2,A,bad,EUR,2024-01-01\nT3,A,3.00,USD,2024-01-03\nT4,A,1.00\r\n`;
    const m = await lake.ingest('transactions/mixed-endings.csv', text);
    expect(m).toMatchObject({
      status: 'succeeded',
      rows_in: 4,
      rows_valid: 2,
      rows_quarantined: 2,
      reasons: { INVALID_AMOUNT: 1, MALFORMED_ROW: 1 },
    });
    expect((await lake.silverRows()).map((r) => [r.transaction_id, r.amount])).toEqual([
      ['T1', '1.00'],
      ['T3', '3.00'],
    ]);
    expect((await lake.quarantineRows()).map((r) => r.record_number)).toEqual([2, 4]);
  });

  it('a malformed UTF-8 byte sequence quarantines that row only', async () => {
    const bytes = Buffer.concat([
      Buffer.from(`${HEADER}\nT1,A,1.00,EUR,2024-01-01\nT2,`),
      Buffer.from([0xc3, 0x28]),
      Buffer.from(',1.00,EUR,2024-01-01\n'),
    ]);
    const m = await lake.ingest('transactions/utf8.csv', bytes);
    expect(m).toMatchObject({ rows_in: 2, rows_valid: 1, rows_quarantined: 1, reasons: { MALFORMED_ROW: 1 } });
  });

  it('ignores unknown extra columns but keeps them in quarantine records', async () => {
    const m = await lake.ingest(
      'transactions/extra.csv',
      `${HEADER},Channel\nT1,A,1.00,EUR,2024-01-01,web\nT2,A,x,EUR,2024-01-01,app\n`,
    );
    expect(m.columns.ignored).toEqual(['Channel']);
    const [q] = await lake.quarantineRows();
    expect(JSON.parse(String(q?.raw_record)).Channel).toBe('app');
    expect(Object.keys((await lake.silverRows())[0] ?? {})).not.toContain('Channel');
  });
});
