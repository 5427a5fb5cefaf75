import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ContractRegistry } from './contract/load.ts';
import type { DatasetContract } from './contract/types.ts';
import { DUCKDB_VERSION, memoryLimitRefusal, withDuckDb, type DuckDbSettings } from './duckdb.ts';
import { runId, sourceId, sourceVersion, normalizeEtag } from './identity.ts';
import {
  isCompactedFile,
  manifestKey,
  pendingKey,
  quarantineFileKey,
  quarantineRecordsKey,
  UNKNOWN_DATASET,
} from './layout.ts';
import { editSilverRecord, monthOfKey } from './maintenance/files.ts';
import { removeRunFromFile } from './maintenance/rewrite.ts';
import {
  carriedMarks,
  deleteIntentAsRead,
  endRemoval,
  intentText,
  isSettling,
  markRemoval,
  ownedBy,
  readIntent,
  RecordTakenOverError,
  releaseRecord,
  withdrawIntent,
  writeIntent,
  type MarkedRemoval,
  type ReadIntent,
} from './intent.ts';
import {
  MaintenanceLeaseHeldError,
  readMaintenanceLease,
  releaseLeaseOfGoneHolder,
  type LeaseTakeover,
} from './maintenance/lease.ts';
import type { CompactedRows, Manifest, PendingIngest, SourceRef } from './manifest.ts';
import {
  ObjectChangedError,
  ObjectExistsError,
  type Catalog,
  type ObjectStore,
  type TaggedBytes,
  type Zone,
} from './ports.ts';
import { parseSilverRecord, readSilverRecord } from './manifest-reader.ts';
import { ingestEvent, type EventPublisher } from './events.ts';
import { EngineInvariantError, FileRejection, FileReason } from './reasons.ts';
import {
  decodeText,
  GrowingFile,
  isGzip,
  readBytes,
  SNIFF_BYTES,
  placeLocalFile,
  spoolRaw,
  type ExpansionLimits,
  type RawInput,
  type SpooledInput,
} from './spool.ts';
import { DEFAULT_MAX_RECORD_BYTES, READER_MAX_LINE_BYTES } from './sources/oversize.ts';
import type { RejectsLimits } from './reader.ts';
import { writeFileRejection } from './quarantine.ts';
import type { RunStamp } from './stamp.ts';
import { DEFAULT_CHUNKING, type ChunkingOptions } from './chunks/plan.ts';
import { transformToLocal, type LocalOutputFile, type TransformOptions, type TransformResult } from './transform.ts';
import { inPool } from './pool.ts';
import { timed, type PhaseObserver } from './phases.ts';

export interface IngestOptions {
  contracts: ContractRegistry;
  store: ObjectStore;
  catalog: Catalog;
  /** Scratch directory for the input (spooled, or linked) and scratch output (Lambda: /tmp). @default os.tmpdir() */
  workDir?: string;
  /** DuckDB memory limit; beyond it DuckDB spills to the work directory. @default '128MB' */
  memoryLimit?: string;
  /**
   * Chunks of a large input transformed at once, each in its own single-threaded DuckDB session (so each
   * writes deterministic bytes). Memory grows with it (the budget: `shedAbove`): peak RSS 316–359 MB at one session
   * (2M to 10M rows), 423–532 MB at two (2M to 90M rows). @default 1
   */
  threads?: number;
  /** How a large input is cut into record-aligned chunks (a function of the input, never of `threads`). @default DEFAULT_CHUNKING */
  chunking?: ChunkingOptions;
  /**
   * Resident bytes above which a session's DuckDB instance gives its reusable buffers back after a chunk.
   * @default shedAbove(sessions, memoryLimit)
   */
  shedAboveBytes?: number;
  /** Salt for PII `hash` columns. @default '' */
  piiSalt?: string;
  /** Uploads in flight at once. @default DEFAULT_UPLOAD_CONCURRENCY (16) */
  uploadConcurrency?: number;
  /** When the rejects pass reads a file in chunks instead of whole (many malformed records). @default DEFAULT_REJECTS_LIMITS */
  rejectsLimits?: RejectsLimits;
  /** Longer records are quarantined as RECORD_TOO_LARGE with their first bytes. @default DEFAULT_MAX_RECORD_BYTES (1 MiB) */
  maxRecordBytes?: number;
  /** How far a gzip may expand before the file is rejected as EXPANSION_LIMIT. @default DEFAULT_EXPANSION_LIMITS */
  expansionLimits?: ExpansionLimits;
  /**
   * Where the run's `Ingest Completed`/`Ingest Rejected` event goes, once its manifest is written. A failed
   * publish fails the ingest (a retry re-publishes: delivery is at least once; `run_id` identifies the run).
   * @default none: no event
   */
  events?: EventPublisher;
  /**
   * The most text (bytes, uncompressed) one invocation transforms. A larger text is rejected whole as
   * `TOO_LARGE_FOR_ONE_PASS` (the original kept in quarantine) instead of transformed: the fan-out's
   * one-pass fallbacks set it to the routing threshold, as the objects they see were sent there because
   * one pass would not finish in time. @default none: any size is transformed
   */
  onePassMaxBytes?: number;
  /**
   * A maintenance lease left by a dead process (the local lake: its holder's pid is gone) is released by the
   * publish, which goes on instead of backing off. @default none: any lease held backs off
   */
  leaseTakeover?: LeaseTakeover;
  /**
   * Told of each phase of the ingest as it ends (spool — `input placed` for a local file —, transform and its parts,
   * publish, cleanup); a transform that
   * followed the spool is `transform while spooling`, and is followed by a `transform` when it was discarded.
   * @default none
   */
  onPhase?: PhaseObserver;
}

interface Rejection {
  reason: FileReason;
  detail: string;
  recordsPath: string;
}

const PARQUET = 'application/vnd.apache.parquet';

/**
 * Silver files placed at once. A chunked ingest writes up to one file per partition per chunk (114 MB over 24
 * partitions: 96 files); placing them 4 at a time took 160–310 ms of a 2M-row run on the local store, 16 at a
 * time 150–185 ms. Each is a PUT of its own on S3, where more in flight helps the more.
 */
export const DEFAULT_UPLOAD_CONCURRENCY = 16;

