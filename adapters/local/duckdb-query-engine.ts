/**
 * The local lake's query engine: an in-memory DuckDB whose `silver`, `gold` and `quarantine` schemas hold
 * views over the lake directory, so analyst SQL runs unchanged here and on Athena. One connection, so temporary
 * tables live across calls (the local gold refresh relies on it).
 */
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { DuckDBInstance, DuckDBTypeId, type DuckDBConnection, type DuckDBMaterializedResult } from '@duckdb/node-api';
import {
  type ContractRegistry,
  partitionColumns,
  QUARANTINE_COLUMNS,
  quarantineRecordsPrefix,
  type QueryEngine,
  QueryError,
  type QueryResult,
  type Row,
  silverColumns,
  silverTablePrefix,
  type TableColumn,
  UNKNOWN_DATASET,
} from '../../engine/contract/index.ts';
import { ident, sqlString } from '../../engine/index.ts';
import { localGoldStatements } from './gold-views.ts';

export interface LocalQueryEngineOptions {
  /** The lake directory (holding `silver/`, `gold/`, `quarantine/`). */
  root: string;
  contracts: ContractRegistry;
  /** @default 1 */
  threads?: number;
  /** @default '512MB' */
  memoryLimit?: string;
  /** Where DuckDB spills beyond the memory limit. @default DuckDB's own (`.tmp` in the current directory) */
  tempDirectory?: string;
}

const quoteIdent = ident;
const quoteString = sqlString;

/** DuckDB type of a Hive/Glue column type, for the empty relation that stands in for a table without files. */
export function duckdbTypeOfHive(hiveType: string): string {
  const t = hiveType.trim().toLowerCase();
  const array = /^array<(.+)>$/.exec(t);
  if (array) return `${duckdbTypeOfHive(array[1] as string)}[]`;
  const decimal = /^decimal\((\d+),(\d+)\)$/.exec(t.replace(/\s+/g, ''));
  if (decimal) return `DECIMAL(${decimal[1]},${decimal[2]})`;
  const simple: Record<string, string> = {
    string: 'VARCHAR',
    int: 'INTEGER',
    bigint: 'BIGINT',
    double: 'DOUBLE',
    boolean: 'BOOLEAN',
    date: 'DATE',
    timestamp: 'TIMESTAMP',
  };
  const mapped = simple[t];
  if (!mapped) throw new Error(`no DuckDB type for Hive type "${hiveType}"`);
  return mapped;
}

async function hasParquet(dir: string): Promise<boolean> {
  let entries;
  try {
    entries = await readdir(dir, { withFileTypes: true });
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT' || (e as NodeJS.ErrnoException).code === 'ENOTDIR') return false;
    throw e;
  }
  for (const entry of entries) {
    if (entry.isFile() && entry.name.endsWith('.parquet') && !entry.name.startsWith('.') && !entry.name.startsWith('_'))
      return true;
    if (
      entry.isDirectory() &&
      !entry.name.startsWith('_') &&
      !entry.name.startsWith('.') &&
      (await hasParquet(join(dir, entry.name)))
    )
      return true;
  }
  return false;
}

interface TableSource {
  schema: 'silver' | 'quarantine';
  name: string;
  /** Directory of the table's files. */
  dir: string;
  /** Glob of the files below `dir`. */
  glob: string;
  dataColumns: readonly TableColumn[];
  partitionKeys: readonly TableColumn[];
}

/**
 * A view over a table's Parquet files: Hive partition keys typed as strings (as Glue declares them), files
 * unioned by column name, and an empty relation of the declared columns while the table has no files.
 * A declared column no file carries yet (an additive contract change, files written before it) reads NULL,
 * cast to the declared type; so does a column that only some files carry (union by name).
 */
