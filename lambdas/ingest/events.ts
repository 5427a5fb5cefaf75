/**
 * What arrives at the ingest function, reduced to "these objects were created".
 *
 * Accepted shapes (alone, inside an SQS message body, or inside an SNS envelope in an SQS body):
 * - S3 event notifications: `{ Records: [{ eventSource: 'aws:s3', eventName: 'ObjectCreated:Put', s3: … }] }`.
 *   Their keys are URL-encoded form-style (`+` is a space, `%2B` a plus), so they are decoded.
 * - EventBridge events from S3: `{ source: 'aws.s3', 'detail-type': 'Object Created', detail: … }`.
 *   EventBridge carries the key as stored (not URL-encoded), so it is used as is.
 * - `s3:TestEvent`, which S3 sends when a notification configuration is saved: ignored.
 */

export type EventOrigin = 's3-notification' | 'eventbridge';

/** An object that landed in a bucket, as an event announced it. */
export interface ObjectCreatedEvent {
  bucket: string;
  /** Decoded key, exactly as stored in S3. */
  key: string;
  versionId?: string;
  etag?: string;
  size?: number;
  /** When S3 says the object was created; absent when the event carries no parsable time. */
  eventTime?: Date;
  /** `ObjectCreated:Put`, `ObjectCreated:CompleteMultipartUpload`, `Object Created` … */
  eventName: string;
  origin: EventOrigin;
}

/** A well-formed event that asks for no work (test events, deletions, other buckets' housekeeping). */
export interface IgnoredEvent {
  reason: 'test-event' | 'not-object-created';
  detail: string;
}

export interface ParsedEvents {
  objects: ObjectCreatedEvent[];
  ignored: IgnoredEvent[];
}

/** The payload is not an event this function understands. Retrying cannot help: it belongs in the DLQ. */
export class UnrecognizedEventError extends Error {
  constructor(reason: string, payload: unknown) {
    super(`unrecognized event: ${reason}; payload starts ${JSON.stringify(preview(payload))}`);
    this.name = 'UnrecognizedEventError';
  }
}

function preview(payload: unknown): string {
  const text = typeof payload === 'string' ? payload : (JSON.stringify(payload) ?? String(payload));
  return text.length > 300 ? `${text.slice(0, 300)}…` : text;
}

type JsonObject = Record<string, unknown>;

function isObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function optionalString(value: unknown): string | undefined {
  return typeof value === 'string' && value !== '' ? value : undefined;
}

function optionalSize(value: unknown): number | undefined {
  const n = typeof value === 'string' ? Number(value) : value;
  return typeof n === 'number' && Number.isFinite(n) && n >= 0 ? n : undefined;
}

function optionalDate(value: unknown): Date | undefined {
  if (typeof value !== 'string') return undefined;
  const date = new Date(value);
  return Number.isNaN(date.getTime()) ? undefined : date;
}

/** Decodes a key from an S3 event notification: form-style URL encoding (`+` is a space). */
export function decodeS3EventKey(encoded: string): string {
  try {
    return decodeURIComponent(encoded.replace(/\+/g, '%20'));
  } catch {
    throw new UnrecognizedEventError(`object key "${encoded}" is not valid URL encoding`, encoded);
  }
}

function parseS3Record(record: unknown, index: number): ObjectCreatedEvent | IgnoredEvent {
  if (!isObject(record) || record.eventSource !== 'aws:s3' || !isObject(record.s3)) {
    throw new UnrecognizedEventError(`Records[${index}] is not an S3 event record`, record);
  }
  const eventName = optionalString(record.eventName) ?? '';
  if (!eventName.startsWith('ObjectCreated:'))
    return { reason: 'not-object-created', detail: eventName || '(no eventName)' };
  const bucket = isObject(record.s3.bucket) ? optionalString(record.s3.bucket.name) : undefined;
  const object = isObject(record.s3.object) ? record.s3.object : undefined;
  const rawKey = object ? optionalString(object.key) : undefined;
  if (!bucket || !object || !rawKey)
    throw new UnrecognizedEventError(`Records[${index}] has no bucket name or object key`, record);
  return {
    bucket,
    key: decodeS3EventKey(rawKey),
    versionId: optionalString(object.versionId),
    etag: optionalString(object.eTag),
    size: optionalSize(object.size),
    eventTime: optionalDate(record.eventTime),
    eventName,
    origin: 's3-notification',
  };
}

