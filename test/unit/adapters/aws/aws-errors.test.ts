import { describe, expect, it } from '@jest/globals';
import { isNotFoundError, isTransientError } from '../../../../adapters/aws/aws-errors.ts';
import { S3StoreError } from '../../../../adapters/aws/s3-store.ts';
import { backoffDelay, withBackoff } from '../../../../adapters/aws/retry.ts';

const err = (name: string, extra: Record<string, unknown> = {}): Error =>
  Object.assign(new Error(name), { name, ...extra });

describe('isTransientError', () => {
  it.each([
    ['ThrottlingException', err('ThrottlingException', { $metadata: { httpStatusCode: 400 } })],
    ['SlowDown (S3 503)', err('SlowDown', { $metadata: { httpStatusCode: 503 } })],
    ['any 5xx', err('Whatever', { $metadata: { httpStatusCode: 502 } })],
    ['server fault', err('InternalError', { $fault: 'server' })],
    ['socket reset', Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET' })],
    ['SDK timeout', err('TimeoutError')],
    ['Glue concurrent modification', err('ConcurrentModificationException', { $metadata: { httpStatusCode: 400 } })],
    ['wrapped', new S3StoreError('GetObject', 'b', 'k', err('SlowDown', { $metadata: { httpStatusCode: 503 } }))],
  ])('%s is transient', (_label, error) => expect(isTransientError(error)).toBe(true));

  it.each([
    ['AccessDenied', err('AccessDenied', { $metadata: { httpStatusCode: 403 }, $fault: 'client' })],
    ['NoSuchBucket', err('NoSuchBucket', { $metadata: { httpStatusCode: 404 }, $fault: 'client' })],
    ['a plain bug', new TypeError('x is undefined')],
    ['not an error', 'boom'],
  ])('%s is not transient', (_label, error) => expect(isTransientError(error)).toBe(false));
});

describe('isNotFoundError', () => {
  it('is true for missing keys and versions, false for a missing bucket', () => {
    expect(isNotFoundError(err('NoSuchKey', { $metadata: { httpStatusCode: 404 } }))).toBe(true);
    expect(isNotFoundError(err('NoSuchVersion', { $metadata: { httpStatusCode: 404 } }))).toBe(true);
    expect(isNotFoundError(err('NotFound', { $metadata: { httpStatusCode: 404 } }))).toBe(true);
    expect(isNotFoundError(err('NoSuchBucket', { $metadata: { httpStatusCode: 404 } }))).toBe(false);
  });
});

describe('S3StoreError', () => {
  it('names the operation, bucket, key and reason', () => {
    const e = new S3StoreError(
      'PutObject',
      'lake-silver',
      'transactions/a.parquet',
      err('AccessDenied', { $metadata: { httpStatusCode: 403 } }),
    );
    expect(e.message).toBe(
      'S3 PutObject s3://lake-silver/transactions/a.parquet failed: AccessDenied (HTTP 403): AccessDenied',
    );
    expect(e.transient).toBe(false);
  });
});

describe('backoff', () => {
  it('grows exponentially up to the cap, with full jitter', () => {
    const policy = { baseDelayMs: 100, maxDelayMs: 1000, random: () => 1 };
    expect([1, 2, 3, 4, 5].map((n) => backoffDelay(n, policy))).toEqual([100, 200, 400, 800, 1000]);
    expect(backoffDelay(3, { ...policy, random: () => 0 })).toBe(0);
  });

  it('stops at the first non-retryable error', async () => {
    let calls = 0;
    const run = withBackoff(
      async () => {
        calls++;
        throw new Error(calls === 1 ? 'retry me' : 'fatal');
      },
      (e) => (e as Error).message === 'retry me',
      { sleep: async () => {} },
    );
    await expect(run).rejects.toThrow('fatal');
    expect(calls).toBe(2);
  });
});
