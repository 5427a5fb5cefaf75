/**
 * The intent record of a publish (`silver/_pending/<dataset>/<source id>.json`, engine/ingest.ts `publish`):
 * several deliveries of one source may write it in turn, and a maintenance must keep seeing the record of every
 * publish in progress. So an attempt only ever writes its record over the very object it read (`putBytes`
 * `ifMatch` on that read's entity tag, S3 `If-Match`; create-only when it read none), and only ever deletes or
 * replaces its own record, as the very object it read back (`ObjectStore.deleteIfMatch`, `putBytes` `ifMatch`) —
 * never by a read, a check and a plain delete or put, between which a concurrent delivery may have written its own.
 */
import { randomBytes } from 'node:crypto';
import type { PendingIngest, RemovalMark } from './manifest.ts';
import { ObjectChangedError, ObjectExistsError, type ObjectStore } from './ports.ts';

/** An intent record as read, with the entity tag of the object read (undefined `record`: not JSON). */
export interface ReadIntent {
  record: PendingIngest | undefined;
  text: string;
  etag: string;
}

/** The intent record under `key`, or undefined when there is none. */
export async function readIntent(store: ObjectStore, key: string): Promise<ReadIntent | undefined> {
  const read = await store.getBytesWithEtag('silver', key);
  if (!read) return undefined;
  const text = Buffer.from(read.bytes).toString('utf8');
  let record: PendingIngest | undefined;
  try {
    record = JSON.parse(text) as PendingIngest;
  } catch {
    record = undefined; // a damaged record is replaced; the files it named are then not cleaned up
  }
  return { record, text, etag: read.etag };
}

/** The record's text as this attempt writes it: an attempt id of its own, so no other attempt's is the same object. */
export function intentText(intent: Omit<PendingIngest, 'attempt_id'>): string {
  return JSON.stringify({ ...intent, attempt_id: randomBytes(8).toString('hex') }, null, 2);
}

/**
 * How many conditional writes a publish tries its intent record with before it fails (the ingest is retried as a
 * whole). A write lost is another writer's change of the record won (a delivery's write, or its withdrawal), each
 * delivery writing its record once or twice (a fan-out: the plan, then the commit), so N deliveries at once cost
 * one another a few lost writes each: this leaves room for the faults tier's ten at once
 * (test/faults/concurrency.test.ts).
 */
export const INTENT_WRITE_ATTEMPTS = 16;

/**
 * How long a record marked `settling_since` holds off a new attempt of its source: the removal it marks deletes a few
 * files and rewrites compacted ones (seconds), and no ingest invocation outlives 15 minutes; a mark older than this is
 * taken to be left by a retry that died, and is written over.
 */
export const SETTLING_HOLD_MS = 15 * 60_000;

/** The removals in progress on a record (`removals`, and a mark of an earlier version as one), past ones left out. */
export function removalsOf(record: PendingIngest | undefined, now = Date.now()): RemovalMark[] {
  if (!record) return [];
  const marks = [...(Array.isArray(record.removals) ? record.removals : [])];
  if (record.settling_since)
    marks.push({
      id: `legacy:${record.settling_since}`,
      since: record.settling_since,
      run: record.settling_run ?? record.run_id,
    });
  return marks.filter((m) => {
    const since = Date.parse(m.since);
    return Number.isFinite(since) && now - since < SETTLING_HOLD_MS;
  });
}

/** Whether `record` is marked by a removal still in progress (see `SETTLING_HOLD_MS`). */
export const isSettling = (record: PendingIngest | undefined, now = Date.now()): boolean =>
  removalsOf(record, now).length > 0;

/** The removals in progress on a record, carried over by a write of it that must not take them away. */
export function carriedMarks(record: PendingIngest | undefined): Pick<PendingIngest, 'removals'> {
  const removals = removalsOf(record);
  return removals.length ? { removals } : {};
}

