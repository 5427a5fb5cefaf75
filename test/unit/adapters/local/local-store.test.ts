/** The local store's bronze writes: create-only and atomic, checked against the planned hash; its conditional delete and put. */
import { createHash } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { hostname, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { setTimeout } from 'node:timers/promises';
import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import { LocalObjectStore, SourceChangedError } from '../../../../adapters/local/local-store.ts';
import { ObjectChangedError, ObjectExistsError } from '../../../../engine/contract/index.ts';
import { ownerToken } from '../../../../adapters/local/process-owner.ts';
import { withOverrides } from '../../../support/store-faults.ts';

const md5 = (text: string) => createHash('md5').update(text).digest('hex');

/** What is left in a lock directory besides this process's file that its put markers are links of (key-locks.ts). */
const locksLeft = async (dir: string): Promise<string[]> =>
  (await readdir(dir)).filter((n) => !n.startsWith(`put-marker.${process.pid}-`));

/** Every test gets a fresh store under a temporary directory (`root`: the directory, `root/lake`: the store). */
let root: string;
let store: LocalObjectStore;
beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), 'store-'));
  store = new LocalObjectStore(join(root, 'lake'));
});
afterEach(() => rm(root, { recursive: true, force: true }));

describe('LocalObjectStore.putFile', () => {
  async function input(name: string, text: string): Promise<string> {
    const path = join(root, name);
    await writeFile(path, text);
    return path;
  }

  it('create-only: of two different files raced to one key exactly one lands, the other is refused, nothing is overwritten', async () => {
    const a = await input('a.csv', 'id\nA\n');
    const b = await input('b.csv', 'id\nB\nB\n');
    const results = await Promise.allSettled([
      store.putFile('bronze', 'transactions/x.csv', a, undefined, { ifNoneMatch: true }),
      store.putFile('bronze', 'transactions/x.csv', b, undefined, { ifNoneMatch: true }),
    ]);
    const refused = results.filter((r) => r.status === 'rejected');
    expect(refused).toHaveLength(1);
    expect((refused[0] as PromiseRejectedResult).reason).toBeInstanceOf(ObjectExistsError);
    const winner = results[0]?.status === 'fulfilled' ? 'id\nA\n' : 'id\nB\nB\n';
    expect(await readFile(store.path('bronze', 'transactions/x.csv'), 'utf8')).toBe(winner);
    expect(await readdir(join(root, 'lake/bronze/transactions'))).toEqual(['x.csv']); // no aside copy left

    await expect(
      store.putFile('bronze', 'transactions/x.csv', a, undefined, { ifNoneMatch: true }),
    ).rejects.toBeInstanceOf(ObjectExistsError);
    expect(await readFile(store.path('bronze', 'transactions/x.csv'), 'utf8')).toBe(winner);
  });

  it('refuses a copy that differs from the hash it was planned with, leaving nothing under the key', async () => {
    const a = await input('a.csv', 'id\nA\n');
    await expect(
      store.putFile('bronze', 'transactions/x.csv', a, undefined, { ifNoneMatch: true, expectMd5: md5('id\n') }),
    ).rejects.toBeInstanceOf(SourceChangedError);
    expect(await readdir(join(root, 'lake/bronze/transactions'))).toEqual([]);
    await store.putFile('bronze', 'transactions/x.csv', a, undefined, { ifNoneMatch: true, expectMd5: md5('id\nA\n') });
    expect(await readFile(store.path('bronze', 'transactions/x.csv'), 'utf8')).toBe('id\nA\n');
  });

  it('without create-only, a put replaces the object (silver outputs are rewritten by re-runs)', async () => {
    await store.putFile('silver', 'k', await input('a', 'one'));
    await store.putFile('silver', 'k', await input('b', 'two'));
    expect(await readFile(store.path('silver', 'k'), 'utf8')).toBe('two');
  });
});

