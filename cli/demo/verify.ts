/** The demo checks its own answer: the balance table against what the generator knows it wrote. */
import { expectedMonthEndBalances, type GenerationReport } from '../../generator/generate.ts';
import type { Row } from '../../engine/contract/index.ts';

/** Exact cents of a decimal string such as `-1234.5` (no floating point on the way). */
export function decimalToCents(text: string): number {
  const m = /^([+-]?)(\d+)(?:\.(\d{1,2})\d*)?$/.exec(text.trim());
  if (!m) return Number.NaN;
  const cents = Number(m[2]) * 100 + Number((m[3] ?? '').padEnd(2, '0'));
  return m[1] === '-' ? -cents : cents;
}

/** Differences between the month-end balance rows and the generator's ground truth (empty when they agree). */
export function balanceDifferences(
  rows: readonly Row[],
  reports: readonly GenerationReport[],
  months: readonly string[],
): string[] {
  const expected = expectedMonthEndBalances(reports);
  const problems: string[] = [];
  const listed = new Set<string>();
  for (const row of rows) {
    const account = String(row.account_id);
    const month = String(row.month);
    listed.add(account);
    const want = expected.get(account)?.get(month);
    const got = row.balance === null || row.balance === undefined ? undefined : decimalToCents(String(row.balance));
    if (want !== got)
      problems.push(
        `${account} ${month}: expected ${want === undefined ? 'NULL' : (want / 100).toFixed(2)}, got ${got === undefined ? 'NULL' : String(row.balance)}`,
      );
  }
  for (const [account, perMonth] of expected) {
    const active = months.some((m) => perMonth.get(m) !== undefined);
    if (active && !listed.has(account)) problems.push(`${account} is missing`);
  }
  return problems;
}
