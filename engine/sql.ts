/**
 * SQL generated from a dataset contract: typing, validation and reason codes, evaluated by DuckDB.
 * The benchmark's native reference uses the same typing and validation, so both do identical work.
 */
import { duckdbType } from './contract/schema.ts';
import type { ColumnContract, DatasetContract, PartitionField, PiiClass } from './contract/types.ts';
import type { ColumnBinding } from './header.ts';
import { RowReason } from './reasons.ts';

/**
 * The codec of every silver file the engine writes: ZSTD at level 2, not DuckDB's default 3. Measured on a 28 MB chunk
 * of the bench's rows (one routed pass, `valgrind --tool=callgrind`): files 1.1% smaller and 1.2% fewer DuckDB
 * instructions (level 3 clears larger match tables for every page it compresses); level 1: 2.9% larger files.
 */
export const SILVER_CODEC = 'COMPRESSION zstd, COMPRESSION_LEVEL 2';

export const sqlString = (value: string): string => `'${value.replace(/'/g, "''")}'`;
export const ident = (name: string): string => `"${name.replace(/"/g, '""')}"`;

const ISO_TIMESTAMP =
  '[0-9]{4}-[0-9]{2}-[0-9]{2}([T ][0-9]{2}:[0-9]{2}(:[0-9]{2}([.,][0-9]{1,9})?)?)?(Z|z|[+-][0-9]{2}(:?[0-9]{2})?)?';

/** The raw (VARCHAR) source field for a column: `v_<name>`, NULL when empty or absent. */
const rawName = (c: ColumnContract): string => ident(`v_${c.name}`);
const typedName = (c: ColumnContract): string => ident(`t_${c.name}`);
/** The source field's text for a column as the reader gave it (before trimming): `f_<name>`. */
const fieldName = (c: ColumnContract): string => ident(`f_${c.name}`);

function typedExpression(c: ColumnContract): string {
  const v = rawName(c);
  const t = c.type;
  switch (t.kind) {
    case 'string':
      return v;
    case 'int':
    case 'bigint':
      return `CASE WHEN regexp_full_match(${v}, '[+-]?[0-9]+') THEN TRY_CAST(${v} AS ${duckdbType(t)}) END`;
    case 'double':
      return `CASE WHEN isfinite(TRY_CAST(${v} AS DOUBLE)) THEN TRY_CAST(${v} AS DOUBLE) END`;
    case 'decimal': {
      // Too many decimals is invalid, never rounded; exponents and thousands separators are invalid.
      const pattern = t.scale === 0 ? '[+-]?[0-9]+' : `[+-]?([0-9]+(\\.[0-9]{0,${t.scale}})?|\\.[0-9]{1,${t.scale}})`;
      return `CASE WHEN regexp_full_match(${v}, '${pattern}') THEN TRY_CAST(${v} AS ${duckdbType(t)}) END`;
    }
    case 'boolean':
      return `CASE lower(${v}) WHEN 'true' THEN true WHEN 't' THEN true WHEN '1' THEN true WHEN 'yes' THEN true WHEN 'false' THEN false WHEN 'f' THEN false WHEN '0' THEN false WHEN 'no' THEN false END`;
    case 'date':
      return `CASE WHEN regexp_full_match(${v}, '[0-9]{4}-[0-9]{2}-[0-9]{2}') THEN TRY_CAST(${v} AS DATE) END`;
    case 'timestamp':
      // Offsets are converted to UTC (session time zone is UTC); no zone means UTC; impossible dates fail the cast.
      return `CASE WHEN regexp_full_match(${v}, '${ISO_TIMESTAMP}') THEN CAST(CAST(TRY_CAST(${v} AS TIMESTAMPTZ) AS TIMESTAMP) AS TIMESTAMP_MS) END`;
  }
}

function literal(c: ColumnContract, value: number | string): string {
  if (typeof value === 'number') return String(value);
  return c.type.kind === 'date' ? `DATE ${sqlString(value)}` : `CAST(TIMESTAMPTZ ${sqlString(value)} AS TIMESTAMP)`;
}

/** Characters a value may have to become a Hive partition directory (`key=value/`) unescaped. */
const PARTITION_SAFE = '[A-Za-z0-9_.-]+';