/** Failures of the machine rather than of the file: a retry may well succeed. */
const ENVIRONMENT_ERROR =
  /IO Error|No space left|Interrupted|Could not set lock|Connection Error|failed to offload|max_temp_directory_size|Array buffer allocation failed/i;

/**
 * What the transform of a file failed with, as a whole-file rejection when a retry would fail the same way:
 * data errors as they are, and the engine failing on this file (DuckDB out of its memory limit, its own
 * bookkeeping disagreeing) as PROCESSING_FAILED, so the file is quarantined whole with the reason instead of
 * failing every retry into the dead-letter queue. Errors of the machine (disk, I/O, system calls) stay errors.
 */
export function asDeterministicRejection(e: unknown): FileRejection | undefined {
  if (e instanceof FileRejection) return e;
  if (!(e instanceof Error)) return undefined;
  if (typeof (e as NodeJS.ErrnoException).code === 'string' || ENVIRONMENT_ERROR.test(e.message)) return undefined;
  return new FileRejection(
    FileReason.PROCESSING_FAILED,
    `${e.name === 'Error' ? '' : `${e.name}: `}${e.message.split('\n')[0]}`,
  );
}

/** What every output row of an ingest of `source` is stamped with: a function of the source and its contract. */
export function runStampFor(source: SourceRef, contract: DatasetContract | undefined, startedAt: Date): RunStamp {
  const dataset = contract?.name ?? UNKNOWN_DATASET;
  const id = sourceId(source);
  return {
    dataset,
    bucket: source.bucket,
    key: source.key,
    version: sourceVersion(source) ?? null,
    runId: runId(id, dataset, contract?.version ?? null),
    sourceId: id,
    contractVersion: contract?.version ?? null,
    ingestedAt: source.lastModified ?? startedAt,
  };
}

function unknownDatasetDetail(key: string, contracts: ContractRegistry): string {
  const prefixes = contracts.contracts.map((c) => c.bronzePrefix).join(', ') || 'none';
  return `no dataset contract owns "${key}" (known bronze prefixes: ${prefixes})`;
}

/**
 * The object's bytes: a stream (an S3 body, a ranged read), or a file on local disk that holds them (the local
 * lake's bronze object), which the engine links into its scratch instead of copying it through the process and
 * never writes to. Such a file must never be rewritten in place (the local lake's objects are only created or
 * renamed into place): a file rejected whole is kept in quarantine as a second name of it.
 */
export type IngestBody = AsyncIterable<Uint8Array> | { localFile: string };

const isLocalFile = (body: IngestBody): body is { localFile: string } => 'localFile' in body;

/**
 * Throws a `RangeError` for an engine setting out of its range, or a memory limit DuckDB does not take. Every entry
 * point (the one pass, and each step of a fan-out) checks before it writes or transforms anything: a wrong setting is
 * the deployer's error, never the file's (it would otherwise fail the transform, and the file would be quarantined as
 * PROCESSING_FAILED).
 */
export async function checkEngineOptions(
  options: Pick<IngestOptions, 'threads' | 'shedAboveBytes' | 'maxRecordBytes' | 'memoryLimit'>,
): Promise<void> {
  const threads = options.threads ?? 1;
  if (!Number.isInteger(threads) || threads < 1)
    throw new RangeError(`threads must be a whole number ≥ 1, got ${threads}`);
  if (options.shedAboveBytes !== undefined && !(options.shedAboveBytes >= 0))
    throw new RangeError(`shedAboveBytes must be a number of bytes ≥ 0, got ${options.shedAboveBytes}`);
  const maxRecordBytes = options.maxRecordBytes ?? DEFAULT_MAX_RECORD_BYTES;
  if (!(Number.isSafeInteger(maxRecordBytes) && maxRecordBytes >= 1 && maxRecordBytes < READER_MAX_LINE_BYTES)) {
    throw new RangeError(
      `maxRecordBytes must be between 1 and ${READER_MAX_LINE_BYTES - 1} (the reader's own line limit); got ${maxRecordBytes}`,
    );
  }
  const refusal = options.memoryLimit === undefined ? undefined : await memoryLimitRefusal(options.memoryLimit);
  if (refusal !== undefined)
    throw new RangeError(`memoryLimit ${JSON.stringify(options.memoryLimit)} is not one DuckDB takes: ${refusal}`);
}

/**
 * Ingests one bronze object: typed silver Parquet per partition, quarantine for every rejected row or
 * file, partitions registered, and a manifest as the completion marker. Data problems never throw; the
 * manifest says what happened. Throws only when storage/catalog fail (retry), an invariant breaks (bug) or a
 * setting is out of range (`checkEngineOptions`, before anything is written).
 * Re-running the same source writes the same keys with the same rows, and removes files a previous run
 * of it wrote that this run no longer produces — only after the new files and manifest are in place.
 */
