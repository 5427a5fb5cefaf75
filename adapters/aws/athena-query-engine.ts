/**
 * Athena behind the QueryEngine port: the query runs in a workgroup (which enforces the results location,
 * encryption and the scan cutoff), is polled to completion, and its results are read page by page.
 * `silver.` / `gold.` / `quarantine.` in the SQL are rewritten to the stage's Glue databases.
 */
import type { AthenaClient } from '@aws-sdk/client-athena';
import {
  GetQueryExecutionCommand,
  GetQueryResultsCommand,
  StartQueryExecutionCommand,
  StopQueryExecutionCommand,
  type ColumnInfo,
  type QueryExecution,
} from '@aws-sdk/client-athena';
import { type DatabaseNames, qualifyDatabases } from '../../engine/gold/index.ts';
import { type QueryEngine, QueryError, type QueryResult, type Row } from '../../engine/contract/index.ts';

export interface AthenaQueryEngineOptions {
  client: AthenaClient;
  workGroup: string;
  /** The stage's Glue database for each logical database name used in SQL. */
  databases: DatabaseNames;
  /** @default 'AwsDataCatalog' */
  catalog?: string;
  /** First poll delay; it doubles up to `maxPollMs`. @default 200 */
  pollMs?: number;
  /** @default 2000 */
  maxPollMs?: number;
  /** Give up (and stop the query) after this long. @default 30 minutes */
  timeoutMs?: number;
  /** Called on every poll with Athena's state, e.g. for a spinner. */
  onState?: (state: string, execution: QueryExecution) => void;
  sleep?: (ms: number) => Promise<void>;
}

const PAGE_SIZE = 1000;
const INTEGER_TYPES = new Set(['tinyint', 'smallint', 'integer', 'int', 'bigint']);
const FLOAT_TYPES = new Set(['double', 'float', 'real']);

/**
 * Athena returns every value as text. Integers and floats become numbers (bigints beyond 2^53 stay text),
 * booleans become booleans, decimals stay text so no cent is lost: the same values the local engine gives.
 */
export function athenaValue(text: string | undefined, column: Pick<ColumnInfo, 'Type'> | undefined): unknown {
  if (text === undefined) return null;
  const type = (column?.Type ?? 'varchar').toLowerCase();
  if (INTEGER_TYPES.has(type)) {
    const n = Number(text);
    return Number.isSafeInteger(n) ? n : text;
  }
  if (FLOAT_TYPES.has(type)) return Number(text);
  if (type === 'boolean') return text === 'true';
  return text;
}

const defaultSleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

export class AthenaQueryEngine implements QueryEngine {
  private running: string | undefined;

  constructor(private readonly options: AthenaQueryEngineOptions) {}

  async query(sql: string): Promise<QueryResult> {
    const o = this.options;
    const sleep = o.sleep ?? defaultSleep;
    const text = qualifyDatabases(sql, o.databases);
    let id: string | undefined;
    try {
      id = (
        await o.client.send(
          new StartQueryExecutionCommand({
            QueryString: text,
            WorkGroup: o.workGroup,
            QueryExecutionContext: { Catalog: o.catalog ?? 'AwsDataCatalog', Database: o.databases.silver },
          }),
        )
      ).QueryExecutionId;
    } catch (e) {
      if ((e as Error).name === 'InvalidRequestException') throw new QueryError((e as Error).message, sql);
      throw e;
    }
    if (!id) throw new Error('Athena returned no query execution id');
    this.running = id;

    const deadline = Date.now() + (o.timeoutMs ?? 30 * 60_000);
    let delay = o.pollMs ?? 200;
    let execution: QueryExecution | undefined;
    for (;;) {
      execution = (await o.client.send(new GetQueryExecutionCommand({ QueryExecutionId: id }))).QueryExecution;
      const state = execution?.Status?.State ?? 'UNKNOWN';
      if (execution) o.onState?.(state, execution);
      if (state === 'SUCCEEDED') break;
      if (state === 'FAILED' || state === 'CANCELLED') {
        this.running = undefined;
        const reason =
          execution?.Status?.StateChangeReason ?? execution?.Status?.AthenaError?.ErrorMessage ?? state.toLowerCase();
        throw new QueryError(`${reason} (query ${id})`, sql, id);
      }
      if (Date.now() > deadline) {
        await this.stop();
        throw new QueryError(`timed out waiting for Athena (query ${id}, stopped)`, sql, id);
      }
      await sleep(delay);
      delay = Math.min(delay * 2, o.maxPollMs ?? 2000);
    }
    this.running = undefined;

    const columns: ColumnInfo[] = [];
    const rows: Row[] = [];
    let token: string | undefined;
    let first = true;
    do {
      const page = await o.client.send(
        new GetQueryResultsCommand({ QueryExecutionId: id, NextToken: token, MaxResults: PAGE_SIZE }),
      );
      if (first) columns.push(...(page.ResultSet?.ResultSetMetadata?.ColumnInfo ?? []));
      const data = page.ResultSet?.Rows ?? [];
      // A SELECT's first result row repeats the column names.
      const skipHeader =
        first &&
        execution?.StatementType === 'DML' &&
        data[0]?.Data?.every((d, i) => d.VarCharValue === columns[i]?.Name);
      for (const r of skipHeader ? data.slice(1) : data) {
        const row: Row = {};
        columns.forEach((c, i) => {
          row[c.Name ?? `_col${i}`] = athenaValue(r.Data?.[i]?.VarCharValue, c);
        });
        rows.push(row);
      }
      first = false;
      token = page.NextToken;
    } while (token);

    return {
      columns: columns.map((c, i) => c.Name ?? `_col${i}`),
      rows,
      bytesScanned: execution?.Statistics?.DataScannedInBytes,
    };
  }

  /** Stops the query in flight, if any (Ctrl-C): a stopped query stops scanning, and costing. */
  async stop(): Promise<void> {
    const id = this.running;
    this.running = undefined;
    if (id)
      await this.options.client.send(new StopQueryExecutionCommand({ QueryExecutionId: id })).catch(() => undefined);
  }

  async close(): Promise<void> {
    await this.stop();
    this.options.client.destroy();
  }
}
