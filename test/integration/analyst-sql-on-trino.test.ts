/**
 * The analyst SQL on the engine Athena v3 is built on: the named queries exactly as the template deploys
 * them (database names qualified for the stage) run on Trino over the Glue tables the template defines and
 * the files the bundled function wrote — all in moto. Moto cannot execute SQL; Trino can.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { expectedMonthEndBalances, writeTransactionsCsv, type GenerationReport, type WriteOptions } from '../../bench/generate.ts';
import { qualifyDatabases, type DatabaseNames } from '../../engine/gold/athena.ts';
import { accountMonthlyBalanceSql } from '../../engine/gold/build-sql.ts';
import { drain, putBronze, skipReason, useLake } from './harness/lake-fixture.ts';
import { ensureTrino, startTrino, trinoJavaHome, trinoQuery, type RunningTrino } from './harness/trino-server.ts';

const java = trinoJavaHome();
if (java.reason && !skipReason) console.warn(`\n!! Trino tier skipped: ${java.reason}\n`);
const FEED = { from: '2024-01', to: '2024-03' };
const JAN: WriteOptions = { rows: 2000, accounts: 6, from: '2024-01', to: '2024-01', feed: FEED, seed: 11, firstId: 1, badRowRatio: 0.02 };
const FEB: WriteOptions = { rows: 2000, accounts: 6, from: '2024-02', to: '2024-03', feed: FEED, seed: 11, firstId: 100_000, resend: { of: JAN, rows: 25 } };

interface NamedQuery {
  name: string;
  sql: string;
}

describe.skipIf(skipReason || java.reason)('analyst SQL on Trino (Athena engine v3 stand-in) over the deployed catalog', () => {
  const lake = useLake();
  let trino: RunningTrino | undefined;
  let scratch: string;

  beforeAll(async () => {
    const fx = lake();
    const serverDir = await ensureTrino((line) => console.log(`[trino] ${line}`));
    const t0 = Date.now();
    trino = await startTrino({ serverDir, javaHome: java.home as string, motoEndpoint: inject('motoEndpoint'), region: fx.lake.region, accountId: fx.lake.accountId });
    console.log(`[trino] ready at ${trino.url} in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    scratch = mkdtempSync(join(tmpdir(), 'trino-it-'));
  }, 300_000);
  afterAll(() => {
    trino?.stop();
    if (scratch) rmSync(scratch, { recursive: true, force: true });
  });

  it('runs every named query without an error; the balances match what the generator wrote', async () => {
    const fx = lake();
    const reports: GenerationReport[] = [];
    for (const [name, options] of [['jan.csv', JAN], ['feb-mar.csv', FEB]] as const) {
      const file = join(scratch, name);
      reports.push(await writeTransactionsCsv(file, options));
      await putBronze(fx, `transactions/${name}`, await readFile(file));
    }
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
    expect(results.get('deduplicated_transactions')?.rows.length).toBe(jan.validRows + feb.validRows - feb.resentRows);
    expect(results.get('dq_quarantine_rate_by_source')?.rows.length).toBe(2);
    const expected = expectedMonthEndBalances(reports);
    expectBalances(results.get('month_end_balances_from_silver'), expected);

    // Gold: the SELECT the AWS refresh wraps in UNLOAD, written by Trino into the gold table the template
    // defines, then read by the analysts' gold query and the gold view, as Athena would.
    const names = databaseNames(fx.stacks[0]?.template);
    const goldRows = accountMonthlyBalanceSql('2024-01', '2024-03');
    await trinoQuery(url, `INSERT INTO ${names.gold}.account_monthly_balance ${qualifyDatabases(goldRows, names)}`);
    const fromGold = queries.find((q) => q.name === 'month_end_balances') as NamedQuery;
    expectBalances(await trinoQuery(url, fromGold.sql), expected);
    const latest = await trinoQuery(url, `SELECT count(*), count(DISTINCT transaction_id) FROM ${names.gold}.transactions_latest`);
    expect(latest.rows).toEqual([[jan.validRows + feb.validRows - feb.resentRows, jan.validRows + feb.validRows - feb.resentRows]]);
  }, 300_000);
});

function expectBalances(result: { columns: string[]; rows: unknown[][] } | undefined, expected: Map<string, Map<string, number | undefined>>): void {
  expect(result?.columns).toEqual(['account_id', 'month', 'balance']);
  const rows = (result?.rows ?? []) as Array<[string, string, string | null]>;
  expect(rows.length).toBe([...expected.values()].reduce((n, months) => n + months.size, 0));
  for (const [account, month, balance] of rows) {
    expect(balance === null ? undefined : Math.round(Number(balance) * 100), `${account} ${month}`).toBe(expected.get(account)?.get(month));
  }
}

/** The stage's Glue database names, from the template (`<prefix>_silver` …). */
function databaseNames(template: { Resources?: Record<string, { Type: string; Properties?: Record<string, unknown> }> } | undefined): DatabaseNames {
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
function namedQueries(template: { Resources?: Record<string, { Type: string; Properties?: Record<string, unknown> }> } | undefined): NamedQuery[] {
  return Object.values(template?.Resources ?? {})
    .filter((r) => r.Type === 'AWS::Athena::NamedQuery')
    .map((r) => ({ name: String(r.Properties?.Name), sql: String(r.Properties?.QueryString) }));
}
