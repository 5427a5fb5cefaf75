/** Parquet files for the footer-rewrite tests: written by DuckDB, read back by DuckDB and by hyparquet. */
import { mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { zstdDecompressSync } from 'node:zlib';
import { DuckDBInstance } from '@duckdb/node-api';
import { asyncBufferFromFile, parquetReadObjects } from 'hyparquet';
import { readWithDuckDb } from '../duckdb-reader.ts';

export const scratchDir = (): Promise<string> => mkdtemp(join(tmpdir(), 'parquet-rewrite-'));

/** `COPY (select) TO path` with DuckDB (UTC session); `options` are the COPY options after FORMAT parquet. */
export async function writeParquet(select: string, path: string, options = ''): Promise<void> {
  const instance = await DuckDBInstance.create(':memory:');
  const connection = await instance.connect();
  try {
    await connection.run(`SET TimeZone = 'UTC'`);
    await connection.run(`COPY (${select}) TO '${path}' (FORMAT parquet${options ? `, ${options}` : ''})`);
  } finally {
    connection.closeSync();
    instance.closeSync();
  }
}

/** Rows in one file and not the other, both ways (DuckDB `EXCEPT ALL`), and both row counts. */
export async function exceptAllBothWays(a: string, b: string): Promise<Record<string, unknown>> {
  const [row] = await readWithDuckDb(
    `SELECT (SELECT count(*) FROM (FROM '${a}' EXCEPT ALL FROM '${b}')) AS only_a,
            (SELECT count(*) FROM (FROM '${b}' EXCEPT ALL FROM '${a}')) AS only_b,
            (SELECT count(*) FROM '${a}') AS rows_a, (SELECT count(*) FROM '${b}') AS rows_b`,
  );
  return row ?? {};
}

/** Every row as hyparquet (a pure-JS reader, independent of DuckDB) decodes it. */
export async function readWithHyparquet(path: string): Promise<Record<string, unknown>[]> {
  const file = await asyncBufferFromFile(path);
  return parquetReadObjects({
    file,
    compressors: { ZSTD: (input: Uint8Array) => new Uint8Array(zstdDecompressSync(input)) },
  });
}

/** The footer's bytes: the FileMetaData struct before the 4-byte length and `PAR1` that end the file. */
export async function readFooterBytes(path: string): Promise<Uint8Array> {
  const file = await readFile(path);
  const length = file.readUInt32LE(file.length - 8);
  return new Uint8Array(file.subarray(file.length - 8 - length, file.length - 8));
}
