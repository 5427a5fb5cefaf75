import { DuckDBInstance, type DuckDBConnection } from '@duckdb/node-api';

export interface DuckDbSettings {
  /** Scratch directory DuckDB spills to when the memory limit is reached. */
  tempDirectory: string;
  /** @default '128MB' */
  memoryLimit?: string;
  /** @default 1 */
  threads?: number;
}

export interface DuckDbSession {
  connection: DuckDBConnection;
  version: string;
  close(): void;
}

/** A private, in-memory DuckDB for one ingest: bounded memory, spills to disk, UTC, file order preserved. */
export async function openDuckDb(settings: DuckDbSettings): Promise<DuckDbSession> {
  const instance = await DuckDBInstance.create(':memory:', {
    threads: String(settings.threads ?? 1),
    memory_limit: settings.memoryLimit ?? '128MB',
    temp_directory: settings.tempDirectory,
    preserve_insertion_order: 'true',
    enable_external_access: 'true',
    autoinstall_known_extensions: 'false',
    autoload_known_extensions: 'false',
  });
  const connection = await instance.connect();
  await connection.run(`SET TimeZone = 'UTC'`);
  const version = String((await connection.runAndReadAll('SELECT version()')).getRows()[0]?.[0] ?? 'unknown');
  return {
    connection,
    version,
    close: () => {
      connection.closeSync();
      instance.closeSync();
    },
  };
}

export async function queryRows(connection: DuckDBConnection, sql: string): Promise<Record<string, unknown>[]> {
  const reader = await connection.runAndReadAll(sql);
  return reader.getRowObjects() as Record<string, unknown>[];
}
