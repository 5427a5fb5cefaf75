import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { hasStackTrace, lake, scratchDir, type CliResult } from '../support/e2e/cli.ts';

/** The balance table printed by the demo, as `account month balance` lines. */
function balanceLines(stdout: string): string[] {
  const section = stdout.split('Month-end balances, Q1 2024')[1]?.split('Where things are')[0] ?? '';
  return section
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => /^ACC\d+\s+2024-0[1-3]\s+\S+$/.test(l));
}

describe('lake demo', () => {
  let scratch: Awaited<ReturnType<typeof scratchDir>>;
  let first: CliResult;

  beforeAll(async () => {
    scratch = await scratchDir();
    first = await lake(['demo'], { cwd: scratch.dir });
  });
  afterAll(async () => scratch.remove());

  // How long it takes is measured, not asserted (about 2 s here): no timing assertions in tests.
  it('runs offline with no configuration', () => {
    expect(first.stderr).toBe('');
    expect(first.code).toBe(0);
  });

  it('says where the lake is and what happened, step by step', () => {
    expect(first.stdout).toContain('a local lake in ./.lake');
    expect(first.stdout).toMatch(/Generated 5 source files for January–April 2024/);
    for (const key of ['2024-01.csv', '2024-02.csv', '2024-03.csv.gz', '2024-04.csv'])
      expect(first.stdout).toMatch(new RegExp(`✓ transactions/${key.replace('.', '\\.')}\\s+15,000 rows`));
    expect(first.stdout).toMatch(/✗ transactions\/2024-04-partner-feed\.csv\s+rejected: MISSING_COLUMNS/);
    expect(first.stdout).toMatch(/gold account_monthly_balance refreshed/);
  });

  it('prints the quarantine summary with every reason, at about 1% of rows', () => {
    const summary = first.stdout.split('Quarantine summary')[1]?.split('Month-end balances')[0] ?? '';
    for (const reason of [
      'MISSING_REQUIRED',
      'INVALID_CURRENCY',
      'INVALID_AMOUNT',
      'INVALID_TIMESTAMP',
      'MALFORMED_ROW',
    ])
      expect(summary).toMatch(new RegExp(`${reason}\\s+\\d+ rows`));
    expect(summary).toMatch(/MISSING_COLUMNS\s+1 file\s+whole file/);
    const rate = Number(/quarantined \((\d+\.\d+)%/.exec(first.stdout)?.[1]);
    expect(rate).toBeGreaterThan(0.7);
    expect(rate).toBeLessThan(1.3);
  });

  it('prints the Q1 2024 month-end balance table, checked against the generator', () => {
    const lines = balanceLines(first.stdout);
    expect(lines).toHaveLength(8 * 3); // every account, every month of the quarter
    expect(lines.filter((l) => l.endsWith('NULL')).length).toBeGreaterThan(0); // accounts opened during the quarter
    expect(first.stdout).toContain('✓ matches the balances the generator knows it wrote');
  });

  it('says where the files are and what to try next', () => {
    expect(first.stdout).toMatch(/\.\/\.lake\/bronze\/transactions\/\s+the source files exactly as received/);
    expect(first.stdout).toMatch(/\.\/\.lake\/silver\/transactions\/\s+typed Parquet/);
    expect(first.stdout).toContain('npx lake status');
    expect(first.stdout).toContain('npx lake query');
    expect(hasStackTrace(first.stdout + first.stderr)).toBe(false);
  });

  it('is idempotent: a second run gives the same answer and no duplicate rows', async () => {
    const count = async () =>
      JSON.parse(
        (
          await lake(['query', '--sql', 'SELECT count(*) AS n FROM silver.transactions', '--json'], {
            cwd: scratch.dir,
          })
        ).stdout,
      )[0].n as number;
    const before = await count();
    const again = await lake(['demo'], { cwd: scratch.dir });
    expect(again.code).toBe(0);
    expect(balanceLines(again.stdout)).toEqual(balanceLines(first.stdout));
    expect(await count()).toBe(before);
  });
});