function parseEventBridge(event: JsonObject): ObjectCreatedEvent | IgnoredEvent {
  const detailType = optionalString(event['detail-type']) ?? '';
  if (detailType !== 'Object Created')
    return { reason: 'not-object-created', detail: detailType || '(no detail-type)' };
  const detail = isObject(event.detail) ? event.detail : undefined;
  const bucket = detail && isObject(detail.bucket) ? optionalString(detail.bucket.name) : undefined;
  const object = detail && isObject(detail.object) ? detail.object : undefined;
  const key = object ? optionalString(object.key) : undefined;
  if (!bucket || !object || !key)
    throw new UnrecognizedEventError('EventBridge "Object Created" event has no bucket name or object key', event);
  return {
    bucket,
    key,
    versionId: optionalString(object['version-id']),
    etag: optionalString(object.etag) ?? optionalString(object.eTag), // AWS documents `etag`; moto sends `eTag`
    size: optionalSize(object.size),
    eventTime: optionalDate(event.time),
    eventName: `${detailType}${detail && optionalString(detail.reason) ? ` (${String(detail.reason)})` : ''}`,
    origin: 'eventbridge',
  };
}

function collect(results: (ObjectCreatedEvent | IgnoredEvent)[]): ParsedEvents {
  const parsed: ParsedEvents = { objects: [], ignored: [] };
  for (const r of results) {
    if ('reason' in r) parsed.ignored.push(r);
    else parsed.objects.push(r);
  }
  return parsed;
}

/** True for the document shapes `parseEventDocument` understands (used to tell direct invocations apart). */
export function isS3NotificationDocument(doc: unknown): boolean {
  return isObject(doc) && (Array.isArray(doc.Records) || doc.Event === 's3:TestEvent');
}

export function isEventBridgeS3Event(doc: unknown): boolean {
  return isObject(doc) && doc.source === 'aws.s3' && typeof doc['detail-type'] === 'string';
}

/** Parses one already-decoded event document. Throws `UnrecognizedEventError` for anything else. */
export function parseEventDocument(doc: unknown): ParsedEvents {
  if (!isObject(doc)) throw new UnrecognizedEventError('not a JSON object', doc);
  if (doc.Event === 's3:TestEvent') {
    return {
      objects: [],
      ignored: [{ reason: 'test-event', detail: `s3:TestEvent for bucket ${String(doc.Bucket ?? '?')}` }],
    };
  }
  if (Array.isArray(doc.Records)) {
    if (doc.Records.length === 0) throw new UnrecognizedEventError('Records is empty', doc);
    return collect(doc.Records.map((r, i) => parseS3Record(r, i)));
  }
  if (isEventBridgeS3Event(doc)) return collect([parseEventBridge(doc)]);
  if (doc.Type === 'Notification' && typeof doc.Message === 'string') return parseMessageBody(doc.Message); // SNS envelope
  throw new UnrecognizedEventError('neither an S3 notification, an EventBridge S3 event nor an s3:TestEvent', doc);
}

/** Parses an SQS message body (JSON text). */
export function parseMessageBody(body: string): ParsedEvents {
  let doc: unknown;
  try {
    doc = JSON.parse(body);
  } catch (e) {
    throw new UnrecognizedEventError(`body is not JSON (${(e as Error).message})`, body);
  }
  return parseEventDocument(doc);
}