export async function ingestObject(source: SourceRef, body: IngestBody, options: IngestOptions): Promise<Manifest> {
  await checkEngineOptions(options);
  const threads = options.threads ?? 1;
  const maxRecordBytes = options.maxRecordBytes ?? DEFAULT_MAX_RECORD_BYTES;
  const startedAt = new Date();
  const t0 = performance.now();
  const contract = options.contracts.forKey(source.key);
  const stamp = runStampFor(source, contract, startedAt);
  // The same run again, after an erasure or a compaction rewrote its outputs: they are what this run would
  // write, less what was erased. Writing them again would bring erased rows back or duplicate compacted ones.
  const previousRead = await options.store.getBytesWithEtag('silver', manifestKey(stamp.dataset, stamp.sourceId));
  const maintained = maintainedSince(parseSilverRecord<Manifest>(previousRead?.bytes), stamp.runId);
  if (maintained && previousRead) {
    if (!isLocalFile(body)) for await (const chunk of body) void chunk; // read to the end, as a processed body is
    const intentKey = pendingKey(stamp.dataset, stamp.sourceId);
    await settleMaintainedRun(options.store, maintained, previousRead, await readIntent(options.store, intentKey), {
      workDir: options.workDir,
      leaseTakeover: options.leaseTakeover,
    });
    return maintained;
  }
  const scratch = options.workDir ?? tmpdir();
  await mkdir(scratch, { recursive: true });
  const workDir = await mkdtemp(join(scratch, 'lake-ingest-'));
  const duckdb: DuckDbSettings = {
    tempDirectory: join(workDir, 'spill'),
    memoryLimit: options.memoryLimit,
  };
  try {
    const transformOptions: TransformOptions = {
      rejectsLimits: options.rejectsLimits,
      maxRecordBytes,
      parallelism: threads,
      chunking: options.chunking,
      onPhase: options.onPhase,
      shedAboveBytes: options.shedAboveBytes,
    };
    const phase = <T>(name: string, work: () => Promise<T>): Promise<T> => timed(options.onPhase, name, work);
    const rawPath = join(workDir, 'input.raw');
    // A large text of known size is transformed while it is spooled (on Lambda: while it downloads).
    // A file on local disk is linked whole instead: the transform reads it at the disk's pace from the start.
    const growing =
      contract && !isLocalFile(body) && worthFollowing(contract, source.size, options)
        ? new GrowingFile(rawPath, source.size)
        : undefined;
    const spooling = isLocalFile(body) ? placeLocalFile(body.localFile, rawPath) : spoolRaw(body, rawPath, growing);
    const early =
      contract && growing
        ? transformWhileSpooling(growing, () =>
            phase('transform while spooling', () =>
              transformToLocal(duckdb, contract, rawPath, stamp, workDir, options.piiSalt ?? '', {
                ...transformOptions,
                growing,
              }),
            ),
          )
        : undefined;
    early?.catch(() => {}); // awaited below, or settled unused
    let raw: RawInput;
    try {
      raw = await phase(isLocalFile(body) ? 'input placed' : 'spool', () => spooling);
    } catch (e) {
      await settleEarly(early, growing, e);
      throw e;
    }
    let spooled: SpooledInput | undefined;
    let result: TransformResult | undefined;
    let rejection: Rejection | undefined;
    try {
      spooled = await decodeText(raw, join(workDir, 'input.txt'), options.expansionLimits);
      if (!contract)
        throw new FileRejection(FileReason.UNKNOWN_DATASET, unknownDatasetDetail(source.key, options.contracts));
      if (options.onePassMaxBytes !== undefined && spooled.bytesUncompressed > options.onePassMaxBytes)
        throw tooLargeForOnePass(spooled.bytesUncompressed, options.onePassMaxBytes);
      const started = await early;
      if (started && growing && spooled.compression === 'none' && raw.bytesIn === growing.expectedBytes) {
        growing.complete();
        result = await started.result;
      } else {
        // Not followed, or followed in vain (the object's size was not the one declared): the text as spooled.
        await settleEarly(early, growing, new Error('the text is transformed as spooled instead'));
        const text = spooled;
        result = await phase('transform', () =>
          transformToLocal(duckdb, contract, text.path, stamp, workDir, options.piiSalt ?? '', {
            ...transformOptions,
            inputDisposable: text.compression === 'gzip',
          }),
        );
      }
    } catch (caught) {
      await settleEarly(early, growing, caught); // nothing of a transform that followed the spool is used
      const deterministic = asDeterministicRejection(caught);
      if (!deterministic) throw caught;
      // The detail is kept in the manifest and quarantine: the same on every run, so no scratch paths in it.
      const e = new FileRejection(deterministic.reason, deterministic.detail.replaceAll(workDir, '<scratch>'));
      rejection = await writeRejectionRecord(stamp, e, workDir);
      result = undefined;
    }
    const sizes: InputSizes = {
      bytesIn: raw.bytesIn,
      bytesUncompressed: spooled?.bytesUncompressed ?? raw.bytesIn,
      compression: spooled?.compression ?? 'none',
    };
    const manifest = buildManifest(source, stamp, contract, result, rejection, sizes, startedAt);
    // Maintained meanwhile: its rewritten manifest, nothing written (as at the start).
    const published = await phase('publish', () =>
      publishAndAnnounce(
        manifest,
        result,
        rejection,
        {
          store: options.store,
          catalog: options.catalog,
          uploadConcurrency: options.uploadConcurrency,
          rawPath: raw.rawPath,
          workDir: options.workDir,
          durationMs: () => Math.round(performance.now() - t0),
          leaseTakeover: options.leaseTakeover,
        },
        { events: options.events, owner: contract?.owner },
      ),
    );
    return published.manifest;
  } finally {
    await timed(options.onPhase, 'cleanup', () => rm(workDir, { recursive: true, force: true }));
  }
}

/**
 * Whether a text of the declared `size` is worth transforming while it is spooled: CSV (a JSON Lines chunk binds
 * the keys sampled from the first 10,000 lines of the whole text, which may not be in yet), large enough to be cut
 * into chunks (the first start once their bytes are in), and not refused for its size anyway.
 */
function worthFollowing(contract: DatasetContract, size: number | undefined, options: IngestOptions): size is number {
  const chunking = options.chunking ?? DEFAULT_CHUNKING;
  return (
    contract.source.format === 'csv' &&
    size !== undefined &&
    size >= chunking.minBytesToChunk &&
    (options.onePassMaxBytes === undefined || size <= options.onePassMaxBytes)
  );
}

/**
 * Starts `transform` on the growing text once its first `SNIFF_BYTES` are in, unless they say it is not plain text
 * (gzip, NUL bytes): `decodeText` decides on those once the spool is complete. The transform's outcome is only
 * used if the text proves to be what was followed (`complete`); else `settleEarly` stops it.
 */
async function transformWhileSpooling(
  growing: GrowingFile,
  transform: () => Promise<TransformResult>,
): Promise<{ result: Promise<TransformResult> } | undefined> {
  const written = await growing.reached(SNIFF_BYTES);
  if (growing.stoppedShort()) return undefined; // failed, or fewer bytes than declared: the text goes as spooled
  const head = await readBytes(growing.path, 0, Math.min(written, SNIFF_BYTES));
  if (isGzip(head) || head.includes(0)) return undefined;
  const result = transform();
  result.catch(() => {}); // awaited, or settled unused
  return { result };
}

/** Fails the growing text with `reason` (if it is not complete yet) and waits until a transform following it has stopped. */
async function settleEarly(
  early: Promise<{ result: Promise<TransformResult> } | undefined> | undefined,
  growing: GrowingFile | undefined,
  reason: unknown,
): Promise<void> {
  growing?.fail(reason);
  const started = await early?.catch(() => undefined);
  await started?.result.catch(() => {});
}

