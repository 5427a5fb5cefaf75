import { DuckDBInstance, version, type DuckDBConnection } from '@duckdb/node-api';

/** The embedded DuckDB's version, recorded in every manifest. */
export const DUCKDB_VERSION = version();

export interface DuckDbSettings {
  /**
   * The engine's sessions keep nothing in a database (scratch outputs are Parquet files), so they are in-memory.
   * @default ':memory:'
   */
  databasePath?: string;
  /** Scratch directory DuckDB spills intermediate results to when the memory limit is reached. */
  tempDirectory: string;
  /** @default '128MB' */
  memoryLimit?: string;
  /** @default 1 */
  threads?: number;
  /**
   * Keep rows in input order. The one pass needs it (a row's position is its record number); writers do
   * not, and with it on DuckDB buffers more the larger the input (20M rows: +80 MB peak RSS).
   * @default true
   */
  preserveInsertionOrder?: boolean;
  /**
   * An open instance to connect to instead of creating one (`DuckDbInstances`): the session is a fresh
   * connection on it, and the instance's own settings apply (the ones above are ignored). Creating an
   * instance costs 15–50 ms; a connection, next to nothing.
   * @default a new instance per session
   */
  instance?: DuckDBInstance;
}

export interface DuckDbSession {
  connection: DuckDBConnection;
  close(): void;
}

/** A private DuckDB for one ingest: bounded memory, spills to disk, UTC, file order preserved. */
export async function openDuckDb(settings: DuckDbSettings): Promise<DuckDbSession> {
  if (settings.instance) {
    const connection = await utcConnection(settings.instance);
    return { connection, close: () => connection.closeSync() };
  }
  const instance = await createInstance(settings);
  const connection = await utcConnection(instance);
  return {
    connection,
    close: () => {
      connection.closeSync();
      instance.closeSync();
    },
  };
}

async function utcConnection(instance: DuckDBInstance): Promise<DuckDBConnection> {
  const connection = await instance.connect();
  await connection.run(`SET TimeZone = 'UTC'`);
  return connection;
}

function createInstance(settings: DuckDbSettings): Promise<DuckDBInstance> {
  return DuckDBInstance.create(settings.databasePath ?? ':memory:', {
    threads: String(settings.threads ?? 1),
    memory_limit: settings.memoryLimit ?? '128MB',
    temp_directory: settings.tempDirectory,
    preserve_insertion_order: String(settings.preserveInsertionOrder ?? true),
    // A partitioned COPY buffers this many rows before handing them to the partitions' writers; DuckDB's
    // default (524,288) held ~50 MB more at peak for 24 partitions, for 0.2% smaller files.
    partitioned_write_flush_threshold: '65536',
    enable_external_access: 'true',
    autoinstall_known_extensions: 'false',
    autoload_known_extensions: 'false',
  });
}

/**
 * Up to `count` DuckDB instances for work that runs `count` sessions at a time, each session on an instance
 * no other session is using: the instances are created once and reused, each with a spill directory of its own.
 * A session must leave nothing behind on its instance but what closing its connection removes (temporary
 * objects only).
 */
export class DuckDbInstances {
  private readonly free: DuckDBInstance[] = [];
  private readonly all: DuckDBInstance[] = [];
  private readonly waiting: Array<(instance: DuckDBInstance) => void> = [];
  private created = 0;

  constructor(
    private readonly settings: DuckDbSettings,
    private readonly count: number,
    private readonly spillDirectory: (index: number) => string,
  ) {}

  /** Settings that connect to an instance of this set's, held until `release`. */
  async acquire(): Promise<{ settings: DuckDbSettings; release: () => void }> {
    const instance = await this.take();
    let released = false;
    return {
      settings: { ...this.settings, instance },
      release: () => {
        if (released) return;
        released = true;
        const next = this.waiting.shift();
        if (next) next(instance);
        else this.free.push(instance);
      },
    };
  }

  /** Closes every instance (none may be in use). */
  close(): void {
    for (const instance of this.all.splice(0)) instance.closeSync();
    this.free.length = 0;
  }

  private async take(): Promise<DuckDBInstance> {
    const free = this.free.pop();
    if (free) return free;
    if (this.created < this.count) {
      const index = this.created++;
      try {
        const instance = await createInstance({ ...this.settings, tempDirectory: this.spillDirectory(index) });
        this.all.push(instance);
        return instance;
      } catch (e) {
        this.created--;
        throw e;
      }
    }
    return new Promise((resolve) => this.waiting.push(resolve));
  }
}

/** A count DuckDB returned (a BIGINT arrives as bigint; a missing one is 0). */
export const asCount = (v: unknown): number => Number(v ?? 0);

export async function queryRows(connection: DuckDBConnection, sql: string): Promise<Record<string, unknown>[]> {
  const reader = await connection.runAndReadAll(sql);
  return reader.getRowObjects() as Record<string, unknown>[];
}

/** Runs one phase of work on a fresh DuckDB session and always closes it; errors name the phase. */
export async function withDuckDb<T>(
  settings: DuckDbSettings,
  phase: string,
  work: (connection: DuckDBConnection) => Promise<T>,
): Promise<T> {
  const session = await openDuckDb(settings);
  try {
    return await work(session.connection);
  } catch (e) {
    if (e instanceof Error && !e.message.startsWith(phase)) e.message = `${phase}: ${e.message}`;
    throw e;
  } finally {
    session.close();
  }
}
