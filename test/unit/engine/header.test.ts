import { describe, expect, it } from '@jest/globals';
import { loadContracts } from '../../../engine/contract/index.ts';
import { matchHeader, parseCsvHeader } from '../../../engine/header.ts';
import { FileRejection } from '../../../engine/reasons.ts';

const contract = loadContracts().get('transactions');
if (!contract) throw new Error('transactions contract missing');

const bound = (header: string[]) =>
  Object.fromEntries(matchHeader(header, contract).bindings.map((b) => [b.column.name, b.sourceName]));

describe('header matching', () => {
  it('matches the producer header', () => {
    expect(bound(['TransactionID', ' CustomerID', 'TransactionAmount', 'Currency', 'TransactionTimestamp'])).toEqual({
      transaction_id: 'TransactionID',
      account_id: ' CustomerID',
      amount: 'TransactionAmount',
      currency: 'Currency',
      transaction_timestamp: 'TransactionTimestamp',
    });
  });

  it('matches snake_case, any case and whitespace, in any column order', () => {
    expect(bound(['CURRENCY', 'amount', 'Transaction ID', 'transaction_timestamp ', 'ACCOUNT_ID'])).toEqual({
      transaction_id: 'Transaction ID',
      account_id: 'ACCOUNT_ID',
      amount: 'amount',
      currency: 'CURRENCY',
      transaction_timestamp: 'transaction_timestamp ',
    });
  });

  it('ignores extra source columns and reports them', () => {
    const match = matchHeader(
      ['TransactionID', 'CustomerID', 'TransactionAmount', 'Currency', 'TransactionTimestamp', 'Channel'],
      contract,
    );
    expect(match.ignored).toEqual(['Channel']);
  });

  it('rejects the file when a required column is missing, naming it and the header', () => {
    expect(() => matchHeader(['TransactionID', 'CustomerID', 'Currency', 'TransactionTimestamp'], contract)).toThrow(
      expect.objectContaining({
        reason: 'MISSING_COLUMNS',
        detail: expect.stringMatching(/amount not found in header \["TransactionID"/),
      }),
    );
  });

  it('rejects two source columns that map to one contract column', () => {
    let error: unknown;
    try {
      matchHeader(
        ['TransactionID', 'transaction_id', 'CustomerID', 'amount', 'Currency', 'TransactionTimestamp'],
        contract,
      );
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(FileRejection);
    expect((error as FileRejection).detail).toContain('both map to "transaction_id"');
  });

  it('parses a quoted header with a BOM stripped and CRLF', () => {
    expect(parseCsvHeader('"Transaction ID","a,b",c\r\nx,y,z', ',')).toEqual(['Transaction ID', 'a,b', 'c']);
    expect(parseCsvHeader('a;"b ""q"""\n', ';')).toEqual(['a', 'b "q"']);
  });
});
