/**
 * The AWS adapters on their own against moto and the template's buckets and Glue table: behaviour the
 * ingest tests do not force (multipart uploads of outputs, listing across pages, deletes beyond 1000 keys,
 * more than 100 partitions, "already exists" from real Glue).
 */
import { HeadObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { createHash, randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from '@jest/globals';
import { GlueCatalog } from '../../adapters/aws/glue-catalog.ts';
import { S3ObjectStore, S3StoreError } from '../../adapters/aws/s3-store.ts';
import type { PartitionSpec } from '../../engine/ports.ts';
import { gluePartitions, listKeys, skipReason, useLake } from './harness/lake-fixture.ts';

const MiB = 1024 * 1024;

(skipReason ? describe.skip : describe)('AWS adapters against the emulator', () => {
  const lake = useLake();
  const store = () => {
    const fx = lake();
    return new S3ObjectStore(fx.clients.s3, { bronze: fx.lake.buckets.bronze, silver: fx.lake.buckets.silver, quarantine: fx.lake.buckets.quarantine }, { partSize: 5 * MiB, listPageSize: 2 });
  };

  it('uploads a local file in parts and streams it back intact', async () => {
    const fx = lake();
    const file = join(fx.scratchDir, 'multipart.bin');
    const content = randomBytes(12 * MiB);
    writeFileSync(file, content);
    await store().putFile('silver', 'transactions/year=2024/month=01/big.parquet', file, 'application/vnd.apache.parquet');

    const head = await fx.clients.s3.send(new HeadObjectCommand({ Bucket: fx.lake.buckets.silver, Key: 'transactions/year=2024/month=01/big.parquet' }));
    expect(head.ETag).toMatch(/-3"$/); // 3 parts of ≤ 5 MiB
    expect(head.ContentType).toBe('application/vnd.apache.parquet');
    const hash = createHash('sha256');
    for await (const chunk of await store().getStream('silver', 'transactions/year=2024/month=01/big.parquet')) hash.update(chunk as Buffer);
    expect(hash.digest('hex')).toBe(createHash('sha256').update(content).digest('hex'));
  });

  it('getBytes: contents, or undefined for a missing key; getStream names the missing key', async () => {
    await store().putBytes('silver', '_manifests/x/a.json', '{"a":1}', 'application/json');
    expect(new TextDecoder().decode(await store().getBytes('silver', '_manifests/x/a.json'))).toBe('{"a":1}');
    expect(await store().getBytes('silver', '_manifests/x/missing.json')).toBeUndefined();
    const error = await store().getStream('silver', 'nope.parquet').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(S3StoreError);
    expect(error).toMatchObject({ transient: false, message: expect.stringMatching(/GetObject s3:\/\/.*\/nope\.parquet failed: NoSuchKey/) });
  });

  it('lists across pages and deletes more than 1000 keys in chunks', async () => {
    const fx = lake();
    const keys = Array.from({ length: 1003 }, (_, i) => `transactions/year=2024/month=02/part-${String(i).padStart(4, '0')}.parquet`);
    for (let i = 0; i < keys.length; i += 50) {
      await Promise.all(keys.slice(i, i + 50).map((Key) => fx.clients.s3.send(new PutObjectCommand({ Bucket: fx.lake.buckets.silver, Key, Body: 'x' }))));
    }
    const listed: string[] = [];
    for await (const o of store().list('silver', 'transactions/year=2024/month=02/part-000')) listed.push(o.key);
    expect(listed).toEqual(keys.slice(0, 10)); // 5 pages of 2
    await store().delete('silver', keys);
    expect(await listKeys(fx, fx.lake.buckets.silver, 'transactions/')).toEqual([]);
  });

  it('registers more than 100 partitions in batches, and "already exists" is success', async () => {
    const fx = lake();
    const catalog = new GlueCatalog(fx.clients.glue, { database: fx.lake.glue.silverDatabase, bucket: fx.lake.buckets.silver });
    const partitions: PartitionSpec[] = Array.from({ length: 150 }, (_, i) => {
      const [year, month] = [String(2000 + Math.floor(i / 12)), String((i % 12) + 1).padStart(2, '0')];
      return { values: [year, month], prefix: `transactions/year=${year}/month=${month}/` };
    });
    await catalog.addPartitions('transactions', partitions.slice(0, 120));
    await catalog.addPartitions('transactions', partitions); // 120 exist already
    const registered = await gluePartitions(fx, 'transactions');
    expect(registered).toHaveLength(150);
    expect(registered[149]!.StorageDescriptor?.Location).toBe(`s3://${fx.lake.buckets.silver}/transactions/year=2012/month=06/`);
  });
});
