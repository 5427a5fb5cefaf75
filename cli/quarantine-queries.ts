/**
 * The SQL behind `lake quarantine`, in the subset Athena and DuckDB run alike, over `quarantine.<dataset>`.
 * Whole-file rejections are the records without a record number.
 */
import { type ContractRegistry, FileReason, RowReason, UNKNOWN_DATASET } from '../engine/contract/index.ts';
import { sqlString } from '../engine/gold/index.ts';
import { UserError } from './errors.ts';

const literal = sqlString;
/** `value` with LIKE's wildcards escaped (Athena and DuckDB both take `ESCAPE '\\'`). */
const likeEscaped = (value: string): string => value.replace(/[\\%_]/g, (c) => `\\${c}`);

export interface QuarantineFilter {
  reason?: string;
  source?: string;
}

/** Every reason code the contracts and the engine can give. */
export function knownReasons(contracts: ContractRegistry): string[] {
  const fromContracts = contracts.contracts.flatMap((c) => c.columns.map((col) => col.invalidReason));
  return [...new Set([...Object.values(RowReason), ...fromContracts, ...Object.values(FileReason)])].sort();
}

export function normalizeReason(reason: string, contracts: ContractRegistry): string {
  const upper = reason.trim().toUpperCase();
  const known = knownReasons(contracts);
  if (!known.includes(upper)) throw new UserError(`unknown reason "${reason}"`, `reasons: ${known.join(', ')}`);
  return upper;
}

/** The quarantine tables to read: one dataset, or all of them (with `unknown_dataset`, for files no contract owns). */
export function quarantineRelation(tables: readonly string[]): string {
  const parts = tables.map(
    (t) =>
      `SELECT q.dataset, q.source_bucket, q.source_key, q.source_version, q.record_number, q.reasons, q.details, q.raw_record, q.ingested_at FROM quarantine."${t}" q`,
  );
  return parts.length === 1 ? `(${parts[0]})` : `(${parts.join('\nUNION ALL\n')})`;
}

export function quarantineTables(contracts: ContractRegistry, dataset?: string): string[] {
  return dataset ? [dataset] : [...contracts.names(), UNKNOWN_DATASET];
}

function where(filter: QuarantineFilter, extra: string[] = []): string {
  const conditions = [...extra];
  if (filter.reason) conditions.push(`contains(q.reasons, ${literal(filter.reason)})`);
  if (filter.source) {
    conditions.push(
      `(q.source_key = ${literal(filter.source)} OR q.source_key LIKE ${literal(`%/${likeEscaped(filter.source)}`)} ESCAPE '\\')`,
    );
  }
  return conditions.length ? `WHERE ${conditions.join(' AND ')}` : '';
}

export function reasonSummarySql(relation: string, filter: QuarantineFilter): string {
  return `SELECT t.reason, COUNT(*) AS quarantined_rows, COUNT(DISTINCT q.source_key) AS sources
FROM ${relation} q
CROSS JOIN UNNEST(q.reasons) AS t(reason)
${where(filter, ['q.record_number IS NOT NULL'])}
GROUP BY t.reason
ORDER BY quarantined_rows DESC, t.reason`;
}

export function sourceSummarySql(relation: string, filter: QuarantineFilter): string {
  return `SELECT q.source_key, COUNT(*) AS quarantined_rows, MIN(q.ingested_at) AS ingested_at
FROM ${relation} q
${where(filter, ['q.record_number IS NOT NULL'])}
GROUP BY q.source_key
ORDER BY quarantined_rows DESC, q.source_key`;
}

export function rejectedFilesSql(relation: string, filter: QuarantineFilter): string {
  return `SELECT q.dataset, q.source_bucket, q.source_key, q.source_version, q.reasons, q.details, q.ingested_at
FROM ${relation} q
${where(filter, ['q.record_number IS NULL'])}
ORDER BY q.ingested_at DESC, q.source_key`;
}

export function recordsSql(relation: string, filter: QuarantineFilter, limit: number): string {
  return `SELECT q.source_key, q.record_number, q.reasons, q.details, q.raw_record
FROM ${relation} q
${where(filter, ['q.record_number IS NOT NULL'])}
ORDER BY q.source_key, q.record_number
LIMIT ${Math.floor(limit)}`;
}

export function countSql(relation: string, filter: QuarantineFilter): string {
  return `SELECT COUNT(*) AS n FROM ${relation} q ${where(filter, ['q.record_number IS NOT NULL'])}`;
}
