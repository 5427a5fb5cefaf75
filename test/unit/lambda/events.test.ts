import { describe, expect, it } from '@jest/globals';
import {
  decodeS3EventKey,
  parseEventDocument,
  parseMessageBody,
  UnrecognizedEventError,
} from '../../../lambdas/ingest/events.ts';

function s3Notification(key: string, overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    Records: [
      {
        eventVersion: '2.1',
        eventSource: 'aws:s3',
        awsRegion: 'eu-west-1',
        eventTime: '2024-03-01T12:00:00.000Z',
        eventName: 'ObjectCreated:Put',
        s3: {
          s3SchemaVersion: '1.0',
          bucket: { name: 'lake-bronze', arn: 'arn:aws:s3:::lake-bronze' },
          object: { key, size: 42, eTag: '0123abcd', versionId: 'v1', sequencer: '00A' },
        },
        ...overrides,
      },
    ],
  };
}

function eventBridgeEvent(key: string, detailType = 'Object Created'): Record<string, unknown> {
  return {
    version: '0',
    id: '17793124-05d4-b198-2fde-7ededc63b103',
    'detail-type': detailType,
    source: 'aws.s3',
    account: '123456789012',
    time: '2024-03-01T12:00:05Z',
    region: 'eu-west-1',
    resources: ['arn:aws:s3:::lake-bronze'],
    detail: {
      version: '0',
      bucket: { name: 'lake-bronze' },
      object: { key, size: 7, etag: 'feed', 'version-id': 'v9', sequencer: '617f' },
      reason: 'CompleteMultipartUpload',
    },
  };
}

describe('decodeS3EventKey', () => {
  it.each([
    ['transactions/a+b.csv', 'transactions/a b.csv'],
    ['transactions/a%2Bb.csv', 'transactions/a+b.csv'],
    ['transactions%2F2024%2Fjan.csv', 'transactions/2024/jan.csv'],
    ['transactions/M%C3%A4rz+%E6%9D%B1%E4%BA%AC.csv', 'transactions/März 東京.csv'],
    ['transactions/10%3A47%3A07.csv', 'transactions/10:47:07.csv'],
    ['transactions/year%3D2024/x.csv', 'transactions/year=2024/x.csv'],
    ['plain/key.csv', 'plain/key.csv'],
  ])('%s → %s', (encoded, decoded) => {
    expect(decodeS3EventKey(encoded)).toBe(decoded);
  });

  it('rejects broken percent-encoding with the key in the message', () => {
    expect(() => decodeS3EventKey('transactions/100%.csv')).toThrow(/transactions\/100%\.csv/);
  });
});

describe('S3 event notifications', () => {
  it('reads bucket, decoded key, version, ETag, size and event time', () => {
    const parsed = parseEventDocument(s3Notification('transactions/jan+2024/f%C3%BCr.csv'));
    expect(parsed.ignored).toEqual([]);
    expect(parsed.objects).toEqual([
      {
        bucket: 'lake-bronze',
        key: 'transactions/jan 2024/für.csv',
        versionId: 'v1',
        etag: '0123abcd',
        size: 42,
        eventTime: new Date('2024-03-01T12:00:00.000Z'),
        eventName: 'ObjectCreated:Put',
        origin: 's3-notification',
      },
    ]);
  });

  it('tolerates what moto leaves out (versionId, sequencer) and a string size', () => {
    const doc = s3Notification('k.csv');
    const [record] = doc.Records as { s3: { object: Record<string, unknown> } }[];
    record!.s3.object = { key: 'k.csv', size: '5', eTag: 'e' };
    const [object] = parseEventDocument(doc).objects;
    expect(object).toMatchObject({ key: 'k.csv', size: 5, etag: 'e' });
    expect(object?.versionId).toBeUndefined();
  });

  it('keeps every record of a multi-record message', () => {
    const a = s3Notification('a.csv').Records as unknown[];
    const b = s3Notification('b.csv', { eventName: 'ObjectCreated:CompleteMultipartUpload' }).Records as unknown[];
    const parsed = parseEventDocument({ Records: [...a, ...b] });
    expect(parsed.objects.map((o) => [o.key, o.eventName])).toEqual([
      ['a.csv', 'ObjectCreated:Put'],
      ['b.csv', 'ObjectCreated:CompleteMultipartUpload'],
    ]);
  });

  it('ignores deletions and other non-creation events', () => {
    const parsed = parseEventDocument(s3Notification('a.csv', { eventName: 'ObjectRemoved:Delete' }));
    expect(parsed.objects).toEqual([]);
    expect(parsed.ignored).toEqual([{ reason: 'not-object-created', detail: 'ObjectRemoved:Delete' }]);
  });

  it('ignores s3:TestEvent', () => {
    const body = JSON.stringify({
      Service: 'Amazon S3',
      Event: 's3:TestEvent',
      Time: '2024-03-01T12:00:00.000Z',
      Bucket: 'lake-bronze',
    });
    expect(parseMessageBody(body)).toEqual({
      objects: [],
      ignored: [{ reason: 'test-event', detail: 's3:TestEvent for bucket lake-bronze' }],
    });
  });

  it('unwraps an SNS envelope', () => {
    const body = JSON.stringify({
      Type: 'Notification',
      MessageId: 'm',
      Message: JSON.stringify(s3Notification('x%2By.csv')),
    });
    expect(parseMessageBody(body).objects[0]?.key).toBe('x+y.csv');
  });
});

