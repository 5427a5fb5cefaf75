/**
 * The quarantine of one source: every rejected row (from the routed pass's scratch partition) and every
 * malformed record (from the rejects pass), numbered by record, or one record for a whole-file rejection.
 */
import { writeFile } from 'node:fs/promises';
import type { DuckDBConnection } from '@duckdb/node-api';
import type { DatasetContract } from './contract/types.ts';
import { queryRows } from './duckdb.ts';
import type { HeaderMatch } from './header.ts';
import type { Malformed, InputScan, NumberedOversizeRecord } from './reader.ts';
import { RowReason } from './reasons.ts';
import { ident, payloadJson, payloadOrdinal, REJECTED_PAYLOAD_SHAPE, rejectionSql, sqlString } from './sql.ts';
import { quarantineStampSelect, timestampLiteral, type RunStamp } from './stamp.ts';

/**
 * A quarantine row's columns, in order: the source identity, then the given record number, reasons, details
 * and raw record (SQL expressions), then when the object landed. Every writer of quarantine rows uses it.
 */
export function quarantineRowSelect(
  stamp: RunStamp,
  row: { recordNumber: string; reasons: string; details: string; rawRecord: string },
): string {
  return `${quarantineStampSelect(stamp)}, CAST(${row.recordNumber} AS BIGINT) AS record_number, ${row.reasons} AS reasons, ${row.details} AS details,
           ${row.rawRecord} AS raw_record, ${timestampLiteral(stamp.ingestedAt)} AS ingested_at`;
}

/** Quarantine rows are wide and unbounded (original values, details): small row groups keep the writer's buffer small (20,000 rows of 2 KB records ran out of memory). */
export const QUARANTINE_ROW_GROUP_SIZE = 2_048;

/**
 * Views for the quarantine session: `rejected` (each rejected row's ordinal, reasons, details and raw
 * record, computed from its payload), `rejected_ordinals` (their ordinals alone, read without parsing the
 * payloads' JSON) and `malformed` (record numbers not counting blank lines, which the reader counts as lines).
 */
export async function attachRejected(
  db: DuckDBConnection,
  contract: DatasetContract,
  rejected: { files: readonly string[]; payloadColumn: string },
  malformed: Malformed,
  scan: InputScan,
): Promise<void> {
  if (rejected.files.length === 0) {
    await db.run(
      `CREATE TEMP VIEW rejected AS SELECT CAST(NULL AS BIGINT) AS ordinal, CAST(NULL AS VARCHAR[]) AS reasons, CAST(NULL AS VARCHAR[]) AS details, CAST(NULL AS VARCHAR) AS raw_record WHERE false`,
    );
    await db.run(`CREATE TEMP VIEW rejected_ordinals AS SELECT ordinal FROM rejected`);
  } else {
    const payload = ident(rejected.payloadColumn);
    const scratch = `read_parquet([${rejected.files.map(sqlString).join(', ')}])`;
    const payloads = `SELECT ordinal, p.raw_record, p.malformed, p.fields
      FROM (SELECT ${payloadOrdinal(payload)} AS ordinal, json_transform(${payloadJson(payload)}, '${REJECTED_PAYLOAD_SHAPE}') AS p FROM ${scratch})`;
    await db.run(
      `CREATE TEMP VIEW rejected AS SELECT ordinal, reasons, details, raw_record FROM (${rejectionSql(contract, payloads)})`,
    );
    await db.run(`CREATE TEMP VIEW rejected_ordinals AS SELECT ${payloadOrdinal(payload)} AS ordinal FROM ${scratch}`);
  }
  if (malformed.files.length === 0) {
    await db.run(`CREATE TEMP VIEW malformed AS
      SELECT CAST(NULL AS BIGINT) AS record_number, CAST(NULL AS VARCHAR[]) AS details, CAST(NULL AS VARCHAR) AS raw_record WHERE false`);
    return;
  }
  const files = `read_parquet([${malformed.files.map(sqlString).join(', ')}])`;
  if (!scan.blankLinesFile) {
    await db.run(`CREATE TEMP VIEW malformed AS SELECT record_number, details, raw_record FROM ${files}`);
    return;
  }
  // For each malformed record, the last blank line before it says how many blank lines to discount.
  const blanks = `read_csv(${sqlString(scan.blankLinesFile)}, header = false, auto_detect = false, columns = {'blank_at': 'BIGINT', 'blanks_before': 'BIGINT'})`;
  await db.run(`CREATE TEMP VIEW malformed AS
    SELECT m.record_number - coalesce(b.blanks_before, 0) AS record_number, m.details, m.raw_record
    FROM ${files} m ASOF LEFT JOIN ${blanks} b ON m.record_number > b.blank_at`);
}

