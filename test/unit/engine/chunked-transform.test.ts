/**
 * An input cut into record-aligned chunks and transformed chunk by chunk gives exactly what one pass over
 * the whole text gives — silver rows, quarantine rows with their numbers and reasons, manifest counts — for
 * chunk sizes down to a few bytes (so every kind of boundary is hit), and the same bytes whatever the
 * number of chunks transformed at once.
 */
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it, jest } from '@jest/globals';
import { DuckDBConnection, DuckDBInstance } from '@duckdb/node-api';
import { expect } from '../../support/expect.ts';
import type { Manifest } from '../../../engine/index.ts';
import { createTestLake, HEADER, type TestLake } from '../../support/local-lake.ts';
import { CHUNK_TAPER, evenChunkBytes, taperedChunkBytes } from '../../../engine/chunks/plan.ts';
import { readWithDuckDb } from '../../support/duckdb-reader.ts';
import { publishedOutcome } from '../../support/unit/fan-out-vs-one-pass.ts';
import {
  AWKWARD_CSV,
  contractsWithReadings,
  pausing,
  READING_COLUMNS,
  row,
  rows,
} from '../../support/unit/ingest-inputs.ts';

const contracts = contractsWithReadings([{ ...READING_COLUMNS[0]!, aliases: ['id'] }, READING_COLUMNS[1]!]);

const { quotedNewlines, badRowsEverywhere, crlf, mixedEnds, bom, inch, gzip } = AWKWARD_CSV;
const INPUTS: Array<[string, string | Buffer]> = [
  quotedNewlines,
  badRowsEverywhere,
  crlf,
  mixedEnds,
  bom,
  [
    'transactions/unterminated.csv',
    [HEADER, ...rows(1, 4), '"T5,unterminated,1.00,EUR,2024-01-01', ...rows(6, 3)].join('\n') + '\n',
  ],
  inch,
  gzip,
  // Line ends the byte scan cannot vouch for: classic-Mac CR (the header never ends), CR CR LF, a stray CR at the end.
  ['transactions/cr-only.csv', [HEADER, ...rows(1, 12)].join('\r')],
  ['transactions/cr-cr-lf.csv', [HEADER, ...rows(1, 12)].join('\r\r\n')],
  ['transactions/trailing-cr.csv', `${[HEADER, ...rows(1, 12)].join('\n')}\n\r`],
  ['transactions/header-only.csv', `${HEADER}\n`],
  ['transactions/wrong-header.csv', `a,b,c\n`],
  [
    'readings/r.jsonl',
    Buffer.concat([
      Buffer.from('{"id":1,"device":"d1"}\nnot json\n\n{"reading_id":"x","device":"'),
      Buffer.from([0xc3, 0x28]),
      Buffer.from(
        '"}\n[1]\n{"reading_id":3,"device":"d3"}\n{"reading_id":4,"device":"d4"}\n\n{"reading_id":5}\n{"reading_id":6,"device":"d6"}\n',
      ),
    ]),
  ],
];

const outcome = (lake: TestLake, dataset: string, m: Manifest) => publishedOutcome(lake, dataset, m, false);