/** What quarantine shows instead of a PII value (the quarantine zone is not a PII store). */
export const piiPlaceholder = (pii: Exclude<PiiClass, 'none'>): string =>
  sqlString(`<${pii === 'hash' ? 'hashed' : 'dropped'} PII>`);

/** The raw value as it may appear in a quarantine detail: PII is never repeated there. */
const shownValue = (c: ColumnContract): string => (c.pii === 'none' ? rawName(c) : piiPlaceholder(c.pii));

/** Each check as [SQL condition that holds for a good value, human-readable rule]. */
function checkConditions(c: ColumnContract, contract: DatasetContract): Array<[string, string]> {
  const t = typedName(c);
  const v = rawName(c);
  const checks: Array<[string, string]> = [];
  const k = c.checks;
  if (k.allowedValues)
    checks.push([`${t} IN (${k.allowedValues.map(sqlString).join(', ')})`, `not one of ${k.allowedValues.join(', ')}`]);
  if (k.pattern) checks.push([`regexp_full_match(${v}, ${sqlString(k.pattern)})`, `does not match ${k.pattern}`]);
  if (k.min !== undefined) checks.push([`${t} >= ${literal(c, k.min)}`, `below minimum ${k.min}`]);
  if (k.max !== undefined) checks.push([`${t} <= ${literal(c, k.max)}`, `above maximum ${k.max}`]);
  if (k.maxLength !== undefined)
    checks.push([`length(${v}) <= ${k.maxLength}`, `longer than ${k.maxLength} characters`]);
  if (contract.partitionBy.some((p) => p.transform === 'identity' && p.source === c.name)) {
    checks.push([
      `regexp_full_match(${v}, '${PARTITION_SAFE}')`,
      `cannot be a partition value (letters, digits, _ . - only)`,
    ]);
  }
  return checks;
}

function columnValid(c: ColumnContract, contract: DatasetContract): string {
  const present = `${rawName(c)} IS NOT NULL`;
  const good = [`${typedName(c)} IS NOT NULL`, ...checkConditions(c, contract).map(([cond]) => cond)].join(' AND ');
  return c.required ? `(${present} AND ${good})` : `(${rawName(c)} IS NULL OR (${good}))`;
}

/** `is_valid` for a row: every column present when required, typed, and passing its checks. */
export function validExpression(contract: DatasetContract): string {
  return contract.columns.map((c) => columnValid(c, contract)).join(' AND ');
}

/** Reason codes of an invalid row, in contract column order, without repeats. */
function reasonsExpression(contract: DatasetContract): string {
  const items = contract.columns.flatMap((c) => {
    const missing = c.required ? [`CASE WHEN ${rawName(c)} IS NULL THEN '${RowReason.MISSING_REQUIRED}' END`] : [];
    return [
      ...missing,
      `CASE WHEN ${rawName(c)} IS NOT NULL AND NOT ${columnValid(c, contract)} THEN ${sqlString(c.invalidReason)} END`,
    ];
  });
  return `list_sort(list_distinct(list_filter([${items.join(', ')}], x -> x IS NOT NULL)))`;
}

function detailsExpression(contract: DatasetContract): string {
  const items = contract.columns.flatMap((c) => {
    const v = rawName(c);
    const out: string[] = [];
    if (c.required) out.push(`CASE WHEN ${v} IS NULL THEN ${sqlString(`${c.name}: required value is missing`)} END`);
    const shown = shownValue(c);
    out.push(
      `CASE WHEN ${v} IS NOT NULL AND ${typedName(c)} IS NULL THEN ${sqlString(`${c.name}: `)} || ${shown} || ${sqlString(` is not a valid ${c.typeText}`)} END`,
    );
    for (const [cond, rule] of checkConditions(c, contract)) {
      out.push(
        `CASE WHEN ${typedName(c)} IS NOT NULL AND NOT (${cond}) THEN ${sqlString(`${c.name}: `)} || ${shown} || ${sqlString(` ${rule}`)} END`,
      );
    }
    return out;
  });
  return `list_filter([${items.join(', ')}], x -> x IS NOT NULL)`;
}