/** A text above what one invocation transforms, that the fan-out could not cut into chunks. */
export function tooLargeForOnePass(bytes: number, onePassMaxBytes: number): FileRejection {
  return new FileRejection(
    FileReason.TOO_LARGE_FOR_ONE_PASS,
    `${bytes} bytes of text, more than the ${onePassMaxBytes} one invocation transforms, and the file cannot be cut into chunks (see the fan-out's log for why); split it, or replay it where one pass may run longer`,
  );
}

/**
 * Rejects an object whole without a local copy of it (the fan-out's plan, for an object too large to
 * spool): the rejection record, the manifest and the original copied to quarantine by `keepOriginal` (a
 * stream from bronze), published as `ingestObject` publishes a rejection.
 */
export async function rejectObject(
  source: SourceRef,
  contract: DatasetContract | undefined,
  rejection: FileRejection,
  sizes: InputSizes,
  startedAt: Date,
  options: IngestOptions & { keepOriginal: (key: string) => Promise<void> },
): Promise<Manifest> {
  const stamp = runStampFor(source, contract, startedAt);
  const scratch = options.workDir ?? tmpdir();
  await mkdir(scratch, { recursive: true });
  const workDir = await mkdtemp(join(scratch, 'lake-reject-'));
  try {
    const record = await writeRejectionRecord(stamp, rejection, workDir);
    const manifest = buildManifest(source, stamp, contract, undefined, record, sizes, startedAt);
    const published = await publishAndAnnounce(
      manifest,
      undefined,
      record,
      {
        store: options.store,
        catalog: options.catalog,
        uploadConcurrency: options.uploadConcurrency,
        keepOriginal: options.keepOriginal,
        workDir: options.workDir,
        durationMs: () => Date.now() - startedAt.getTime(),
      },
      { events: options.events, owner: contract?.owner },
    );
    return published.manifest;
  } finally {
    await rm(workDir, { recursive: true, force: true });
  }
}

/** Writes the quarantine record of a whole-file rejection to `<workDir>/rejection.parquet`: the rejection the manifest names. */
async function writeRejectionRecord(stamp: RunStamp, rejection: FileRejection, workDir: string): Promise<Rejection> {
  const recordsPath = join(workDir, 'rejection.parquet');
  await withDuckDb({ tempDirectory: join(workDir, 'spill') }, 'writing the file rejection', (db) =>
    writeFileRejection(db, stamp, rejection.reason, rejection.detail, recordsPath),
  );
  return { reason: rejection.reason, detail: rejection.detail, recordsPath };
}

/** What `publishAndAnnounce` did: published and announced `manifest`, or found the run maintained meanwhile. */
export interface Published {
  /** The manifest now in place: the one given, or the run's rewritten one (`maintained`). */
  manifest: Manifest;
  /** An erasure or compaction rewrote this run's outputs since the caller looked: nothing written, nothing announced. */
  maintained: boolean;
}

/**
 * `publish`, then — the manifest given being the one now in place — the run's `Ingest Completed`/`Ingest
 * Rejected` event (`owner`: the contract's owner). A run maintained meanwhile is answered with its rewritten
 * manifest, nothing published and no event.
 */
export async function publishAndAnnounce(
  manifest: Manifest,
  result: TransformResult | undefined,
  rejection: Pick<Rejection, 'recordsPath'> | undefined,
  options: PublishOptions,
  announce: { events: EventPublisher | undefined; owner: string | undefined },
): Promise<Published> {
  const published = await publish(manifest, result, rejection, options);
  if (published !== manifest) return { manifest: published, maintained: true };
  await announce.events?.publish(ingestEvent(manifest, announce.owner ?? 'unknown'));
  return { manifest, maintained: false };
}

/** The sizes of an input as received and as read. */
export interface InputSizes {
  bytesIn: number;
  bytesUncompressed: number;
  compression: 'gzip' | 'none';
}

/** The manifest of a transformed (or rejected) input; throws EngineInvariantError when the counts do not add up. */
export function buildManifest(
  source: SourceRef,
  stamp: RunStamp,
  contract: DatasetContract | undefined,
  result: TransformResult | undefined,
  rejection: Rejection | undefined,
  sizes: InputSizes,
  startedAt: Date,
): Manifest {
  const partitionNames = contract?.partitionBy.map((p) => p.name) ?? [];
  const manifest: Manifest = {
    manifest_version: 1,
    dataset: stamp.dataset,
    contract_version: contract?.version ?? null,
    run_id: stamp.runId,
    source_id: stamp.sourceId,
    source: {
      bucket: source.bucket,
      key: source.key,
      version_id: source.versionId ?? null,
      etag: normalizeEtag(source.etag) ?? null,
    },
    status: rejection ? 'rejected' : 'succeeded',
    rows_in: result?.rowsIn ?? 0,
    rows_valid: result?.rowsValid ?? 0,
    rows_quarantined: result?.rowsQuarantined ?? 0,
    reasons: rejection ? { [rejection.reason]: 1 } : (result?.reasons ?? {}),
    partitions: (result?.partitions ?? []).map((p) => ({
      values: Object.fromEntries(partitionNames.map((n, i) => [n, p.values[i] ?? ''])),
      prefix: p.prefix,
      rows: p.rows,
      files: p.files.map((f) => f.key),
    })),
    quarantine: {
      records_key: rejection || result?.quarantineFile ? quarantineRecordsKey(stamp.dataset, stamp.sourceId) : null,
      file_key: rejection ? quarantineFileKey(stamp.dataset, stamp.sourceId, source.key) : null,
      file_reason: rejection?.reason ?? null,
      file_detail: rejection?.detail ?? null,
    },
    columns: {
      matched: Object.fromEntries(
        (result?.header.bindings ?? [])
          .filter((b) => b.sourceName !== undefined)
          .map((b) => [b.column.name, b.sourceName as string]),
      ),
      ignored: result?.header.ignored ?? [],
    },
    bytes_in: sizes.bytesIn,
    bytes_in_uncompressed: sizes.bytesUncompressed,
    bytes_out: (result?.partitions ?? []).flatMap((p) => p.files).reduce((s, f) => s + f.bytes, 0),
    compression: sizes.compression,
    ingested_at: stamp.ingestedAt.toISOString(),
    started_at: startedAt.toISOString(),
    finished_at: '',
    duration_ms: 0,
    engine: {
      name: 'duckdb',
      version: DUCKDB_VERSION,
      rejects_in_chunks: result?.chunked ?? false,
      chunks: result?.chunks ?? 0,
    },
  };
  assertConservation(manifest);
  return manifest;
}

