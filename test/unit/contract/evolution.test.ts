import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from '@jest/globals';
import {
  classifyContractChanges,
  DEFAULT_CONTRACTS_DIR,
  judgeContractEvolution,
  parseContract,
  releaseContracts,
  requiredBump,
  runContractGate,
} from '../../../engine/index.ts';

interface ColumnDoc {
  name: string;
  type: string;
  required?: boolean;
  aliases?: string[];
  checks?: Record<string, unknown>;
  pii?: string;
  invalidReason?: string;
  description?: string;
}
interface ContractDoc {
  name: string;
  version: string;
  owner?: string;
  bronzePrefix?: string;
  columns: ColumnDoc[];
  partitionBy: { name: string; source: string; transform: string }[];
}

const base = (): ContractDoc => ({
  name: 'payments',
  version: '1.0.0',
  columns: [
    { name: 'id', type: 'string', required: true, aliases: ['PaymentID'] },
    { name: 'amount', type: 'decimal(10,2)', required: true, checks: { min: 0, max: 1000 } },
    { name: 'currency', type: 'string', required: true, checks: { allowedValues: ['EUR', 'USD'], maxLength: 3 } },
    { name: 'note', type: 'string', checks: { pattern: '[a-z]+' } },
    { name: 'qty', type: 'int' },
    { name: 'at', type: 'timestamp', required: true },
  ],
  partitionBy: [{ name: 'year', source: 'at', transform: 'year' }],
});

const contract = (doc: ContractDoc) => parseContract(doc, `${doc.name}.json`);
const column = (doc: ContractDoc, name: string): ColumnDoc => {
  const c = doc.columns.find((col) => col.name === name);
  if (!c) throw new Error(`no column ${name}`);
  return c;
};
/** The changes between the base contract and the base edited by `edit`, as `level path`. */
function changesOf(edit: (doc: ContractDoc) => void): string[] {
  const after = base();
  edit(after);
  return classifyContractChanges(contract(base()), contract(after)).map((c) => `${c.level} ${c.path}`);
}

describe('contract change classification', () => {
  it('finds no change in an identical contract', () => {
    expect(changesOf(() => undefined)).toEqual([]);
    expect(requiredBump([])).toBeUndefined();
  });

  it.each<[string, (doc: ContractDoc) => void, string[]]>([
    ['a new nullable column', (d) => d.columns.push({ name: 'channel', type: 'string' }), ['minor columns.channel']],
    ['a widened decimal', (d) => (column(d, 'amount').type = 'decimal(12,2)'), ['minor columns.amount.type']],
    [
      'a decimal with more scale and as many integer digits',
      (d) => (column(d, 'amount').type = 'decimal(11,3)'),
      ['minor columns.amount.type'],
    ],
    ['int widened to bigint', (d) => (column(d, 'qty').type = 'bigint'), ['minor columns.qty.type']],
    [
      'a new allowed value',
      (d) => (column(d, 'currency').checks = { allowedValues: ['EUR', 'USD', 'GBP'], maxLength: 3 }),
      ['minor columns.currency.checks.allowedValues'],
    ],
    [
      'a required column made optional',
      (d) => (column(d, 'amount').required = false),
      ['minor columns.amount.required'],
    ],
    [
      'a lowered min and raised max',
      (d) => (column(d, 'amount').checks = { min: -10, max: 2000 }),
      ['minor columns.amount.checks.min', 'minor columns.amount.checks.max'],
    ],
    ['a removed pattern', (d) => (column(d, 'note').checks = {}), ['minor columns.note.checks.pattern']],
    [
      'a raised maxLength',
      (d) => (column(d, 'currency').checks = { allowedValues: ['EUR', 'USD'], maxLength: 4 }),
      ['minor columns.currency.checks.maxLength'],
    ],
    [
      'a new source header alias',
      (d) => (column(d, 'id').aliases = ['PaymentID', 'Payment Id']),
      ['minor columns.id.aliases'],
    ],
  ])('classifies %s as additive (minor)', (_label, edit, expected) => {
    expect(changesOf(edit)).toEqual(expected);
  });

  it.each<[string, (doc: ContractDoc) => void, string[]]>([
    ['a removed column', (d) => (d.columns = d.columns.filter((c) => c.name !== 'note')), ['major columns.note']],
    [
      'a renamed column',
      (d) => Object.assign(column(d, 'note'), { name: 'memo', aliases: ['note'] }),
      ['major columns.note', 'minor columns.memo'],
    ],
    ['a narrowed decimal', (d) => (column(d, 'amount').type = 'decimal(8,2)'), ['major columns.amount.type']],
    ['a decimal losing scale', (d) => (column(d, 'amount').type = 'decimal(10,1)'), ['major columns.amount.type']],
    ['an int column retyped as string', (d) => (column(d, 'qty').type = 'string'), ['major columns.qty.type']],
    [
      'a new required column',
      (d) => d.columns.push({ name: 'channel', type: 'string', required: true }),
      ['major columns.channel'],
    ],
    ['an optional column made required', (d) => (column(d, 'note').required = true), ['major columns.note.required']],
    [
      'changed partitioning',
      (d) => (d.partitionBy = [{ name: 'year', source: 'at', transform: 'month' }]),
      ['major partitionBy'],
    ],
    [
      'a removed allowed value',
      (d) => (column(d, 'currency').checks = { allowedValues: ['EUR'], maxLength: 3 }),
      ['major columns.currency.checks.allowedValues'],
    ],
    ['a raised min', (d) => (column(d, 'amount').checks = { min: 1, max: 1000 }), ['major columns.amount.checks.min']],
    ['a new pattern', (d) => (column(d, 'id').checks = { pattern: '[0-9]+' }), ['major columns.id.checks.pattern']],
    ['PII handling changed', (d) => (column(d, 'note').pii = 'hash'), ['major columns.note.pii']],
    ['a removed alias', (d) => (column(d, 'id').aliases = []), ['major columns.id.aliases']],
    ['a moved bronze prefix', (d) => (d.bronzePrefix = 'pay/'), ['major bronzePrefix']],
  ])('classifies %s as breaking (major)', (_label, edit, expected) => {
    expect(changesOf(edit)).toEqual(expected);
  });

  it('classifies documentation and ownership as patch', () => {
    expect(changesOf((d) => (d.owner = 'finance'))).toEqual(['patch owner']);
    expect(changesOf((d) => (column(d, 'id').description = 'the id'))).toEqual(['patch columns.id.description']);
  });
});