/** The record with exactly these removals marked (a mark of an earlier version written as one of them). */
function withRemovals(record: PendingIngest, removals: RemovalMark[]): PendingIngest {
  const { settling_since: _since, settling_run: _run, removals: _removals, ...rest } = record;
  return removals.length ? { ...rest, removals } : rest;
}

/**
 * A retry is removing files of this source named by its intent record (`settling_since`): some of them have the keys a
 * new run of the source writes, so no attempt starts publishing until it is done. Nothing was written; retried.
 */
export class SourceSettlingError extends Error {
  constructor(
    readonly key: string,
    readonly since: string | undefined,
  ) {
    super(
      `silver/${key}: a retry has been removing files of this source that no manifest names since ${since ?? '(unknown)'}; ` +
        'this attempt writes nothing until it is done (the ingest is to be retried)',
    );
    this.name = 'SourceSettlingError';
  }
}

/** Before each of this attempt's conditional writes of its intent record, another delivery of the source wrote its own. */
export class IntentContendedError extends Error {
  constructor(
    readonly key: string,
    readonly attempts: number,
  ) {
    super(
      `silver/${key}: another delivery of the same source wrote its intent record before each of ${attempts} ` +
        'conditional writes of this one; this attempt stops before publishing anything (the ingest is to be retried)',
    );
    this.name = 'IntentContendedError';
  }
}

/** An intent record this attempt wrote (`written`, its text) and the record it replaced, as read (none: undefined). */
export interface WrittenIntent {
  written: string;
  replaced: ReadIntent | undefined;
}

/**
 * Writes this attempt's intent record (`build`, given the record it will replace) over exactly the record read
 * (`read`; undefined: none), in one conditional step: `putBytes` `ifMatch` on the read's entity tag, or
 * create-only. When another delivery of the source wrote its record since, nothing is written: the record is read
 * again and built again over the one now there, whoever wrote it — a plain put would overwrite it, and the keys
 * that delivery uploads would be named by no record (if it dies, its files orphaned in silver: rows seen twice).
 * IntentContendedError after `attempts` writes that each lost. `beforeUploadsOf` (the attempt's run id):
 * SourceSettlingError, nothing written, when the record is marked by a removal in progress of another run.
 */
export async function writeIntent(
  store: ObjectStore,
  key: string,
  read: ReadIntent | undefined,
  build: (replaced: PendingIngest | undefined) => string,
  options: { attempts?: number; beforeUploadsOf?: string } = {},
): Promise<WrittenIntent> {
  const attempts = options.attempts ?? INTENT_WRITE_ATTEMPTS;
  let replaced = read;
  for (let attempt = 1; ; attempt++) {
    // An attempt of another run about to upload waits for a removal in progress (it might delete what the attempt
    // uploads). One of the marked record's own run writes its files, none of which is removed, and takes the removal
    // over; one naming what it already uploaded writes over it (named by no manifest: removing those loses nothing).
    const holding = removalsOf(replaced?.record).filter((m) => m.run !== options.beforeUploadsOf);
    if (options.beforeUploadsOf !== undefined && holding.length > 0)
      throw new SourceSettlingError(key, holding[0]?.since);
    const written = build(replaced?.record);
    try {
      const condition = replaced ? { ifMatch: replaced.etag } : { ifNoneMatch: true };
      await store.putBytes('silver', key, written, 'application/json', condition);
      return { written, replaced };
    } catch (e) {
      if (!(e instanceof ObjectChangedError || e instanceof ObjectExistsError)) throw e;
      if (attempt >= attempts) throw new IntentContendedError(key, attempts);
    }
    replaced = await readIntent(store, key);
  }
}

/** A removal this attempt marked on an intent record (`markRemoval`), and which records are its to delete at its end. */
export interface MarkedRemoval {
  /** Its mark's id. */
  id: string;
  /** The marked record as read back. */
  read: ReadIntent;
  /** The record this attempt answers for: deleted at its end when no other removal is in progress on it. */
  owns: (record: PendingIngest) => boolean;
}