/** An oversize record as its quarantine row shows it. */
export interface OversizeRow {
  record_number: number;
  details: string[];
  /** Its first bytes, PII fields redacted; null when they cannot be redacted (JSON Lines of a dataset with PII). */
  raw_record: string | null;
}

/**
 * The fields of the start of a CSV record, split as DuckDB's reader splits them: a quote opens a field only at
 * its start and closes it before a delimiter (a doubled quote inside is one quote). Undefined when a quote
 * stands anywhere else — the reader's fields cannot be told apart for sure.
 */
export function headFields(head: string, delimiter: string): string[] | undefined {
  const fields: string[] = [];
  let field = '';
  let atStart = true;
  let quoted = false;
  for (let i = 0; i < head.length; i++) {
    const ch = head[i] as string;
    if (quoted) {
      if (ch !== '"') field += ch;
      else if (head[i + 1] === '"') {
        field += '"';
        i++;
      } else if (i + 1 === head.length || head[i + 1] === delimiter) quoted = false;
      else return undefined; // a closing quote followed by more of the field
    } else if (ch === '"') {
      if (!atStart) return undefined; // a quote inside an unquoted field: the reader keeps it, this cannot vouch
      quoted = true;
      atStart = false;
    } else if (ch === delimiter) {
      fields.push(field);
      field = '';
      atStart = true;
    } else {
      field += ch;
      atStart = false;
    }
  }
  fields.push(field); // the last, possibly cut off
  return fields;
}

