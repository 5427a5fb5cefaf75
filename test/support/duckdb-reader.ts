import { DuckDBInstance } from '@duckdb/node-api';

/** Reads Parquet (or anything) back with DuckDB, an independent reader, returning plain JS rows. */
export async function readWithDuckDb(sql: string): Promise<Record<string, unknown>[]> {
  const instance = await DuckDBInstance.create(':memory:');
  const connection = await instance.connect();
  try {
    await connection.run(`SET TimeZone = 'UTC'`);
    const reader = await connection.runAndReadAll(sql);
    return reader.getRowObjectsJson() as Record<string, unknown>[];
  } finally {
    connection.closeSync();
    instance.closeSync();
  }
}

/** Parquet column name → [physical type, logical type] as written in the file footer. */
export async function parquetTypes(
  glob: string,
): Promise<Record<string, { type: string; logical: string; converted: string }>> {
  const rows = await readWithDuckDb(
    `SELECT DISTINCT name, type, coalesce(logical_type, '') AS logical, coalesce(converted_type, '') AS converted FROM parquet_schema('${glob}') WHERE type IS NOT NULL`,
  );
  return Object.fromEntries(
    rows.map((r) => [
      String(r.name),
      { type: String(r.type), logical: String(r.logical), converted: String(r.converted) },
    ]),
  );
}
