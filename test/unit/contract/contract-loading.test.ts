import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from '@jest/globals';
import {
  ContractError,
  ContractRegistry,
  loadContracts,
  parseContract,
  partitionColumns,
  silverColumns,
} from '../../../engine/contract/index.ts';

const minimal = () => ({
  name: 'payments',
  version: '1',
  columns: [
    { name: 'id', type: 'string', required: true },
    { name: 'at', type: 'timestamp', required: true },
  ],
  partitionBy: [{ name: 'year', source: 'at', transform: 'year' }],
});

describe('contract loading', () => {
  it('ships the transactions contract exactly as the dataset note describes', () => {
    const c = loadContracts().get('transactions');
    expect(c).toBeDefined();
    expect(c?.bronzePrefix).toBe('transactions/');
    expect(c?.source).toEqual({ format: 'csv', delimiter: ',' });
    expect(c?.columns.map((col) => [col.name, col.typeText, col.required, col.aliases])).toEqual([
      ['transaction_id', 'string', true, ['TransactionID']],
      ['account_id', 'string', true, ['CustomerID']],
      ['amount', 'decimal(18,2)', true, ['TransactionAmount']],
      ['currency', 'string', true, ['Currency']],
      ['transaction_timestamp', 'timestamp', true, ['TransactionTimestamp']],
    ]);
    const currency = c?.columns.find((col) => col.name === 'currency');
    expect(currency?.checks.allowedValues).toEqual(
      expect.arrayContaining(['EUR', 'USD', 'GBP', 'JPY', 'CHF', 'CAD', 'AUD']),
    );
    expect(c?.columns.map((col) => col.invalidReason)).toEqual([
      'INVALID_TRANSACTION_ID',
      'INVALID_ACCOUNT_ID',
      'INVALID_AMOUNT',
      'INVALID_CURRENCY',
      'INVALID_TIMESTAMP',
    ]);
    expect(c?.partitionBy).toEqual([
      { name: 'year', source: 'transaction_timestamp', transform: 'year' },
      { name: 'month', source: 'transaction_timestamp', transform: 'month' },
    ]);
  });

  it('derives the silver schema: typed columns, lineage, string partition keys', () => {
    const c = loadContracts().get('transactions');
    if (!c) throw new Error('no transactions contract');
    expect(silverColumns(c).map((col) => `${col.name}:${col.hiveType}`)).toEqual([
      'transaction_id:string',
      'account_id:string',
      'amount:decimal(18,2)',
      'currency:string',
      'transaction_timestamp:timestamp',
      'source_key:string',
      'source_version:string',
      'ingest_run_id:string',
      'ingested_at:timestamp',
      'contract_version:string',
    ]);
    expect(partitionColumns(c).map((col) => `${col.name}:${col.hiveType}`)).toEqual(['year:string', 'month:string']);
  });

  it('parses every declared type', () => {
    const types = ['string', 'int', 'bigint', 'double', 'decimal(10, 3)', 'boolean', 'date', 'timestamp'];
    const c = parseContract(
      { ...minimal(), columns: [...minimal().columns, ...types.map((t, i) => ({ name: `c${i}`, type: t }))] },
      'x.json',
    );
    expect(c.columns.slice(2).map((col) => col.type.kind)).toEqual([
      'string',
      'int',
      'bigint',
      'double',
      'decimal',
      'boolean',
      'date',
      'timestamp',
    ]);
    expect(c.columns[6]?.type).toEqual({ kind: 'decimal', precision: 10, scale: 3 });
    expect(c.columns[2]?.pii).toBe('none');
  });

  it.each([
    [{ name: 'Payments' }, 'name', 'lower snake_case'],
    [{ name: 'unknown_dataset' }, 'name', 'reserved for objects no contract owns'],
    [{ columns: [{ name: 'id', type: 'money' }] }, 'columns[0].type', 'unknown type "money"'],
    [{ columns: [{ name: 'amt', type: 'decimal(40,2)' }] }, 'columns[0].type', 'unknown type'],
    [{ columns: [{ name: 'id', type: 'string', pii: 'mask' }] }, 'columns[0].pii', 'must be one of none, hash, drop'],
    [
      { columns: [{ name: 'id', type: 'string', checks: { maxLen: 3 } }] },
      'columns[0].checks.maxLen',
      'unknown property',
    ],
    [
      { columns: [{ name: 'id', type: 'string', checks: { pattern: '(' } }] },
      'columns[0].checks.pattern',
      'not a valid regular expression',
    ],
    [
      { columns: [{ name: 'id', type: 'string', checks: { pattern: '(?=T)T[0-9]+' } }] },
      'columns[0].checks.pattern',
      'RE2',
    ],
    [{ columns: [{ name: 'id', type: 'string', checks: { pattern: '(a)\\1' } }] }, 'columns[0].checks.pattern', 'RE2'],
    [
      { partitionBy: [{ name: 'year', source: 'id', transform: 'year' }] },
      'partitionBy[0].transform',
      'needs a date or timestamp column',
    ],
    [
      { partitionBy: [{ name: 'y', source: 'nope', transform: 'year' }] },
      'partitionBy[0].source',
      'no column named "nope"',
    ],
    [{ bronzePrefix: 'payments' }, 'bronzePrefix', 'ending in "/"'],
    [{ source: { format: 'xml' } }, 'source.format', 'must be one of csv, jsonl'],
  ])('rejects %j at %s with a reason', (patch, path, reason) => {
    const doc = { ...minimal(), ...patch };
    let error: unknown;
    try {
      parseContract(doc, 'contracts/payments.json');
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ContractError);
    expect((error as ContractError).file).toBe('contracts/payments.json');
    expect((error as ContractError).path).toBe(path);
    expect((error as ContractError).message).toContain(reason);
  });

  it('rejects aliases that would make a header ambiguous', () => {
    const doc = {
      ...minimal(),
      columns: [
        { name: 'id', type: 'string', aliases: ['Key'] },
        { name: 'key', type: 'string' },
        ...minimal().columns.slice(1),
      ],
    };
    expect(() => parseContract(doc, 'c.json')).toThrow(/would match both "id" and "key"/);
  });

  it('rejects two datasets with overlapping bronze prefixes', () => {
    const a = parseContract({ ...minimal(), bronzePrefix: 'pay/' }, 'a.json');
    const b = parseContract({ ...minimal(), name: 'payments_eu', bronzePrefix: 'pay/eu/' }, 'b.json');
    expect(() => new ContractRegistry([a, b])).toThrow(/overlaps "pay\/"/);
  });

  it('finds the contract owning a key by prefix, and none for a foreign key', () => {
    const registry = loadContracts();
    expect(registry.forKey('transactions/2024/01/file.csv')?.name).toBe('transactions');
    expect(registry.forKey('invoices/file.csv')).toBeUndefined();
  });

  it('adding a dataset is adding one file to the contracts directory', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'contracts-'));
    await writeFile(join(dir, 'payments.json'), JSON.stringify(minimal()));
    await writeFile(join(dir, 'broken.json'), '{ not json');
    expect(() => loadContracts(dir)).toThrow(/broken\.json: \$: is not valid JSON/);
    await writeFile(
      join(dir, 'broken.json'),
      JSON.stringify({ ...minimal(), name: 'refunds', bronzePrefix: 'refunds/' }),
    );
    expect(loadContracts(dir).names()).toEqual(['payments', 'refunds']);
  });
});
