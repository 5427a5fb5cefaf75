import { beforeEach, describe, expect, it } from '@jest/globals';
import { csv, createTestLake, HEADER, type TestLake } from '../../support/local-lake.ts';

/** Ingests rows and returns each input transaction id's fate: its reasons, or 'valid'. */
async function fates(lake: TestLake, rows: string[]): Promise<Record<string, string[] | 'valid'>> {
  const manifest = await lake.ingest('transactions/batch.csv', csv(...rows));
  expect(manifest.rows_in).toBe(rows.length);
  expect(manifest.rows_in).toBe(manifest.rows_valid + manifest.rows_quarantined);
  const out: Record<string, string[] | 'valid'> = {};
  for (const r of await lake.silverRows()) out[String(r.transaction_id)] = 'valid';
  for (const q of await lake.quarantineRows()) {
    const raw = JSON.parse(String(q.raw_record)) as Record<string, string>;
    out[raw.TransactionID ?? `record ${q.record_number}`] = q.reasons as string[];
  }
  return out;
}

describe('row validation: every reason code', () => {
  let lake: TestLake;
  beforeEach(async () => {
    lake = await createTestLake();
  });

  it('MISSING_REQUIRED for an empty or whitespace-only required field', async () => {
    expect(
      await fates(lake, [
        'T1,,1.00,EUR,2024-01-01T00:00:00Z',
        'T2, ,1.00,EUR,2024-01-01T00:00:00Z',
        'T3,A,,EUR,2024-01-01T00:00:00Z',
      ]),
    ).toEqual({
      T1: ['MISSING_REQUIRED'],
      T2: ['MISSING_REQUIRED'],
      T3: ['MISSING_REQUIRED'],
    });
  });

  it('trims Unicode spaces as well (NBSP, ideographic space): a value of only those is missing', async () => {
    expect(
      await fates(lake, [
        'T1,A,\u00a01.00\u00a0,EUR,2024-01-01T00:00:00Z',
        'T2,\u3000,1.00,EUR,2024-01-01T00:00:00Z',
        'T3,Ä,\u20031.00,EUR,2024-01-01T00:00:00Z',
      ]),
    ).toEqual({ T1: 'valid', T2: ['MISSING_REQUIRED'], T3: 'valid' });
  });

  it('INVALID_CURRENCY for codes outside the allow-list, including lower case', async () => {
    expect(
      await fates(lake, [
        'T1,A,1.00,XXX,2024-01-01T00:00:00Z',
        'T2,A,1.00,eur,2024-01-01T00:00:00Z',
        'T3,A,1.00,CHF,2024-01-01T00:00:00Z',
      ]),
    ).toEqual({
      T1: ['INVALID_CURRENCY'],
      T2: ['INVALID_CURRENCY'],
      T3: 'valid',
    });
  });

  it('INVALID_AMOUNT: not a number, too many decimals (never rounded), overflow, exponent, thousands separator', async () => {
    expect(
      await fates(lake, [
        'T1,A,abc,EUR,2024-01-01T00:00:00Z',
        'T2,A,1.234,EUR,2024-01-01T00:00:00Z',
        'T3,A,12345678901234567.00,EUR,2024-01-01T00:00:00Z',
        'T4,A,1e3,EUR,2024-01-01T00:00:00Z',
        'T5,A,"1,000.00",EUR,2024-01-01T00:00:00Z',
        'T6,A,-0.01,EUR,2024-01-01T00:00:00Z',
        'T7,A,+5,EUR,2024-01-01T00:00:00Z',
        'T8,A,.5,EUR,2024-01-01T00:00:00Z',
        'T9,A,-9999999999999999.99,EUR,2024-01-01T00:00:00Z',
      ]),
    ).toEqual({
      T1: ['INVALID_AMOUNT'],
      T2: ['INVALID_AMOUNT'],
      T3: ['INVALID_AMOUNT'],
      T4: ['INVALID_AMOUNT'],
      T5: ['INVALID_AMOUNT'],
      T6: 'valid',
      T7: 'valid',
      T8: 'valid',
      T9: 'valid',
    });
    const amounts = Object.fromEntries((await lake.silverRows()).map((r) => [r.transaction_id, r.amount]));
    expect(amounts).toEqual({ T6: '-0.01', T7: '5.00', T8: '0.50', T9: '-9999999999999999.99' });
  });

  it('INVALID_TIMESTAMP: impossible dates, garbage, and a time without a date', async () => {
    expect(
      await fates(lake, [
        'T1,A,1.00,EUR,2024-02-30T00:00:00Z',
        'T2,A,1.00,EUR,yesterday',
        'T3,A,1.00,EUR,10:00:00',
        'T4,A,1.00,EUR,2024-13-01 00:00:00',
        'T5,A,1.00,EUR,2024-02-29T23:59:59.999Z',
      ]),
    ).toEqual({
      T1: ['INVALID_TIMESTAMP'],
      T2: ['INVALID_TIMESTAMP'],
      T3: ['INVALID_TIMESTAMP'],
      T4: ['INVALID_TIMESTAMP'],
      T5: 'valid',
    });
  });

  it('a row with several problems carries every reason, with details naming column and value', async () => {
    await lake.ingest('transactions/multi.csv', csv('T1,,1.999,GBX,2024-02-30'));
    const [q] = await lake.quarantineRows();
    expect(q?.reasons).toEqual(['INVALID_AMOUNT', 'INVALID_CURRENCY', 'INVALID_TIMESTAMP', 'MISSING_REQUIRED']);
    expect(q?.details).toEqual([
      'account_id: required value is missing',
      'amount: 1.999 is not a valid decimal(18,2)',
      'currency: GBX not one of EUR, USD, GBP, JPY, CHF, CAD, AUD',
      'transaction_timestamp: 2024-02-30 is not a valid timestamp',
    ]);
    expect(JSON.parse(String(q?.raw_record))).toEqual({
      TransactionID: 'T1',
      CustomerID: null,
      TransactionAmount: '1.999',
      Currency: 'GBX',
      TransactionTimestamp: '2024-02-30',
    });
  });

  it('MALFORMED_ROW: too few fields, too many fields, each with its record number and raw text', async () => {
    const manifest = await lake.ingest(
      'transactions/malformed.csv',
      csv(
        'T1,A,1.00,EUR,2024-01-01T00:00:00Z',
        'T2,A,1.00,EUR',
        'T3,A,1.00,EUR,2024-01-01T00:00:00Z,extra',
        'T4,A,1.00,EUR,2024-01-01T00:00:00Z',
      ),
    );
    expect(manifest).toMatchObject({ rows_in: 4, rows_valid: 2, rows_quarantined: 2, reasons: { MALFORMED_ROW: 2 } });
    const q = await lake.quarantineRows();
    expect(q.map((r) => [r.record_number, r.reasons, r.raw_record])).toEqual([
      [2, ['MALFORMED_ROW'], 'T2,A,1.00,EUR'],
      [3, ['MALFORMED_ROW'], 'T3,A,1.00,EUR,2024-01-01T00:00:00Z,extra'],
    ]);
    expect(String((q[0]?.details as string[])[0])).toMatch(/MISSING COLUMNS/);
  });

  it('MALFORMED_ROW: an unterminated quote swallows the rest of the file as one record, and nothing is lost', async () => {
    const manifest = await lake.ingest(
      'transactions/quote.csv',
      csv(
        'T1,A,1.00,EUR,2024-01-01T00:00:00Z',
        'T2,"A,1.00,EUR,2024-01-01T00:00:00Z',
        'T3,A,1.00,EUR,2024-01-01T00:00:00Z',
      ),
    );
    expect(manifest).toMatchObject({ rows_in: 2, rows_valid: 1, rows_quarantined: 1 });
    const [q] = await lake.quarantineRows();
    expect(q?.record_number).toBe(2);
    expect(String(q?.raw_record)).toContain('T3,A,1.00,EUR'); // the swallowed text is kept, not dropped
  });

  it('record numbers count records, not lines: quoted newlines and malformed rows do not shift them', async () => {
    await lake.ingest(
      'transactions/numbers.csv',
      csv(
        '"T1\nwith newline",A,1.00,EUR,2024-01-01T00:00:00Z',
        'T2,A,1.00',
        'T3,A,bad,EUR,2024-01-01T00:00:00Z',
        'T4,A,1.00,EUR,2024-01-01T00:00:00Z',
        'T5,A,1.00,EUR,nope',
      ),
    );
    const q = await lake.quarantineRows();
    expect(q.map((r) => [r.record_number, r.reasons])).toEqual([
      [2, ['MALFORMED_ROW']],
      [3, ['INVALID_AMOUNT']],
      [5, ['INVALID_TIMESTAMP']],
    ]);
    expect((await lake.silverRows()).map((r) => r.transaction_id)).toEqual(['T1\nwith newline', 'T4']);
  });

  it('record numbers stay exact around runs of consecutive malformed records', async () => {
    await lake.ingest(
      'transactions/runs.csv',
      csv(
        'T1,A,1.00,EUR,2024-01-01',
        'T2,A,1.00',
        'T3,A',
        'T4,A,bad,EUR,2024-01-01',
        'T5,A,1.00,EUR,2024-01-01',
        'T6,A,1.00,EUR,2024-01-01,x',
        'T7,A,1.00,XXX,2024-01-01',
        'T8,A,1.00,EUR,2024-01-01',
        'T9',
      ),
    );
    const q = await lake.quarantineRows();
    expect(
      q.map((r) => [r.record_number, (r.reasons as string[])[0], String(r.raw_record).slice(0, 2).replace('{"', 'T?')]),
    ).toEqual([
      [2, 'MALFORMED_ROW', 'T2'],
      [3, 'MALFORMED_ROW', 'T3'],
      [4, 'INVALID_AMOUNT', 'T?'],
      [6, 'MALFORMED_ROW', 'T6'],
      [7, 'INVALID_CURRENCY', 'T?'],
      [9, 'MALFORMED_ROW', 'T9'],
    ]);
    expect(
      q.filter((r) => String(r.raw_record).startsWith('{')).map((r) => JSON.parse(String(r.raw_record)).TransactionID),
    ).toEqual(['T4', 'T7']);
  });

  it('blank lines are not records and do not shift record numbers, also around malformed records', async () => {
    await lake.ingest(
      'transactions/blank.csv',
      `${HEADER}\r\nT1,A,1.00,EUR,2024-01-01\r\n\r\nT2,A,1.00\r\n"T3\r\n\r\nx",A,bad,EUR,2024-01-01\r\n\r\n\r\nT4,A,1,EUR\r\nT5,A,1.00,EUR,2024-01-01\r\n`,
    );
    const q = await lake.quarantineRows();
    expect(q.map((r) => [r.record_number, (r.reasons as string[])[0]])).toEqual([
      [2, 'MALFORMED_ROW'],
      [3, 'INVALID_AMOUNT'],
      [4, 'MALFORMED_ROW'],
    ]);
  });

  it('counts every reason in the manifest; a row with two reasons counts under both', async () => {
    const m = await lake.ingest(
      'transactions/counts.csv',
      csv('T1,,x,EUR,2024-01-01', 'T2,A,x,EUR,2024-01-01', 'T3,A,1,EUR', 'T4,A,1,EUR,2024-01-01'),
    );
    expect(m.reasons).toEqual({ MISSING_REQUIRED: 1, INVALID_AMOUNT: 2, MALFORMED_ROW: 1 });
    expect(m).toMatchObject({ rows_in: 4, rows_valid: 1, rows_quarantined: 3 });
  });
});
