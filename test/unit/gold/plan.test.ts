/** The pure refresh planner, month helpers and the Athena registration helpers. No engine involved. */
import { describe, expect, it } from '@jest/globals';
import { glueViewInput, qualifyDatabases, trinoType } from '../../../engine/gold/athena.ts';
import { monthRange, nextMonth } from '../../../engine/gold/months.ts';
import { planGoldRefresh, pendingSources, supersededMonthsSql, type GoldState } from '../../../engine/gold/plan.ts';
import type { Manifest } from '../../../engine/manifest.ts';
import { ACCOUNT_MONTHLY_BALANCE, GOLD_TABLES, GOLD_VIEWS, TRANSACTIONS_LATEST } from '../../../datasets/index.ts';

const table = ACCOUNT_MONTHLY_BALANCE;

function manifest(sourceId: string, months: string[], overrides: Partial<Manifest> = {}): Manifest {
  return {
    manifest_version: 1,
    dataset: 'transactions',
    contract_version: '1.0.0',
    run_id: `run-${sourceId}`,
    source_id: sourceId,
    source: { bucket: 'bronze', key: `transactions/${sourceId}.csv`, version_id: null, etag: null },
    status: 'succeeded',
    rows_in: months.length,
    rows_valid: months.length,
    rows_quarantined: 0,
    reasons: {},
    partitions: months.map((k) => ({
      values: { year: k.slice(0, 4), month: k.slice(5, 7) },
      prefix: `transactions/year=${k.slice(0, 4)}/month=${k.slice(5, 7)}/`,
      rows: 1,
      files: [],
    })),
    quarantine: { records_key: null, file_key: null, file_reason: null, file_detail: null },
    columns: { matched: {}, ignored: [] },
    bytes_in: 0,
    bytes_in_uncompressed: 0,
    bytes_out: 0,
    compression: 'none',
    ingested_at: '2024-01-01T00:00:00Z',
    started_at: '2024-01-01T00:00:00Z',
    finished_at: '2024-01-01T00:00:00Z',
    duration_ms: 0,
    engine: { name: 'test', version: '0', rejects_in_chunks: false },
    ...overrides,
  };
}

const a = manifest('a', ['2023-12', '2024-01']);
const b = manifest('b', ['2024-02', '2024-03']);

function built(manifests: Manifest[]): GoldState {
  return planGoldRefresh({ table, manifests, state: undefined }).nextState;
}

describe('months', () => {
  it('steps across a year end', () => {
    expect(nextMonth('2023-12')).toBe('2024-01');
    expect(monthRange('2023-11', '2024-02')).toEqual(['2023-11', '2023-12', '2024-01', '2024-02']);
    expect(() => monthRange('2024-13', '2024-14')).toThrow();
  });
});

