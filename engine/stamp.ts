/** What every output row of one ingest is stamped with: lineage in silver, source identity in quarantine. */
import { sqlString } from './sql.ts';

/** Lineage and identity values stamped on every output row. */
export interface RunStamp {
  dataset: string;
  bucket: string;
  key: string;
  version: string | null;
  runId: string;
  sourceId: string;
  /** Version of the contract the rows are validated with (null when no contract owns the key). */
  contractVersion: string | null;
  ingestedAt: Date;
}

export const timestampLiteral = (d: Date): string =>
  `CAST(TIMESTAMP ${sqlString(d.toISOString().replace('T', ' ').replace('Z', ''))} AS TIMESTAMP_MS)`;

/** Columns shared by every quarantine record, row-level or whole-file. */
export function quarantineStampSelect(stamp: RunStamp): string {
  return [
    `${sqlString(stamp.dataset)} AS dataset`,
    `${sqlString(stamp.bucket)} AS source_bucket`,
    `${sqlString(stamp.key)} AS source_key`,
    `${stamp.version === null ? 'CAST(NULL AS VARCHAR)' : sqlString(stamp.version)} AS source_version`,
    `${sqlString(stamp.runId)} AS ingest_run_id`,
  ].join(', ');
}
