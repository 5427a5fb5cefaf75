/**
 * The intent record of a publish (`silver/_pending/<dataset>/<source id>.json`, engine/ingest.ts `publish`):
 * several deliveries of one source may write it in turn, and a maintenance must keep seeing the record of every
 * publish in progress. So an attempt only ever writes its record over the very object it read (`putBytes`
 * `ifMatch` on that read's entity tag, S3 `If-Match`; create-only when it read none), and only ever deletes or
 * replaces its own record, as the very object it read back (`ObjectStore.deleteIfMatch`, `putBytes` `ifMatch`) —
 * never by a read, a check and a plain delete or put, between which a concurrent delivery may have written its own.
 */
import { randomBytes } from 'node:crypto';
import type { PendingIngest } from './manifest.ts';
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

/** The run whose removal marked the record (a record rewritten since may be of another run: the mark is the remover's). */
export const settlingRun = (record: PendingIngest | undefined): string | undefined =>
  record?.settling_run ?? record?.run_id;

/** The mark of a removal in progress, carried over by a write of the record that must not take it away. */
export function carriedMark(record: PendingIngest | undefined): Pick<PendingIngest, 'settling_since' | 'settling_run'> {
  return isSettling(record) ? { settling_since: record?.settling_since, settling_run: settlingRun(record) } : {};
}

/** Whether `record` is marked by a removal still in progress (see `SETTLING_HOLD_MS`). */
export function isSettling(record: PendingIngest | undefined, now = Date.now()): boolean {
  const since = record?.settling_since ? Date.parse(record.settling_since) : Number.NaN;
  return Number.isFinite(since) && now - since < SETTLING_HOLD_MS;
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
    const record = replaced?.record;
    if (options.beforeUploadsOf !== undefined && isSettling(record) && settlingRun(record) !== options.beforeUploadsOf)
      throw new SourceSettlingError(key, record?.settling_since);
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

/**
 * Marks the record read (`settling_since`) before its keys are removed, written over exactly that object: answers with
 * the marked record as read back, or undefined when another attempt wrote the record since (it has taken those keys
 * over: nothing is to be removed). See `SETTLING_HOLD_MS`.
 */
export async function markRemoval(store: ObjectStore, key: string, read: ReadIntent): Promise<ReadIntent | undefined> {
  if (!read.record) return undefined;
  const marked = JSON.stringify(
    { ...read.record, settling_since: new Date().toISOString(), settling_run: read.record.run_id },
    null,
    2,
  );
  try {
    await store.putBytes('silver', key, marked, 'application/json', { ifMatch: read.etag });
  } catch (e) {
    if (e instanceof ObjectChangedError) return undefined;
    throw e;
  }
  const now = await readIntent(store, key);
  return now?.text === marked ? now : undefined;
}

/**
 * Ends a removal marked with `mark`: its record is deleted as read back then; or, when another attempt has written the
 * record since carrying the mark over (`carriedMark`), the mark alone is taken off that record (written over exactly
 * it), which otherwise held other runs off for the rest of `SETTLING_HOLD_MS` after the removal was done.
 */
export async function endRemoval(store: ObjectStore, key: string, mark: ReadIntent): Promise<void> {
  if (await deleteIntentAsRead(store, key, mark)) return;
  for (let attempt = 1; attempt <= INTENT_WRITE_ATTEMPTS; attempt++) {
    const now = await readIntent(store, key);
    const record = now?.record;
    if (!now || !record || record.settling_since !== mark.record?.settling_since) return; // not this removal's mark
    const { settling_since: _since, settling_run: _run, ...unmarked } = record;
    try {
      await store.putBytes('silver', key, JSON.stringify(unmarked, null, 2), 'application/json', { ifMatch: now.etag });
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

/**
 * Takes back an intent record this attempt wrote (`written`, its text): the record it replaced is put back (its
 * keys are still to be cleaned by a later run), or — `replaced` undefined — the key is left empty. Only while
 * the record is still this attempt's own: a concurrent delivery of the same source may have written its own
 * since, and a maintenance must keep seeing that one. The put-back is one step — the replaced record written over
 * ours only while the key still holds ours (`putBytes` `ifMatch`, S3 `If-Match`) — so a process killed during it
 * leaves either record, never the key empty.
 */
export async function withdrawIntent(
  store: ObjectStore,
  key: string,
  written: string,
  replaced: PendingIngest | undefined,
): Promise<void> {
  const now = await readIntent(store, key);
  if (!now || now.text !== written) return;
  if (!replaced) {
    await deleteIntentAsRead(store, key, now);
    return;
  }
  try {
    await store.putBytes('silver', key, JSON.stringify(replaced, null, 2), 'application/json', { ifMatch: now.etag });
  } catch (e) {
    if (!(e instanceof ObjectChangedError)) throw e; // another delivery's record is there now: it stays
  }
}