describe('EventBridge events', () => {
  it('reads the key as is (EventBridge does not URL-encode it)', () => {
    const parsed = parseEventDocument(eventBridgeEvent('transactions/a+b c.csv'));
    expect(parsed.objects).toEqual([
      {
        bucket: 'lake-bronze',
        key: 'transactions/a+b c.csv',
        versionId: 'v9',
        etag: 'feed',
        size: 7,
        eventTime: new Date('2024-03-01T12:00:05Z'),
        eventName: 'Object Created (CompleteMultipartUpload)',
        origin: 'eventbridge',
      },
    ]);
  });

  it("accepts moto's `eTag` spelling", () => {
    const event = eventBridgeEvent('k.csv');
    const object = (event.detail as { object: Record<string, unknown> }).object;
    delete object.etag;
    object.eTag = 'moto-etag';
    expect(parseEventDocument(event).objects[0]?.etag).toBe('moto-etag');
  });

  it('ignores other S3 detail types', () => {
    expect(parseEventDocument(eventBridgeEvent('k', 'Object Deleted')).ignored).toEqual([
      { reason: 'not-object-created', detail: 'Object Deleted' },
    ]);
  });
});

describe('garbage', () => {
  it.each([
    ['not JSON', 'hello, I am not an event'],
    ['a JSON array', '[1,2]'],
    ['an unrelated object', '{"foo":1}'],
    ['empty Records', '{"Records":[]}'],
    [
      'a record without a key',
      JSON.stringify({
        Records: [{ eventSource: 'aws:s3', eventName: 'ObjectCreated:Put', s3: { bucket: { name: 'b' }, object: {} } }],
      }),
    ],
    ['a non-S3 record', JSON.stringify({ Records: [{ eventSource: 'aws:dynamodb' }] })],
    ['an Object Created event without detail', JSON.stringify({ source: 'aws.s3', 'detail-type': 'Object Created' })],
  ])('%s is an UnrecognizedEventError quoting the payload', (_label, body) => {
    expect(() => parseMessageBody(body)).toThrow(UnrecognizedEventError);
    expect(() => parseMessageBody(body)).toThrow(/payload starts/);
  });
});

describe('schema errors', () => {
  it('name the field that does not fit, so the DLQ entry says what is wrong', () => {
    const noKey = JSON.stringify({
      Records: [{ eventSource: 'aws:s3', eventName: 'ObjectCreated:Put', s3: { bucket: { name: 'b' }, object: {} } }],
    });
    expect(() => parseMessageBody(noKey)).toThrow(/Records\[0\]\.s3 at object\.key: .*expected string/);
    expect(() => parseMessageBody(JSON.stringify({ Records: [{ eventSource: 'aws:dynamodb' }] }))).toThrow(
      /at Records\.0\.eventSource: .*"aws:s3"/,
    );
    expect(() => parseMessageBody(JSON.stringify({ Type: 'Notification', Message: 7 }))).toThrow(
      /SNS envelope at Message/,
    );
  });
});
