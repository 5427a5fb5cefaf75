/**
 * A static check that SQL stays inside the subset Athena engine v3 (Trino) and DuckDB run identically
 * (docs/analyst-guide.md, "Writing portable SQL"). It catches the known traps; it does not prove portability —
 * only running on both engines does.
 */
export interface PortabilityProblem {
  rule: string;
  message: string;
  /** 1-based line of the offending text. */
  line: number;
  text: string;
}

interface Rule {
  rule: string;
  pattern: RegExp;
  message: string;
}

const fn = (names: string) => new RegExp(`\\b(?:${names})\\s*\\(`, 'gi');

const RULES: readonly Rule[] = [
  {
    rule: 'qualify',
    pattern: /\bQUALIFY\b/gi,
    message: 'QUALIFY is DuckDB-only: filter a ROW_NUMBER() in an outer query',
  },
  { rule: 'double-colon-cast', pattern: /::/g, message: '`::` casts are DuckDB-only: use CAST(x AS type)' },
  {
    rule: 'by-all',
    pattern: /\b(?:GROUP|ORDER)\s+BY\s+ALL\b/gi,
    message: 'GROUP/ORDER BY ALL is DuckDB-only: list the columns',
  },
  {
    rule: 'star-modifier',
    pattern: /\*\s*(?:EXCLUDE|REPLACE|RENAME)\b/gi,
    message: 'SELECT * EXCLUDE/REPLACE is DuckDB-only: list the columns',
  },
  { rule: 'integer-division', pattern: /\/\//g, message: '`//` is DuckDB-only integer division' },
  {
    rule: 'month-end',
    pattern: fn('last_day|last_day_of_month'),
    message: 'no common month-end function: compare month keys or use the next month’s start',
  },
  {
    rule: 'date-spine',
    pattern: fn('generate_series|range|sequence'),
    message: 'no common series function: use a VALUES list or a calendar',
  },
  {
    rule: 'date-arithmetic',
    pattern: /\bINTERVAL\b|\bdate_add\s*\(|\bdate_trunc\s*\(/gi,
    message: 'date arithmetic and date_trunc return different types: work on year/month keys or cast explicitly',
  },
  {
    rule: 'date-diff-unit',
    pattern: /\bdate_diff\s*\(\s*'(?!second')/gi,
    message: "date_diff counts whole units on Trino and boundaries on DuckDB: only 'second' is close enough",
  },
  {
    rule: 'null-skipping',
    pattern: fn('greatest|least|concat'),
    message: 'greatest/least/concat treat NULL differently: use CASE/COALESCE or ||',
  },
  {
    rule: 'decimal-average',
    pattern: fn('avg'),
    message: 'avg(decimal) is DECIMAL on Trino, DOUBLE on DuckDB: CAST(SUM(x) AS double) / CAST(COUNT(x) AS double)',
  },
  {
    rule: 'window-distinct',
    pattern: /\(\s*DISTINCT\b[^()]*(?:\([^()]*\)[^()]*)*\)\s*OVER\b/gi,
    message: 'DISTINCT in a window aggregate is not supported by Trino',
  },
  {
    rule: 'duckdb-function',
    pattern: fn(
      'strftime|strptime|epoch|epoch_ms|list_[a-z_]+|struct_pack|regexp_matches|array_to_string|string_agg|read_parquet|read_csv|read_csv_auto|read_json',
    ),
    message: 'DuckDB-only function (tables are named silver./gold./quarantine.)',
  },
  {
    rule: 'trino-function',
    pattern: fn(
      'to_unixtime|date_format|format_datetime|from_iso8601_timestamp|array_join|json_extract_scalar|element_at',
    ),
    message: 'Trino-only function',
  },
  {
    rule: 'ilike',
    pattern: /\bI?LIKE\s+ANY\b|\bILIKE\b|\bSIMILAR\s+TO\b/gi,
    message: 'ILIKE/SIMILAR TO are not portable: use lower(x) LIKE …',
  },
  {
    rule: 'statement-separator',
    pattern: /;/g,
    message: 'one statement per file, without `;` (Athena named queries hold one statement)',
  },
];

/** Blanks out comments and string literals (keeping line breaks) so rules only see SQL code. */
export function codeOnly(sql: string): string {
  return sql.replace(/'(?:[^']|'')*'|--[^\n]*|\/\*[\s\S]*?\*\//g, (m) => m.replace(/[^\n]/g, ' '));
}

function lineOf(text: string, index: number): number {
  return text.slice(0, index).split('\n').length;
}

export function portabilityProblems(sql: string): PortabilityProblem[] {
  const code = codeOnly(sql);
  const problems: PortabilityProblem[] = [];
  for (const r of RULES) {
    for (const m of code.matchAll(r.pattern)) {
      problems.push({ rule: r.rule, message: r.message, line: lineOf(code, m.index), text: m[0].trim() });
    }
  }
  // Division: Trino divides integers as integers and decimals exactly, DuckDB in floating point — so every
  // division must be between doubles, spelled out on the left operand.
  for (const m of code.matchAll(/\//g)) {
    if (!/AS\s+double\s*\)\s*$/i.test(code.slice(Math.max(0, m.index - 40), m.index))) {
      problems.push({
        rule: 'division',
        message: 'divide doubles only: CAST(a AS double) / CAST(b AS double)',
        line: lineOf(code, m.index),
        text: '/',
      });
    }
  }
  for (const m of code.matchAll(/\b(?:FROM|JOIN)\s+([A-Za-z_][A-Za-z0-9_]*)\s*\.\s*[A-Za-z_]/gi)) {
    const schema = (m[1] as string).toLowerCase();
    if (!['silver', 'gold', 'quarantine'].includes(schema)) {
      problems.push({
        rule: 'qualifier',
        message: 'name tables silver.<dataset>, gold.<table> or quarantine.<dataset>',
        line: lineOf(code, m.index),
        text: m[0],
      });
    }
  }
  return problems.sort((a, b) => a.line - b.line);
}