/**
 * Marks the record read before its keys are removed: a mark of this removal added to those in progress on it (each
 * remover takes off only its own, `endRemoval`), written over exactly that object. Answers undefined when another
 * attempt wrote the record since (it has taken those keys over: nothing is to be removed). `owns`: the record this
 * attempt answers for, by default the one marked (its `attempt_id`). See `SETTLING_HOLD_MS`.
 */
export async function markRemoval(
  store: ObjectStore,
  key: string,
  read: ReadIntent,
  owns?: (record: PendingIngest) => boolean,
): Promise<MarkedRemoval | undefined> {
  const record = read.record;
  if (!record) return undefined;
  const own = owns ?? sameAttempt(record);
  const mark: RemovalMark = { id: randomBytes(8).toString('hex'), since: new Date().toISOString(), run: record.run_id };
  // Over exactly the record read; when it changed meanwhile but is still the same attempt's (a remover took its mark
  // off, another added its own), marked again over what is there now — only another attempt's record means a takeover.
  let current: ReadIntent | undefined = read;
  for (let attempt = 1; ; attempt++) {
    if (!current?.record || !own(current.record)) return undefined;
    const marked = JSON.stringify(withRemovals(current.record, [...removalsOf(current.record), mark]), null, 2);
    try {
      await store.putBytes('silver', key, marked, 'application/json', { ifMatch: current.etag });
      break;
    } catch (e) {
      if (!(e instanceof ObjectChangedError) || attempt >= INTENT_WRITE_ATTEMPTS) throw e;
    }
    current = await readIntent(store, key);
  }
  const now = await readIntent(store, key);
  // Another remover of this record may have added its mark meanwhile: still ours to remove under. Another attempt's
  // record written since has taken the keys over (it carried this mark over): the mark alone is taken off it.
  if (now?.record && own(now.record) && (now.record.removals ?? []).some((m) => m.id === mark.id))
    return { id: mark.id, read: now, owns: own };
  await releaseRecord(store, key, { owns: () => false, markId: mark.id });
  return undefined;
}

/**
 * The records of the attempt that wrote `record`: its `attempt_id`; a record without one (a version before them) by
 * when its attempt started and its staging — never every record without an id.
 */
function sameAttempt(record: PendingIngest): (other: PendingIngest) => boolean {
  if (record.attempt_id !== undefined) return (other) => other.attempt_id === record.attempt_id;
  return (other) =>
    other.attempt_id === undefined &&
    other.started_at === record.started_at &&
    other.staging_prefix === record.staging_prefix;
}

/**
 * Whether a record still guards something: any record but a hold-only one whose removals have all ended or expired
 * (its last remover died: it names no keys and holds nothing off; the next attempt of the source replaces it).
 */
export const isLiveIntent = (record: PendingIngest | undefined): boolean => !record?.hold_only || isSettling(record);

/** Ends a removal marked by `markRemoval`: see `releaseRecord`. */
export const endRemoval = (store: ObjectStore, key: string, removal: MarkedRemoval): Promise<void> =>
  releaseRecord(store, key, { owns: removal.owns, markId: removal.id });

/**
 * What an attempt leaves of an intent record when it is done (its removal ended, `markId`, and the record it answers
 * for, `owns`), written over exactly the object read, read again on a change:
 * - its own record, no other removal in progress on it: deleted;
 * - its own record, while removals of other attempts it carried over are still in progress: replaced by a record that
 *   names no keys and holds only their marks (`hold_only`) — those removers may still be deleting keys another run
 *   of the source would write, so that run must not start publishing yet (deleting the record let it: the last
 *   remover then deleted a key that run had just uploaded);
 * - another attempt's record: only its mark taken off; a hold-only one whose last mark this was: deleted.
 */