/** How a source relation presents its records to the typing and validation query. */
export interface StagingSource {
  /** A relation yielding one row per source record, in file order. */
  relation: string;
  /** SQL for the raw text of a contract column's field (NULL when the source lacks it). */
  field: (binding: ColumnBinding) => string;
  /** SQL for the record's original values, kept for quarantined rows (a JSON object or the raw line). */
  original: string;
  /** When the record is structurally broken (e.g. a JSON line that is not an object): SQL condition and explanation. */
  malformed?: { condition: string; detail: string };
  /** Lines before the first record (1 for a CSV header), so reject line numbers become record numbers. */
  headerLines: number;
  /** SQL that is true for lines that are not records at all (blank lines): they are neither valid nor invalid. */
  skip?: string;
}

/**
 * The field without surrounding spaces, NULL when nothing is left — exactly `NULLIF(trim(field), '')`. trim
 * removes ASCII and Unicode spaces (NBSP, U+3000 …); for an all-ASCII field (bytes = characters) without a
 * space at either end it is the identity, and skipping its copy saves ~40% of the trimming (measured).
 */
function blankToNull(field: string): string {
  return `(CASE WHEN ${field} = '' THEN NULL WHEN strlen(${field}) = length(${field}) AND NOT (starts_with(${field}, ' ') OR ends_with(${field}, ' ')) THEN ${field} ELSE NULLIF(trim(${field}), '') END)`;
}

/**
 * Every source record with its raw fields (`v_<column>`), typed values (`t_<column>`) and `is_valid`
 * (NULL for skipped lines). The typing and validation of the engine — and of the benchmark's reference.
 */
export function validatedRelation(contract: DatasetContract, bindings: ColumnBinding[], source: StagingSource): string {
  // Fields are extracted once (for JSON Lines an extraction is a function call), then trimmed.
  const fields = bindings.map((b) => `${source.field(b)} AS ${fieldName(b.column)}`);
  const malformed = source.malformed?.condition ?? 'false';
  let valid = `CASE WHEN ${malformed} THEN false ELSE ${validExpression(contract)} END`;
  if (source.skip) valid = `CASE WHEN ${source.skip} THEN NULL ELSE ${valid} END`;
  const typed = typedFromFields(
    contract,
    bindings.map((b) => b.column),
    `(SELECT *, ${fields.join(', ')} FROM ${source.relation})`,
  );
  return `(SELECT *, ${valid} AS is_valid
  FROM ${typed})`;
}

/**
 * Over a relation holding the field text `f_<name>` of each of `fieldColumns`: adds their raw values `v_<name>`
 * (trimmed, NULL when blank) and every contract column's typed value `t_<name>`. The typing of the routed pass
 * and, over rejected rows only, of the quarantine session.
 */
function typedFromFields(contract: DatasetContract, fieldColumns: ColumnContract[], relation: string): string {
  const raws = fieldColumns.map((c) => `${blankToNull(fieldName(c))} AS ${rawName(c)}`);
  const typed = contract.columns.map((c) => `${typedExpression(c)} AS ${typedName(c)}`);
  return `(SELECT *, ${typed.join(', ')} FROM (SELECT *, ${raws.join(', ')} FROM ${relation}))`;
}

/** The typed value of a column in `validatedRelation`. */
export const typedColumn = (c: ColumnContract): string => typedName(c);

/**
 * The typed rows: one per record in file order, numbered as read (`__ordinal`, from the temporary sequence
 * `ordinal` the caller creates), with the silver columns and `__is_valid` (NULL for skipped lines). An invalid row
 * carries in `carrier` (a silver string column, or a scratch column NULL in every other row) what its quarantine
 * row is built from later, over the rejected rows only (`rejectionSql`): its ordinal, a space, then JSON of the
 * record's original values, each contract column's field text as read, and why the record is malformed when it is
 * (`REJECTED_PAYLOAD_SHAPE`). The ordinal comes first so the quarantine can number the rows without parsing their
 * JSON (`payloadOrdinal`); the JSON is read once (`payloadJson`). It is built in the CASE's branch, for rejected
 * rows only (a column of its own beside the rows, NULL for valid ones, cost ~1% of the pass filling in the NULLs).
 * Reasons and details are not computed here: their list functions cost as much per row batch as the typing
 * itself, and 99% of the batches hold few or no rejected rows. The engine's own names start with `__`, which no
 * contract column can (lower snake_case): no collision.
 */
