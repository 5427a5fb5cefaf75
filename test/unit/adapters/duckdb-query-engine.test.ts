import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { LocalQueryEngine } from '../../../adapters/local/duckdb-query-engine.ts';
import { loadContracts, partitionColumns, silverColumns } from '../../../engine/contract/index.ts';
import { createTestLake, csv, type TestLake } from '../../support/local-lake.ts';

describe('LocalQueryEngine', () => {
  const contracts = loadContracts();
  let empty: TestLake;
  let filled: TestLake;

  beforeAll(async () => {
    empty = await createTestLake(contracts);
    filled = await createTestLake(contracts);
    await filled.ingest(
      'transactions/a.csv',
      csv(
        'T1,ACC001,326.00,EUR,2024-01-15T10:00:00Z',
        'T2,ACC002,-25.50,USD,2024-02-01T00:00:00+01:00',
        'T3,ACC002,1.005,USD,2024-02-02T00:00:00Z',
      ),
    );
  });
  afterAll(async () => {
    const { rm } = await import('node:fs/promises');
    await Promise.all([
      rm(empty.root, { recursive: true, force: true }),
      rm(filled.root, { recursive: true, force: true }),
    ]);
  });

  it('gives an empty lake the declared tables, typed, with no rows', async () => {
    const engine = await LocalQueryEngine.open({ root: empty.root, contracts });
    try {
      const silver = await engine.query('SELECT * FROM silver.transactions');
      const contract = contracts.get('transactions')!;
      expect(silver).toEqual({
        columns: [...silverColumns(contract), ...partitionColumns(contract)].map((c) => c.name),
        rows: [],
      });
      expect((await engine.query('SELECT count(*) AS n FROM quarantine.transactions')).rows).toEqual([{ n: 0 }]);
      expect((await engine.query('SELECT count(*) AS n FROM gold.account_monthly_balance')).rows).toEqual([{ n: 0 }]);
    } finally {
      await engine.close();
    }
  });

  it('reads silver with string partition keys and exact decimals; quarantine with its reasons', async () => {
    const engine = await LocalQueryEngine.open({ root: filled.root, contracts });
    try {
      const rows = (
        await engine.query(
          'SELECT transaction_id, amount, year, month, transaction_timestamp FROM silver.transactions ORDER BY transaction_id',
        )
      ).rows;
      expect(rows).toEqual([
        {
          transaction_id: 'T1',
          amount: '326.00',
          year: '2024',
          month: '01',
          transaction_timestamp: '2024-01-15 10:00:00',
        },
        {
          transaction_id: 'T2',
          amount: '-25.50',
          year: '2024',
          month: '01',
          transaction_timestamp: '2024-01-31 23:00:00',
        },
      ]);
      const partitionTypes = (
        await engine.query('SELECT typeof(year) AS y, typeof(month) AS m FROM silver.transactions LIMIT 1')
      ).rows;
      expect(partitionTypes).toEqual([{ y: 'VARCHAR', m: 'VARCHAR' }]);
      expect((await engine.query('SELECT record_number, reasons FROM quarantine.transactions')).rows).toEqual([
        { record_number: 3, reasons: ['INVALID_AMOUNT'] },
      ]);
    } finally {
      await engine.close();
    }
  });

  it('rejects bad SQL with a QueryError carrying DuckDB’s message', async () => {
    const engine = await LocalQueryEngine.open({ root: empty.root, contracts });
    try {
      await expect(engine.query('SELECT * FROM silver.nope')).rejects.toMatchObject({
        name: 'QueryError',
        message: expect.stringContaining('nope'),
      });
    } finally {
      await engine.close();
    }
  });
});