/** rows_in = rows_valid + rows_quarantined, and the reasons account for every quarantined row. */
export function assertConservation(m: Manifest): void {
  if (m.rows_in !== m.rows_valid + m.rows_quarantined) {
    throw new EngineInvariantError(
      `conservation broken for ${m.source.key}: rows_in ${m.rows_in} != rows_valid ${m.rows_valid} + rows_quarantined ${m.rows_quarantined}`,
    );
  }
  const partitionRows = m.partitions.reduce((s, p) => s + p.rows, 0);
  if (partitionRows !== m.rows_valid) {
    throw new EngineInvariantError(
      `partitions of ${m.source.key} hold ${partitionRows} rows, expected rows_valid ${m.rows_valid}`,
    );
  }
  if (m.rows_quarantined > 0 && Object.keys(m.reasons).length === 0) {
    throw new EngineInvariantError(`${m.rows_quarantined} rows of ${m.source.key} quarantined without a reason`);
  }
}

/** Where and how a manifest's outputs are published. */
export interface PublishOptions {
  store: ObjectStore;
  catalog: Catalog;
  /** @default DEFAULT_UPLOAD_CONCURRENCY (16) */
  uploadConcurrency?: number;
  /** The input as received, kept whole in quarantine when the file is rejected. */
  rawPath?: string;
  /** Keeps the input whole under this quarantine key when there is no `rawPath` (streamed from bronze). */
  keepOriginal?: (key: string) => Promise<void>;
  /** Scratch space (rewriting compacted files that hold rows of an earlier run). @default os.tmpdir() */
  workDir?: string;
  /** The manifest's `duration_ms`, asked when the manifest is written. */
  durationMs: () => number;
  /** Puts a silver file under its key. @default an upload of its `localPath` */
  placeSilver?: (file: LocalOutputFile) => Promise<void>;
  /** A prefix of the silver zone holding this source's staged pieces (fan-out): named in the intent record, deleted after the manifest. */
  stagingPrefix?: string;
  /** See IngestOptions.leaseTakeover. @default none */
  leaseTakeover?: LeaseTakeover;
}

/** The manifest when it is of this run and an erasure or compaction rewrote its outputs since (they must not be written again). */
export function maintainedSince(previous: Manifest | undefined, runId: string): Manifest | undefined {
  return previous?.run_id === runId && (previous.erasures?.length || previous.compactions?.length)
    ? previous
    : undefined;
}

/**
 * A maintenance rewrote this run's manifest before this attempt wrote anything: nothing of the attempt is written, and
 * what an intent record of this same run names that the maintained manifest does not is stale — files of the run it
 * replaced that an attempt dying after its manifest left (the manifest that named them is gone), files a late
 * delivery re-created after a compaction had replaced them — and removed here, with the replaced runs' rows in shared
 * compacted files; then the record. Without this a retry returned early at the maintained manifest, and those rows
 * stayed in silver beside the run's own for good.
 *
 * No attempt of this run can publish over a maintained manifest (`putManifest`), but another run of the source (a
 * replay under another contract version) writes the same keys (they derive from the source). So the record is first
 * marked (`settling_since`, written over exactly the record read): an attempt that reads it marked does not start
 * publishing (`SourceSettlingError`, retried), and one that wrote its record first has taken these keys over (its
 * publish removes what it does not write), so nothing is removed here. Like a publish, it removes nothing while a
 * maintenance holds the lease (it rewrites shared files).
 */
async function settleMaintainedRun(
  store: ObjectStore,
  maintained: Manifest,
  manifestRead: TaggedBytes,
  read: ReadIntent | undefined,
  options: Pick<PublishOptions, 'stagingPrefix' | 'workDir' | 'leaseTakeover'>,
): Promise<void> {
  const record = read?.record;
  if (!read || !record || record.run_id !== maintained.run_id) {
    // A record of another run guards that run's publish (its staging too: the prefix is the source's, not the run's).
    await removeStaging(store, maintained, options.stagingPrefix, undefined);
    return;
  }
  // The record's staging (a fan-out's plan among it) goes only once what the record names is removed: a fan-out commit
  // retried after a failure below finds its plan and settles again. (Removed first, the retry found no plan and
  // answered from the manifest, deleting the record with the stale files it still named: rows left in silver.)
  const staging = () => removeStaging(store, maintained, options.stagingPrefix, record);
  const intentKey = pendingKey(maintained.dataset, maintained.source_id);
  const ofSource = (k: unknown): k is string => typeof k === 'string' && k.includes(maintained.source_id);
  const named = new Set(maintained.partitions.flatMap((p) => p.files));
  const namedQuarantine = new Set([maintained.quarantine.records_key, maintained.quarantine.file_key]);
  const staleSilver = [...new Set((record.silver_keys ?? []).filter(ofSource))].filter((k) => !named.has(k));
  const staleQuarantine = [...new Set((record.quarantine_keys ?? []).filter(ofSource))].filter(
    (k) => !namedQuarantine.has(k),
  );
  const replacedRows = byRun(record.compacted_rows ?? []).filter((c) => c.run_id !== maintained.run_id);
  if (!staleSilver.length && !staleQuarantine.length && !replacedRows.length) {
    await staging();
    // Removals in progress on it are their removers' to end (the last one deletes it).
    if (!isSettling(record)) await deleteIntentAsRead(store, intentKey, read);
    return;
  }
  // Written over the manifest before the removal (a new entity tag: another run's publish that read it fails), and
  // again after it, so the gold refresh recomputes the months of the files removed (`ManifestSettlement`).
  const months = monthsOf([...staleSilver, ...replacedRows.flatMap((c) => c.keys)]);
  const fencedAt = new Date().toISOString();
  const fence = JSON.stringify({ ...maintained, settled: { settled_at: fencedAt, months } }, null, 2);
  const mark = await markRemoval(store, intentKey, read);
  if (!mark) return; // another attempt wrote the record since: these keys are in its
  try {
    await refuseUnderLease(
      store,
      maintained.dataset,
      options.leaseTakeover,
      `the cleanup after ${maintained.source.key}`,
    );
    // A record can name files of another run's attempt still publishing (an attempt of this run wrote its record over
    // that one's, and names its keys). That attempt read the manifest before the mark: writing the manifest again
    // (`settled_at`) over exactly the one read fails its manifest write (retried whole) — and when it published
    // first, this removes nothing and is retried.
    const key = manifestKey(maintained.dataset, maintained.source_id);
    try {
      await store.putBytes('silver', key, fence, 'application/json', { ifMatch: manifestRead.etag });
    } catch (e) {
      if (!(e instanceof ObjectChangedError)) throw e;
      throw new PublishedMeanwhileError(key, maintained.run_id, (await readSilverRecord<Manifest>(store, key))?.run_id);
    }
  } catch (e) {
    // Its mark alone taken off: what the record names is still to be removed (by the retry).
    await releaseRecord(store, intentKey, { owns: () => false, markId: mark.id }).catch(() => {});
    throw e;
  }
  await removingUnder(store, intentKey, mark, async () => {
    await removeStale(store, staleSilver, replacedRows, staleQuarantine, options.workDir);
    await announceRemoval(
      store,
      manifestKey(maintained.dataset, maintained.source_id),
      // Its fence, or that manifest as a maintenance since copied it forward (an erasure: it keeps `settled`): gold may
      // have reflected the fence while the files were still there, so the announce must still come.
      (now) => now.run_id === maintained.run_id && now.settled?.settled_at === fencedAt,
      months,
    );
    await staging();
    await endRemoval(store, intentKey, mark);
  });
}

