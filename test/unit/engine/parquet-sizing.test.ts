import { describe, expect, it } from '@jest/globals';
import { SILVER_ROW_GROUP_SIZE } from '../../../engine/transform.ts';
import { readWithDuckDb } from '../../support/duckdb-reader.ts';
import { createTestLake, HEADER } from '../../support/local-lake.ts';

describe('silver Parquet layout', () => {
  it('cuts row groups at SILVER_ROW_GROUP_SIZE rows and writes only the contract and lineage columns', async () => {
    const lake = await createTestLake();
    const rows = SILVER_ROW_GROUP_SIZE * 2 + 5;
    const lines = Array.from(
      { length: rows },
      (_, i) => `T${i},A${i % 7},${(i % 100) + 0.25},EUR,2024-02-0${(i % 9) + 1}T10:00:00Z`,
    );
    // Rejected rows travel through the same pass: they must not leave a trace in the silver files.
    const m = await lake.ingest(
      'transactions/big.csv',
      [HEADER, ...lines, 'bad,A,x,EUR,2024-02-01', 'T,A,1.00,XXX,2024-02-01'].join('\n'),
    );
    expect(m).toMatchObject({ rows_in: rows + 2, rows_valid: rows, rows_quarantined: 2 });
    const groups = await readWithDuckDb(
      `SELECT file_name, row_group_id, any_value(row_group_num_rows) AS n FROM parquet_metadata('${lake.root}/silver/transactions/**/*.parquet') GROUP BY ALL ORDER BY n DESC`,
    );
    expect(groups.map((g) => Number(g.n))).toEqual([SILVER_ROW_GROUP_SIZE, SILVER_ROW_GROUP_SIZE, 5]);
    const names = await readWithDuckDb(
      `SELECT DISTINCT name FROM parquet_schema('${lake.root}/silver/transactions/**/*.parquet') WHERE type IS NOT NULL ORDER BY name`,
    );
    expect(names.map((n) => n.name)).toEqual(
      [
        'account_id',
        'amount',
        'contract_version',
        'currency',
        'ingest_run_id',
        'ingested_at',
        'source_key',
        'source_version',
        'transaction_id',
        'transaction_timestamp',
      ].sort(),
    );
    const keys = await readWithDuckDb(
      `SELECT DISTINCT source_key FROM read_parquet('${lake.root}/silver/transactions/**/*.parquet')`,
    );
    expect(keys).toEqual([{ source_key: 'transactions/big.csv' }]);
  });
});