export function typedRowsSql(
  contract: DatasetContract,
  bindings: ColumnBinding[],
  source: StagingSource,
  piiSalt: string,
  carrier: { column: string; scratch: boolean },
): string {
  const malformed = source.malformed
    ? `CASE WHEN ${source.malformed.condition} THEN ${sqlString(source.malformed.detail)} END`
    : 'CAST(NULL AS VARCHAR)';
  const fields = contract.columns.map((c) => fieldName(c));
  const rejected = `{'raw_record': CAST(${source.original} AS VARCHAR), 'malformed': ${malformed}, 'fields': [${fields.join(', ')}]}`;
  const payload = `CAST(__ordinal AS VARCHAR) || ' ' || CAST(to_json(${rejected}) AS VARCHAR)`;
  const carrying = (value: string): string => `CASE WHEN NOT is_valid THEN ${payload} ELSE ${value} END`;
  const outputs = contract.columns
    .filter((c) => c.pii !== 'drop')
    .map((c) => {
      const value = c.pii === 'hash' ? `sha256(${sqlString(piiSalt)} || ${typedName(c)})` : typedName(c);
      return `${c.name === carrier.column ? carrying(value) : value} AS ${ident(c.name)}`;
    });
  if (carrier.scratch) outputs.push(`${carrying('NULL')} AS ${ident(carrier.column)}`);
  return `SELECT ${outputs.join(', ')}, is_valid AS __is_valid
FROM (SELECT *, nextval('ordinal') AS __ordinal FROM ${validatedRelation(contract, bindings, source)})`;
}

/** A rejected row's ordinal from its payload (`typedRowsSql`) in `column`. */
export const payloadOrdinal = (column: string): string =>
  `CAST(substr(${column}, 1, strpos(${column}, ' ') - 1) AS BIGINT)`;

/** A rejected row's JSON from its payload (`typedRowsSql`) in `column`, for `REJECTED_PAYLOAD_SHAPE`. */
export const payloadJson = (column: string): string => `substr(${column}, strpos(${column}, ' ') + 1)`;

/** The JSON shape of a rejected row's payload (`payloadJson`), for `json_transform`. */
export const REJECTED_PAYLOAD_SHAPE = `{"raw_record": "VARCHAR", "malformed": "VARCHAR", "fields": ["VARCHAR"]}`;

/**
 * A rejected row's quarantine values from its payload (a relation of `ordinal` as `payloadOrdinal` reads it and
 * `raw_record`, `malformed`, `fields` as `REJECTED_PAYLOAD_SHAPE` reads `payloadJson`): the same typing and checks as the routed pass, so the
 * same reasons and details, computed over the rejected rows only.
 */
export function rejectionSql(contract: DatasetContract, payloads: string): string {
  const fields = contract.columns.map((c, i) => `fields[${i + 1}] AS ${fieldName(c)}`);
  const typed = typedFromFields(contract, contract.columns, `(SELECT *, ${fields.join(', ')} FROM (${payloads}))`);
  return `SELECT ordinal, raw_record,
  CASE WHEN malformed IS NOT NULL THEN ['${RowReason.MALFORMED_ROW}'] ELSE ${reasonsExpression(contract)} END AS reasons,
  CASE WHEN malformed IS NOT NULL THEN [malformed] ELSE ${detailsExpression(contract)} END AS details
FROM ${typed}`;
}

/**
 * A SELECT of one row, `value`: what silver holds for `raw` (SQL text of a VARCHAR) in column `c` — trimmed,
 * typed and, for a `hash` PII column, hashed with the salt exactly as an ingest does. NULL when `raw` is not a
 * valid value of the column's type. For finding rows by a value a person gives (erasure).
 */
export function silverValueSql(c: ColumnContract, raw: string, piiSalt: string): string {
  const typed = c.pii === 'hash' ? `sha256(${sqlString(piiSalt)} || ${typedName(c)})` : typedName(c);
  return `SELECT ${typed} AS value FROM (SELECT ${typedExpression(c)} AS ${typedName(c)} FROM (SELECT ${blankToNull(raw)} AS ${rawName(c)}))`;
}

/** Hive partition value of a row, as a zero-padded string. */
export function partitionExpression(p: PartitionField, columnRef: string): string {
  switch (p.transform) {
    case 'year':
      return `strftime(${columnRef}, '%Y')`;
    case 'month':
      return `strftime(${columnRef}, '%m')`;
    case 'day':
      return `strftime(${columnRef}, '%d')`;
    case 'identity':
      return `CAST(${columnRef} AS VARCHAR)`;
  }
}