describe('planGoldRefresh', () => {
  it('builds everything from the first to the latest month when gold has no state', () => {
    const plan = planGoldRefresh({ table, manifests: [a, b], state: undefined });
    expect(plan.kind).toBe('full');
    expect(plan.months).toEqual(['2023-12', '2024-01', '2024-02', '2024-03']);
    expect(plan.sql).toContain(
      `target_months (year, month) AS (VALUES ('2023', '12'), ('2024', '01'), ('2024', '02'), ('2024', '03'))`,
    );
    expect(plan.nextState).toMatchObject({
      first_month: '2023-12',
      last_month: '2024-03',
      sources: { a: { run_id: 'run-a' }, b: { run_id: 'run-b' } },
    });
    expect(supersededMonthsSql(pendingSources([a, b], undefined, table))).toBeUndefined();
  });

  it('does nothing when every manifest is already reflected, keeping the refresh id', () => {
    const state = built([a, b]);
    const plan = planGoldRefresh({ table, manifests: [b, a], state });
    expect(plan).toMatchObject({ kind: 'noop', months: [], sql: null, dropMonths: [] });
    expect(plan.nextState).toEqual(state);
  });

  it('rewrites only the latest month when a new source touches only it', () => {
    const c = manifest('c', ['2024-03']);
    const plan = planGoldRefresh({ table, manifests: [a, b, c], state: built([a, b]) });
    expect(plan).toMatchObject({ kind: 'incremental', months: ['2024-03'] });
  });

  it('a late month M rewrites M and every later month (closing balances carry)', () => {
    const late = manifest('late', ['2024-01']);
    expect(planGoldRefresh({ table, manifests: [a, b, late], state: built([a, b]) }).months).toEqual([
      '2024-01',
      '2024-02',
      '2024-03',
    ]);
  });

  it('a new latest month after a gap fills the gap (gold is dense up to the latest month)', () => {
    const june = manifest('june', ['2024-06']);
    expect(planGoldRefresh({ table, manifests: [a, b, june], state: built([a, b]) }).months).toEqual([
      '2024-04',
      '2024-05',
      '2024-06',
    ]);
  });

  it("knows no dataset: the probe uses the table's record key and the rows come from the table's own build SQL", () => {
    const orders = {
      ...table,
      name: 'orders_by_month',
      sourceDataset: 'orders',
      recordKey: 'order_id',
      buildSql: (first: string, last: string) => `SELECT 'orders from ${first} to ${last}'`,
    };
    const mine = (m: Manifest): Manifest => ({ ...m, dataset: 'orders' });
    const c = manifest('c', ['2024-03']);
    const probe = supersededMonthsSql(pendingSources([mine(a), mine(b), mine(c)], built([a, b]), orders));
    expect(probe).toBeUndefined(); // the state is another table's: a full build, no probe
    const state = { ...built([a, b]), table: 'orders_by_month' };
    const incremental = supersededMonthsSql(pendingSources([mine(a), mine(b), mine(c)], state, orders));
    expect(incremental).toContain('FROM silver.orders o\nWHERE o.order_id IN (\n  SELECT n.order_id');
    expect(incremental).not.toContain('transaction_id');
    const plan = planGoldRefresh({ table: orders, manifests: [mine(a), mine(b)], state: undefined });
    expect(plan.sql).toBe("SELECT 'orders from 2023-12 to 2024-03'");
  });

  it('starts at the month of a superseded version found by the probe', () => {
    const c = manifest('c', ['2024-03']);
    const pending = pendingSources([a, b, c], built([a, b]), table);
    const probe = supersededMonthsSql(pending);
    expect(probe).toContain(`n.year || '-' || n.month IN ('2024-03') AND n.ingest_run_id IN ('run-c')`);
    const plan = planGoldRefresh({
      table,
      manifests: [a, b, c],
      state: built([a, b]),
      supersededMonths: ['2024-01', '2024-03'],
    });
    expect(plan.months).toEqual(['2024-01', '2024-02', '2024-03']);
    expect(plan.because).toContain('other versions in 2024-01,2024-03');
  });

  it('a re-run source (new run id) counts the months it wrote before too, and months nobody holds any more are dropped', () => {
    const rerun = manifest('a', ['2024-01'], { run_id: 'run-a-v2' });
    const plan = planGoldRefresh({ table, manifests: [rerun, b], state: built([a, b]) });
    expect(plan.months).toEqual(['2024-01', '2024-02', '2024-03']);
    expect(plan.dropMonths).toEqual(['2023-12']);
    expect(plan.nextState.first_month).toBe('2024-01');
  });

  it("a removal of a source's stale files (settled) recomputes the months they held, though the manifest names none of them", () => {
    // Gold reflected source b's run (March), and a February row of the run it replaced still in silver then.
    const settled = manifest('b', ['2024-03'], {
      settled: { settled_at: '2024-04-01T00:00:00Z', months: ['2024-02'] },
    });
    const plan = planGoldRefresh({ table, manifests: [a, settled], state: built([a, manifest('b', ['2024-03'])]) });
    expect(plan.months).toEqual(['2024-02', '2024-03']);
    // The same removal, once reflected, is not a change again.
    expect(planGoldRefresh({ table, manifests: [a, settled], state: plan.nextState }).kind).toBe('noop');
    // An erasure since (the manifest copied forward with the same removal) recomputes from the erased months only.
    const erased = {
      ...settled,
      erasures: [
        {
          erasure_id: 'e1',
          erased_at: '2024-05-01T00:00:00Z',
          record_key: 'r',
          rows_valid_removed: 1,
          rows_quarantined_removed: 0,
        },
      ],
    };
    expect(planGoldRefresh({ table, manifests: [a, erased], state: plan.nextState }).months).toEqual(['2024-03']);
    // Those months hold none of its rows: they are not in the table's range (a removed month before every other is dropped).
    const early = manifest('b', ['2024-03'], { settled: { settled_at: '2024-04-01T00:00:00Z', months: ['2019-01'] } });
    const dropped = planGoldRefresh({ table, manifests: [a, early], state: built([a, manifest('b', ['2024-03'])]) });
    expect(dropped.nextState.first_month).toBe('2023-12');
    expect(dropped.months[0]).toBe('2023-12');
  });

  it('records a rejected file without rewriting anything', () => {
    const rejected = manifest('r', [], { status: 'rejected' });
    const state = built([a, b]);
    const plan = planGoldRefresh({ table, manifests: [a, b, rejected], state });
    expect(plan.kind).toBe('noop');
    expect(plan.nextState.sources.r).toEqual({ run_id: 'run-r', months: [] });
    expect(supersededMonthsSql(pendingSources([a, b, rejected], state, table))).toBeUndefined();
  });

  it('rebuilds fully when the build version changes, and ignores other datasets', () => {
    const state = { ...built([a, b]), build_version: '0' };
    const other = manifest('o', ['2020-01'], { dataset: 'payments' });
    const plan = planGoldRefresh({ table, manifests: [a, b, other], state });
    expect(plan.kind).toBe('full');
    expect(plan.months[0]).toBe('2023-12');
    expect(plan.because).toContain('build changed');
  });

  it('derives a deterministic refresh id from its inputs', () => {
    const one = planGoldRefresh({ table, manifests: [a, b], state: undefined }).refreshId;
    expect(planGoldRefresh({ table, manifests: [b, a], state: undefined }).refreshId).toBe(one);
    expect(planGoldRefresh({ table, manifests: [a], state: undefined }).refreshId).not.toBe(one);
    expect(one).toMatch(/^[0-9a-f]{16}$/);
  });
});