export async function releaseRecord(
  store: ObjectStore,
  key: string,
  own: { owns: (record: PendingIngest) => boolean; markId?: string },
): Promise<void> {
  for (let attempt = 1; attempt <= INTENT_WRITE_ATTEMPTS; attempt++) {
    const now = await readIntent(store, key);
    const record = now?.record;
    if (!now || !record) return;
    const ours = own.owns(record);
    const marked = own.markId !== undefined && (record.removals ?? []).some((m) => m.id === own.markId);
    if (!ours && !marked) return; // another attempt's record, without this removal's mark: it stays as it is
    const others = removalsOf(record).filter((m) => m.id !== own.markId);
    if (others.length === 0 && (ours || record.hold_only)) {
      if (await deleteIntentAsRead(store, key, now)) return;
      continue;
    }
    const next: PendingIngest = ours
      ? {
          dataset: record.dataset,
          run_id: record.run_id,
          source: record.source,
          started_at: record.started_at,
          silver_keys: [],
          quarantine_keys: [],
          ...(record.attempt_id ? { attempt_id: record.attempt_id } : {}),
          removals: others,
          hold_only: true,
        }
      : withRemovals(record, others);
    try {
      await store.putBytes('silver', key, JSON.stringify(next, null, 2), 'application/json', { ifMatch: now.etag });
      return;
    } catch (e) {
      if (!(e instanceof ObjectChangedError)) throw e;
    }
  }
}

/**
 * After this run's manifest, another attempt of the source wrote its intent record before this one could mark it for
 * removing the earlier runs' files: nothing is removed (a newer run may be writing those keys), and the ingest is
 * retried — the run publishes again, or the other attempt's publish removes them.
 */
export class RecordTakenOverError extends Error {
  constructor(
    readonly key: string,
    readonly runId: string,
  ) {
    super(
      `silver/${key}: another attempt of this source wrote its intent record after run ${runId}'s manifest, before ` +
        "the earlier runs' files were removed; none was removed (the ingest is to be retried)",
    );
    this.name = 'RecordTakenOverError';
  }
}

/** Deletes the record read, only while it is still that object: false when another was written since. */
export async function deleteIntentAsRead(store: ObjectStore, key: string, read: ReadIntent): Promise<boolean> {
  try {
    await store.deleteIfMatch('silver', key, read.etag);
    return true;
  } catch (e) {
    if (e instanceof ObjectChangedError) return false;
    throw e;
  }
}

/** Whether a record is the one the attempt that wrote `written` wrote (its `attempt_id`), however its marks changed since. */
export function ownedBy(written: string): (record: PendingIngest) => boolean {
  const id = (JSON.parse(written) as PendingIngest).attempt_id;
  return (record) => id !== undefined && record.attempt_id === id;
}

/**
 * Takes back an intent record this attempt wrote (`written`, its text): the record it replaced is put back (its
 * keys are still to be cleaned by a later run), with the removals in progress on this attempt's record, or —
 * `replaced` undefined — the key is left to them (`releaseRecord`). Only while the record is still this attempt's
 * own: a concurrent delivery of the same source may have written its own since, and a maintenance must keep seeing
 * that one. The put-back is one step — the replaced record written over ours only while the key still holds ours
 * (`putBytes` `ifMatch`, S3 `If-Match`) — so a process killed during it leaves either record, never the key empty.
 */
export async function withdrawIntent(
  store: ObjectStore,
  key: string,
  written: string,
  replaced: PendingIngest | undefined,
): Promise<void> {
  const ours = ownedBy(written);
  if (!replaced) {
    await releaseRecord(store, key, { owns: ours });
    return;
  }
  for (let attempt = 1; attempt <= INTENT_WRITE_ATTEMPTS; attempt++) {
    const now = await readIntent(store, key);
    if (!now?.record || !ours(now.record)) return;
    const putBack = withRemovals(replaced, removalsOf(now.record));
    // A hold-only record with nothing left to hold is not put back: ours goes (`releaseRecord`).
    if (!isLiveIntent(putBack)) {
      await releaseRecord(store, key, { owns: ours });
      return;
    }
    try {
      await store.putBytes('silver', key, JSON.stringify(putBack, null, 2), 'application/json', { ifMatch: now.etag });
      return;
    } catch (e) {
      if (!(e instanceof ObjectChangedError)) throw e; // read again: another delivery's record there now stays
    }
  }
}
