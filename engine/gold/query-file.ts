/**
 * Query files (queries/*.sql) run as they are, on Athena and DuckDB, with their default parameter values.
 * A parameter is declared in the header and marked at each use by a comment right before its literal:
 *
 *   -- @param from_month month 2024-01  First month of the range (YYYY-MM)
 *   … WHERE b.year || '-' || b.month >= /*@from_month*\/ '2024-01'
 *
 * `renderQuery` replaces the literal after every marker; the markers stay, so a rendered query can be
 * rendered again. Values are validated against the parameter's type: nothing but a well-formed value is
 * ever spliced into SQL.
 */
import { isMonthKey } from './months.ts';

/** Parameter types; each has a validator, so only well-formed values reach the SQL. */
export type QueryParamType = 'month';

export interface QueryParam {
  name: string;
  type: QueryParamType;
  default: string;
  description: string;
}

export type QueryWorkgroup = 'analysts' | 'platform';

export interface QueryFile {
  /** File name without `.sql`. */
  name: string;
  /** First header line. */
  title: string;
  params: QueryParam[];
  /**
   * Athena workgroup to deploy it in (`-- @workgroup platform` in the header): queries that read quarantine
   * need the platform workgroup, analysts are not granted that database. @default 'analysts'
   */
  workgroup: QueryWorkgroup;
  sql: string;
}

const WORKGROUP_LINE = /^--\s*@workgroup\s+(analysts|platform)\s*$/;
const PARAM_LINE = /^--\s*@param\s+([a-z][a-z0-9_]*)\s+(month)\s+(\S+)\s*(.*)$/;
const MARKER = /\/\*@([a-z][a-z0-9_]*)\*\/(\s*)'((?:[^']|'')*)'/g;

const VALIDATORS: Record<QueryParamType, (v: string) => boolean> = {
  month: isMonthKey,
};

export function parseQueryFile(name: string, sql: string): QueryFile {
  const header: string[] = [];
  for (const line of sql.split('\n')) {
    if (!line.startsWith('--')) break;
    header.push(line);
  }
  const title = (header[0] ?? '').replace(/^--\s*/, '').trim();
  const params: QueryParam[] = [];
  let workgroup: QueryWorkgroup = 'analysts';
  for (const line of header) {
    const m = PARAM_LINE.exec(line.trim());
    if (m)
      params.push({
        name: m[1] as string,
        type: m[2] as QueryParamType,
        default: m[3] as string,
        description: (m[4] ?? '').trim(),
      });
    const w = WORKGROUP_LINE.exec(line.trim());
    if (w) workgroup = w[1] as QueryWorkgroup;
  }
  return { name, title, params, workgroup, sql };
}

/** Names used by markers in the body, in order of first use. */
export function markerNames(sql: string): string[] {
  return [...new Set([...sql.matchAll(MARKER)].map((m) => m[1] as string))];
}

/** The literal currently after each marker (the file's defaults, before rendering). */
export function markerValues(sql: string): Array<{ name: string; value: string }> {
  return [...sql.matchAll(MARKER)].map((m) => ({
    name: m[1] as string,
    value: (m[3] as string).replaceAll("''", "'"),
  }));
}

export class QueryParamError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'QueryParamError';
  }
}

/** The query with parameter values substituted (unknown names, bad values and reversed ranges are errors). */
export function renderQuery(file: QueryFile, values: Readonly<Record<string, string>>): string {
  const declared = new Map(file.params.map((p) => [p.name, p]));
  for (const [name, value] of Object.entries(values)) {
    const p = declared.get(name);
    if (!p)
      throw new QueryParamError(
        `${file.name}: unknown parameter "${name}" (declared: ${[...declared.keys()].join(', ') || 'none'})`,
      );
    if (!VALIDATORS[p.type](value))
      throw new QueryParamError(`${file.name}: parameter "${name}" must be a ${p.type}, YYYY-MM (got "${value}")`);
  }
  const effective = (name: string): string | undefined => values[name] ?? declared.get(name)?.default;
  const from = effective('from_month');
  const to = effective('to_month');
  if (from !== undefined && to !== undefined && from > to) {
    throw new QueryParamError(`${file.name}: from_month (${from}) is after to_month (${to})`);
  }
  return file.sql.replace(MARKER, (whole, name: string, space: string) => {
    const value = values[name];
    return value === undefined ? whole : `/*@${name}*/${space}'${value}'`;
  });
}
