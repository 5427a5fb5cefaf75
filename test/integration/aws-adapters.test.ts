/**
 * The AWS adapters on their own against moto and the template's buckets and Glue table: behaviour the
 * ingest tests do not force (multipart uploads of outputs, listing across pages, deletes beyond 1000 keys,
 * more than 100 partitions, "already exists" from real Glue).
 */
import { GetTableCommand, UpdateTableCommand } from '@aws-sdk/client-glue';
import {
  DeleteObjectCommand,
  HeadObjectCommand,
  ListMultipartUploadsCommand,
  PutObjectCommand,
} from '@aws-sdk/client-s3';
import { createHash, randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from '@jest/globals';
import { GlueCatalog } from '../../adapters/aws/glue-catalog.ts';
import { S3ObjectStore, S3StoreError } from '../../adapters/aws/s3-store.ts';
import { ObjectChangedError, ObjectExistsError, type PartitionSpec } from '../../engine/contract/index.ts';
import { startFaultProxy, type InjectedFault } from '../support/integration/fault-proxy.ts';
import { gluePartitions, listKeys, skipReason, useLake } from '../support/integration/lake-fixture.ts';
import { clientsFor } from '../support/integration/provision.ts';

const MiB = 1024 * 1024;

(skipReason ? describe.skip : describe)('AWS adapters against the emulator', () => {
  const lake = useLake();
  const store = () => {
    const fx = lake();
    return new S3ObjectStore(
      fx.clients.s3,
      { bronze: fx.lake.buckets.bronze, silver: fx.lake.buckets.silver, quarantine: fx.lake.buckets.quarantine },
      { partSize: 5 * MiB, listPageSize: 2 },
    );
  };

  it('uploads a local file in parts and streams it back intact', async () => {
    const fx = lake();
    const file = join(fx.scratchDir, 'multipart.bin');
    const content = randomBytes(12 * MiB);
    writeFileSync(file, content);
    await store().putFile(
      'silver',
      'transactions/year=2024/month=01/big.parquet',
      file,
      'application/vnd.apache.parquet',
    );

    const head = await fx.clients.s3.send(
      new HeadObjectCommand({ Bucket: fx.lake.buckets.silver, Key: 'transactions/year=2024/month=01/big.parquet' }),
    );
    expect(head.ETag).toMatch(/-3"$/); // 3 parts of ≤ 5 MiB
    expect(head.ContentType).toBe('application/vnd.apache.parquet');
    const hash = createHash('sha256');
    for await (const chunk of await store().getStream('silver', 'transactions/year=2024/month=01/big.parquet'))
      hash.update(chunk as Buffer);
    expect(hash.digest('hex')).toBe(createHash('sha256').update(content).digest('hex'));
  });

  it('putFile runs at most multipartFilesAtOnce multipart uploads at once, however many puts run', async () => {
    const fx = lake();
    const limited = new S3ObjectStore(
      fx.clients.s3,
      { silver: fx.lake.buckets.silver },
      { partSize: 5 * MiB, multipartFilesAtOnce: 2 },
    );
    // Multipart uploads between their create and their complete, as the SDK sends them to the emulator.
    let inFlight = 0;
    let most = 0;
    const name = 'count-multipart-uploads';
    fx.clients.s3.middlewareStack.add(
      (next, context) => async (args) => {
        const command = context.commandName;
        if (command === 'CreateMultipartUploadCommand') most = Math.max(most, ++inFlight);
        try {
          return await next(args);
        } finally {
          if (command === 'CompleteMultipartUploadCommand' || command === 'AbortMultipartUploadCommand') inFlight--;
        }
      },
      { step: 'initialize', name },
    );
    try {
      const files = Array.from({ length: 9 }, (_, i) => {
        const file = join(fx.scratchDir, `concurrent-${i}.bin`);
        writeFileSync(file, randomBytes(i < 5 ? 6 * MiB : 100_000)); // 5 above one part, 4 below
        return file;
      });
      await Promise.all(files.map((file, i) => limited.putFile('silver', `transactions/concurrent/${i}.bin`, file)));
      expect(most).toBe(2);
      expect(inFlight).toBe(0);
      const keys = await listKeys(fx, fx.lake.buckets.silver, 'transactions/concurrent/');
      expect(keys).toHaveLength(9);
    } finally {
      fx.clients.s3.middlewareStack.remove(name);
    }
  });

  it('putStream uploads bytes as they are produced, in parts; a body that fails leaves no object and no parts', async () => {
    const fx = lake();
    const content = randomBytes(12 * MiB);
    async function* produced(fail: boolean): AsyncIterable<Uint8Array> {
      for (let at = 0; at < content.length; at += MiB) {
        if (fail && at >= 7 * MiB) throw new Error('the producer failed');
        yield content.subarray(at, at + MiB);
      }
    }
    const key = '_staging/transactions/s1/text.txt';
    await store().putStream('silver', key, produced(false), 'text/plain');
    const head = await fx.clients.s3.send(new HeadObjectCommand({ Bucket: fx.lake.buckets.silver, Key: key }));
    expect(head.ETag).toMatch(/-3"$/); // 3 parts of ≤ 5 MiB
    expect(Buffer.from((await store().getBytes('silver', key)) ?? []).equals(content)).toBe(true);

    const failed = '_staging/transactions/s2/text.txt';
    await expect(store().putStream('silver', failed, produced(true))).rejects.toThrow(/the producer failed/);
    expect(await store().getBytes('silver', failed)).toBeUndefined();
    const uploads = await fx.clients.s3.send(new ListMultipartUploadsCommand({ Bucket: fx.lake.buckets.silver }));
    expect(uploads.Uploads ?? []).toEqual([]);
  });

  it('getBytes: contents, or undefined for a missing key; getStream names the missing key', async () => {
    await store().putBytes('silver', '_manifests/x/a.json', '{"a":1}', 'application/json');
    expect(new TextDecoder().decode(await store().getBytes('silver', '_manifests/x/a.json'))).toBe('{"a":1}');
    expect(await store().getBytes('silver', '_manifests/x/missing.json')).toBeUndefined();
    const error = await store()
      .getStream('silver', 'nope.parquet')
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(S3StoreError);
    expect(error).toMatchObject({
      transient: false,
      message: expect.stringMatching(/GetObject s3:\/\/.*\/nope\.parquet failed: NoSuchKey/),
    });
  });

  it('open: the exact version asked for, a byte range, the identity S3 returned; undefined for a missing key or version', async () => {
    const fx = lake();
    const bucket = fx.lake.buckets.bronze;
    const key = 'transactions/open.csv';
    const first = await fx.clients.s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: 'id\nfirst\n' }));
    await fx.clients.s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: 'id\nsecond\n' }));
    const text = async (o: { body: AsyncIterable<unknown> } | undefined) => {
      const chunks: Buffer[] = [];
      for await (const c of o!.body) chunks.push(c as Buffer);
      return Buffer.concat(chunks).toString('utf8');
    };
    const old = await store().open('bronze', key, { versionId: first.VersionId });
    expect(old).toMatchObject({ versionId: first.VersionId, etag: first.ETag, size: 9 });
    expect(await text(old)).toBe('id\nfirst\n');
    expect(await text(await store().open('bronze', key))).toBe('id\nsecond\n');
    const range = await store().open('bronze', key, { range: { start: 3, end: 8 } });
    expect(range?.size).toBe(6);
    expect(await text(range)).toBe('second');
    expect(await store().open('bronze', 'transactions/none.csv')).toBeUndefined();
  });

  it('putFile returns the new version; head gives it back with the metadata written; undefined for a missing key', async () => {
    const fx = lake();
    const file = join(fx.scratchDir, 'head.csv');
    writeFileSync(file, 'id\n1\n');
    const sent: number[] = [];
    const put = await store().putFile('bronze', 'transactions/head.csv', file, undefined, {
      ifNoneMatch: true,
      metadata: { 'content-md5-hex': 'abc123' },
      onProgress: (n) => sent.push(n),
    });
    expect(put.versionId).toEqual(expect.any(String));
    expect(put.etag).toBe(`"${createHash('md5').update('id\n1\n').digest('hex')}"`);
    expect(sent.at(-1)).toBe(5);
    const head = await store().head('bronze', 'transactions/head.csv');
    expect(head).toMatchObject({
      key: 'transactions/head.csv',
      size: 5,
      versionId: put.versionId,
      etag: put.etag,
      metadata: { 'content-md5-hex': 'abc123' },
    });
    expect(await store().head('bronze', 'transactions/none.csv')).toBeUndefined();
    await expect(
      store().putFile('bronze', 'transactions/head.csv', file, undefined, { ifNoneMatch: true }),
    ).rejects.toBeInstanceOf(ObjectExistsError);
  });

  it('putBytes create-only: the first write lands, a second is ObjectExistsError and leaves the first bytes', async () => {
    const key = '_maintenance/leases/transactions.json';
    await store().putBytes('silver', key, 'first', 'application/json', { ifNoneMatch: true });
    await expect(
      store().putBytes('silver', key, 'second', 'application/json', { ifNoneMatch: true }),
    ).rejects.toBeInstanceOf(ObjectExistsError);
    expect(Buffer.from((await store().getBytes('silver', key)) ?? []).toString()).toBe('first');
  });

  it('deleteIfMatch (DeleteObject If-Match): deletes the object read; one replaced since is ObjectChangedError and stays; none there is done', async () => {
    const fx = lake();
    const key = '_pending/transactions/conditional.json';
    await store().putBytes('silver', key, '{"attempt_id":"a"}', 'application/json');
    const read = await store().getBytesWithEtag('silver', key);
    expect(Buffer.from(read?.bytes ?? []).toString()).toBe('{"attempt_id":"a"}');
    expect(read?.etag).toMatch(/^"[0-9a-f]{32}"$/);
    // The emulator itself compares: a DeleteObject naming another ETag is refused with 412 over HTTP.
    const wrong = await fx.clients.s3
      .send(new DeleteObjectCommand({ Bucket: fx.lake.buckets.silver, Key: key, IfMatch: '"0"' }))
      .catch((e: unknown) => e as { $metadata?: { httpStatusCode?: number } });
    expect(wrong).toMatchObject({ $metadata: { httpStatusCode: 412 } });
    await store().deleteIfMatch('silver', key, read!.etag);
    expect(await store().getBytes('silver', key)).toBeUndefined();
    await store().deleteIfMatch('silver', key, read!.etag); // no current object: nothing to delete

    await store().putBytes('silver', key, '{"attempt_id":"b"}', 'application/json');
    const b = await store().getBytesWithEtag('silver', key);
    await store().putBytes('silver', key, '{"attempt_id":"c"}', 'application/json');
    await expect(store().deleteIfMatch('silver', key, b!.etag)).rejects.toBeInstanceOf(ObjectChangedError);
    expect(Buffer.from((await store().getBytes('silver', key)) ?? []).toString()).toBe('{"attempt_id":"c"}');
  });

  it('putBytes ifMatch (PutObject If-Match): replaces the object read; one replaced since, or none, is ObjectChangedError and nothing is written', async () => {
    const fx = lake();
    const key = '_pending/transactions/conditional-put.json';
    await store().putBytes('silver', key, '{"attempt_id":"ours"}', 'application/json');
    const ours = await store().getBytesWithEtag('silver', key);
    // The emulator itself compares: a PutObject naming another ETag is refused with 412 over HTTP.
    const wrong = await fx.clients.s3
      .send(new PutObjectCommand({ Bucket: fx.lake.buckets.silver, Key: key, Body: 'x', IfMatch: '"0"' }))
      .catch((e: unknown) => e as { $metadata?: { httpStatusCode?: number } });
    expect(wrong).toMatchObject({ $metadata: { httpStatusCode: 412 } });
    await store().putBytes('silver', key, '{"attempt_id":"replaced"}', 'application/json', { ifMatch: ours!.etag });
    expect(Buffer.from((await store().getBytes('silver', key)) ?? []).toString()).toBe('{"attempt_id":"replaced"}');

    await expect(
      store().putBytes('silver', key, '{"attempt_id":"late"}', 'application/json', { ifMatch: ours!.etag }),
    ).rejects.toBeInstanceOf(ObjectChangedError);
    expect(Buffer.from((await store().getBytes('silver', key)) ?? []).toString()).toBe('{"attempt_id":"replaced"}');

    await store().delete('silver', [key]);
    await expect(
      store().putBytes('silver', key, '{"attempt_id":"late"}', 'application/json', { ifMatch: ours!.etag }),
    ).rejects.toBeInstanceOf(ObjectChangedError);
    expect(await store().getBytes('silver', key)).toBeUndefined();
  });

  it('open withEtag and putFile ifMatch (Upload If-Match): a file is put back only over exactly the object read', async () => {
    lake();
    const key = 'transactions/year=2024/month=01/part-compacted-conditional.parquet';
    await store().putBytes('silver', key, 'first');
    const opened = await store().open('silver', key, { withEtag: true });
    opened!.body.resume();
    expect(opened!.etag).toBe((await store().getBytesWithEtag('silver', key))!.etag);
    const dir = await mkdtemp(join(tmpdir(), 'put-if-match-'));
    const file = join(dir, 'rewritten.parquet');
    await writeFile(file, 'second');
    await store().putFile('silver', key, file, undefined, { ifMatch: opened!.etag });
    expect(Buffer.from((await store().getBytes('silver', key)) ?? []).toString()).toBe('second');
    await writeFile(file, 'late');
    await expect(store().putFile('silver', key, file, undefined, { ifMatch: opened!.etag })).rejects.toBeInstanceOf(
      ObjectChangedError,
    );
    expect(Buffer.from((await store().getBytes('silver', key)) ?? []).toString()).toBe('second');
    await rm(dir, { recursive: true, force: true });
  });

  it('putFile ifMatch of a multipart file sends If-Match on its complete; 412 and 409 there are ObjectChangedError, no parts left', async () => {
    const fx = lake();
    const key = 'transactions/year=2024/month=01/part-compacted-multipart.parquet';
    await store().putBytes('silver', key, 'first');
    const read = await store().getBytesWithEtag('silver', key);
    const file = join(fx.scratchDir, 'rewritten-multipart.bin');
    writeFileSync(file, randomBytes(12 * MiB));
    // moto checks no If-Match on CompleteMultipartUpload: the proxy sees what is sent there and answers as S3 would.
    const proxy = await startFaultProxy(fx.lake.endpoint);
    const completes: Array<string | undefined> = [];
    let answer: InjectedFault | undefined;
    proxy.setRule((req) => {
      const complete = req.method === 'POST' && /[?&]uploadId=/.test(req.url ?? '');
      if (!complete) return undefined;
      completes.push(req.headers['if-match'] as string | undefined);
      return answer;
    });
    const viaProxy = new S3ObjectStore(
      clientsFor(proxy.endpoint, fx.lake.region, fx.lake.accountId).s3,
      { bronze: fx.lake.buckets.bronze, silver: fx.lake.buckets.silver, quarantine: fx.lake.buckets.quarantine },
      { partSize: 5 * MiB },
    );
    try {
      const s3Error = (status: number, code: string): InjectedFault => ({
        status,
        contentType: 'application/xml',
        body: `<?xml version="1.0" encoding="UTF-8"?><Error><Code>${code}</Code><Message>injected</Message><RequestId>fault-proxy</RequestId></Error>`,
      });
      for (const [status, code] of [
        [412, 'PreconditionFailed'],
        [409, 'ConditionalRequestConflict'],
      ] as const) {
        answer = s3Error(status, code);
        await expect(viaProxy.putFile('silver', key, file, undefined, { ifMatch: read!.etag })).rejects.toBeInstanceOf(
          ObjectChangedError,
        );
        expect(Buffer.from((await store().getBytes('silver', key)) ?? []).toString()).toBe('first');
      }
      answer = undefined;
      await viaProxy.putFile('silver', key, file, undefined, { ifMatch: read!.etag });
      expect(completes).toEqual([read!.etag, read!.etag, read!.etag]);
      expect((await store().head('silver', key))?.size).toBe(12 * MiB);
      const uploads = await fx.clients.s3.send(new ListMultipartUploadsCommand({ Bucket: fx.lake.buckets.silver }));
      expect(uploads.Uploads ?? []).toEqual([]);
    } finally {
      await proxy.close();
    }
  });

  it('listVersions: every version under a prefix across pages, the current one marked, delete markers left out', async () => {
    const fx = lake();
    const bucket = fx.lake.buckets.bronze;
    const put = (Key: string, Body: string) => fx.clients.s3.send(new PutObjectCommand({ Bucket: bucket, Key, Body }));
    const a1 = await put('versions/a.csv', 'id\nA1\n');
    const a2 = await put('versions/a.csv', 'id\nA2-longer\n');
    const b1 = await put('versions/b.csv', 'id\nB\n');
    await put('versions/gone.csv', 'id\n');
    await fx.clients.s3.send(new DeleteObjectCommand({ Bucket: bucket, Key: 'versions/gone.csv' })); // a delete marker
    await put('elsewhere/c.csv', 'id\n');
    const versions = [];
    for await (const v of store().listVersions('bronze', 'versions/')) versions.push(v); // pages of 2
    const seen = versions.map(({ key, versionId, size, isLatest }) => ({ key, versionId, size, isLatest }));
    expect(seen).toEqual([
      // key order, and S3 lists a key's versions newest first
      { key: 'versions/a.csv', versionId: a2.VersionId, size: 13, isLatest: true },
      { key: 'versions/a.csv', versionId: a1.VersionId, size: 6, isLatest: false },
      { key: 'versions/b.csv', versionId: b1.VersionId, size: 5, isLatest: true },
      { key: 'versions/gone.csv', versionId: expect.any(String), size: 3, isLatest: false },
    ]);
    expect(versions.every((v) => Number.isFinite(v.lastModified.getTime()) && v.etag)).toBe(true);
  });

  it('lists across pages and deletes more than 1000 keys in chunks', async () => {
    const fx = lake();
    const keys = Array.from(
      { length: 1003 },
      (_, i) => `transactions/year=2024/month=02/part-${String(i).padStart(4, '0')}.parquet`,
    );
    for (let i = 0; i < keys.length; i += 50) {
      await Promise.all(
        keys
          .slice(i, i + 50)
          .map((Key) => fx.clients.s3.send(new PutObjectCommand({ Bucket: fx.lake.buckets.silver, Key, Body: 'x' }))),
      );
    }
    const listed: string[] = [];
    for await (const o of store().list('silver', 'transactions/year=2024/month=02/part-000')) listed.push(o.key);
    expect(listed).toEqual(keys.slice(0, 10)); // 5 pages of 2
    await store().delete('silver', keys);
    expect(await listKeys(fx, fx.lake.buckets.silver, 'transactions/')).toEqual([]);
  });

  it('registers more than 100 partitions in batches, and "already exists" is success', async () => {
    const fx = lake();
    const catalog = new GlueCatalog(fx.clients.glue, {
      database: fx.lake.glue.silverDatabase,
      bucket: fx.lake.buckets.silver,
    });
    const partitions: PartitionSpec[] = Array.from({ length: 150 }, (_, i) => {
      const [year, month] = [String(2000 + Math.floor(i / 12)), String((i % 12) + 1).padStart(2, '0')];
      return { values: [year, month], prefix: `transactions/year=${year}/month=${month}/` };
    });
    await catalog.addPartitions('transactions', partitions.slice(0, 120));
    await catalog.addPartitions('transactions', partitions); // 120 exist already
    const registered = await gluePartitions(fx, 'transactions');
    expect(registered).toHaveLength(150);
    expect(registered[149]!.StorageDescriptor?.Location).toBe(
      `s3://${fx.lake.buckets.silver}/transactions/year=2012/month=06/`,
    );
  });

  it('after a column is added to the table, the next registration brings every old partition to the new column list', async () => {
    const fx = lake();
    const glue = fx.clients.glue;
    const database = fx.lake.glue.silverDatabase;
    const spec = (month: string): PartitionSpec => ({
      values: ['2023', month],
      prefix: `transactions/year=2023/month=${month}/`,
    });
    await new GlueCatalog(glue, { database, bucket: fx.lake.buckets.silver }).addPartitions('transactions', [
      spec('01'),
      spec('02'),
    ]);
    // The deploy of an additive contract change: CloudFormation updates the table (not its partitions).
    const { Table } = await glue.send(new GetTableCommand({ DatabaseName: database, Name: 'transactions' }));
    const columns = [
      ...(Table?.StorageDescriptor?.Columns ?? []),
      { Name: 'channel', Type: 'string', Comment: 'new nullable column' },
    ];
    await glue.send(
      new UpdateTableCommand({
        DatabaseName: database,
        TableInput: {
          Name: 'transactions',
          TableType: Table?.TableType,
          Parameters: Table?.Parameters,
          PartitionKeys: Table?.PartitionKeys,
          StorageDescriptor: { ...Table?.StorageDescriptor, Columns: columns },
        },
      }),
    );
    const stale = await gluePartitions(fx, 'transactions');
    expect(stale.map((p) => p.StorageDescriptor?.Columns?.some((c) => c.Name === 'channel'))).toEqual([false, false]);

    // A new runtime (cold cache) registers one more partition: the two old ones are repaired, locations kept.
    const catalog = new GlueCatalog(glue, { database, bucket: fx.lake.buckets.silver });
    await catalog.addPartitions('transactions', [spec('03')]);
    const after = await gluePartitions(fx, 'transactions');
    expect(
      after.map((p) => [
        p.Values?.join('-'),
        p.StorageDescriptor?.Columns?.map((c) => c.Name).at(-1),
        p.StorageDescriptor?.Location,
      ]),
    ).toEqual(
      ['01', '02', '03'].map((m) => [
        `2023-${m}`,
        'channel',
        `s3://${fx.lake.buckets.silver}/transactions/year=2023/month=${m}/`,
      ]),
    );
    // Once repaired, the same runtime does not scan again for the same column list.
    expect(await catalog.repairPartitions('transactions')).toEqual([]);
  });
});
