/** Where things live inside the zones. One place, so the engine, catalog, CLI and infrastructure agree. */
import type { PartitionField } from './contract/types.ts';

/**
 * The pseudo-dataset of objects no contract owns. A snake_case name (reserved: no contract may take it),
 * not `_unknown`: Athena skips paths starting with `_`, and its quarantine table must be readable.
 */
export const UNKNOWN_DATASET = 'unknown_dataset';

/** Prefix of a dataset's silver table (the Glue table location). */
export function silverTablePrefix(dataset: string): string {
  return `${dataset}/`;
}

export function partitionPrefix(dataset: string, fields: readonly PartitionField[], values: readonly string[]): string {
  return `${dataset}/${fields.map((f, i) => `${f.name}=${values[i]}`).join('/')}${fields.length ? '/' : ''}`;
}

/** Deterministic silver file name: one source never collides with another, and a re-run reuses the name. */
export function silverFileName(sourceId: string, fileIndex: number): string {
  return `part-${sourceId}-${String(fileIndex).padStart(5, '0')}.parquet`;
}

/** Manifests live in the silver zone under `_manifests/` (Athena skips names starting with `_`). */
export function manifestKey(dataset: string, sourceId: string): string {
  return `_manifests/${dataset}/${sourceId}.json`;
}

export const MANIFESTS_PREFIX = '_manifests/';

/**
 * Intent records: written before an ingest uploads anything, removed once its manifest is in place. One
 * left behind names the files of an attempt that never finished (readable in silver, described by no
 * manifest); the next successful run of that source removes them. Not under `_manifests/`, whose new
 * objects trigger the gold refresh.
 */
export const PENDING_PREFIX = '_pending/';

export function pendingKey(dataset: string, sourceId: string): string {
  return `${PENDING_PREFIX}${dataset}/${sourceId}.json`;
}

/** Prefix of a dataset's quarantine table (rejected records and files, as Parquet). */
export function quarantineRecordsPrefix(dataset: string): string {
  return `${dataset}/records/`;
}

export function quarantineRecordsKey(dataset: string, sourceId: string): string {
  return `${quarantineRecordsPrefix(dataset)}part-${sourceId}.parquet`;
}

/** A copy of a whole rejected file, kept next to its quarantine record. */
export function quarantineFileKey(dataset: string, sourceId: string, sourceKey: string): string {
  const base = sourceKey.split('/').pop() || 'object';
  return `${dataset}/files/${sourceId}/${base}`;
}


