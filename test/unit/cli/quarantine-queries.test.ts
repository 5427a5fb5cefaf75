import { describe, expect, it } from '@jest/globals';
import { countSql } from '../../../cli/quarantine-queries.ts';
import { readWithDuckDb } from '../../support/duckdb-reader.ts';

const relation = `(SELECT * FROM (VALUES
  ('transactions/jan_2024.csv', 2::BIGINT, ['INVALID_AMOUNT']),
  ('transactions/janX2024.csv', 3::BIGINT, ['INVALID_AMOUNT']),
  ('transactions/100%.csv', 4::BIGINT, ['INVALID_CURRENCY'])
) AS t(source_key, record_number, reasons))`;

async function count(source: string): Promise<number> {
  const [row] = await readWithDuckDb(countSql(relation, { source }));
  return Number(Object.values(row ?? {})[0]);
}

describe('lake quarantine --source', () => {
  it('matches a bare file name literally: _ and % are not wildcards', async () => {
    expect(await count('jan_2024.csv')).toBe(1);
    expect(await count('100%.csv')).toBe(1);
    expect(await count('transactions/janX2024.csv')).toBe(1);
    expect(await count('x2024.csv')).toBe(0);
  });
});
