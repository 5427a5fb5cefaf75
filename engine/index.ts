/**
 * The engine's public face: the only module code outside `engine/` imports, besides the two DuckDB-free
 * sub-area faces (`engine/contract/index.ts`: contracts, layout, manifests, ports; `engine/gold/index.ts`: the
 * generic gold machinery), which CDK code and functions that never run an ingest import instead. Loading this
 * module loads DuckDB. Enforced by `no-restricted-imports` in eslint.config.js.
 */
export * from './contract/index.ts';
export * from './gold/index.ts';
export * from './ingest.ts';
export type { PhaseObserver } from './phases.ts';
export * from './sql.ts';
export { DUCKDB_VERSION, openDuckDb, queryRows, type DuckDbSession, type DuckDbSettings } from './duckdb.ts';
export { prepareCsv } from './sources/csv.ts';
export { DEFAULT_REJECTS_LIMITS, type RejectsLimits } from './reader.ts';
export { DEFAULT_MAX_RECORD_BYTES } from './sources/oversize.ts';
export { DEFAULT_EXPANSION_LIMITS, GZIP_MAGIC, isGzip, type ExpansionLimits } from './spool.ts';
export { MAX_SOURCE_COLUMNS } from './header.ts';
export { DEFAULT_CHUNKING, type ChunkingOptions } from './chunks/plan.ts';
export { isNoHardLinks, linkedFile } from './local-files.ts';
export * from './fan-out/index.ts';
export {
  parseEqualityPredicate,
  PredicateError,
  MaintenanceInputError,
  type EqualityPredicate,
} from './maintenance/predicate.ts';
export {
  eraseRows,
  BRONZE_ERASURE_POLICY,
  type EraseOptions,
  type ErasureRecord,
  type ErasedFile,
  type ErasedSource,
} from './maintenance/erase.ts';
export {
  compactDataset,
  DEFAULT_COMPACTION_TARGET_BYTES,
  type CompactOptions,
  type CompactionReport,
  type CompactedGroup,
} from './maintenance/compact.ts';
export { removeRunFromFile } from './maintenance/rewrite.ts';
export { IntentContendedError, RecordTakenOverError, SETTLING_HOLD_MS, SourceSettlingError } from './intent.ts';
export {
  acquireMaintenanceLease,
  DEFAULT_MAINTENANCE_LEASE_TTL_MS,
  describeLease,
  isStaleLease,
  MaintenanceLeaseHeldError,
  readMaintenanceLease,
  releaseLeaseOfGoneHolder,
  releaseMaintenanceLease,
  withMaintenanceLease,
  type LeaseHolderGone,
  type LeaseOwner,
  type LeaseRelease,
  type LeaseTakeover,
  type SerializeTakeover,
  type MaintenanceLease,
  type MaintenanceOperation,
} from './maintenance/lease.ts';
export {
  unfinishedMaintenance,
  type HeldLease,
  type InterruptedCompaction,
  type InterruptedErasure,
  type UnfinishedMaintenance,
} from './maintenance/interrupted.ts';