describe('gold table and view descriptions', () => {
  it('use lower snake_case names, string partition keys, and the decimal types the build writes', () => {
    for (const t of GOLD_TABLES) {
      for (const c of [...t.columns, ...t.partitionKeys]) expect(c.name).toMatch(/^[a-z][a-z0-9_]*$/);
      expect(t.partitionKeys.map((k) => k.hiveType)).toEqual(['string', 'string']);
      expect(t.locationPrefix).toMatch(/^[a-z_]+\/$/);
    }
    expect(ACCOUNT_MONTHLY_BALANCE.columns.map((c) => `${c.name} ${c.hiveType}`)).toEqual([
      'account_id string',
      'net_flow decimal(38,2)',
      'txn_count bigint',
      'closing_balance decimal(38,2)',
      'first_txn_month string',
      'last_txn_month string',
    ]);
    for (const v of GOLD_VIEWS) expect(v.sql).toMatch(/\bsilver\.|\bgold\./);
  });
});

describe('Athena helpers', () => {
  const names = { silver: 'lake_dev_silver', gold: 'lake_dev_gold', quarantine: 'lake_dev_quarantine' };

  it('rewrites database qualifiers but not strings, comments or column references', () => {
    const sql =
      "-- reads silver.transactions\nSELECT g.gold, 'silver.x' FROM silver.transactions s JOIN gold.account_monthly_balance g ON s.id = g.id /* quarantine.x */ JOIN Quarantine.transactions q ON 1 = 1";
    expect(qualifyDatabases(sql, names)).toBe(
      "-- reads silver.transactions\nSELECT g.gold, 'silver.x' FROM lake_dev_silver.transactions s JOIN lake_dev_gold.account_monthly_balance g ON s.id = g.id /* quarantine.x */ JOIN lake_dev_quarantine.transactions q ON 1 = 1",
    );
  });

  it('builds the Glue VIRTUAL_VIEW input Athena reads as a Presto view', () => {
    const input = glueViewInput(TRANSACTIONS_LATEST, names);
    expect(input).toMatchObject({
      Name: 'transactions_latest',
      TableType: 'VIRTUAL_VIEW',
      ViewExpandedText: '/* Presto View */',
    });
    const encoded = /^\/\* Presto View: (.+) \*\/$/.exec(input.ViewOriginalText)?.[1] ?? '';
    const definition = JSON.parse(Buffer.from(encoded, 'base64').toString('utf8')) as {
      originalSql: string;
      schema: string;
      columns: Array<{ name: string; type: string }>;
      runAsInvoker: boolean;
    };
    expect(definition.schema).toBe('lake_dev_gold');
    expect(definition.runAsInvoker).toBe(true);
    expect(definition.originalSql).toContain('FROM lake_dev_silver.transactions t');
    expect(definition.columns.find((c) => c.name === 'amount')?.type).toBe('decimal(18,2)');
    expect(definition.columns.find((c) => c.name === 'ingested_at')?.type).toBe('timestamp(3)');
    expect(trinoType('array<string>')).toBe('array(varchar)');
  });
});
