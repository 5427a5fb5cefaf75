/**
 * The intent record of a publish (`silver/_pending/<dataset>/<source id>.json`, engine/ingest.ts `publish`):
 * several deliveries of one source may write it in turn, and a maintenance must keep seeing the record of every
 * publish in progress. So an attempt only ever deletes or replaces its own record, as the very object it read back
 * (`ObjectStore.deleteIfMatch`, `putBytes` `ifMatch`, on that read's entity tag, S3 `If-Match`) — never by a
 * read, a check and a plain delete or put, between which a concurrent delivery may have written its own.
 */
import { randomBytes } from 'node:crypto';
import type { PendingIngest } from './manifest.ts';
import { ObjectChangedError, type ObjectStore } from './ports.ts';

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
