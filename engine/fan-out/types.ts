/** The records a fan-out ingest passes between its steps (JSON in the silver staging prefix). */
import type { SourceRef } from '../manifest.ts';
import type { InputSizes } from '../ingest.ts';

/** A run of whole records of the text, by byte range (`end` excluded); every chunk is read after the header bytes. */
export interface FanOutChunk {
  index: number;
  start: number;
  end: number;
}

/** A function of the source object alone: the same object always gives the same plan (and keys). */
export interface FanOutPlan {
  plan_version: 1;
  source: {
    bucket: string;
    key: string;
    version_id: string | null;
    etag: string | null;
    last_modified: string;
    size: number;
  };
  dataset: string;
  contract_version: string;
  source_id: string;
  run_id: string;
  started_at: string;
  /** Where the chunks read their bytes: the bronze object itself, or (gzip) its decompressed copy in silver staging. */
  text: { zone: 'bronze' | 'silver'; key: string; version_id: string | null };
  /**
   * JSON Lines: the silver key of the text's first lines (those the one pass samples its keys from, records
   * over the limit cut out), read by every chunk to bind its fields as the whole text binds; null for CSV.
   */
  key_sample: string | null;
  /** Bytes of the header line(s) at the start of the text: every chunk is read after them. */
  header_bytes: number;
  /** Records of the whole text as `record_number` counts them: the chunks must account for exactly these. */
  expected_rows: number;
  sizes: InputSizes;
  chunks: FanOutChunk[];
  staging_prefix: string;
}

/** What one chunk gave: its staged files and counts, numbered within the chunk. */
export interface FanOutChunkResult {
  index: number;
  run_id: string;
  /** The byte range of the text it transformed: a result of another plan (other chunk sizes) never counts. */
  range: { start: number; end: number };
  expected_rows: number;
  rows_in: number;
  rows_valid: number;
  rows_quarantined: number;
  reasons: Record<string, number>;
  partitions: Array<{
    values: string[];
    prefix: string;
    rows: number;
    files: Array<{ staging_key: string; bytes: number }>;
  }>;
  quarantine: { staging_key: string; rows: number } | null;
  columns: { matched: Record<string, string>; ignored: string[] };
  rejects_in_chunks: boolean;
  /** The chunk could not be read as the one pass would read it: the commit ingests the file in one pass instead. */
  rejection: { reason: string; detail: string } | null;
}

export function sourceOfPlan(plan: FanOutPlan): SourceRef {
  return {
    bucket: plan.source.bucket,
    key: plan.source.key,
    versionId: plan.source.version_id ?? undefined,
    etag: plan.source.etag ?? undefined,
    lastModified: new Date(plan.source.last_modified),
    size: plan.source.size,
  };
}