/** The start of a CSV record with every PII-bound field replaced; undefined when its fields cannot be told apart. */
function redactCsvHead(head: string, header: HeaderMatch, delimiter: string): string | undefined {
  const fields = headFields(head, delimiter);
  if (!fields) return undefined;
  const quote = (f: string): string => (/["\r\n]/.test(f) || f.includes(delimiter) ? `"${f.replace(/"/g, '""')}"` : f);
  return fields
    .map((field, i) => {
      const pii = header.bindings.find((b) => b.sourceIndex === i)?.column.pii ?? 'none';
      return pii === 'none' ? quote(field) : `<${pii === 'hash' ? 'hashed' : 'dropped'} PII>`;
    })
    .join(delimiter);
}

/**
 * The quarantine rows of records cut out for exceeding the record limit: their size and first bytes. For a
 * dataset with PII columns the first bytes are shown only when every PII field in them can be redacted.
 */
export function describeOversize(
  contract: DatasetContract,
  header: HeaderMatch,
  records: ReadonlyArray<NumberedOversizeRecord & { head: string }>,
  limit: number,
): OversizeRow[] {
  const hasPii = contract.columns.some((c) => c.pii !== 'none');
  const csv = contract.source.format === 'csv';
  return records.map((record) => {
    const redacted = !hasPii
      ? record.head
      : csv && header.bindings.length > 0
        ? redactCsvHead(record.head, header, contract.source.delimiter)
        : undefined;
    const shown =
      redacted === undefined
        ? 'its bytes are withheld (the dataset has PII columns and their fields in it cannot be told apart for sure)'
        : `raw_record holds its first ${record.head.length} characters`;
    return {
      record_number: record.recordNumber,
      details: [`the record is ${record.bytes} bytes, over the ${limit}-byte record limit; ${shown}`],
      raw_record: redacted ?? null,
    };
  });
}

/**
 * Views for the quarantine session: `oversize` (rows of records cut out of the input) and `record_shift`
 * (from which record number of the cut input how many cut records precede, to number the other rows as in
 * the original input).
 */
export async function attachOversize(db: DuckDBConnection, rows: readonly OversizeRow[], path: string): Promise<void> {
  await writeFile(path, rows.map((r) => JSON.stringify(r)).join('\n'));
  const columns = `{'record_number': 'BIGINT', 'details': 'VARCHAR[]', 'raw_record': 'VARCHAR'}`;
  await db.run(
    rows.length === 0
      ? `CREATE TEMP VIEW oversize AS SELECT CAST(NULL AS BIGINT) AS record_number, CAST(NULL AS VARCHAR[]) AS details, CAST(NULL AS VARCHAR) AS raw_record WHERE false`
      : `CREATE TEMP VIEW oversize AS SELECT * FROM read_json(${sqlString(path)}, format = 'newline_delimited', columns = ${columns})`,
  );
  // The i-th cut record (1-based) numbered o: records of the cut input from o - i + 1 on come after i cut ones.
  await db.run(`CREATE TEMP VIEW record_shift AS
    SELECT from_record, max(shift) AS shift FROM (
      SELECT record_number - row_number() OVER (ORDER BY record_number) + 1 AS from_record, row_number() OVER (ORDER BY record_number) AS shift FROM oversize)
    GROUP BY from_record`);
}

export async function writeQuarantine(
  db: DuckDBConnection,
  stamp: RunStamp,
  malformedRows: number,
  path: string,
  /** Records (as `record_number` counts them) before the text's first: a chunk's rows are numbered in the whole text. */
  recordOffset = 0,
): Promise<number> {
  const invalid = `SELECT ordinal, reasons, details, raw_record FROM rejected`;
  // Rows are numbered among the records the reader yielded: shift each past the malformed records before it.
  // `good_before` is how many well-formed records precede the k-th malformed one; an ASOF join finds, for each
  // rejected row, the last malformed record before it. Only ordinals take part (narrow, sorts spill to disk),
  // and no step holds every rejected row in memory.
  const rowLevel =
    malformedRows === 0
      ? `SELECT ordinal AS record_number, reasons, details, raw_record FROM (${invalid})`
      : `SELECT n.record_number, i.reasons, i.details, i.raw_record
         FROM (${invalid}) i
         JOIN (
           SELECT o.ordinal, o.ordinal + coalesce(g.k, 0) AS record_number
           FROM rejected_ordinals o
           ASOF LEFT JOIN (
             SELECT good_before, max(k) AS k FROM (
               SELECT record_number - row_number() OVER (ORDER BY record_number) AS good_before, row_number() OVER (ORDER BY record_number) AS k
               FROM malformed)
             GROUP BY good_before
           ) g ON o.ordinal > g.good_before
         ) n USING (ordinal)`;
  // Row-level rejections, then malformed records; no global sort (it would hold every rejected row in memory).
  // Readers order by record_number.
  const all = `${rowLevel}
      UNION ALL
      SELECT record_number, ['${RowReason.MALFORMED_ROW}'], details, raw_record FROM malformed`;
  const sql = `COPY (
    SELECT ${quarantineRowSelect(stamp, { recordNumber: `record_number + ${recordOffset}`, reasons: 'reasons', details: 'details', rawRecord: 'raw_record' })}
    FROM (${all})
  ) TO ${sqlString(path)} (FORMAT parquet, COMPRESSION zstd, ROW_GROUP_SIZE ${QUARANTINE_ROW_GROUP_SIZE})`;
  const rows = await queryRows(db, sql);
  return Number(rows[0]?.Count ?? 0);
}

/** Whole-file rejection: one quarantine record saying why. */
export async function writeFileRejection(
  db: DuckDBConnection,
  stamp: RunStamp,
  reason: string,
  detail: string,
  path: string,
): Promise<void> {
  await db.run(`COPY (
    SELECT ${quarantineRowSelect(stamp, { recordNumber: 'NULL', reasons: `[${sqlString(reason)}]`, details: `[${sqlString(detail)}]`, rawRecord: 'CAST(NULL AS VARCHAR)' })}
  ) TO ${sqlString(path)} (FORMAT parquet, COMPRESSION zstd)`);
}
