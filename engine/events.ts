/**
 * Producer feedback: every ingest that ends with a manifest is announced as one event, so a dataset's owner
 * learns at once that a file was taken, partly rejected or rejected whole. The engine builds the event and
 * hands it to an `EventPublisher` port (EventBridge on AWS, a JSON Lines log in the local lake).
 */
import { manifestKey } from './layout.ts';
import type { Manifest } from './manifest.ts';

/** EventBridge `source` of every lake event. */
export const LAKE_EVENT_SOURCE = 'medallion.lake';

export const IngestEventType = {
  COMPLETED: 'Ingest Completed',
  REJECTED: 'Ingest Rejected',
} as const;
export type IngestEventType = (typeof IngestEventType)[keyof typeof IngestEventType];

/** `completed`: every row valid; `completed_with_rejects`: some rows quarantined; `rejected`: the whole file quarantined. */
export type IngestOutcome = 'completed' | 'completed_with_rejects' | 'rejected';

export interface IngestEventDetail {
  dataset: string;
  /** The contract's `owner` (`unknown` when no contract owns the key): what owner-specific routing matches on. */
  owner: string;
  status: IngestOutcome;
  source: { bucket: string; key: string; version_id: string | null };
  /** Silver key of the run's manifest. */
  manifest_key: string;
  run_id: string;
  contract_version: string | null;
  rows_in: number;
  rows_valid: number;
  rows_quarantined: number;
  /** Rows (or the file) per reason code. */
  reasons: Record<string, number>;
  file_reason: string | null;
  file_detail: string | null;
  quarantine_key: string | null;
  ingested_at: string;
  finished_at: string;
}

export interface LakeEvent {
  source: typeof LAKE_EVENT_SOURCE;
  detailType: IngestEventType;
  /** When the event happened (the manifest's finish time). */
  time: Date;
  detail: IngestEventDetail;
}

/** Publishes lake events. Throws when an event could not be delivered (the ingest is then retried). */
export interface EventPublisher {
  publish(event: LakeEvent): Promise<void>;
}

/** The event announcing a finished ingest. */
export function ingestEvent(manifest: Manifest, owner: string): LakeEvent {
  const status: IngestOutcome =
    manifest.status === 'rejected'
      ? 'rejected'
      : manifest.rows_quarantined > 0
        ? 'completed_with_rejects'
        : 'completed';
  return {
    source: LAKE_EVENT_SOURCE,
    detailType: status === 'rejected' ? IngestEventType.REJECTED : IngestEventType.COMPLETED,
    time: new Date(manifest.finished_at),
    detail: {
      dataset: manifest.dataset,
      owner,
      status,
      source: { bucket: manifest.source.bucket, key: manifest.source.key, version_id: manifest.source.version_id },
      manifest_key: manifestKey(manifest.dataset, manifest.source_id),
      run_id: manifest.run_id,
      contract_version: manifest.contract_version,
      rows_in: manifest.rows_in,
      rows_valid: manifest.rows_valid,
      rows_quarantined: manifest.rows_quarantined,
      reasons: { ...manifest.reasons },
      file_reason: manifest.quarantine.file_reason,
      file_detail: manifest.quarantine.file_detail,
      quarantine_key: manifest.quarantine.file_key ?? manifest.quarantine.records_key,
      ingested_at: manifest.ingested_at,
      finished_at: manifest.finished_at,
    },
  };
}
