/**
 * An input that is a file on local disk already (the local lake's bronze object, as `lake ingest` hands it over) is
 * linked into the engine's scratch instead of streamed through it: the outcome is exactly what its bytes streamed
 * give, and the file itself is never written to — whatever becomes of it, a quarantined original included.
 */
import { lstatSync, readdirSync, type Stats } from 'node:fs';
import { mkdtemp, readFile, stat, symlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { describe, it } from '@jest/globals';
import { expect } from '../../support/expect.ts';
import type { Manifest } from '../../../engine/index.ts';
import { createTestLake, HEADER, type TestLake } from '../../support/local-lake.ts';
import { publishedOutcome } from '../../support/unit/fan-out-vs-one-pass.ts';
import { AWKWARD_CSV, row, rows } from '../../support/unit/ingest-inputs.ts';

const outcome = async (lake: TestLake, m: Manifest) => ({
  ...(await publishedOutcome(lake, 'transactions', m, true)),
  keys: [...(await lake.files('silver', 'transactions/')), ...(await lake.files('quarantine', 'transactions/'))],
});

/** ~2.3 MB: about 23 chunks of 100 kB, with a malformed and an invalid row. */
const LARGE = [HEADER, ...rows(1, 20), 'T21,A', row(22, 'bad'), ...rows(23, 40_000)].join('\n') + '\n';
const CHUNKED = { chunking: { chunkBytes: 100_000, minBytesToChunk: 0 }, threads: 2 };

const CASES: Array<[name: string, key: string, content: string | Buffer, engine: typeof CHUNKED | object]> = [
  ['a large text in chunks', 'transactions/large.csv', LARGE, CHUNKED],
  ...Object.entries(AWKWARD_CSV).map(([name, [key, content]]): [string, string, string | Buffer, object] => [
    name,
    key,
    content,
    { chunking: { chunkBytes: 64, minBytesToChunk: 0 } },
  ]),
  ['a text with NUL bytes (rejected whole, kept in quarantine)', 'transactions/nul.csv', `${HEADER}\n\0T1,A\n`, {}],
];

/** The input in the scratch of the ingest under way in `lake`, as it is when its phase `input placed` ends (lstat). */
function scratchInput(phase: string, lake: TestLake): Stats | undefined {
  if (phase !== 'input placed') return undefined;
  const scratch = readdirSync(lake.root).find((d) => d.startsWith('lake-ingest-')) as string;
  return lstatSync(join(lake.root, scratch, 'input.raw'));
}

/**
 * What `content` streamed under `key` gives (`expected`), and a new lake for the same ingest handed a local file:
 * `placed()` is its input as the engine placed it in its scratch.
 */
async function streamedAndLocal(key: string, content: string | Buffer, engine: object) {
  const streamed = await createTestLake(undefined, engine);
  const expected = await outcome(streamed, await streamed.ingest(key, content));
  let placed: Stats | undefined;
  const lake = await createTestLake(undefined, {
    ...engine,
    onPhase: (phase) => (placed ??= scratchInput(phase, lake)),
  });
  return { expected, lake, placed: () => placed };
}

describe('a local file as the body', () => {
  it.each(CASES)('%s: the same outcome as its bytes streamed, the file unchanged', async (_, key, content, engine) => {
    const { expected, lake, placed } = await streamedAndLocal(key, content, engine);
    const bronze = lake.store.path('bronze', key);
    const m = await lake.ingest(key, content, {}, { localFile: bronze });
    expect(await outcome(lake, m)).toEqual(expected);
    expect(m.rows_in).toBe(m.rows_valid + m.rows_quarantined);
    // The input in the ingest's scratch, once it is placed there: a second name of the bronze file, not a copy.
    expect(placed()?.ino).toBe((await stat(bronze)).ino);
    expect(await readFile(bronze)).toEqual(Buffer.from(content));
    // Its scratch link is gone with the scratch; a whole-file rejection keeps the original as a second name.
    expect((await stat(bronze)).nlink).toBe(m.status === 'rejected' ? 2 : 1);
  });

  it.each([
    ['a text', 'relative', 'transactions/linked.csv', LARGE],
    ['a text rejected whole', 'relative', 'transactions/linked-nul.csv', `${HEADER}\n\0T1,A\n`],
    ['a text', 'absolute', 'transactions/linked.csv', LARGE],
    ['a text rejected whole', 'absolute', 'transactions/linked-nul.csv', `${HEADER}\n\0T1,A\n`],
  ])(
    '%s given as %s symbolic link: read from the file it names, and copied, not linked',
    async (_, how, key, content) => {
      const { expected, lake, placed } = await streamedAndLocal(key, content, CHUNKED);
      const elsewhere = await mkdtemp(join(tmpdir(), 'symlinked-'));
      const bronze = lake.store.path('bronze', key);
      // link(2) would give the symbolic link itself a new name: a relative one would then point elsewhere.
      await symlink(how === 'relative' ? relative(elsewhere, bronze) : bronze, join(elsewhere, 'input.csv'));
      const m = await lake.ingest(key, content, {}, { localFile: join(elsewhere, 'input.csv') });
      expect(await outcome(lake, m)).toEqual(expected);
      expect({ file: placed()?.isFile(), inode: placed()?.ino === (await stat(bronze)).ino }).toEqual({
        file: true,
        inode: false,
      });
      expect((await stat(bronze)).nlink).toBe(1); // a rejected file's quarantined original is a copy
    },
  );
});