describe('LocalObjectStore.putFile of a handed-over file', () => {
  it('keeps the file itself (a link, no copy) on the same disk; a plain put copies it', async () => {
    const scratch = join(root, 'part-0.parquet');
    await writeFile(scratch, 'silver bytes');
    await store.putFile('silver', 't/a.parquet', scratch, undefined, { handOver: true });
    await store.putFile('silver', 't/b.parquet', scratch);
    const [file, linkedCopy, copied] = await Promise.all(
      [scratch, store.path('silver', 't/a.parquet'), store.path('silver', 't/b.parquet')].map((p) => stat(p)),
    );
    expect(linkedCopy?.ino).toBe(file?.ino);
    expect(copied?.ino).not.toBe(file?.ino);
    expect(await readdir(join(root, 'lake/silver/t'))).toEqual(['a.parquet', 'b.parquet']); // nothing aside left
    await rm(scratch); // the work directory's cleanup: the object stays
    expect(await readFile(store.path('silver', 't/a.parquet'), 'utf8')).toBe('silver bytes');
  });
  // Where no link can be made it is copied: test/faults/no-hard-links.test.ts (link refused with EPERM; EXDEV, EMLINK
  // and ENOSYS take the same branch of `linked`, untested).
});

describe('LocalObjectStore.open', () => {
  const text = async (o: { body: AsyncIterable<unknown> } | undefined) => {
    const chunks: Buffer[] = [];
    for await (const c of o!.body) chunks.push(Buffer.from(c as Uint8Array));
    return Buffer.concat(chunks).toString('utf8');
  };

  it('streams the whole object or a byte range, with its size and time; a directory keeps no versions', async () => {
    await store.putBytes('bronze', 'transactions/a.csv', 'id\nfirst\n');
    const whole = await store.open('bronze', 'transactions/a.csv');
    expect(whole?.size).toBe(9);
    expect(whole?.versionId).toBeUndefined();
    expect(Number.isFinite(whole?.lastModified?.getTime())).toBe(true); // node:fs makes its Date in another realm than jest's
    expect(await text(whole)).toBe('id\nfirst\n');
    const range = await store.open('bronze', 'transactions/a.csv', { range: { start: 3, end: 7 } });
    expect(range?.size).toBe(5);
    expect(await text(range)).toBe('first');
    expect(await text(await store.open('bronze', 'transactions/a.csv', { range: { start: 3 } }))).toBe('first\n');
  });

  it('is undefined for a missing key; an empty object is an empty stream', async () => {
    expect(await store.open('bronze', 'transactions/none.csv')).toBeUndefined();
    await store.putBytes('bronze', 'transactions/empty.csv', '');
    const empty = await store.open('bronze', 'transactions/empty.csv');
    expect(empty?.size).toBe(0);
    expect(await text(empty)).toBe('');
  });
});

describe('LocalObjectStore.head, listVersions and what a put returns', () => {
  it('head: size and time of what is there, no version, tag or metadata; undefined for a missing key', async () => {
    const file = join(root, 'in.csv');
    await writeFile(file, 'id\n1\n2\n');
    const sent: number[] = [];
    const put = await store.putFile('bronze', 'transactions/in.csv', file, undefined, {
      ifNoneMatch: true,
      metadata: { 'content-md5-hex': md5('id\n1\n2\n') },
      onProgress: (n) => sent.push(n),
    });
    expect(put).toEqual({}); // a directory gives an object no version and no entity tag
    expect(sent).toEqual([7]);
    const head = await store.head('bronze', 'transactions/in.csv');
    expect(head).toMatchObject({ key: 'transactions/in.csv', size: 7, metadata: {} });
    expect(head?.versionId).toBeUndefined();
    expect(Number.isFinite(head?.lastModified.getTime())).toBe(true); // node:fs makes its Date in another realm
    expect(await store.head('bronze', 'transactions/none.csv')).toBeUndefined();
  });

  it('listVersions: each object once, as its latest version without an id, in key order; staging copies left out', async () => {
    await store.putBytes('bronze', 'transactions/b.csv', 'id\nB\n');
    await store.putBytes('bronze', 'transactions/a.csv', 'id\n');
    await store.putBytes('bronze', 'transactions/a.csv', 'id\nA2\n'); // replaced: the old bytes are gone
    await store.putBytes('bronze', 'other/c.csv', 'id\n');
    await writeFile(join(root, 'lake/bronze/transactions/d.csv.123.tmp'), 'half');
    const versions = [];
    for await (const v of store.listVersions('bronze', 'transactions/')) versions.push(v);
    expect(versions.map(({ key, versionId, size, isLatest }) => ({ key, versionId, size, isLatest }))).toEqual([
      { key: 'transactions/a.csv', versionId: undefined, size: 6, isLatest: true },
      { key: 'transactions/b.csv', versionId: undefined, size: 5, isLatest: true },
    ]);
  });
});

