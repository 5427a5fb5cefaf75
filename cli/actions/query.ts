/** `lake query`: what it does (the options and help live in commands/query.ts). */
import { renderQuery } from '../../engine/gold/index.ts';
import { type QueryEngine, QueryError, type QueryResult } from '../../engine/contract/index.ts';
import { UserError } from '../errors.ts';
import { onInterrupt } from '../interrupt.ts';
import type { Io } from '../io.ts';
import { resultFormat, type AwsOptions, type LakeOptions } from '../options.ts';
import { lakeTarget, type Workgroup } from '../target.ts';
import { findQueryFile, listQueryFiles, parseParams } from '../query-files.ts';
import { formatBytes, formatCount, formatDuration } from '../ui/format.ts';
import { renderResult } from '../ui/output.ts';
import { renderTable } from '../ui/table.ts';
import { GOLD_TABLES, GOLD_VIEWS } from '../../datasets/index.ts';

export interface QueryOptions extends LakeOptions, AwsOptions {
  sql?: string;
  file?: string;
  param: string[];
  list?: boolean;
  workgroup?: Workgroup;
  maxRows: number;
  format?: string;
  json?: boolean;
}

function tableNames(datasets: readonly string[]): string[] {
  return [
    ...datasets.map((d) => `silver.${d}`),
    ...GOLD_TABLES.map((t) => `gold.${t.name}`),
    ...GOLD_VIEWS.map((v) => `gold.${v.name}`),
    ...datasets.map((d) => `quarantine.${d}`),
  ];
}

/** A query file may say `-- @workgroup platform` (it reads quarantine, which analysts may not). */
function declaredWorkgroup(sql: string): Workgroup | undefined {
  const m = /^--\s*@workgroup\s+(analysts|platform)\b/m.exec(sql);
  return m?.[1] as Workgroup | undefined;
}

function chooseSql(positional: string | undefined, options: QueryOptions): { sql: string; label: string } {
  const given = [positional, options.sql, options.file].filter((x) => x !== undefined);
  if (given.length === 0)
    throw new UserError(
      'nothing to run',
      'pass the SQL with --sql "…", a query file with --file NAME, or see the query files with --list',
    );
  if (given.length > 1) throw new UserError('give the SQL once: either as an argument, with --sql, or with --file');
  const params = parseParams(options.param);
  if (options.file !== undefined) {
    const file = findQueryFile(options.file);
    return { sql: renderQuery(file, params), label: file.name };
  }
  if (Object.keys(params).length)
    throw new UserError('--param applies to query files (--file)', 'write the value into the SQL instead');
  const sql = (positional ?? options.sql ?? '').trim();
  if (!sql) throw new UserError('the SQL is empty');
  return { sql, label: 'query' };
}

function printQueryList(io: Io): void {
  const files = listQueryFiles();
  if (files.length === 0) {
    io.print('No query files in queries/.\n');
    return;
  }
  io.print(
    renderTable(
      [{ header: 'name' }, { header: 'parameters (default)' }, { header: 'what it answers' }],
      files.map((f) => [f.name, f.params.map((p) => `${p.name}=${p.default}`).join(' ') || '-', f.title]),
      { style: io.style, maxCellWidth: 90 },
    ),
  );
  io.print(`\nRun one: npx lake query --file NAME [--param name=value …]\n`);
}

export async function runQuery(engine: QueryEngine, sql: string): Promise<{ result: QueryResult; ms: number }> {
  const started = performance.now();
  const result = await engine.query(sql);
  return { result, ms: performance.now() - started };
}

export async function queryAction(positional: string | undefined, options: QueryOptions, io: Io): Promise<void> {
  if (options.list) {
    printQueryList(io);
    return;
  }
  const format = resultFormat(options);
  const { sql } = chooseSql(positional, options);
  const target = lakeTarget(options);
  const engine: QueryEngine = await target.openQueryEngine(
    options.workgroup ?? declaredWorkgroup(sql) ?? 'analysts',
    io,
  );
  const cancel = onInterrupt(async () => {
    await engine.close(); // on Athena this stops the query, so it stops costing money
    io.note('\nquery cancelled\n');
    process.exit(130);
  });
  const progress = io.progress();
  progress.phase(target.runningLabel);
  try {
    const { result, ms } = await runQuery(engine, sql);
    progress.stop();
    // A terminal is no place for a million rows: tables stop at --max-rows; csv and json give everything.
    const cut = format === 'table' && result.rows.length > options.maxRows;
    io.print(renderResult(cut ? { ...result, rows: result.rows.slice(0, options.maxRows) } : result, format, io.style));
    const scanned = result.bytesScanned !== undefined ? `, ${formatBytes(result.bytesScanned)} scanned` : '';
    const shown = cut ? `showing ${formatCount(options.maxRows)} of ` : '';
    const more = cut ? '; --max-rows N for more, or --format csv for all' : '';
    io.note(
      io.errStyle.dim(
        `(${shown}${formatCount(result.rows.length)} ${result.rows.length === 1 ? 'row' : 'rows'}, ${formatDuration(ms)}${scanned}${more})\n`,
      ),
    );
  } catch (e) {
    progress.stop();
    if (e instanceof QueryError && /Catalog Error|does not exist|not found/i.test(e.message)) {
      throw new UserError(
        `the query failed: ${e.message}`,
        `tables: ${tableNames(target.queryableDatasets()).join(', ')}`,
      );
    }
    throw e;
  } finally {
    cancel();
    await engine.close();
  }
}
