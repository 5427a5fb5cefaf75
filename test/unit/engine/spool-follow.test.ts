/**
 * A large text of known size is transformed while it is spooled: the byte scan follows the spool and chunks start
 * once their bytes are in. Whatever the spool or the checks of the whole text then say, the outcome is what the
 * text as spooled gives — and nothing of a transform that followed a failed or rejected spool is kept.
 */
import { appendFile, mkdtemp, readdir, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { describe, it } from '@jest/globals';
import { expect } from '../../support/expect.ts';
import { LocalCatalog } from '../../../adapters/local/local-catalog.ts';
import { LocalObjectStore } from '../../../adapters/local/local-store.ts';
import { ingestObject, type Manifest } from '../../../engine/index.ts';
import { GrowingFile, spoolRaw } from '../../../engine/spool.ts';
import { createTestLake, HEADER, type TestLake } from '../../support/local-lake.ts';
import { publishedOutcome } from '../../support/unit/fan-out-vs-one-pass.ts';
import { contractsWithReadings, pausing, READING_COLUMNS, row, rows } from '../../support/unit/ingest-inputs.ts';

const contracts = contractsWithReadings([{ ...READING_COLUMNS[0]!, aliases: ['id'] }, READING_COLUMNS[1]!]);
/** What an ingest published: rows, counts and the keys of its files (they depend on the chunk plan). */
const outcome = async (lake: TestLake, m: Manifest) => ({
  ...(await publishedOutcome(lake, 'transactions', m, false)),
  keys: [...(await lake.files('silver', 'transactions/')), ...(await lake.files('quarantine', 'transactions/'))],
});
const chunked = { chunking: { chunkBytes: 100_000, minBytesToChunk: 0 }, threads: 2 };

/** ~2.3 MB: more than two of the spool's 1 MiB writes, about 23 chunks of 100 kB. */
const TEXT = [HEADER, ...rows(1, 20), 'T21,A', row(22, 'bad'), ...rows(23, 40_000)].join('\n') + '\n';

async function collect(source: AsyncIterable<Buffer>): Promise<string> {
  let text = '';
  for await (const piece of source) text += piece.toString('latin1');
  return text;
}

describe('GrowingFile', () => {
  it('is read as it grows, to its end once complete', async () => {
    const path = join(await mkdtemp(join(tmpdir(), 'growing-')), 'f');
    await writeFile(path, '');
    const file = new GrowingFile(path, 6);
    const read = collect(file.follow(2));
    await appendFile(path, 'abc');
    file.grew(3);
    expect(await file.reached(3)).toBe(3);
    await appendFile(path, 'def');
    file.grew(3);
    file.spooled();
    file.complete();
    expect(await read).toBe('abcdef');
  });

  it('throws what it failed with, even while waiting for more', async () => {
    const path = join(await mkdtemp(join(tmpdir(), 'growing-')), 'f');
    await writeFile(path, 'abc');
    const file = new GrowingFile(path, 10);
    file.grew(3);
    const read = collect(file.follow());
    await new Promise((resolve) => setTimeout(resolve, 10));
    file.fail(new Error('the body broke off'));
    await expect(read).rejects.toThrow('the body broke off');
  });

  it('stops waiting in reached() once the spool has stopped, however little it wrote', async () => {
    const path = join(await mkdtemp(join(tmpdir(), 'growing-')), 'f');
    const file = new GrowingFile(path, 5);
    await spoolRaw(
      (async function* () {
        yield Buffer.from('hello');
      })(),
      path,
      file,
    );
    expect(await file.reached(64 * 1024)).toBe(5);
  });
});

describe('ingest while spooling', () => {
  it('transforms chunks before the body has ended, and gives what the text as spooled gives', async () => {
    const expected = await outcome(...(await ingested(TEXT, {}, true)));
    // The body waits after 1.2 MB until the first chunk is transformed: it never ends unless chunks start first.
    const lake = await createTestLake(contracts, chunked);
    const body = pausing(Buffer.from(TEXT), 1_200_000, () => firstChunkDone(lake.root));
    const [, m] = await ingested(TEXT, { size: TEXT.length }, true, body, lake);
    expect(m.engine.chunks).toBeGreaterThan(15);
    expect(await outcome(lake, m)).toEqual(expected);
  });

  // The body stops until the first chunk has been transformed (its quarantine written): the followed transform has
  // finished chunks when the size turns out not to be the one declared, and the text goes again in the same work dir.
  it.each([
    ['declared one byte short', -1],
    ['declared one byte long', 1],
  ])('a size %s: the text as spooled, not what was followed', async (_, off) => {
    const expected = await outcome(...(await ingested(TEXT, {}, true)));
    const lake = await createTestLake(contracts, chunked);
    const body = pausing(Buffer.from(TEXT), 1_200_000, () => firstChunkDone(lake.root));
    const [, m] = await ingested(TEXT, { size: TEXT.length + off }, true, body, lake);
    expect(await outcome(lake, m)).toEqual(expected);
  });

  it('does not follow JSON Lines: a chunk would bind the keys of the lines spooled so far', async () => {
    // `device` first appears at line 6,000 of 12,000 (~2.9 MB): within the 10,000 lines keys are sampled from.
    const line = (i: number) =>
      JSON.stringify({ reading_id: i, ...(i >= 6000 ? { device: `d${i}` } : {}), pad: 'p'.repeat(200) });
    const text = Array.from({ length: 12_000 }, (_, i) => line(i + 1)).join('\n') + '\n';
    const key = 'readings/late-key.jsonl';
    const reference = await createTestLake(contracts, chunked);
    const expected = await publishedOutcome(reference, 'readings', await reference.ingest(key, text), false);
    expect(expected.counts.rows_valid).toBeGreaterThan(6000);
    const lake = await createTestLake(contracts, chunked);
    const body = pausing(Buffer.from(text), 1_200_000, () => new Promise((resolve) => setTimeout(resolve, 500)));
    const m = await lake.ingest(key, text, { size: text.length }, body);
    expect(await publishedOutcome(lake, 'readings', m, false)).toEqual(expected);
  });

  it.each([
    ['only whitespace', ' \n'.repeat(50_000), 'EMPTY_FILE'],
    ['NUL bytes at its start', `${HEADER}\n\0${rows(1, 5000).join('\n')}`, 'UNREADABLE'],
    ['gzip', gzipSync(TEXT), undefined],
  ] as const)('a text with %s is decided as spooled', async (_, text, rejected) => {
    const expected = await outcome(...(await ingested(text, {}, true)));
    const [lake, m] = await ingested(text, { size: Buffer.byteLength(text) }, true);
    expect(await outcome(lake, m)).toEqual(expected);
    if (rejected) expect(m).toMatchObject({ status: 'rejected', reasons: { [rejected]: 1 } });
    else expect(m.engine.chunks).toBeGreaterThan(15);
  });

  it('fails with the body’s error when it breaks off, and leaves nothing behind', async () => {
    const root = await mkdtemp(join(tmpdir(), 'lake-test-'));
    const store = new LocalObjectStore(root);
    const broken = async function* (): AsyncIterable<Uint8Array> {
      yield Buffer.from(TEXT.slice(0, 1_500_000)); // chunks start on these bytes
      await new Promise((resolve) => setTimeout(resolve, 50));
      throw new Error('connection reset by peer');
    };
    await expect(
      ingestObject({ bucket: 'test-bronze', key: 'transactions/t.csv', etag: 'e', size: TEXT.length }, broken(), {
        contracts,
        store,
        catalog: new LocalCatalog(root),
        workDir: root,
        ...chunked,
      }),
    ).rejects.toThrow('connection reset by peer');
    expect(await readdir(root)).toEqual([]); // no scratch left, nothing published
  });
});

/** Once the first chunk of the ingest under way in `root` has been transformed (its quarantine is written). */
async function firstChunkDone(root: string): Promise<void> {
  for (let waited = 0; waited < 30_000; waited += 20) {
    for (const dir of await readdir(root)) {
      if (!dir.startsWith('lake-ingest-')) continue;
      if ((await readdir(join(root, dir, 'chunk-00000')).catch((): string[] => [])).includes('quarantine.parquet'))
        return;
    }
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  throw new Error('the first chunk was not transformed while the body waited');
}

/** Ingests `text` into a test lake (chunked, or one pass) as `transactions/t.csv`, with `source` fields. */
async function ingested(
  text: string | Buffer,
  source: { size?: number },
  chunks: boolean,
  body?: AsyncIterable<Uint8Array>,
  into?: TestLake,
): Promise<[TestLake, Manifest]> {
  const lake = into ?? (await createTestLake(contracts, chunks ? chunked : {}));
  return [lake, await lake.ingest('transactions/t.csv', text, source, body)];
}
