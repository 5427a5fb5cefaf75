import {
  GetQueryExecutionCommand,
  GetQueryResultsCommand,
  StartQueryExecutionCommand,
  StopQueryExecutionCommand,
  type AthenaClient,
  type ColumnInfo,
  type Row as AthenaRow,
} from '@aws-sdk/client-athena';
import { describe, expect, it } from '@jest/globals';
import { AthenaQueryEngine, athenaValue } from '../../../adapters/aws/athena-query-engine.ts';

const DATABASES = { silver: 'lake_dev_silver', gold: 'lake_dev_gold', quarantine: 'lake_dev_quarantine' };
const COLUMNS: ColumnInfo[] = [
  { Name: 'account_id', Type: 'varchar' },
  { Name: 'n', Type: 'bigint' },
  { Name: 'balance', Type: 'decimal' },
];
const row = (...values: Array<string | undefined>): AthenaRow => ({
  Data: values.map((v) => (v === undefined ? {} : { VarCharValue: v })),
});

/** An Athena client that plays back states and result pages, and records every request. */
function fakeAthena(script: { states: string[]; pages: AthenaRow[][]; reason?: string }) {
  const sent: Array<{ name: string; input: Record<string, unknown> }> = [];
  let poll = 0;
  const client = {
    send: async (command: { constructor: { name: string }; input: Record<string, unknown> }) => {
      sent.push({ name: command.constructor.name, input: command.input });
      if (command instanceof StartQueryExecutionCommand) return { QueryExecutionId: 'q-1' };
      if (command instanceof GetQueryExecutionCommand) {
        const state = script.states[Math.min(poll++, script.states.length - 1)];
        return {
          QueryExecution: {
            QueryExecutionId: 'q-1',
            StatementType: 'DML',
            Status: { State: state, StateChangeReason: script.reason },
            Statistics: { DataScannedInBytes: 12_345 },
          },
        };
      }
      if (command instanceof GetQueryResultsCommand) {
        const page = Number(command.input.NextToken ?? 0);
        return {
          ResultSet: { ResultSetMetadata: { ColumnInfo: COLUMNS }, Rows: script.pages[page] },
          NextToken: page + 1 < script.pages.length ? String(page + 1) : undefined,
        };
      }
      if (command instanceof StopQueryExecutionCommand) return {};
      throw new Error(`unexpected ${command.constructor.name}`);
    },
    destroy: () => {},
  };
  return { client: client as unknown as AthenaClient, sent };
}

const noSleep = async () => {};

describe('AthenaQueryEngine', () => {
  it('runs in the workgroup with the stage databases, polls until done, reads every page, skips the header row', async () => {
    const { client, sent } = fakeAthena({
      states: ['QUEUED', 'RUNNING', 'RUNNING', 'SUCCEEDED'],
      pages: [
        [row('account_id', 'n', 'balance'), row('ACC001', '3', '326.00')],
        [row('ACC002', '9007199254740993', undefined)],
      ],
    });
    const engine = new AthenaQueryEngine({
      client,
      workGroup: 'medallion-analysts',
      databases: DATABASES,
      sleep: noSleep,
    });
    const result = await engine.query(
      "SELECT account_id, count(*) AS n, sum(amount) AS balance FROM silver.transactions WHERE note = 'silver.x' GROUP BY 1",
    );

    expect(result).toEqual({
      columns: ['account_id', 'n', 'balance'],
      rows: [
        { account_id: 'ACC001', n: 3, balance: '326.00' },
        { account_id: 'ACC002', n: '9007199254740993', balance: null },
      ],
      bytesScanned: 12_345,
    });
    const start = sent.find((s) => s.name === 'StartQueryExecutionCommand')!.input;
    expect(start.WorkGroup).toBe('medallion-analysts');
    expect(start.QueryString).toBe(
      "SELECT account_id, count(*) AS n, sum(amount) AS balance FROM lake_dev_silver.transactions WHERE note = 'silver.x' GROUP BY 1",
    );
    expect(sent.filter((s) => s.name === 'GetQueryExecutionCommand')).toHaveLength(4);
    expect(sent.filter((s) => s.name === 'GetQueryResultsCommand').map((s) => s.input.NextToken)).toEqual([
      undefined,
      '1',
    ]);
  });

  it('a failed query is a QueryError carrying Athena’s reason', async () => {
    const { client } = fakeAthena({
      states: ['RUNNING', 'FAILED'],
      pages: [],
      reason: "COLUMN_NOT_FOUND: line 1:8: Column 'nope' cannot be resolved",
    });
    const engine = new AthenaQueryEngine({ client, workGroup: 'wg', databases: DATABASES, sleep: noSleep });
    await expect(engine.query('SELECT nope FROM silver.transactions')).rejects.toMatchObject({
      name: 'QueryError',
      message: expect.stringContaining("Column 'nope' cannot be resolved"),
    });
  });

  it('stops a query that runs past the timeout', async () => {
    const { client, sent } = fakeAthena({ states: ['RUNNING'], pages: [] });
    const engine = new AthenaQueryEngine({
      client,
      workGroup: 'wg',
      databases: DATABASES,
      sleep: noSleep,
      timeoutMs: -1,
    });
    await expect(engine.query('SELECT 1')).rejects.toThrow(/timed out/);
    expect(sent.some((s) => s.name === 'StopQueryExecutionCommand')).toBe(true);
  });

  it('types values as the local engine does', () => {
    expect(athenaValue('12', { Type: 'integer' })).toBe(12);
    expect(athenaValue('1.5', { Type: 'double' })).toBe(1.5);
    expect(athenaValue('true', { Type: 'boolean' })).toBe(true);
    expect(athenaValue('-25.50', { Type: 'decimal' })).toBe('-25.50');
    expect(athenaValue(undefined, { Type: 'varchar' })).toBeNull();
  });
});
