/**
 * What arrives at the ingest function, reduced to "these objects were created".
 *
 * Accepted shapes (alone, inside an SQS message body, or inside an SNS envelope in an SQS body):
 * - S3 event notifications: `{ Records: [{ eventSource: 'aws:s3', eventName: 'ObjectCreated:Put', s3: … }] }`.
 *   Their keys are URL-encoded form-style (`+` is a space, `%2B` a plus), so they are decoded.
 * - EventBridge events from S3: `{ source: 'aws.s3', 'detail-type': 'Object Created', detail: … }`.
 *   EventBridge carries the key as stored (not URL-encoded), so it is used as is.
 * - `s3:TestEvent`, which S3 sends when a notification configuration is saved: ignored.
 *
 * The shapes are zod schemas run by Powertools' parser (`parse`). They are this function's
 * own, not Powertools' `S3Schema` / `S3EventNotificationEventBridgeSchema`: those require fields the function
 * never reads (`userIdentity`, `requestParameters`, `responseElements`, `configurationId`, the bucket's
 * `ownerIdentity` and `arn`; EventBridge's `id`, `account`, `region`, `resources`, `request-id`, `requester`),
 * which moto and hand-sent events leave out, and a message must not go to the DLQ for a field nobody reads.
 * Only what is read is required (bucket name, key); what is optional (version, ETag, size, time) is dropped
 * when malformed instead of failing the message.
 *
 * zod is imported as a namespace (`import * as z`): esbuild then bundles only what is used (≈ 85 KB). The named
 * `import { z }` — also what Powertools' `JSONStringified` helper does — pulls in every zod locale (≈ 450 KB),
 * so the message body is read with `JSON.parse` here instead of that helper.
 */
import { parse, ParseError } from '@aws-lambda-powertools/parser';
import * as z from 'zod';

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

/** A required name: a non-empty string. */
const Name = z.string().min(1);
/** An optional text: absent when missing, empty or not a string. */
const OptionalText = z
  .string()
  .optional()
  .catch(undefined)
  .transform((value) => value || undefined);
/** An object size: a number or a numeric string ≥ 0, otherwise absent. */
const OptionalSize = z
  .union([z.number(), z.string().transform(Number)])
  .pipe(z.number().nonnegative())
  .optional()
  .catch(undefined);
/** An event time: any string `Date` parses, otherwise absent. */
const OptionalDate = z
  .string()
  .optional()
  .catch(undefined)
  .transform((value) => {
    const date = value === undefined ? undefined : new Date(value);
    return date && !Number.isNaN(date.getTime()) ? date : undefined;
  });

const TestEventSchema = z.object({ Event: z.literal('s3:TestEvent'), Bucket: z.unknown().optional() });

/** One record of an S3 event notification, before its `s3` part is read (deletions need no bucket or key). */
const S3RecordSchema = z.object({
  eventSource: z.literal('aws:s3'),
  eventName: OptionalText,
  eventTime: OptionalDate,
  s3: z.looseObject({}),
});
const S3NotificationSchema = z.object({ Records: z.array(S3RecordSchema).min(1) });
const S3ObjectCreatedSchema = z.object({
  bucket: z.object({ name: Name }),
  object: z.object({ key: Name, versionId: OptionalText, eTag: OptionalText, size: OptionalSize }),
});

const EventBridgeS3Schema = z.object({ source: z.literal('aws.s3'), 'detail-type': z.string(), time: OptionalDate });
const EventBridgeObjectCreatedSchema = z.object({
  bucket: z.object({ name: Name }),
  object: z.object({
    key: Name,
    'version-id': OptionalText,
    etag: OptionalText,
    eTag: OptionalText, // AWS documents `etag`; moto sends `eTag`
    size: OptionalSize,
  }),
  reason: OptionalText,
});

const SnsEnvelopeSchema = z.object({ Type: z.literal('Notification'), Message: z.string() });

/** Runs a schema; a mismatch is an `UnrecognizedEventError` naming the first offending field. */
function parseAs<S extends z.ZodType>(schema: S, data: unknown, what: string, payload: unknown = data): z.output<S> {
  try {
    return parse(data, undefined, schema) as z.output<S>;
  } catch (error) {
    if (!(error instanceof ParseError)) throw error;
    const [issue] = (error.cause ?? []) as z.core.$ZodIssue[];
    const at = issue && issue.path.length > 0 ? ` at ${issue.path.join('.')}` : '';
    throw new UnrecognizedEventError(`${what}${at}: ${issue?.message ?? error.message}`, payload);
  }
}

/** Decodes a key from an S3 event notification: form-style URL encoding (`+` is a space). */
export function decodeS3EventKey(encoded: string): string {
  try {
    return decodeURIComponent(encoded.replace(/\+/g, '%20'));
  } catch {
    throw new UnrecognizedEventError(`object key "${encoded}" is not valid URL encoding`, encoded);
  }
}

function parseS3Record(record: z.output<typeof S3RecordSchema>, index: number): ObjectCreatedEvent | IgnoredEvent {
  const eventName = record.eventName ?? '';
  if (!eventName.startsWith('ObjectCreated:'))
    return { reason: 'not-object-created', detail: eventName || '(no eventName)' };
  const { bucket, object } = parseAs(S3ObjectCreatedSchema, record.s3, `Records[${index}].s3`, record);
  return {
    bucket: bucket.name,
    key: decodeS3EventKey(object.key),
    versionId: object.versionId,
    etag: object.eTag,
    size: object.size,
    eventTime: record.eventTime,
    eventName,
    origin: 's3-notification',
  };
}

function parseEventBridge(
  event: z.output<typeof EventBridgeS3Schema>,
  doc: unknown,
): ObjectCreatedEvent | IgnoredEvent {
  const detailType = event['detail-type'];
  if (detailType !== 'Object Created')
    return { reason: 'not-object-created', detail: detailType || '(no detail-type)' };
  const { bucket, object, reason } = parseAs(
    EventBridgeObjectCreatedSchema,
    (doc as { detail?: unknown }).detail,
    'EventBridge "Object Created" detail',
    doc,
  );
  return {
    bucket: bucket.name,
    key: object.key,
    versionId: object['version-id'],
    etag: object.etag ?? object.eTag,
    size: object.size,
    eventTime: event.time,
    eventName: reason ? `${detailType} (${reason})` : detailType,
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

/** Parses one already-decoded event document. Throws `UnrecognizedEventError` for anything else. */
export function parseEventDocument(doc: unknown): ParsedEvents {
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc))
    throw new UnrecognizedEventError('not a JSON object', doc);
  // The shape is chosen by its marker field, so a malformed event is reported against the shape it claims.
  if ('Event' in doc && doc.Event === 's3:TestEvent') {
    const test = parseAs(TestEventSchema, doc, 's3:TestEvent');
    return {
      objects: [],
      ignored: [{ reason: 'test-event', detail: `s3:TestEvent for bucket ${String(test.Bucket ?? '?')}` }],
    };
  }
  if ('Records' in doc && Array.isArray(doc.Records)) {
    const notification = parseAs(S3NotificationSchema, doc, 'S3 event notification');
    return collect(notification.Records.map((r, i) => parseS3Record(r, i)));
  }
  if ('source' in doc && doc.source === 'aws.s3' && 'detail-type' in doc)
    return collect([parseEventBridge(parseAs(EventBridgeS3Schema, doc, 'EventBridge S3 event'), doc)]);
  if ('Type' in doc && doc.Type === 'Notification')
    return parseMessageBody(parseAs(SnsEnvelopeSchema, doc, 'SNS envelope').Message);
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