describe('version judgement', () => {
  const evolve = (version: string, edit: (doc: ContractDoc) => void, note = false) => {
    const after = base();
    edit(after);
    after.version = version;
    return judgeContractEvolution(contract(base()), contract(after), note);
  };
  const addColumn = (d: ContractDoc) => d.columns.push({ name: 'channel', type: 'string' });
  const removeColumn = (d: ContractDoc) => (d.columns = d.columns.filter((c) => c.name !== 'note'));

  it('accepts an additive change with a minor bump and refuses it without one', () => {
    expect(evolve('1.1.0', addColumn).problems).toEqual([]);
    expect(evolve('2.0.0', addColumn).problems).toEqual([]);
    expect(evolve('1.0.1', addColumn).problems).toEqual([
      expect.stringContaining('additive change needs a minor version bump (e.g. 1.1.0)'),
    ]);
  });

  it('refuses a breaking change unless the major is raised and a migration note exists', () => {
    expect(evolve('1.1.0', removeColumn, true).problems).toEqual([
      expect.stringMatching(
        /^breaking change refused: columns.note: column removed.*raise the major version above 1 \(e.g. 2.0.0\)/,
      ),
    ]);
    expect(evolve('2.0.0', removeColumn, false).problems).toEqual([
      expect.stringContaining('breaking change to 2.0.0 needs a migration note'),
    ]);
    expect(evolve('2.0.0', removeColumn, true).problems).toEqual([]);
  });

  it('refuses a change without a bump, a lower version and a version that is not semantic', () => {
    expect(evolve('1.0.0', (d) => (d.owner = 'finance')).problems).toEqual([
      expect.stringContaining('contract changed without a version bump (e.g. 1.0.1)'),
    ]);
    expect(evolve('1.0.1', (d) => (d.owner = 'finance')).problems).toEqual([]);
    expect(evolve('0.9.0', () => undefined).problems).toEqual(['version 0.9.0 is lower than the released 1.0.0']);
    expect(evolve('1.1', () => undefined).problems).toEqual([
      'version "1.1" is not a semantic version (MAJOR.MINOR.PATCH)',
    ]);
  });
});

