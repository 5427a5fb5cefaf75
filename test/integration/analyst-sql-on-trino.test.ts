/**
 * The analyst SQL on the engine Athena v3 is built on: the named queries exactly as the template deploys
 * them (database names qualified for the stage) run on Trino over the Glue tables the template defines and
 * the files the bundled function wrote — all in moto. Moto cannot execute SQL; Trino can.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, it, jest } from '@jest/globals';
import { expect } from '../support/expect.ts';
import { inject } from '../support/provided.ts';
import {
  expectedMonthEndBalances,
  writeTransactionsCsv,
  type GenerationReport,
  type WriteOptions,
} from '../../generator/generate.ts';
import { type DatabaseNames, qualifyDatabases } from '../../engine/gold/index.ts';
import { ACCOUNT_MONTHLY_BALANCE } from '../../datasets/index.ts';
import { LocalQueryEngine } from '../../adapters/local/duckdb-query-engine.ts';
import { refreshGoldLocal } from '../../adapters/local/gold-refresh.ts';
import { findQueryFile } from '../../cli/query-files.ts';
import { loadContracts } from '../../engine/contract/index.ts';
import {
  downloadPrefix,
  drain,
  putBronze,
  skipReason,
  useLake,
  type LakeFixture,
} from '../support/integration/lake-fixture.ts';
import {
  ensureTrino,
  startTrino,
  trinoJavaHome,
  trinoQuery,
  type RunningTrino,
} from '../support/integration/trino-server.ts';
import { DEFAULT_GOLD_TABLE } from '../../datasets/index.ts';

const java = trinoJavaHome();
if (java.reason && !skipReason) {
  // In CI a green run must mean the analyst SQL ran on Trino.
  if (process.env.CI) throw new Error(`Trino tier cannot run in CI: ${java.reason}`);
  console.warn(`\n!! Trino tier skipped: ${java.reason}\n`);
}
const FEED = { from: '2024-01', to: '2024-03' };
const JAN: WriteOptions = {
  rows: 2000,
  accounts: 6,
  from: '2024-01',
  to: '2024-01',
  feed: FEED,
  seed: 11,
  firstId: 1,
  badRowRatio: 0.02,
};
const FEB: WriteOptions = {
  rows: 2000,
  accounts: 6,
  from: '2024-02',
  to: '2024-03',
  feed: FEED,
  seed: 11,
  firstId: 100_000,
  resend: { of: JAN, rows: 25 },
};

interface NamedQuery {
  name: string;
  sql: string;
}

(skipReason || java.reason ? describe.skip : describe)(
  'analyst SQL on Trino (Athena engine v3 stand-in) over the deployed catalog',
  () => {
    const lake = useLake();
    let trino: RunningTrino | undefined;
    let scratch: string;

    beforeAll(async () => {
      const fx = lake();
      const serverDir = await ensureTrino((line) => console.log(`[trino] ${line}`));
      const t0 = Date.now();
      trino = await startTrino({
        serverDir,
        javaHome: java.home as string,
        motoEndpoint: inject('motoEndpoint'),
        region: fx.lake.region,
        accountId: fx.lake.accountId,
      });
      console.log(`[trino] ready at ${trino.url} in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
      scratch = mkdtempSync(join(tmpdir(), 'trino-it-'));
    }, 300_000);
    afterAll(() => {
      trino?.stop();
      if (scratch) rmSync(scratch, { recursive: true, force: true });
    });

    // One retry of the whole test: 1 run in 4 failed once with the whole tier and the CLI tier loading the 2 cores
    // (cause not captured then; Trino reads are now retried with their cause logged, see trinoQuery).
    jest.retryTimes(1);
    it('runs every named query; the balances match the generator; DuckDB gives the same answers over the same files', async () => {
      const fx = lake();
      rmSync(join(scratch, 'local-lake'), { recursive: true, force: true }); // a retry starts clean
      const reports: GenerationReport[] = [];
      for (const [name, options] of [
        ['jan.csv', JAN],
        ['feb-mar.csv', FEB],
      ] as const) {
        const file = join(scratch, name);
        reports.push(await writeTransactionsCsv(file, options));
        await putBronze(fx, `transactions/${name}`, await readFile(file));
      }
      await putBronze(fx, 'partner-drop/feed.csv', 'id,value\n1,2\n'); // no contract owns this prefix
      await drain(fx);

      const queries = namedQueries(fx.stacks[0]?.template);
      expect(queries.map((q) => q.name).sort()).toContain('month_end_balances_from_silver');
      const url = (trino as RunningTrino).url;
      const results = new Map<string, Awaited<ReturnType<typeof trinoQuery>>>();
      for (const q of queries) {
        // Gold is written by Athena UNLOAD, which moto cannot run: its tables exist but are empty here.
        const result = await trinoQuery(url, q.sql).catch((e: Error) => e);
        expect.soft(result instanceof Error ? `${q.name}: ${result.message}` : q.name).toBe(q.name);
        if (!(result instanceof Error)) results.set(q.name, result);
      }

      const [jan, feb] = reports as [GenerationReport, GenerationReport];
      expect(results.get('deduplicated_transactions')?.rows.length).toBe(
        jan.validRows + feb.validRows - feb.resentRows,
      );
      expect(results.get('dq_quarantine_rate_by_source')?.rows.length).toBe(2);
      const expected = expectedMonthEndBalances(reports);
      expectBalances(results.get('month_end_balances_from_silver'), expected);

      // The same files on the local engine (DuckDB over the same silver and quarantine files): the same answers.
      const local = await localEngineOver(fx, join(scratch, 'local-lake'));
      const readsGold = (name: string): boolean => /\bgold\./.test(findQueryFile(name).sql.replace(/--.*$/gm, ''));
      const silverAndQuarantine = queries.filter((x) => !readsGold(x.name));
      expect(silverAndQuarantine.length).toBeGreaterThanOrEqual(7);
      try {
        for (const q of silverAndQuarantine.filter((x) => results.has(x.name))) {
          const duck = await local.query(findQueryFile(q.name).sql);
          const trinoRows = (results.get(q.name)?.rows ?? []).map((r) => r.map(normalized));
          expect
            .soft(sorted(duck.rows.map((r) => duck.columns.map((c) => normalized(r[c])))), `${q.name}: DuckDB vs Trino`)
            .toEqual(sorted(trinoRows));
        }
      } finally {
        await local.close();
      }

      // Gold: the SELECT the AWS refresh wraps in UNLOAD, written by Trino into the gold table the template
      // defines, then read by the analysts' gold query and the gold view, as Athena would.
      const names = databaseNames(fx.stacks[0]?.template);
      const goldRows = ACCOUNT_MONTHLY_BALANCE.buildSql('2024-01', '2024-03');
      await trinoQuery(url, `INSERT INTO ${names.gold}.account_monthly_balance ${qualifyDatabases(goldRows, names)}`, {
        attempts: 1,
      });
      const fromGold = queries.find((q) => q.name === 'month_end_balances') as NamedQuery;
      expectBalances(await trinoQuery(url, fromGold.sql), expected);
      // The local refresh (DuckDB) computes the same gold rows from the same silver files.
      const goldColumns =
        'account_id, net_flow, txn_count, closing_balance, first_txn_month, last_txn_month, year, month';
      const localGold = await LocalQueryEngine.open({ root: join(scratch, 'local-lake'), contracts: loadContracts() });
      try {
        await refreshGoldLocal({ table: DEFAULT_GOLD_TABLE, lakeDir: join(scratch, 'local-lake'), engine: localGold });
        const duck = await localGold.query(`SELECT ${goldColumns} FROM gold.account_monthly_balance`);
        const onTrino = await trinoQuery(url, `SELECT ${goldColumns} FROM ${names.gold}.account_monthly_balance`);
        expect(duck.rows.length).toBeGreaterThan(0);
        expect(sorted(duck.rows.map((r) => duck.columns.map((c) => normalized(r[c]))))).toEqual(
          sorted(onTrino.rows.map((r) => r.map(normalized))),
        );
      } finally {
        await localGold.close();
      }
      // Files no contract owns have a quarantine table Athena can read (their old `_unknown/` path it skipped).
      const unowned = await trinoQuery(url, `SELECT source_key, reasons FROM ${names.quarantine}.unknown_dataset`);
      expect(unowned.rows).toEqual([['partner-drop/feed.csv', ['UNKNOWN_DATASET']]]);
      const latest = await trinoQuery(
        url,
        `SELECT count(*), count(DISTINCT transaction_id) FROM ${names.gold}.transactions_latest`,
      );
      expect(latest.rows).toEqual([
        [jan.validRows + feb.validRows - feb.resentRows, jan.validRows + feb.validRows - feb.resentRows],
      ]);
    }, 300_000);
  },
);

/** The lake's silver and quarantine files, copied from moto into a local lake, with the local query engine on them. */
async function localEngineOver(fx: LakeFixture, root: string): Promise<LocalQueryEngine> {
  await downloadPrefix(fx, fx.lake.buckets.silver, '', join(root, 'silver'));
  await downloadPrefix(fx, fx.lake.buckets.quarantine, '', join(root, 'quarantine'));
  return LocalQueryEngine.open({ root, contracts: loadContracts() });
}