async function tableViewSql(t: TableSource, connection: DuckDBConnection): Promise<string> {
  const columns = [...t.dataColumns, ...t.partitionKeys];
  const target = `${t.schema}.${quoteIdent(t.name)}`;
  if (!(await hasParquet(t.dir))) {
    const typed = columns
      .map((c) => `CAST(NULL AS ${duckdbTypeOfHive(c.hiveType)}) AS ${quoteIdent(c.name)}`)
      .join(', ');
    return `CREATE OR REPLACE VIEW ${target} AS SELECT ${typed} WHERE false`;
  }
  const hiveTypes = t.partitionKeys.map((k) => `${quoteString(k.name)}: 'VARCHAR'`).join(', ');
  const options = t.partitionKeys.length
    ? `hive_partitioning = true, hive_types = {${hiveTypes}}, union_by_name = true`
    : `hive_partitioning = false, union_by_name = true`;
  const scan = `read_parquet(${quoteString(join(t.dir, t.glob))}, ${options})`;
  const described = await (await connection.run(`DESCRIBE SELECT * FROM ${scan}`)).getRowObjectsJson();
  const present = new Map(described.map((r) => [String(r.column_name), String(r.column_type)]));
  // Name the declared columns so the view has the table's shape even if a file carries extra columns.
  const select = columns
    .map((c) => {
      const declared = duckdbTypeOfHive(c.hiveType);
      const found = present.get(c.name);
      if (found === undefined) return `CAST(NULL AS ${declared}) AS ${quoteIdent(c.name)}`;
      // A widened decimal (additive change) reads at the declared precision, as Athena reads it through Glue.
      return declared.startsWith('DECIMAL') && found !== declared
        ? `CAST(${quoteIdent(c.name)} AS ${declared}) AS ${quoteIdent(c.name)}`
        : quoteIdent(c.name);
    })
    .join(', ');
  return `CREATE OR REPLACE VIEW ${target} AS SELECT ${select} FROM ${scan}`;
}

function tableSources(root: string, contracts: ContractRegistry): TableSource[] {
  const sources: TableSource[] = [];
  const quarantineDatasets = [...contracts.names(), UNKNOWN_DATASET];
  for (const name of contracts.names()) {
    const contract = contracts.get(name);
    if (!contract) continue;
    sources.push({
      schema: 'silver',
      name,
      dir: join(root, 'silver', ...silverTablePrefix(name).split('/').filter(Boolean)),
      glob: '**/*.parquet',
      dataColumns: silverColumns(contract),
      partitionKeys: partitionColumns(contract),
    });
  }
  for (const name of quarantineDatasets) {
    sources.push({
      schema: 'quarantine',
      name,
      dir: join(root, 'quarantine', ...quarantineRecordsPrefix(name).split('/').filter(Boolean)),
      glob: '*.parquet',
      dataColumns: QUARANTINE_COLUMNS,
      partitionKeys: [],
    });
  }
  return sources;
}

/** JSON-safe values: exact decimals as strings, integers as numbers when they fit, timestamps as text. */
function plainValue(value: unknown, typeId: DuckDBTypeId): unknown {
  if (
    typeof value === 'string' &&
    (typeId === DuckDBTypeId.BIGINT || typeId === DuckDBTypeId.HUGEINT || typeId === DuckDBTypeId.UBIGINT)
  ) {
    const n = Number(value);
    return Number.isSafeInteger(n) ? n : value;
  }
  return value;
}

export class LocalQueryEngine implements QueryEngine {
  private constructor(
    private readonly instance: DuckDBInstance,
    private readonly connection: DuckDBConnection,
  ) {}

  static async open(options: LocalQueryEngineOptions): Promise<LocalQueryEngine> {
    const instance = await DuckDBInstance.create(':memory:', {
      threads: String(options.threads ?? 1),
      memory_limit: options.memoryLimit ?? '512MB',
      ...(options.tempDirectory ? { temp_directory: options.tempDirectory } : {}),
      autoinstall_known_extensions: 'false',
      autoload_known_extensions: 'false',
    });
    const connection = await instance.connect();
    const engine = new LocalQueryEngine(instance, connection);
    try {
      await connection.run(`SET TimeZone = 'UTC'`);
      for (const schema of ['silver', 'gold', 'quarantine'])
        await connection.run(`CREATE SCHEMA IF NOT EXISTS ${schema}`);
      for (const source of tableSources(options.root, options.contracts))
        await connection.run(await tableViewSql(source, connection));
      // Gold tables and views come from the gold layer's own definitions (they read silver, so they go last).
      for (const statement of await localGoldStatements(options.root)) await connection.run(statement);
    } catch (e) {
      await engine.close();
      throw e;
    }
    return engine;
  }

  async query(sql: string): Promise<QueryResult> {
    let result: DuckDBMaterializedResult;
    try {
      result = await this.connection.run(sql);
    } catch (e) {
      throw new QueryError((e as Error).message, sql);
    }
    const columns = result.columnNames();
    const types = result.columnTypes().map((t) => t.typeId);
    const rows = (await result.getRowsJson()).map((values) => {
      const row: Row = {};
      columns.forEach((name, i) => {
        row[name] = plainValue(values[i], types[i] as DuckDBTypeId);
      });
      return row;
    });
    return { columns, rows };
  }

  async close(): Promise<void> {
    this.connection.closeSync();
    this.instance.closeSync();
  }
}