describe('the gate over a contracts directory', () => {
  function lake(doc: ContractDoc): string {
    const dir = mkdtempSync(join(tmpdir(), 'contract-gate-'));
    writeFileSync(join(dir, 'payments.json'), JSON.stringify(doc));
    return dir;
  }

  it('passes on the repository contracts, each of which has a released snapshot', () => {
    const report = runContractGate(DEFAULT_CONTRACTS_DIR);
    expect(report.problems).toEqual([]);
    expect(report.unreleased).toEqual([]);
    expect(report.verdicts.map((v) => v.dataset)).toContain('transactions');
  });

  it('releases, then refuses a breaking change until the major is raised and the migration note is written', () => {
    const dir = lake(base());
    expect(runContractGate(dir).unreleased).toEqual(['payments']);
    expect(releaseContracts(dir)).toEqual([join(dir, 'released', 'payments@1.0.0.json')]);
    expect(runContractGate(dir).problems).toEqual([]);

    const broken = base();
    broken.columns = broken.columns.filter((c) => c.name !== 'note');
    writeFileSync(join(dir, 'payments.json'), JSON.stringify(broken));
    expect(runContractGate(dir).problems).toEqual([
      expect.stringContaining('payments 1.0.0 → 1.0.0: breaking change refused: columns.note: column removed'),
    ]);
    expect(() => releaseContracts(dir)).toThrow(/contract gate failed/);

    broken.version = '2.0.0';
    writeFileSync(join(dir, 'payments.json'), JSON.stringify(broken));
    expect(runContractGate(dir).problems).toEqual([expect.stringContaining('needs a migration note')]);
    mkdirSync(join(dir, 'migrations'));
    writeFileSync(join(dir, 'migrations', 'payments@2.0.0.md'), '# note removed\nQueries naming note must drop it.\n');
    expect(runContractGate(dir).problems).toEqual([]);
    releaseContracts(dir);
    expect(readdirSync(join(dir, 'released')).sort()).toEqual(['payments@1.0.0.json', 'payments@2.0.0.json']);
    // The latest snapshot is now the baseline: the same contract passes unchanged.
    expect(runContractGate(dir).verdicts[0]).toMatchObject({ releasedVersion: '2.0.0', changes: [] });
  });

  it('refuses a released dataset whose contract was deleted, and a snapshot whose name lies about its version', () => {
    const dir = lake(base());
    releaseContracts(dir);
    writeFileSync(join(dir, 'payments.json.off'), '');
    writeFileSync(join(dir, 'orders.json'), JSON.stringify({ ...base(), name: 'orders', bronzePrefix: 'orders/' }));
    rmSync(join(dir, 'payments.json'));
    expect(runContractGate(dir).problems).toEqual([
      expect.stringContaining('payments: released as 1.0.0 but its contract is gone'),
    ]);
    writeFileSync(
      join(dir, 'released', 'orders@3.0.0.json'),
      JSON.stringify({ ...base(), name: 'orders', bronzePrefix: 'orders/' }),
    );
    expect(() => runContractGate(dir)).toThrow(/snapshot holds orders@1.0.0, its file name says orders@3.0.0/);
  });

  it('refuses a contract version that is not semantic', () => {
    expect(runContractGate(lake({ ...base(), version: '1' })).problems).toEqual([
      expect.stringContaining('version: "1" is not a semantic version'),
    ]);
  });
});

describe('npm run contracts:check (the script in npm test)', () => {
  it('exits 1 with the file, the versions and the reason for a breaking change without a major bump; 0 once fixed', async () => {
    const { spawnSync } = await import('node:child_process');
    const dir = mkdtempSync(join(tmpdir(), 'contract-gate-cli-'));
    writeFileSync(join(dir, 'payments.json'), JSON.stringify(base()));
    releaseContracts(dir);
    const broken = base();
    broken.columns = broken.columns.map((c) => (c.name === 'amount' ? { ...c, type: 'decimal(8,2)' } : c));
    broken.version = '1.1.0';
    writeFileSync(join(dir, 'payments.json'), JSON.stringify(broken));
    const root = join(import.meta.dirname, '../../..');
    const run = () =>
      spawnSync(process.execPath, ['--import', 'tsx', join(root, 'scripts/contract-gate.ts')], {
        env: { ...process.env, LAKE_CONTRACTS_DIR: dir },
        encoding: 'utf8',
      });
    const refused = run();
    expect(refused.status).toBe(1);
    expect(refused.stdout).toContain('[major] columns.amount.type: type changed from decimal(10,2) to decimal(8,2)');
    expect(refused.stderr).toContain(`${join(dir, 'payments.json')}: payments 1.0.0 → 1.1.0: breaking change refused`);
    broken.version = '2.0.0';
    writeFileSync(join(dir, 'payments.json'), JSON.stringify(broken));
    mkdirSync(join(dir, 'migrations'));
    writeFileSync(join(dir, 'migrations', 'payments@2.0.0.md'), '# amount narrowed\n');
    const accepted = run();
    expect(accepted.stdout).toContain('contract gate: ok');
    expect(accepted.status).toBe(0);
  });
});
