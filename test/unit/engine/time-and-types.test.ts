import { describe, expect, it } from '@jest/globals';
import { parquetTypes } from '../../support/duckdb-reader.ts';
import { csv, createTestLake } from '../../support/local-lake.ts';

describe('time zones, month boundaries and Parquet types', () => {
  it('converts offsets to UTC and partitions by the UTC month', async () => {
    const lake = await createTestLake();
    const m = await lake.ingest(
      'transactions/tz.csv',
      csv(
        'T1,A,1.00,EUR,2024-01-31T23:30:00-02:00', // 2024-02-01 01:30 UTC -> February
        'T2,A,1.00,EUR,2024-02-01T00:30:00+01:00', // 2024-01-31 23:30 UTC -> January
        'T3,A,1.00,EUR,2024-01-31 23:59:59.999', // no zone: taken as UTC -> January
        'T4,A,1.00,EUR,2024-03-01T00:00:00Z', // exactly on the boundary -> March
        'T5,A,1.00,EUR,2023-12-31T23:00:00-01:00', // new year in UTC -> 2024-01
        'T6,A,1.00,EUR,2024-02-29T12:00:00.123456Z', // leap day, sub-millisecond digits truncated
      ),
    );
    expect(m.partitions.map((p) => [p.values, p.rows])).toEqual([
      [{ year: '2024', month: '01' }, 3],
      [{ year: '2024', month: '02' }, 2],
      [{ year: '2024', month: '03' }, 1],
    ]);
    const rows = await lake.silverRows();
    expect(rows.map((r) => [r.transaction_id, r.transaction_timestamp, r.year, r.month])).toEqual([
      ['T1', '2024-02-01 01:30:00', '2024', '02'],
      ['T2', '2024-01-31 23:30:00', '2024', '01'],
      ['T3', '2024-01-31 23:59:59.999', '2024', '01'],
      ['T4', '2024-03-01 00:00:00', '2024', '03'],
      ['T5', '2024-01-01 00:00:00', '2024', '01'],
      ['T6', '2024-02-29 12:00:00.123', '2024', '02'],
    ]);
    expect(await lake.files('silver', 'transactions/')).toEqual([
      `transactions/year=2024/month=01/part-${m.source_id}-00000.parquet`,
      `transactions/year=2024/month=02/part-${m.source_id}-00000.parquet`,
      `transactions/year=2024/month=03/part-${m.source_id}-00000.parquet`,
    ]);
    expect((await lake.catalog.partitions('transactions')).map((p) => p.prefix)).toEqual([
      'transactions/year=2024/month=01/',
      'transactions/year=2024/month=02/',
      'transactions/year=2024/month=03/',
    ]);
  });

  it('writes explicit logical types Athena reads: DECIMAL(18,2), TIMESTAMP(MILLIS), UTF8 strings, ZSTD', async () => {
    const lake = await createTestLake();
    await lake.ingest('transactions/types.csv', csv('T1,A,-12.34,EUR,2024-01-01T00:00:00Z'));
    const types = await parquetTypes(`${lake.root}/silver/transactions/**/*.parquet`);
    expect(types.amount).toMatchObject({
      type: 'INT64',
      converted: 'DECIMAL',
      logical: expect.stringContaining('DecimalType(scale=2, precision=18)'),
    });
    expect(types.transaction_timestamp).toMatchObject({ type: 'INT64', converted: 'TIMESTAMP_MILLIS' });
    expect(types.ingested_at).toMatchObject({ type: 'INT64', converted: 'TIMESTAMP_MILLIS' });
    for (const name of [
      'transaction_id',
      'account_id',
      'currency',
      'source_key',
      'source_version',
      'ingest_run_id',
      'contract_version',
    ]) {
      expect(types[name]).toMatchObject({ type: 'BYTE_ARRAY', converted: 'UTF8' });
    }
    expect(Object.keys(types)).not.toContain('year'); // partition keys live in the path only
    const { readWithDuckDb } = await import('../../support/duckdb-reader.ts');
    // Data columns are ZSTD; the lineage constants are one dictionary value and a run per row group, stored as is.
    const codecs = await readWithDuckDb(
      `SELECT path_in_schema AS name, list(DISTINCT compression) AS codecs FROM parquet_metadata('${lake.root}/silver/transactions/**/*.parquet') GROUP BY ALL ORDER BY ALL`,
    );
    const lineage = ['contract_version', 'ingest_run_id', 'ingested_at', 'source_key', 'source_version'];
    expect(Object.fromEntries(codecs.map((c) => [c.name, c.codecs]))).toEqual({
      account_id: ['ZSTD'],
      amount: ['ZSTD'],
      currency: ['ZSTD'],
      transaction_id: ['ZSTD'],
      transaction_timestamp: ['ZSTD'],
      ...Object.fromEntries(lineage.map((name) => [name, ['UNCOMPRESSED']])),
    });
    const [row] = await lake.silverRows();
    expect(row).toMatchObject({
      amount: '-12.34',
      source_key: 'transactions/types.csv',
      source_version: 'etag-1',
      ingested_at: '2024-05-01 12:00:00',
      contract_version: '1.0.0',
    });
    expect(String(row?.ingest_run_id)).toMatch(/^[0-9a-f]{16}$/);
  });
});