describe('chunked transform equals one pass', () => {
  it.each(INPUTS)('%s, at chunk sizes of 1 byte (a record each), 40 and 150 bytes', async (key, text) => {
    const dataset = key.split('/')[0] as string;
    const onePass = await createTestLake(contracts);
    const expected = await outcome(onePass, dataset, await onePass.ingest(key, text));
    // Declared with its size, the text is transformed while it is spooled (the byte scan follows the spool).
    const sizes = [undefined, Buffer.byteLength(text)];
    for (const [chunkBytes, size] of [1, 40, 150].flatMap((c) => sizes.map((s) => [c, s] as const))) {
      const lake = await createTestLake(contracts, { chunking: { chunkBytes, minBytesToChunk: 0 }, threads: 2 });
      const m = await lake.ingest(key, text, { size });
      expect(await outcome(lake, dataset, m), `chunkBytes ${chunkBytes}, size ${size}`).toEqual(expected);
      expect(m.rows_in).toBe(m.rows_valid + m.rows_quarantined);
    }
  });

  it('is cut where the byte scan vouches for the reader: clean quoting, one line-end style', async () => {
    const chunking = { chunkBytes: 40, minBytesToChunk: 0 };
    const chunksOf = async (key: string, text: string) =>
      (await (await createTestLake(contracts, { chunking })).ingest(key, text)).engine.chunks;
    expect(await chunksOf('transactions/clean.csv', [HEADER, ...rows(1, 10)].join('\n'))).toBeGreaterThan(3);
    expect(
      await chunksOf('transactions/inch.csv', [HEADER, ...rows(1, 10), 'T11,12" pipe,1.00,EUR,2024-01-01'].join('\n')),
    ).toBe(1);
    expect(await chunksOf('transactions/mixed.csv', `${HEADER}\r\n${rows(1, 10).join('\n')}`)).toBe(1);
  });

  it('cuts a text into chunks of about the same size: no short last chunk to leave a core idle', async () => {
    expect(evenChunkBytes(100, { chunkBytes: 40, minBytesToChunk: 0 })).toBe(34); // 3 chunks, not 40 + 40 + 20
    expect(evenChunkBytes(41, { chunkBytes: 40, minBytesToChunk: 0 })).toBe(21);
    expect(evenChunkBytes(40, { chunkBytes: 40, minBytesToChunk: 0 })).toBe(40);
    const text = [HEADER, ...rows(1, 45)].join('\n'); // 1,728 bytes: 2 chunks of ~860 on average, not 1,600 + 128
    const lake = await createTestLake(contracts, { chunking: { chunkBytes: 1600, minBytesToChunk: 0 }, threads: 2 });
    const m = await lake.ingest('transactions/even.csv', text);
    expect(m.engine.chunks).toBe(2);
    const perFile = await readWithDuckDb(
      `SELECT count(*) AS n FROM read_parquet('${lake.root}/silver/transactions/**/*.parquet', filename = true) GROUP BY filename ORDER BY n`,
    );
    // Each chunk holds about half of every month's 15 rows, the first a little more (CHUNK_TAPER); the short last
    // chunk of a cut at 1,600 bytes held 1.
    expect(perFile.map((r) => Number(r.n))).toEqual([6, 6, 7, 8, 9, 9]);
  });

  it('gives later chunks a little less text (they start later): the sizes fall evenly and add up to the text', () => {
    const chunking = { chunkBytes: 32 << 20, minBytesToChunk: 0 };
    const bytes = 113_726_380; // the bench's 2M rows: 4 chunks
    const even = evenChunkBytes(bytes, chunking);
    const sizes = [0, 1, 2, 3].map(taperedChunkBytes(bytes, chunking));
    expect(sizes[0]).toBe(Math.ceil(even * (1 + CHUNK_TAPER)));
    expect(sizes[3]).toBe(Math.ceil(even * (1 - CHUNK_TAPER)));
    for (let i = 1; i < 4; i++) expect(sizes[i]).toBeLessThan(sizes[i - 1] as number);
    const total = sizes.reduce((a, b) => a + b, 0);
    expect(total).toBeGreaterThanOrEqual(bytes); // never a chunk past the last: the sizes cover the text
    expect(total - bytes).toBeLessThan(2 * 4); // each size rounded up (and the average before it)
    expect(taperedChunkBytes(bytes, chunking)(9)).toBe(sizes[3]); // past the last: the last's size
    expect(taperedChunkBytes(1000, chunking)(0)).toBe(chunking.chunkBytes); // one chunk: no taper
  });

  it('with records over the record limit cut out before chunking', async () => {
    const big = (i: number) => `${row(i)},${'x'.repeat(300)}`;
    const text = [
      HEADER,
      row(1),
      big(2),
      '',
      'T3,A',
      big(4),
      big(5),
      row(6, 'bad'),
      ...rows(7, 6),
      big(13),
      row(14),
    ].join('\n');
    const onePass = await createTestLake(contracts, { maxRecordBytes: 200 });
    const expected = await outcome(onePass, 'transactions', await onePass.ingest('transactions/big.csv', text));
    expect(expected.counts.reasons).toMatchObject({ RECORD_TOO_LARGE: 4 });
    const lake = await createTestLake(contracts, {
      maxRecordBytes: 200,
      chunking: { chunkBytes: 60, minBytesToChunk: 0 },
      threads: 3,
    });
    expect(await outcome(lake, 'transactions', await lake.ingest('transactions/big.csv', text))).toEqual(expected);
  });

  // Chunks start while the byte scan goes on; what makes a text unfit for chunking may come only at its end, when
  // chunks are under way: they are discarded, and the text gives what one pass gives. With its size declared the
  // text is followed as it is spooled, and its body stalls before its last ~100 kB until the first chunk's routed
  // pass is done — so a chunk surely ran before the unfit end was read. (Without a declared size the scan reads the
  // spooled file 1 MiB at a time: whether a chunk starts before it reaches the end is up to timing.)
  it.each([
    ['a quote inside a field', 'T100001,12" pipe,1.00,EUR,2024-01-01', 1],
    ['a switch to CRLF line ends', `${row(100001)}\r\n${row(100002)}\r`, 1],
    ['a record over the record limit', `${row(100001)},${'x'.repeat(300)}`, 'cut, then chunked'],
  ] as const)(
    'a text found unfit for chunking only at its end (%s) gives what one pass gives',
    async (_, last, chunks) => {
      const text = [HEADER, ...rows(1, 30), 'T31,A', row(32, 'bad'), ...rows(33, 99968), last].join('\n') + '\n';
      const onePass = await createTestLake(contracts, { maxRecordBytes: 200 });
      const expected = await outcome(onePass, 'transactions', await onePass.ingest('transactions/late.csv', text));
      // With its size declared the chunks also start while the text is spooled (1 MiB at a time).
      for (const size of [undefined, text.length]) {
        let firstRouted!: () => void;
        const routed = new Promise<void>((resolve) => (firstRouted = resolve));
        const lake = await createTestLake(contracts, {
          maxRecordBytes: 200,
          chunking: { chunkBytes: 300_000, minBytesToChunk: 0 },
          threads: 2,
          onPhase: (phase) => phase === 'chunk 0 routed' && firstRouted(),
        });
        // Bounded: a chunk 0 that never runs (the regression this looks for) fails the ingest instead of hanging it.
        const routedOrFail = () =>
          Promise.race([
            routed,
            new Promise((_, reject) =>
              setTimeout(() => reject(new Error('chunk 0 did not run while the body stalled')), 20_000).unref(),
            ),
          ]);
        const body = size === undefined ? undefined : pausing(Buffer.from(text), text.length - 100_000, routedOrFail);
        const m = await lake.ingest('transactions/late.csv', text, { size }, body);
        expect(await outcome(lake, 'transactions', m)).toEqual(expected);
        if (chunks === 1) expect(m.engine.chunks).toBe(1);
        else expect(m.engine.chunks).toBeGreaterThan(3);
      }
    },
  );

  it('a header that never ends (CR line ends) is not chunked into nothing: the file is rejected whole, as one pass does', async () => {
    const text = [HEADER, ...rows(1, 30)].join('\r');
    const lake = await createTestLake(contracts, { chunking: { chunkBytes: 40, minBytesToChunk: 0 }, threads: 2 });
    const m = await lake.ingest('transactions/mac.csv', text);
    expect(m.status).toBe('rejected');
    expect(m.engine.chunks).toBe(0);
  });

  it('refuses a memory budget that is not a number of bytes ≥ 0, or a memory limit DuckDB does not take, before reading anything', async () => {
    const settings = [{ shedAboveBytes: Number.NaN }, { shedAboveBytes: -1 }, { memoryLimit: '512' }];
    for (const setting of settings) {
      const lake = await createTestLake(contracts, setting);
      await expect(lake.ingest('transactions/t.csv', [HEADER, row(1)].join('\n'))).rejects.toThrow(
        /shedAboveBytes must be a number of bytes ≥ 0|memoryLimit "512" is not one DuckDB takes/,
      );
      expect(await lake.files('quarantine')).toEqual([]);
    }
  });

  it('refuses a number of threads that is not a whole number ≥ 1, before reading anything', async () => {
    const lake = await createTestLake(contracts, { threads: Number.NaN });
    await expect(lake.ingest('transactions/t.csv', [HEADER, row(1)].join('\n'))).rejects.toThrow(
      /threads must be a whole number ≥ 1, got NaN/,
    );
  });

  /** The silver and quarantine keys of `text` ingested in chunks of 2,000 bytes, with each file's SHA-256. */
  const publishedHashes = async (text: string, engine: Parameters<typeof createTestLake>[1]) => {
    const lake = await createTestLake(contracts, { chunking: { chunkBytes: 2000, minBytesToChunk: 0 }, ...engine });
    const m = await lake.ingest('transactions/t.csv', text);
    expect(m.engine.chunks).toBeGreaterThan(3);
    const keys = [...(await lake.files('silver', 'transactions/')), ...(await lake.files('quarantine'))];
    const zone = (k: string) =>
      k.startsWith('transactions/records') || k.startsWith('transactions/files') ? 'quarantine' : 'silver';
    return Promise.all(
      keys.map(async (k) => [
        k,
        createHash('sha256')
          .update(await readFile(join(lake.root, zone(k), k)))
          .digest('hex'),
      ]),
    );
  };

  it('writes the same keys and bytes whatever the parallelism (a function of the input, not the machine)', async () => {
    const text = [HEADER, ...rows(1, 300), 'T301,A', row(302, 'bad')].join('\n');
    const one = await publishedHashes(text, { threads: 1 });
    expect(await publishedHashes(text, { threads: 4 })).toEqual(one);
  });

  /** `publishedHashes` at two threads, with the sheds of its chunks' instances (`chunk <i> shed` phases). */
  const withSheds = async (
    engine: Pick<NonNullable<Parameters<typeof createTestLake>[1]>, 'shedAboveBytes' | 'memoryLimit'>,
  ) => {
    const text = [HEADER, ...rows(1, 300), 'T301,A', row(302, 'bad')].join('\n');
    const sheds: string[] = [];
    const onPhase = (phase: string) => void (/^chunk \d+ shed$/.test(phase) && sheds.push(phase));
    const hashes = await publishedHashes(text, { threads: 2, onPhase, ...engine });
    return { hashes, sheds };
  };

  it("keeps a session's DuckDB buffers for its next chunk while the process is within its memory budget, sheds them above it: the same bytes either way", async () => {
    const over = await withSheds({ shedAboveBytes: 0 }); // every process is over a budget of 0 bytes: each chunk's instance sheds
    expect(new Set(over.sheds).size).toBeGreaterThan(3); // each chunk's, at least once (a hand-over sheds too)
    const within = await withSheds({ shedAboveBytes: Number.MAX_SAFE_INTEGER });
    expect(within.sheds).toEqual([]);
    expect(within.hashes).toEqual(over.hashes);
  });

  it('by default budgets by the sessions’ DuckDB memory limit: one it cannot read sheds every chunk, a vast one none', async () => {
    // DuckDB's "no limit": not a number of bytes, budget 0
    expect(new Set((await withSheds({ memoryLimit: 'none' })).sheds).size).toBeGreaterThan(3);
    expect(new Set((await withSheds({ memoryLimit: '1000GB' })).sheds).size).toBe(0);
  });

  it("closes an instance whose buffers cannot be shed and gives its session's next chunk a new one: the same bytes", async () => {
    const within = await withSheds({ shedAboveBytes: Number.MAX_SAFE_INTEGER });
    // A fault DuckDB does not produce on demand: every shed (`SET memory_limit` on a session's instance) fails.
    const run = DuckDBConnection.prototype.run;
    const failedSheds = jest.spyOn(DuckDBConnection.prototype, 'run').mockImplementation(function (
      this: DuckDBConnection,
      ...args: Parameters<DuckDBConnection['run']>
    ) {
      if (args[0].startsWith('SET memory_limit')) return Promise.reject(new Error('injected: shed failed'));
      return run.apply(this, args);
    });
    const made = jest.spyOn(DuckDBInstance, 'create');
    const closed = jest.spyOn(DuckDBInstance.prototype, 'closeSync');
    try {
      const over = await withSheds({ shedAboveBytes: 0 });
      expect(over.hashes).toEqual(within.hashes);
      const sheds = failedSheds.mock.calls.filter(([sql]) => sql.startsWith('SET memory_limit')).length;
      expect(sheds).toBeGreaterThan(3);
      const sessionCalls = made.mock.calls.flatMap((call, k) =>
        /spill-\d+$/.test(String(call[1]?.temp_directory)) ? [k] : [],
      );
      // Two made at the start; every later chunk found no idle instance (each failed shed closed one) and made its own.
      expect(sessionCalls.length).toBeGreaterThan(2);
      // A failed shed's instance is closed at once, not with the rest once the chunks settle.
      const sessionInstances = new Set(await Promise.all(sessionCalls.map((k) => made.mock.results[k]?.value)));
      const sessionCloses = closed.mock.invocationCallOrder.filter((_, k) =>
        sessionInstances.has(closed.mock.contexts[k]),
      );
      const lastMade = Math.max(...sessionCalls.map((k) => made.mock.invocationCallOrder[k] ?? 0));
      expect(Math.min(...sessionCloses)).toBeLessThan(lastMade);
      expect(closed.mock.calls.length).toBe(made.mock.calls.length);
    } finally {
      failedSheds.mockRestore();
      made.mockRestore();
      closed.mockRestore();
    }
  });

  it('closes every DuckDB instance it makes, those made at the start for sessions no chunk took included', async () => {
    // 1-byte chunks: the plan expects a chunk per byte, so all four sessions get an instance at once; three records
    // make three chunks, and the fourth instance is never taken.
    const lake = await createTestLake(contracts, { chunking: { chunkBytes: 1, minBytesToChunk: 0 }, threads: 4 });
    const made = jest.spyOn(DuckDBInstance, 'create');
    const closed = jest.spyOn(DuckDBInstance.prototype, 'closeSync');
    try {
      const m = await lake.ingest('transactions/t.csv', [HEADER, ...rows(1, 3)].join('\n'));
      expect(m.engine.chunks).toBe(3);
      // The sessions' instances spill in `spill-<n>` of the work directory (other phases' instances elsewhere).
      const sessions = made.mock.calls.flatMap((call, i) =>
        /spill-\d+$/.test(String(call[1]?.temp_directory)) ? [made.mock.results[i]?.value] : [],
      );
      expect(sessions).toHaveLength(4);
      const closedOnes = new Set(closed.mock.contexts);
      for (const instance of await Promise.all(sessions)) expect(closedOnes.has(instance)).toBe(true);
      expect(closed.mock.calls.length).toBe(made.mock.calls.length);
    } finally {
      made.mockRestore();
      closed.mockRestore();
    }
  });
});