/** One cell as text both engines agree on: numbers to 12 significant digits, timestamps to the millisecond. */
function normalized(value: unknown): string | null {
  if (value === null || value === undefined) return null;
  // Numbers, and decimals (both engines send those as strings); digit strings such as months stay strings.
  if (typeof value === 'number' || (typeof value === 'string' && /^-?\d+\.\d+$/.test(value)))
    return Number(value).toPrecision(12);
  const timestamp = /^(\d{4}-\d\d-\d\d)[ T](\d\d:\d\d:\d\d)(?:\.(\d+))?Z?$/.exec(String(value));
  if (timestamp) return `${timestamp[1]} ${timestamp[2]}.${(timestamp[3] ?? '').padEnd(3, '0').slice(0, 3)}`;
  return String(value);
}

const sorted = (rows: Array<Array<string | null>>): string[] => rows.map((r) => JSON.stringify(r)).sort();

function expectBalances(
  result: { columns: string[]; rows: unknown[][] } | undefined,
  expected: Map<string, Map<string, number | undefined>>,
): void {
  expect(result?.columns).toEqual(['account_id', 'month', 'balance']);
  const rows = (result?.rows ?? []) as Array<[string, string, string | null]>;
  expect(rows.length).toBe([...expected.values()].reduce((n, months) => n + months.size, 0));
  for (const [account, month, balance] of rows) {
    expect(balance === null ? undefined : Math.round(Number(balance) * 100), `${account} ${month}`).toBe(
      expected.get(account)?.get(month),
    );
  }
}

/** The stage's Glue database names, from the template (`<prefix>_silver` …). */
function databaseNames(
  template: { Resources?: Record<string, { Type: string; Properties?: Record<string, unknown> }> } | undefined,
): DatabaseNames {
  const names = Object.values(template?.Resources ?? {})
    .filter((r) => r.Type === 'AWS::Glue::Database')
    .map((r) => String((r.Properties?.DatabaseInput as { Name?: string } | undefined)?.Name));
  const zone = (suffix: string): string => {
    const name = names.find((n) => n.endsWith(`_${suffix}`));
    if (!name) throw new Error(`no ${suffix} database in the template`);
    return name;
  };
  return { silver: zone('silver'), gold: zone('gold'), quarantine: zone('quarantine') };
}

/** The named queries of the stack: name and SQL, as `AWS::Athena::NamedQuery` deploys them. */
function namedQueries(
  template: { Resources?: Record<string, { Type: string; Properties?: Record<string, unknown> }> } | undefined,
): NamedQuery[] {
  return Object.values(template?.Resources ?? {})
    .filter((r) => r.Type === 'AWS::Athena::NamedQuery')
    .map((r) => ({ name: String(r.Properties?.Name), sql: String(r.Properties?.QueryString) }));
}