/**
 * Once a removal of stale files is done, the manifest is written again with `settled` (its months), over exactly the
 * manifest there — only while that is this run's (`ours`): a gold refresh that ran between the run's manifest and the
 * removal counted the stale rows, and this write is what triggers the one that recomputes those months. One of
 * another run, or rewritten since by a maintenance, is refreshed for itself.
 */
async function announceRemoval(
  store: ObjectStore,
  key: string,
  ours: (now: Manifest) => boolean,
  months: readonly string[],
): Promise<void> {
  if (months.length === 0) return;
  const settledAt = new Date().toISOString();
  // Over exactly the manifest read, read again when a maintenance edited it meanwhile (it keeps `settled`, so `ours`
  // still holds): given up on a conflict, the announce was lost and gold never recomputed the months removed.
  await editSilverRecord<Manifest>(store, key, (now) =>
    now && ours(now) ? { ...now, settled: { settled_at: settledAt, months: [...months] } } : undefined,
  );
}

/** The months of silver files removed (year/month partitions), for `settled.months`. */
function monthsOf(keys: readonly string[]): string[] {
  return [...new Set(keys.map(monthOfKey))].filter((m): m is string => m !== undefined).sort();
}

/**
 * Throws MaintenanceLeaseHeldError when a maintenance holds the dataset's lease (one whose holder is provably dead is
 * released first): `what` is the work refused, for the message.
 */
async function refuseUnderLease(
  store: ObjectStore,
  dataset: string,
  takeover: LeaseTakeover | undefined,
  what: string,
): Promise<void> {
  if (takeover) await releaseLeaseOfGoneHolder(store, dataset, takeover);
  const lease = await readMaintenanceLease(store, dataset);
  if (lease) throw new MaintenanceLeaseHeldError(lease, what);
}

/** Removes stale silver files, the replaced runs' rows from shared compacted files, and stale quarantine files. */
async function removeStale(
  store: ObjectStore,
  silver: readonly string[],
  replacedRows: readonly CompactedRows[],
  quarantine: readonly string[],
  workDir: string | undefined,
): Promise<void> {
  if (silver.length) await store.delete('silver', silver);
  for (const { run_id, keys } of replacedRows) for (const k of keys) await removeRunFromFile(store, k, run_id, workDir);
  if (quarantine.length) await store.delete('quarantine', quarantine);
}

/**
 * A removal under its mark, to its end (`endRemoval`): when any step fails (every delete of it settled: none still in
 * flight), its mark alone is taken off, the record left naming what is still to be removed — its retry then finds no
 * mark of a removal in progress (a fresh one it would carry over, and leave a hold-only record behind until it
 * expired).
 */
async function removingUnder(
  store: ObjectStore,
  intentKey: string,
  removal: MarkedRemoval,
  remove: () => Promise<void>,
): Promise<void> {
  try {
    await remove();
  } catch (e) {
    await releaseRecord(store, intentKey, { owns: () => false, markId: removal.id }).catch(() => {});
    throw e;
  }
}

/** This source's staged pieces (fan-out), of this attempt and of an abandoned one: nothing of them is kept. */
async function removeStaging(
  store: ObjectStore,
  manifest: Manifest,
  stagingPrefix: string | undefined,
  abandoned: PendingIngest | undefined,
): Promise<void> {
  const staging = [stagingPrefix, abandoned?.staging_prefix].filter(
    (p): p is string => typeof p === 'string' && p.includes(manifest.source_id),
  );
  for (const prefix of new Set(staging)) await deletePrefix(store, 'silver', prefix);
}

/**
 * An intent record first (which files this attempt will write), then outputs, partitions, the manifest
 * (the completion marker), stale files of earlier runs — of finished ones (their manifest) and of
 * abandoned ones (their intent record) — and last the intent record. Answers with the manifest now in
 * place: the one given, or — when an erasure or compaction rewrote this same run's outputs after the
 * caller last looked (e.g. between a fan-out's plan and its commit) — that rewritten manifest, with nothing
 * written (writing again would bring erased rows back or double compacted ones) and this attempt's staging
 * prefix and intent record removed.
 */
