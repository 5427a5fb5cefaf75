import { S3Client } from '@aws-sdk/client-s3';
import { describe, expect, it } from '@jest/globals';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { S3ObjectStore, S3StoreError } from '../../../../adapters/aws/s3-store.ts';
import { AccessDeniedError, ObjectExistsError } from '../../../../engine/contract/index.ts';

function fakeS3(reply: (name: string, input: Record<string, unknown>) => unknown) {
  const calls: { name: string; input: Record<string, unknown> }[] = [];
  const client = {
    send: async (command: { constructor: { name: string }; input: Record<string, unknown> }) => {
      calls.push({ name: command.constructor.name, input: command.input });
      return reply(command.constructor.name, command.input);
    },
  } as unknown as S3Client;
  return { client, calls };
}

/** A real client's configuration (endpoint resolution works offline): lib-storage reads it around its calls. */
function realClientConfig(): S3Client['config'] {
  return new S3Client({ region: 'eu-west-1', credentials: { accessKeyId: 'test', secretAccessKey: 'test' } }).config;
}

describe('S3ObjectStore', () => {
  it.each([0, -1, 1.5, Number.NaN])('refuses %p multipart files at once (a store that would never upload one)', (n) => {
    expect(() => new S3ObjectStore(fakeS3(() => ({})).client, { silver: 's' }, { multipartFilesAtOnce: n })).toThrow(
      RangeError,
    );
  });

  it('deletes in chunks of 1000 and reports per-key failures with their codes', async () => {
    const s3 = fakeS3(() => ({}));
    const store = new S3ObjectStore(s3.client, { silver: 'lake-silver' });
    await store.delete(
      'silver',
      Array.from({ length: 2500 }, (_, i) => `k${i}`),
    );
    expect(s3.calls.map((c) => (c.input.Delete as { Objects: unknown[] }).Objects.length)).toEqual([1000, 1000, 500]);

    const failing = fakeS3(() => ({ Errors: [{ Key: 'k1', Code: 'AccessDenied', Message: 'nope' }] }));
    await expect(
      new S3ObjectStore(failing.client, { silver: 'lake-silver' }).delete('silver', ['k0', 'k1']),
    ).rejects.toThrow(/DeleteObjects s3:\/\/lake-silver\/k0 \(\+1 more\) failed: AccessDenied.*k1: AccessDenied nope/);
  });

  it('lists across pages', async () => {
    const pages: Record<string, unknown>[] = [
      {
        Contents: [{ Key: 'a', Size: 1, ETag: '"e1"', LastModified: new Date(0) }],
        IsTruncated: true,
        NextContinuationToken: 't1',
      },
      { Contents: [{ Key: 'b', Size: 2, ETag: '"e2"', LastModified: new Date(0) }], IsTruncated: false },
    ];
    const s3 = fakeS3(() => pages.shift());
    const listed = [];
    for await (const o of new S3ObjectStore(s3.client, { silver: 's' }).list('silver', 'p/')) listed.push(o);
    expect(listed.map((o) => [o.key, o.size, o.version])).toEqual([
      ['a', 1, 'e1'],
      ['b', 2, 'e2'],
    ]);
    expect(s3.calls.map((c) => c.input.ContinuationToken)).toEqual([undefined, 't1']);
  });

  it('returns undefined from getBytes for a missing key, and wraps other errors', async () => {
    const missing = fakeS3(() =>
      Promise.reject(Object.assign(new Error('no key'), { name: 'NoSuchKey', $metadata: { httpStatusCode: 404 } })),
    );
    expect(await new S3ObjectStore(missing.client, { silver: 's' }).getBytes('silver', 'k')).toBeUndefined();
    const denied = fakeS3(() =>
      Promise.reject(Object.assign(new Error('denied'), { name: 'AccessDenied', $metadata: { httpStatusCode: 403 } })),
    );
    await expect(new S3ObjectStore(denied.client, { silver: 's' }).getBytes('silver', 'k')).rejects.toBeInstanceOf(
      S3StoreError,
    );
  });

  it('create-only puts send If-None-Match: * and turn a 412 into ObjectExistsError; other puts send no condition', async () => {
    const dir = await mkdtemp(join(tmpdir(), 's3-put-'));
    try {
      const file = join(dir, 'x.csv');
      await writeFile(file, 'id\n1\n');
      const taken = fakeS3(() =>
        Promise.reject(
          Object.assign(new Error('At least one of the pre-conditions you specified did not hold'), {
            name: 'PreconditionFailed',
            $metadata: { httpStatusCode: 412 },
          }),
        ),
      );
      Object.assign(taken.client, { config: realClientConfig() }); // lib-storage reads the client's config
      const store = new S3ObjectStore(taken.client, { bronze: 'lake-bronze' });
      await expect(
        store.putFile('bronze', 'transactions/x.csv', file, 'text/csv', { ifNoneMatch: true }),
      ).rejects.toBeInstanceOf(ObjectExistsError);
      expect(taken.calls.map((c) => [c.name, c.input.IfNoneMatch])).toEqual([['PutObjectCommand', '*']]);
      await expect(store.putFile('bronze', 'transactions/x.csv', file)).rejects.toBeInstanceOf(S3StoreError); // not create-only: a plain failure

      const free = fakeS3(() => ({}));
      Object.assign(free.client, { config: realClientConfig() });
      await new S3ObjectStore(free.client, { bronze: 'lake-bronze' }).putFile('bronze', 'transactions/x.csv', file);
      expect(free.calls.map((c) => [c.name, c.input.IfNoneMatch])).toEqual([['PutObjectCommand', undefined]]);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('head: 404 is no object, 403 is AccessDeniedError (an identity that may put but not read), others S3StoreError', async () => {
    const failing = (name: string, httpStatusCode: number) =>
      new S3ObjectStore(
        fakeS3(() => Promise.reject(Object.assign(new Error(name), { name, $metadata: { httpStatusCode } }))).client,
        { bronze: 'lake-bronze' },
      );
    expect(await failing('NotFound', 404).head('bronze', 'k')).toBeUndefined();
    const denied = await failing('Forbidden', 403)
      .head('bronze', 'transactions/x.csv')
      .catch((e: unknown) => e);
    expect(denied).toBeInstanceOf(AccessDeniedError);
    expect(denied).toMatchObject({ zone: 'bronze', key: 'transactions/x.csv', operation: 'HeadObject' });
    await expect(failing('InternalError', 500).head('bronze', 'k')).rejects.toBeInstanceOf(S3StoreError);
  });

  it('refuses a zone without a bucket', async () => {
    await expect(
      new S3ObjectStore(fakeS3(() => ({})).client, { silver: 's' }).putBytes('gold', 'k', 'x'),
    ).rejects.toThrow('no bucket is configured for the gold zone');
  });
});
