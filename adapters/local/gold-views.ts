/**
 * The `gold` schema of the local lake: a DuckDB view per gold table over its Parquet files, and the gold views.
 * The local query engine runs these after creating its `silver` schema (the gold views read silver).
 */
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { TableColumn } from '../../engine/contract/index.ts';
import { type GoldTable, sqlString } from '../../engine/gold/index.ts';
import { GOLD_TABLES, GOLD_VIEWS } from '../../datasets/index.ts';

export function goldTableDir(lakeDir: string, table: GoldTable): string {
  return join(lakeDir, 'gold', ...table.locationPrefix.split('/').filter(Boolean));
}

function duckdbType(hiveType: string): string {
  const t = hiveType.toLowerCase();
  if (t === 'string') return 'VARCHAR';
  if (t === 'timestamp') return 'TIMESTAMP';
  return t.toUpperCase();
}

async function hasParquet(dir: string, depth: number): Promise<boolean> {
  let entries;
  try {
    entries = await readdir(dir, { withFileTypes: true });
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw e;
  }
  for (const entry of entries) {
    if (depth === 0 && entry.isFile() && entry.name.endsWith('.parquet')) return true;
    if (depth > 0 && entry.isDirectory() && (await hasParquet(join(dir, entry.name), depth - 1))) return true;
  }
  return false;
}

const columnList = (cols: readonly TableColumn[]) => cols.map((c) => c.name).join(', ');

/**
 * Partition keys are read as VARCHAR: DuckDB would otherwise guess integers for `month=01` and
 * `year || '-' || month` would no longer match the partition keys Athena sees.
 */
export async function goldTableViewSql(lakeDir: string, table: GoldTable): Promise<string> {
  const all = [...table.columns, ...table.partitionKeys];
  const dir = goldTableDir(lakeDir, table);
  if (!(await hasParquet(dir, table.partitionKeys.length))) {
    const typedNulls = all.map((c) => `CAST(NULL AS ${duckdbType(c.hiveType)}) AS ${c.name}`).join(', ');
    return `CREATE OR REPLACE VIEW gold.${table.name} AS SELECT ${typedNulls} WHERE false`;
  }
  const glob = [dir, ...table.partitionKeys.map(() => '*'), '*.parquet'].join('/');
  const hiveTypes = table.partitionKeys.map((k) => `${sqlString(k.name)}: VARCHAR`).join(', ');
  return (
    `CREATE OR REPLACE VIEW gold.${table.name} AS SELECT ${columnList(all)} ` +
    `FROM read_parquet(${sqlString(glob)}, hive_partitioning = true, hive_types = {${hiveTypes}})`
  );
}

/** Statements that (re)create the `gold` schema over `<lakeDir>/gold`. Safe to run again after a refresh. */
export async function localGoldStatements(lakeDir: string): Promise<string[]> {
  const tables = await Promise.all(GOLD_TABLES.map((t) => goldTableViewSql(lakeDir, t)));
  const views = GOLD_VIEWS.map((v) => `CREATE OR REPLACE VIEW gold.${v.name} AS ${v.sql}`);
  return ['CREATE SCHEMA IF NOT EXISTS gold', ...tables, ...views];
}
