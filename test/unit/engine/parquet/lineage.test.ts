import { join } from 'node:path';
import { describe, it } from '@jest/globals';
import { lineageColumns } from '../../../../engine/parquet/lineage.ts';
import { rewriteParquetColumns } from '../../../../engine/parquet/rewrite-columns.ts';
import { sqlString } from '../../../../engine/sql.ts';
import { timestampLiteral, type RunStamp } from '../../../../engine/stamp.ts';
import { readWithDuckDb } from '../../../support/duckdb-reader.ts';
import { expect } from '../../../support/expect.ts';
import { exceptAllBothWays, readWithHyparquet, scratchDir, writeParquet } from '../../../support/unit/parquet-files.ts';

const stamp = (version: string | null, contractVersion: string | null): RunStamp => ({
  dataset: 'transactions',
  bucket: 'landing',
  key: `transactions/2024/ma'y "€".csv`,
  version,
  runId: 'run-7',
  sourceId: 'src-1',
  contractVersion,
  ingestedAt: new Date('2024-05-31T23:59:59.999Z'),
});

/** Silver's lineage columns as the routed COPY wrote them until 2026-12-02 (the rewrite must give the same file). */
const lineageSelect = (stamp: RunStamp): string =>
  [
    `${sqlString(stamp.key)} AS source_key`,
    `${stamp.version === null ? 'CAST(NULL AS VARCHAR)' : sqlString(stamp.version)} AS source_version`,
    `${sqlString(stamp.runId)} AS ingest_run_id`,
    `${timestampLiteral(stamp.ingestedAt)} AS ingested_at`,
    `${stamp.contractVersion === null ? 'CAST(NULL AS VARCHAR)' : sqlString(stamp.contractVersion)} AS contract_version`,
  ].join(', ');

describe('lineageColumns', () => {
  it.each([
    ['with versions', stamp('3HL4kqtJvjVBH40Nrjfkd', '2')],
    ['without versions', stamp(null, null)],
  ])('gives the file what lineageSelect gives silver today: %s', async (_, runStamp) => {
    const dir = await scratchDir();
    const [rewritten, reference] = [join(dir, 'rewritten.parquet'), join(dir, 'reference.parquet')];
    const data = `'T' || range AS transaction_id, CAST(range / 3 AS DECIMAL(18,2)) AS amount`;
    const options = 'COMPRESSION zstd, ROW_GROUP_SIZE 2048';
    await writeParquet(`SELECT ${data}, NULL::VARCHAR AS __payload FROM range(5000)`, rewritten, options);
    await writeParquet(`SELECT ${data}, ${lineageSelect(runStamp)} FROM range(5000)`, reference, options);
    await rewriteParquetColumns(rewritten, { drop: ['__payload'], append: lineageColumns(runStamp) });

    expect(await exceptAllBothWays(rewritten, reference)).toMatchObject({ only_a: '0', only_b: '0', rows_a: '5000' });
    const schema = (path: string) =>
      readWithDuckDb(`SELECT * EXCLUDE (file_name) FROM parquet_schema('${path}') ORDER BY column_id`);
    expect(await schema(rewritten)).toEqual(await schema(reference));
    expect(await readWithHyparquet(rewritten)).toEqual(await readWithHyparquet(reference));
  });
});