export async function publish(
  manifest: Manifest,
  result: TransformResult | undefined,
  rejection: Pick<Rejection, 'recordsPath'> | undefined,
  options: PublishOptions,
): Promise<Manifest> {
  const { store, catalog } = options;
  const key = manifestKey(manifest.dataset, manifest.source_id);
  const intentKey = pendingKey(manifest.dataset, manifest.source_id);
  // Read with its entity tag: the manifest is written over exactly this one (`putManifest`).
  const previousRead = await store.getBytesWithEtag('silver', key);
  const previous = parseSilverRecord<Manifest>(previousRead?.bytes);
  const firstRead = await readIntent(store, intentKey);
  const maintainedBefore = maintainedSince(previous, manifest.run_id);
  if (maintainedBefore && previousRead) {
    await settleMaintainedRun(store, maintainedBefore, previousRead, firstRead, options);
    return maintainedBefore;
  }
  const files = (result?.partitions ?? []).flatMap((p) => p.files);
  const quarantineKeys = [manifest.quarantine.records_key, manifest.quarantine.file_key].filter(
    (k): k is string => k !== null,
  );
  // Only keys of this source (its id is in every output key it writes) are ever deleted.
  const ofSource = (k: unknown): k is string => typeof k === 'string' && k.includes(manifest.source_id);
  const previousFiles = previous?.partitions.flatMap((p) => p.files) ?? [];
  // Rows of the earlier run that a compaction moved into shared files: removed from those files, not deleted with them.
  const previousCompacted: CompactedRows[] =
    previous && previous.run_id !== manifest.run_id
      ? [{ run_id: previous.run_id, keys: previousFiles.filter(isCompactedFile) }].filter((c) => c.keys.length > 0)
      : [];
  // The record names the keys of the manifest it replaces, and of the record it replaces (an abandoned attempt's, or a
  // concurrent delivery's): if this attempt dies — even once its own manifest is in place, where the manifest it
  // replaced is gone — the next one must still find every key of this source that no manifest names.
  const intentOver = (replaced: PendingIngest | undefined): Omit<PendingIngest, 'attempt_id'> => ({
    dataset: manifest.dataset,
    run_id: manifest.run_id,
    source: manifest.source,
    started_at: manifest.started_at,
    silver_keys: [...new Set([...files.map((f) => f.key), ...previousFiles, ...(replaced?.silver_keys ?? [])])].filter(
      ofSource,
    ),
    quarantine_keys: [
      ...new Set([
        ...quarantineKeys,
        previous?.quarantine.records_key,
        previous?.quarantine.file_key,
        ...(replaced?.quarantine_keys ?? []),
      ]),
    ].filter(ofSource),
    ...(previousCompacted.length || replaced?.compacted_rows?.length
      ? { compacted_rows: byRun([...previousCompacted, ...(replaced?.compacted_rows ?? [])]) }
      : {}),
    ...(options.stagingPrefix ? { staging_prefix: options.stagingPrefix } : {}),
  });
  // Written over exactly the record read (or create-only); one another delivery wrote since is read and named too.
  // Removals in progress on the record replaced (an attempt of this run removing what it names) are carried over: until
  // they end, no other run may start publishing keys they may still delete.
  const { written, replaced } = await writeIntent(
    store,
    intentKey,
    firstRead,
    (r) => intentText({ ...intentOver(r), ...carriedMarks(r) }),
    { beforeUploadsOf: manifest.run_id },
  );
  const ownRecord = ownedBy(written);
  // The abandoned record from here on is the one replaced — the last read, whoever wrote it: its keys are in ours.
  const abandoned = replaced?.record;
  // The intent first, the lease second (maintenance does the reverse): see engine/maintenance/lease.ts.
  // A lease whose holder is provably dead is released (a maintenance taking the lease after this sees the intent).
  let maintainedMeanwhile: Manifest | undefined;
  try {
    await refuseUnderLease(store, manifest.dataset, options.leaseTakeover, `the ingest of ${manifest.source.key}`);
    // A whole maintenance may have taken the lease, rewritten this run and released it between the first look at
    // the manifest and the intent (a redelivery): it is in the manifest now, and writing again would bring erased
    // rows back or double compacted ones. A maintenance starting after this look sees the intent instead.
    maintainedMeanwhile = maintainedSince(await readSilverRecord<Manifest>(store, key), manifest.run_id);
  } catch (e) {
    // Nothing written yet: the intent is taken back, the record it replaced put back (a failed look at the lease is
    // retried as a whole).
    await withdrawIntent(store, intentKey, written, abandoned).catch(() => {});
    throw e;
  }
  if (maintainedMeanwhile) {
    // Nothing written yet: this attempt's record goes, and the record it replaced is put back — a maintenance may be
    // what changed the manifest, not a publish that used that record, and its keys are still to be cleaned: settled
    // now, as an attempt that finds its run maintained at its start does (this one succeeds: no retry would come, and
    // the record stayed, holding the source out of compaction).
    await withdrawIntent(store, intentKey, written, abandoned);
    const manifestRead = await store.getBytesWithEtag('silver', key);
    const maintained = maintainedSince(parseSilverRecord<Manifest>(manifestRead?.bytes), manifest.run_id);
    if (!maintained || !manifestRead) {
      await removeStaging(store, manifest, options.stagingPrefix, undefined);
      return maintainedMeanwhile;
    }
    await settleMaintainedRun(store, maintained, manifestRead, await readIntent(store, intentKey), options);
    return maintained;
  }
  const placeSilver =
    options.placeSilver ??
    (async (f: LocalOutputFile) => {
      await store.putFile('silver', f.key, f.localPath, PARQUET, { handOver: true });
    });
  await inPool(files, options.uploadConcurrency ?? DEFAULT_UPLOAD_CONCURRENCY, placeSilver);

  const recordsPath = rejection?.recordsPath ?? result?.quarantineFile;
  if (manifest.quarantine.records_key && recordsPath)
    await store.putFile('quarantine', manifest.quarantine.records_key, recordsPath, PARQUET, { handOver: true });
  if (manifest.quarantine.file_key) {
    if (options.rawPath)
      await store.putFile('quarantine', manifest.quarantine.file_key, options.rawPath, 'application/octet-stream', {
        handOver: true,
      });
    else if (options.keepOriginal) await options.keepOriginal(manifest.quarantine.file_key);
    else
      throw new EngineInvariantError(
        `the rejected file ${manifest.source.key} has no local copy to keep in quarantine`,
      );
  }

  if (result && result.partitions.length && result.partitions[0]?.values.length) {
    await catalog.addPartitions(
      manifest.dataset,
      result.partitions.map((p) => ({ values: p.values, prefix: p.prefix })),
    );
  }
  manifest.finished_at = new Date().toISOString();
  manifest.duration_ms = options.durationMs();
  // A removal this run announced is kept: gold compares it (`reflectedRun`), which must not go back to what it had
  // counted before the removal.
  if (previous?.run_id === manifest.run_id && previous.settled && !manifest.settled)
    manifest.settled = previous.settled;
  const other = await putManifest(store, key, manifest, previousRead);
  if (other) {
    // The other run may have replaced this attempt's record and withdrawn its own, and this attempt's uploads since
    // are named by no record: named again (with the record there now), so the next publish removes what it does not write.
    // A mark of a removal in progress is carried over: that removal goes on, and must keep holding other runs off.
    await writeIntent(store, intentKey, await readIntent(store, intentKey), (r) =>
      intentText({ ...intentOver(r), ...carriedMarks(r) }),
    );
    throw new PublishedMeanwhileError(key, manifest.run_id, other.runId);
  }

  const keep = new Set(files.map((f) => f.key));
  const keepQuarantine = new Set(quarantineKeys);
  const earlierSilver = [...previousFiles, ...(abandoned?.silver_keys ?? [])].filter(ofSource);
  const earlierQuarantine = [
    previous?.quarantine.records_key,
    previous?.quarantine.file_key,
    ...(abandoned?.quarantine_keys ?? []),
  ].filter(ofSource);
  const staleSilver = [...new Set(earlierSilver.filter((k) => !keep.has(k)))];
  const staleQuarantine = [...new Set(earlierQuarantine.filter((k) => !keepQuarantine.has(k)))];
  // A shared file this run's manifest does not name holds none of its rows: an earlier run's there are stale (removing
  // rows a file does not hold changes nothing, so a retry may go over the same files again).
  const replacedRows = byRun([...previousCompacted, ...(abandoned?.compacted_rows ?? [])])
    .map(({ run_id, keys }) => ({ run_id, keys: keys.filter((k) => !keep.has(k)) }))
    .filter((c) => c.keys.length > 0);
  let removal: MarkedRemoval | undefined;
  if (staleSilver.length || staleQuarantine.length || replacedRows.length) {
    // Another run of the source writes these keys (they derive from the source): one that starts publishing now must
    // not upload a file removed next. So the record is marked first (`settleMaintainedRun` does the same); an attempt
    // that wrote its record since has taken these keys over, and this one removes nothing and is retried.
    const now = await readIntent(store, intentKey);
    const mark = now?.record && ownRecord(now.record) ? await markRemoval(store, intentKey, now, ownRecord) : undefined;
    if (!mark) throw new RecordTakenOverError(intentKey, manifest.run_id);
    removal = mark;
  }
  // This attempt's own record only, at the end: a concurrent delivery's, written since, still guards its publish.
  if (!removal) {
    await removeStaging(store, manifest, options.stagingPrefix, abandoned);
    await releaseRecord(store, intentKey, { owns: ownRecord });
    return manifest;
  }
  const marked = removal;
  await removingUnder(store, intentKey, marked, async () => {
    await removeStale(store, staleSilver, replacedRows, staleQuarantine, options.workDir);
    // Over this run's manifest, a maintenance's edit since included (it keeps the run, and the months it recomputes
    // are its own: not those of files only the abandoned record named). Before the staging goes (with a fan-out's
    // plan, a commit retried after it answers from the manifest alone).
    await announceRemoval(
      store,
      key,
      (now) => now.run_id === manifest.run_id,
      monthsOf([...staleSilver, ...replacedRows.flatMap((c) => c.keys)]),
    );
    await removeStaging(store, manifest, options.stagingPrefix, abandoned);
    await endRemoval(store, intentKey, marked);
  });
  return manifest;
}

