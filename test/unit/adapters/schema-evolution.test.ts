import { readFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { afterAll, describe, expect, it } from '@jest/globals';
import { LocalQueryEngine } from '../../../adapters/local/duckdb-query-engine.ts';
import {
  ContractRegistry,
  DEFAULT_CONTRACTS_DIR,
  judgeContractEvolution,
  parseContract,
} from '../../../engine/index.ts';
import { createTestLake, type TestLake } from '../../support/local-lake.ts';

/** The shipped transactions contract (1.0.0) and an additive 1.1.0: a new nullable column and a wider amount. */
const v1Doc = JSON.parse(readFileSync(`${DEFAULT_CONTRACTS_DIR}/transactions.json`, 'utf8')) as {
  version: string;
  columns: Record<string, unknown>[];
};
const v1 = parseContract(v1Doc, 'transactions.json');
const v2Doc = structuredClone(v1Doc);
v2Doc.version = '1.1.0';
v2Doc.columns = v2Doc.columns.map((c) => (c.name === 'amount' ? { ...c, type: 'decimal(20,2)' } : c));
v2Doc.columns.push({
  name: 'channel',
  type: 'string',
  aliases: ['Channel'],
  description: 'Where the transaction was booked',
});
const v2 = parseContract(v2Doc, 'transactions.json');

describe('an additive contract change on the local lake', () => {
  const lakes: TestLake[] = [];
  afterAll(async () => Promise.all(lakes.map((l) => rm(l.root, { recursive: true, force: true }))));

  it('is a minor change by the gate', () => {
    const verdict = judgeContractEvolution(v1, v2, false);
    expect(verdict).toMatchObject({ required: 'minor', problems: [] });
    expect(verdict.changes.map((c) => `${c.level} ${c.path}`)).toEqual([
      'minor columns.amount.type',
      'minor columns.channel',
    ]);
  });

  it('reads silver files written before the change: the new column is NULL, each row names its contract version', async () => {
    const before = await createTestLake(new ContractRegistry([v1]));
    lakes.push(before);
    await before.ingest(
      'transactions/old.csv',
      'TransactionID,CustomerID,TransactionAmount,Currency,TransactionTimestamp\nT1,ACC1,10.50,EUR,2024-01-15T10:00:00Z\n',
    );
    expect((await before.silverRows())[0]).toMatchObject({ transaction_id: 'T1', contract_version: '1.0.0' });

    // Only old files exist: the column no file carries yet reads NULL, typed as the contract says.
    let engine = await LocalQueryEngine.open({ root: before.root, contracts: new ContractRegistry([v2]) });
    try {
      expect(
        (
          await engine.query(
            'SELECT transaction_id, amount, channel, typeof(channel) AS t, typeof(amount) AS a, contract_version FROM silver.transactions',
          )
        ).rows,
      ).toEqual([
        {
          transaction_id: 'T1',
          amount: '10.50',
          channel: null,
          t: 'VARCHAR',
          a: 'DECIMAL(20,2)',
          contract_version: '1.0.0',
        },
      ]);
    } finally {
      await engine.close();
    }

    // A file under the new contract lands in the same partition: both read, by name.
    const after = await createTestLake(new ContractRegistry([v2]));
    lakes.push(after);
    const { cp } = await import('node:fs/promises');
    await cp(`${before.root}/silver`, `${after.root}/silver`, { recursive: true });
    const m = await after.ingest(
      'transactions/new.csv',
      'TransactionID,CustomerID,TransactionAmount,Currency,TransactionTimestamp,Channel\nT2,ACC1,123456789012345678.25,USD,2024-01-20T10:00:00Z,app\n',
    );
    expect(m).toMatchObject({ rows_in: 1, rows_valid: 1, contract_version: '1.1.0' });
    engine = await LocalQueryEngine.open({ root: after.root, contracts: new ContractRegistry([v2]) });
    try {
      expect(
        (
          await engine.query(
            'SELECT transaction_id, amount, channel, contract_version, month FROM silver.transactions ORDER BY transaction_id',
          )
        ).rows,
      ).toEqual([
        { transaction_id: 'T1', amount: '10.50', channel: null, contract_version: '1.0.0', month: '01' },
        {
          transaction_id: 'T2',
          amount: '123456789012345678.25',
          channel: 'app',
          contract_version: '1.1.0',
          month: '01',
        },
      ]);
    } finally {
      await engine.close();
    }
  });
});
