/** The run manifest: one JSON object per source, the completion marker of an ingest. */
export interface SourceRef {
  bucket: string;
  key: string;
  /** S3 version id, when the bucket is versioned. */
  versionId?: string;
  etag?: string;
  /** When the object landed in bronze. Becomes `ingested_at`, so re-runs produce identical rows. */
  lastModified?: Date;
  size?: number;
}

export interface PartitionWritten {
  values: Record<string, string>;
  prefix: string;
  rows: number;
  files: string[];
}

export interface Manifest {
  manifest_version: 1;
  dataset: string;
  contract_version: string | null;
  run_id: string;
  source_id: string;
  source: { bucket: string; key: string; version_id: string | null; etag: string | null };
  /** `succeeded`: rows went to silver/quarantine. `rejected`: the whole file was quarantined. */
  status: 'succeeded' | 'rejected';
  rows_in: number;
  rows_valid: number;
  rows_quarantined: number;
  /** Rows (or the file, for a whole-file rejection) per reason code. A row with two reasons counts under both. */
  reasons: Record<string, number>;
  partitions: PartitionWritten[];
  quarantine: {
    records_key: string | null;
    file_key: string | null;
    file_reason: string | null;
    file_detail: string | null;
  };
  columns: { matched: Record<string, string>; ignored: string[] };
  bytes_in: number;
  bytes_in_uncompressed: number;
  bytes_out: number;
  compression: 'gzip' | 'none';
  ingested_at: string;
  started_at: string;
  finished_at: string;
  duration_ms: number;
  /** `rejects_in_chunks`: the file had more malformed records than one rejects pass holds, so they were read in chunks. */
  engine: {
    name: string;
    version: string;
    rejects_in_chunks: boolean;
    /** Record-aligned chunks the input was transformed in (1: one pass; 0: the file was rejected before). Absent in older manifests. */
    chunks?: number;
  };
  /**
   * Erasures that removed rows of this source after its ingest (absent when none). `rows_in`, `rows_valid` and
   * `rows_quarantined` stay what the ingest saw, so `rows_in = rows_valid + rows_quarantined` still holds; silver
   * now holds `rows_valid - Σ rows_valid_removed` of its rows, quarantine `rows_quarantined - Σ rows_quarantined_removed`.
   */
  erasures?: ManifestErasure[];
  /** Compactions that moved this source's silver rows into shared files (absent when none); `partitions[].files` name the files now. */
  compactions?: ManifestCompaction[];
  /**
   * The last removal, by a retry of this run, of what its intent record named and this (maintained) manifest does not
   * (engine/ingest.ts `settleMaintainedRun`). Absent when never.
   */
  settled?: ManifestSettlement;
}

/**
 * Written twice by a removal: first, over exactly the manifest read, so another run's publish that read it before
 * fails its own manifest write instead of publishing a file removed then; again once the files are gone, so the gold
 * refresh (which reads `settled_at` through `reflectedRun`) recomputes `months` — those the removed files held rows of,
 * which gold had counted, and this manifest does not name.
 */
export interface ManifestSettlement {
  settled_at: string;
  /** `YYYY-MM` of the removed silver files (year/month partitions; none otherwise). */
  months: string[];
}

export interface ManifestErasure {
  erasure_id: string;
  erased_at: string;
  /** The audit record (silver zone) with the predicate (value hashed), who asked and every file rewritten. */
  record_key: string;
  rows_valid_removed: number;
  rows_quarantined_removed: number;
  /**
   * The files (`<zone>/<key>`) whose removed rows are counted here, each once: recorded before the file is
   * replaced, so an interrupted erasure resumed under the same id neither misses nor double counts one.
   * Absent in older manifests.
   */
  files?: string[];
}

export interface ManifestCompaction {
  compaction_id: string;
  compacted_at: string;
  /** The shared file now holding this source's rows, and the files of this source it replaced. */
  file: string;
  replaced: string[];
}

/** Silver rows of a source still in the lake: its valid rows less those erased since. */
export function rowsValidNow(m: Pick<Manifest, 'rows_valid' | 'erasures'>): number {
  return m.rows_valid - (m.erasures ?? []).reduce((s, e) => s + e.rows_valid_removed, 0);
}

/**
 * What gold must have reflected of a source: its run, every erasure since, and its last removal of stale files
 * (`settled`). A gold refresh compares it with what it last reflected, so an erasure makes the months of the source's
 * rows recomputed (and a removal, the months of the files it removed too: engine/gold/plan.ts `settledMonths`).
 */
export function reflectedRun(m: Pick<Manifest, 'run_id' | 'erasures' | 'settled'>): string {
  const erasures = m.erasures ?? [];
  const run = erasures.length ? `${m.run_id}+${erasures.map((e) => e.erasure_id).join('+')}` : m.run_id;
  return m.settled ? `${run}+settled@${m.settled.settled_at}` : run;
}

/** An ingest's intent, in the silver zone while it publishes (see `pendingKey`). */
export interface PendingIngest {
  dataset: string;
  run_id: string;
  source: Manifest['source'];
  started_at: string;
  /**
   * Silver and quarantine keys of this source no manifest may name once the attempt dies: those it is about to write,
   * those of the manifest it replaces, and those of the record it replaces.
   */
  silver_keys: string[];
  quarantine_keys: string[];
  /** Shared (compacted) silver files holding rows of an earlier run of this source, which the attempt removes. */
  compacted_rows?: CompactedRows[];
  /** A fan-out ingest: the silver prefix holding its plan and staged chunk outputs (all deleted once it is committed). */
  staging_prefix?: string;
  /** Random, per attempt: no two attempts write the same record, so each deletes only its own (engine/intent.ts). */
  attempt_id?: string;
  /**
   * The removals of keys this record names that are in progress (engine/intent.ts `markRemoval`): until each is done,
   * no attempt of another run of the source starts publishing over it (`SourceSettlingError`), for a while
   * (`SETTLING_HOLD_MS`) past which its remover is taken to be dead. An attempt of the same run goes on and carries
   * them over; each is taken off by its own remover only.
   */
  removals?: RemovalMark[];
  /**
   * Left by an attempt that ended while others' removals it carried were still in progress: the record names no keys
   * (that attempt removed them all) and only holds other runs off until those removals end; their last deletes it.
   */
  hold_only?: true;
  /** One removal's mark as versions before `removals` wrote it (read as one entry of `removals`, never written). */
  settling_since?: string;
  /** The run of that mark. */
  settling_run?: string;
}

/** A removal in progress of keys an intent record names. */
export interface RemovalMark {
  /** Random, per removal: each remover takes off only its own. */
  id: string;
  /** When it began (ISO). */
  since: string;
  /** The run whose attempt removes: attempts of that run go on, others are held off. */
  run: string;
}

/** Rows of one run of a source in shared (compacted) silver files. */
export interface CompactedRows {
  run_id: string;
  keys: string[];
}

export function quarantineRate(m: Pick<Manifest, 'rows_in' | 'rows_quarantined'>): number {
  return m.rows_in === 0 ? 0 : m.rows_quarantined / m.rows_in;
}