/**
 * The source's manifest changed between this publish's first look at it and its own manifest — another run of the
 * source published (its files and deletes mixed with this attempt's uploads), or a maintenance rewrote it — so this
 * attempt writes no manifest over it and is retried; its intent record names its keys, so whichever run publishes next
 * removes those it does not write.
 */
export class PublishedMeanwhileError extends Error {
  constructor(
    readonly key: string,
    readonly runId: string,
    readonly otherRunId: string | undefined,
  ) {
    super(
      `silver/${key} changed while run ${runId} was publishing (it is now ${otherRunId === undefined ? 'gone' : `run ${otherRunId}'s`}: ` +
        'another run of the same source published, or a maintenance rewrote it); this attempt writes no manifest over it (the ingest is to be retried)',
    );
    this.name = 'PublishedMeanwhileError';
  }
}

/**
 * Writes the manifest over exactly the one the publish read at its start (create-only where it read none), and answers
 * undefined; or, when the key holds another since, writes nothing and answers with the run whose manifest is there
 * (undefined: none). Written blindly, a delivery of an older contract still publishing (a deploy, a replay) put its
 * manifest over a newer run's that had deleted some of its files meanwhile: a manifest naming files that no longer
 * exist, rows counted that silver does not hold. A delivery of this same run that published meanwhile wrote the same
 * keys and rows: its manifest stays, and the answer is undefined (unless a maintenance rewrote it since).
 */
async function putManifest(
  store: ObjectStore,
  key: string,
  manifest: Manifest,
  read: { etag?: string } | undefined,
): Promise<{ runId: string | undefined } | undefined> {
  const condition = read === undefined ? { ifNoneMatch: true } : read.etag ? { ifMatch: read.etag } : {};
  try {
    await store.putBytes('silver', key, JSON.stringify(manifest, null, 2), 'application/json', condition);
    return undefined;
  } catch (e) {
    if (!(e instanceof ObjectChangedError || e instanceof ObjectExistsError)) throw e;
    const now = await readSilverRecord<Manifest>(store, key);
    // The same run's, unless a maintenance rewrote it since (this attempt's uploads may have re-created files a
    // compaction replaced, or brought erased rows back): then it is a change like another run's.
    return now?.run_id === manifest.run_id && !maintainedSince(now, manifest.run_id)
      ? undefined
      : { runId: now?.run_id };
  }
}

/** One entry per run, its files each named once (records carried on from attempt to attempt repeat them). */
function byRun(rows: readonly CompactedRows[]): CompactedRows[] {
  const keys = new Map<string, Set<string>>();
  for (const { run_id, keys: k } of rows) keys.set(run_id, new Set([...(keys.get(run_id) ?? []), ...k]));
  return [...keys].map(([run_id, k]) => ({ run_id, keys: [...k] }));
}

/** Deletes every object under a prefix of a zone. */
export async function deletePrefix(store: ObjectStore, zone: Zone, prefix: string): Promise<void> {
  const keys: string[] = [];
  for await (const o of store.list(zone, prefix)) keys.push(o.key);
  if (keys.length) await store.delete(zone, keys);
}