describe('LocalObjectStore.putStream', () => {
  async function* produced(parts: string[], failAfter = Number.POSITIVE_INFINITY): AsyncIterable<Uint8Array> {
    for (const [i, part] of parts.entries()) {
      if (i >= failAfter) throw new Error('the producer failed');
      yield Buffer.from(part);
    }
  }

  it('writes what the body produces under the key; a failed body leaves neither the object nor a scratch file', async () => {
    await store.putStream('silver', '_staging/t/s/text.txt', produced(['id\n', 'a\n', 'b\n']));
    expect(await readFile(store.path('silver', '_staging/t/s/text.txt'), 'utf8')).toBe('id\na\nb\n');

    await expect(store.putStream('silver', '_staging/t/s/other.txt', produced(['id\n', 'a\n'], 1))).rejects.toThrow(
      /the producer failed/,
    );
    expect(await readdir(join(root, 'lake', 'silver', '_staging', 't', 's'))).toEqual(['text.txt']);
  });
});

describe('LocalObjectStore.deleteIfMatch', () => {
  const KEY = '_maintenance/leases/transactions.json';
  const text = async () => (await store.getBytes('silver', KEY)) && (await readFile(store.path('silver', KEY), 'utf8'));

  it('deletes the object read; refuses one written since (ObjectChangedError, nothing deleted); none there is done', async () => {
    await store.putBytes('silver', KEY, '{"lease_id":"a"}');
    const read = await store.getBytesWithEtag('silver', KEY);
    expect(read?.etag).toBe(`"${md5('{"lease_id":"a"}')}"`); // the MD5 of the bytes, quoted, as S3 gives it
    await store.deleteIfMatch('silver', KEY, read!.etag);
    expect(await store.getBytesWithEtag('silver', KEY)).toBeUndefined();
    await store.deleteIfMatch('silver', KEY, read!.etag); // nothing there: nothing to delete

    await store.putBytes('silver', KEY, '{"lease_id":"b"}');
    const b = await store.getBytesWithEtag('silver', KEY);
    await store.putBytes('silver', KEY, '{"lease_id":"c"}');
    const refused = await store.deleteIfMatch('silver', KEY, b!.etag).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(ObjectChangedError);
    expect(await text()).toBe('{"lease_id":"c"}');
  });

  /**
   * A put started between the comparison and the unlink (injected there, through the store's own read) must not
   * land before the unlink: it would be deleted in place of the object compared. It is given time to land (it
   * would, without the key's lock), then the delete goes on; the put lands after it.
   */
  async function putDuringComparison(put: (s: LocalObjectStore) => Promise<void>): Promise<void> {
    let injected: Promise<void> | undefined;
    const racing = withOverrides(store, {
      getBytes: async (...args: Parameters<LocalObjectStore['getBytes']>) => {
        const bytes = await store.getBytes(...args);
        if (!injected) {
          injected = put(store);
          await Promise.race([injected, setTimeout(300)]);
        }
        return bytes;
      },
    });
    const read = await store.getBytesWithEtag('silver', KEY);
    await racing.deleteIfMatch('silver', KEY, read!.etag);
    await injected;
  }

  it('a put replacing the object meanwhile lands after the delete, never deleted in its place', async () => {
    await store.putBytes('silver', KEY, '{"lease_id":"ours"}');
    await putDuringComparison((s) => s.putBytes('silver', KEY, '{"lease_id":"theirs"}'));
    expect(await text()).toBe('{"lease_id":"theirs"}');
  });

  it('atomic against the create-only path: a lease released by another (plain delete) and taken again meanwhile stays', async () => {
    await store.putBytes('silver', KEY, '{"lease_id":"ours"}');
    await putDuringComparison(async (s) => {
      await s.delete('silver', [KEY]); // e.g. a manual release
      await s.putBytes('silver', KEY, '{"lease_id":"new holder"}', undefined, { ifNoneMatch: true });
    });
    expect(await text()).toBe('{"lease_id":"new holder"}');
  });

  it('leaves no lock behind; a delete lock and a put marker left by killed processes are neither waited for', async () => {
    await store.putBytes('silver', KEY, '{}');
    const locks = join(root, 'lake', 'locks', 'objects');
    expect(await locksLeft(locks)).toEqual([]);
    const name = createHash('sha256').update(`silver/${KEY}`).digest('hex').slice(0, 40);
    const gone = 2 ** 22 + 1; // above Linux's largest pid: no such process
    const dead = { pid: gone, host: hostname(), process_started_at: '', acquired_at: '', nonce: 'x' };
    await writeFile(join(locks, `${name}.delete.lock`), JSON.stringify(dead));
    await store.putBytes('silver', KEY, '{"lease_id":"a"}'); // the put takes the dead delete lock over
    const read = await store.getBytesWithEtag('silver', KEY);
    const token = ownerToken().replace(/^\d+-/, `${gone}-`);
    await writeFile(join(locks, `${name}.put.${token}.tmp`), '');
    await store.deleteIfMatch('silver', KEY, read!.etag);
    expect(await store.getBytes('silver', KEY)).toBeUndefined();
    expect(await locksLeft(locks)).toEqual([]);
  });
});

