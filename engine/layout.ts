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

/** A fan-out ingest's pieces until its commit (engine/fan-out/keys.ts), outside every table location. */
export const STAGING_PREFIX = '_staging/';

export function pendingKey(dataset: string, sourceId: string): string {
  return `${PENDING_PREFIX}${dataset}/${sourceId}.json`;
}

/** The intent record key of the source whose manifest is under `manifestKey` (`manifestKey`'s twin). */
export function pendingKeyOfManifest(manifestKey: string): string {
  if (!manifestKey.startsWith(MANIFESTS_PREFIX)) throw new Error(`not a manifest key: ${manifestKey}`);
  return `${PENDING_PREFIX}${manifestKey.slice(MANIFESTS_PREFIX.length)}`;
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

/**
 * The audit trail of erasures, in the silver zone (Athena skips names starting with `_`): one JSON record per
 * erasure, written when it starts and rewritten when it completes. It holds no erased value, only its hash.
 */
export const ERASURES_PREFIX = '_audit/erasures/';

export function erasureRecordKey(dataset: string, erasureId: string): string {
  return `${ERASURES_PREFIX}${dataset}/${erasureId}.json`;
}

/**
 * Intent records of compactions (silver zone): written before a compacted file is uploaded, removed once its
 * inputs are gone. One left behind is finished (or undone) by the next compaction of the dataset.
 */
export const COMPACTIONS_PREFIX = '_maintenance/compactions/';

export function compactionIntentKey(dataset: string, compactionId: string): string {
  return `${COMPACTIONS_PREFIX}${dataset}/${compactionId}.json`;
}

/** Maintenance leases (engine/maintenance/lease.ts): one object per dataset while an erasure or compaction holds it. */
export const MAINTENANCE_LEASES_PREFIX = '_maintenance/leases/';

export function maintenanceLeaseKey(dataset: string): string {
  return `${MAINTENANCE_LEASES_PREFIX}${dataset}.json`;
}

/** Records of compacted files (which runs' rows each holds), kept while the file exists: see compact.ts `repair`. */
export const COMPACTED_PREFIX = '_maintenance/compacted/';

export function compactedRecordKey(dataset: string, compactionId: string): string {
  return `${COMPACTED_PREFIX}${dataset}/${compactionId}.json`;
}

/** How every compacted file's name begins (an IAM key pattern grants reading them alone). */
export const COMPACTED_FILE_PREFIX = 'part-compacted-';

/** A compacted file: named by its inputs (a re-run of the same compaction writes the same key), never by a source id. */
export function compactedFileName(compactionId: string): string {
  return `${COMPACTED_FILE_PREFIX}${compactionId}.parquet`;
}

export const isCompactedFile = (key: string): boolean => /\/part-compacted-[0-9a-f]+\.parquet$/.test(key);
