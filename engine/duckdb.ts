import { DuckDBInstance, version, type DuckDBConnection } from '@duckdb/node-api';
import { sqlString } from './sql.ts';

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
   * An open instance to connect to instead of creating one (`withDuckDbInstance`): the session is a fresh
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
  try {
    await connection.run(`SET TimeZone = 'UTC'`);
  } catch (e) {
    connection.closeSync();
    throw e;
  }
  return connection;
}

/** A new instance with `settings`, for work that is handed it (`DuckDbSettings.instance`); the caller closes it. */
export const createDuckDbInstance = (settings: DuckDbSettings): Promise<DuckDBInstance> => createInstance(settings);

/** A session's memory limit unless its settings give one. */
export const DEFAULT_MEMORY_LIMIT = '128MB';

const MEMORY_UNITS = new Map<string, number>([
  ['b', 1],
  ['kb', 1e3],
  ['mb', 1e6],
  ['gb', 1e9],
  ['tb', 1e12],
  ['kib', 2 ** 10],
  ['mib', 2 ** 20],
  ['gib', 2 ** 30],
  ['tib', 2 ** 40],
]);

/**
 * The bytes a DuckDB memory limit stands for ('128MB' is 128·10⁶, '1GiB' 2³⁰); undefined for any other form DuckDB
 * also takes ('1G', '1 gigabyte', 'none'): the chunks' sessions then shed after every chunk (`shedAbove`).
 */
export function memoryLimitBytes(limit: string): number | undefined {
  const match = /^\s*(\d+(?:\.\d+)?)\s*([a-z]+)\s*$/i.exec(limit);
  const unit = match && MEMORY_UNITS.get((match[2] as string).toLowerCase());
  return match && unit ? Number(match[1]) * unit : undefined;
}

const limitsRead = new Map<string, Promise<string | undefined>>();

/**
 * Why DuckDB refuses `limit` as a memory limit, or undefined when it takes it (asked of DuckDB itself, once per
 * limit and process: it reads more forms than `memoryLimitBytes`, e.g. '2G' or 'none').
 */
export function memoryLimitRefusal(limit: string): Promise<string | undefined> {
  let read = limitsRead.get(limit);
  if (!read) {
    read = DuckDBInstance.create(':memory:', { memory_limit: limit, threads: '1' }).then(
      (instance) => {
        instance.closeSync();
        return undefined;
      },
      (e: unknown) => (e instanceof Error ? e.message : String(e)),
    );
    limitsRead.set(limit, read);
  }
  return read;
}

function createInstance(settings: DuckDbSettings): Promise<DuckDBInstance> {
  return DuckDBInstance.create(settings.databasePath ?? ':memory:', {
    threads: String(settings.threads ?? 1),
    memory_limit: settings.memoryLimit ?? DEFAULT_MEMORY_LIMIT,
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
 * Runs `work` with settings whose sessions (`withDuckDb`) are connections on one new instance, closed when the
 * work ends: phases that follow one another pay for one instance (15–50 ms to create) and hand its memory
 * back at the end (kept for the next piece of work, an instance holds its cached buffers until `shedBuffers`:
 * ~60 MB more at peak). Each session must
 * leave nothing on the instance but what closing its connection removes (temporary objects only). With
 * `settings.instance` (made ahead by `createDuckDbInstance`) the work runs on that one, which its maker closes.
 */
export async function withDuckDbInstance<T>(
  settings: DuckDbSettings,
  work: (shared: DuckDbSettings) => Promise<T>,
): Promise<T> {
  if (settings.instance) return work(settings);
  const instance = await createInstance(settings);
  let result: T;
  try {
    result = await work({ ...settings, instance });
  } catch (e) {
    closeAfterWork(instance);
    throw e; // the work's own error, not one of closing
  }
  // Its work is done (what it returned may still be running elsewhere, e.g. a chunk's footer rewrite): a close that
  // fails fails nothing.
  closeAfterWork(instance);
  return result;
}

function closeAfterWork(instance: DuckDBInstance): void {
  try {
    instance.closeSync();
  } catch {
    // see withDuckDbInstance
  }
}

/**
 * Makes an idle instance (no query running) give back the memory it keeps for its next queries: setting its memory
 * limit — to the same value — has DuckDB free its cached buffers (a 2M-row sort left ~180 MB held; after the
 * setting, none). An instance handed from chunk to chunk then holds about what a new one would (2M rows, peak RSS:
 * 315–334 MB kept as it was, 251–256 MB shed, 235–250 MB with a new instance per chunk). The chunks' sessions shed only
 * above their memory budget (`shedAbove`): the next query faults the memory given back in again.
 */
export async function shedBuffers(
  instance: DuckDBInstance,
  settings: Pick<DuckDbSettings, 'memoryLimit'>,
): Promise<void> {
  const connection = await instance.connect();
  try {
    await connection.run(`SET memory_limit = ${sqlString(settings.memoryLimit ?? DEFAULT_MEMORY_LIMIT)}`);
  } finally {
    connection.closeSync();
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