describe('LocalObjectStore.open withEtag and putFile ifMatch', () => {
  it('tags exactly the bytes opened; a file is put back over them only while the key still holds them', async () => {
    const key = 'transactions/year=2024/month=01/part-compacted-x.parquet';
    await store.putBytes('silver', key, 'first');
    const opened = await store.open('silver', key, { withEtag: true });
    const read: Buffer[] = [];
    for await (const chunk of opened!.body) read.push(chunk as Buffer);
    expect(Buffer.concat(read).toString()).toBe('first');
    expect(opened!.etag).toBe((await store.getBytesWithEtag('silver', key))!.etag);

    const rewritten = join(root, 'rewritten.parquet');
    await writeFile(rewritten, 'second');
    await store.putFile('silver', key, rewritten, undefined, { ifMatch: opened!.etag });
    expect(Buffer.from((await store.getBytes('silver', key)) ?? []).toString()).toBe('second');
    await writeFile(rewritten, 'late');
    await expect(store.putFile('silver', key, rewritten, undefined, { ifMatch: opened!.etag })).rejects.toBeInstanceOf(
      ObjectChangedError,
    );
    expect(Buffer.from((await store.getBytes('silver', key)) ?? []).toString()).toBe('second');
  });
});

describe('LocalObjectStore.putBytes ifMatch', () => {
  const KEY = '_pending/transactions/source.json';
  const text = () => readFile(store.path('silver', KEY), 'utf8');
  const leftBeside = async () => (await readdir(dirname(store.path('silver', KEY)))).filter((n) => n.endsWith('.tmp'));

  it('replaces the object read; refuses one written since and a key holding none (ObjectChangedError, nothing written)', async () => {
    await store.putBytes('silver', KEY, '{"attempt_id":"ours"}');
    const ours = await store.getBytesWithEtag('silver', KEY);
    await store.putBytes('silver', KEY, '{"attempt_id":"replaced"}', undefined, { ifMatch: ours!.etag });
    expect(await text()).toBe('{"attempt_id":"replaced"}');

    const refused = await store
      .putBytes('silver', KEY, '{"attempt_id":"late"}', undefined, { ifMatch: ours!.etag })
      .catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(ObjectChangedError);
    expect(await text()).toBe('{"attempt_id":"replaced"}');

    await store.delete('silver', [KEY]);
    const none = await store
      .putBytes('silver', KEY, '{"attempt_id":"late"}', undefined, { ifMatch: ours!.etag })
      .catch((e: unknown) => e);
    expect(none).toBeInstanceOf(ObjectChangedError);
    expect(await store.getBytes('silver', KEY)).toBeUndefined();
    expect(await leftBeside()).toEqual([]);
    expect(await locksLeft(join(root, 'lake', 'locks', 'objects'))).toEqual([]);
  });

  it('a put replacing the object during the comparison lands after the conditional put, never overwritten by it', async () => {
    await store.putBytes('silver', KEY, '{"attempt_id":"ours"}');
    const ours = await store.getBytesWithEtag('silver', KEY);
    let injected: Promise<void> | undefined;
    const racing = withOverrides(store, {
      getBytes: async (...args: Parameters<LocalObjectStore['getBytes']>) => {
        const bytes = await store.getBytes(...args);
        if (!injected) {
          injected = store.putBytes('silver', KEY, '{"attempt_id":"theirs"}');
          await Promise.race([injected, setTimeout(300)]); // it would land here, without the key's lock
        }
        return bytes;
      },
    });
    await racing.putBytes('silver', KEY, '{"attempt_id":"replaced"}', undefined, { ifMatch: ours!.etag });
    await injected;
    expect(await text()).toBe('{"attempt_id":"theirs"}');
  });
});
