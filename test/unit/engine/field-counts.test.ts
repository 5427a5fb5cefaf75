import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { describe, expect, it } from '@jest/globals';
import {
  HELD_LISTINGS_BYTES,
  HELD_RECORD_OVERHEAD,
  heldBudget,
  listFieldCountMismatches,
  type FieldCountMismatches,
  type ScanListingLimits,
} from '../../../engine/sources/field-counts.ts';
import { scanRecordStream, type ByteChunk } from '../../../engine/sources/records.ts';
import { DEFAULT_REJECTS_LIMITS, fieldCountLimits } from '../../../engine/reader.ts';
import { generatedModule, generatedPath, watSources } from '../../../scripts/build-wasm.ts';
import { seededRandom as random } from '../../support/unit/seeded-random.ts';
import { textPieces as pieces } from '../../support/unit/text-pieces.ts';

/**
 * The listing as the rule says it, one character at a time over the whole text: a quote toggles "inside a field",
 * outside quotes a delimiter adds a field and a line feed ends the line; a line is listed when it has anything but
 * carriage returns and its field count is not the header's. Written apart from the engine's loop, to check it.
 */
function oracle(text: Buffer, delimiter: number): { header: string; records: Array<[number, string]> } | undefined {
  const lines: Array<{ fields: number; content: boolean; start: number; end: number }> = [];
  let quoted = false;
  let fields = 1;
  let content = false;
  let start = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === 0x22) {
      quoted = !quoted;
      content = true;
    } else if (quoted) continue;
    else if (c === delimiter) {
      fields++;
      content = true;
    } else if (c === 0x0a) {
      lines.push({ fields, content, start, end: i + 1 });
      fields = 1;
      content = false;
      start = i + 1;
    } else if (c !== 0x0d) content = true;
  }
  const header = lines[0];
  if (!header) return undefined;
  if (content) lines.push({ fields, content, start, end: text.length }); // a last line without a line end
  const records = lines
    .map((line, n) => ({ ...line, n }))
    .filter((line) => line.n > 0 && line.content && line.fields !== header.fields)
    .map((line): [number, string] => [line.n, text.subarray(line.start, line.end).toString('latin1')]);
  return { header: text.subarray(header.start, header.end).toString('latin1'), records };
}

/**
 * A CSV text of about `bytes` whose quoting is clean, with short and long fields, quoted line ends and commas, wrong
 * field counts, CRLF and blank lines; `fitForChunks`: no lines of bare carriage returns (a text with them is not cut
 * into chunks).
 */
function csvText(seed: number, bytes: number, delimiter = ',', fitForChunks = false): string {
  const next = random(seed);
  const pick = <T>(xs: T[]): T => xs[Math.floor(next() * xs.length)] as T;
  const field = (): string =>
    pick([
      () => 'x'.repeat(Math.floor(next() * 40)),
      () => `"a${delimiter}b"`,
      () => '"line\nbreak"',
      () => '"say ""hi"""',
      () => '"crlf\r\ninside"',
      () => '',
      () => 'é€😀',
      () => 'y'.repeat(Math.floor(next() * 300)),
    ])();
  const lines = [['a', 'b', 'c', 'd'].join(delimiter)];
  let size = 0;
  while (size < bytes) {
    const r = next();
    const count = r < 0.8 ? 4 : r < 0.9 ? 3 : 5;
    const line =
      r < 0.95 ? Array.from({ length: count }, field).join(delimiter) : pick(fitForChunks ? [''] : ['', '\r', '\r\r']);
    lines.push(line);
    size += line.length + 1;
  }
  const lineEnd = next() < 0.5 ? '\n' : '\r\n';
  return lines.join(lineEnd) + (next() < 0.5 ? lineEnd : '');
}

async function listed(text: string, limit = { records: 1e6, bytes: 1e9 }, delimiter = ',') {
  const dir = await mkdtemp(join(tmpdir(), 'field-counts-'));
  const path = join(dir, 'input.csv');
  await writeFile(path, text);
  const result = await listFieldCountMismatches(path, delimiter, limit);
  return (
    result && {
      header: result.header.toString('latin1'),
      records: result.records.map((r): [number, string] => [r.record, r.bytes.toString('latin1')]),
    }
  );
}

describe('listFieldCountMismatches (the WebAssembly loop)', () => {
  it('lists what the rule lists, across 16-byte blocks, 64 KiB blocks and 1 MiB reads', async () => {
    // Small texts put quotes, line ends and delimiters at every offset of a 16-byte block; large ones cross the
    // loop's 64 KiB blocks and the 1 MiB reads with records (and quoted line ends) cut in two.
    for (const [seed, bytes] of [
      [1, 50],
      [2, 200],
      [3, 5_000],
      [4, 70_000],
      [5, 300_000],
      [6, 2_500_000],
    ] as const) {
      const text = csvText(seed, bytes);
      const expected = oracle(Buffer.from(text), 0x2c);
      if (bytes > 1000) expect(expected?.records.length).toBeGreaterThan(0);
      expect({ seed, ...(await listed(text)) }).toEqual({ seed, ...expected });
    }
  });

  it('counts another delimiter, and a record that is one long line over many blocks', async () => {
    const long = `"${'z'.repeat(200_000)}\n${'w'.repeat(70_000)}";1;2\n`;
    const text = `h1;h2;h3\n1;2;3\n${long}1;2\n${csvText(9, 100_000, ';').split('\n').slice(1).join('\n')}`;
    expect(await listed(text, { records: 1e6, bytes: 1e9 }, ';')).toEqual(oracle(Buffer.from(text), 0x3b));
  });

  it('takes a last record without a line end, and a header alone', async () => {
    expect(await listed('a,b\n1,2\n3')).toEqual({ header: 'a,b\n', records: [[2, '3']] });
    expect(await listed('a,b\n')).toEqual({ header: 'a,b\n', records: [] });
    expect(await listed('a,b')).toBeUndefined();
  });

  it('stops at its limits', async () => {
    const text = csvText(7, 100_000);
    const all = oracle(Buffer.from(text), 0x2c)?.records.length ?? 0;
    expect(await listed(text, { records: all, bytes: 1e9 })).toBeDefined();
    expect(await listed(text, { records: all - 1, bytes: 1e9 })).toBeUndefined();
  });

  it('runs the module compiled from field-counts.wat (npm run build:wasm)', async () => {
    const root = join(import.meta.dirname, '..', '..', '..');
    expect(watSources()).toContain('engine/sources/field-counts.wat');
    for (const wat of watSources()) {
      expect(await readFile(join(root, generatedPath(wat)), 'utf8')).toBe(await generatedModule(wat));
    }
  });
});

/** A listing as text: its header and its records' numbers and bytes. */
const shown = (m: FieldCountMismatches | undefined) =>
  m && {
    header: m.header.toString('latin1'),
    records: m.records.map((r): [number, string] => [r.record, r.bytes.toString('latin1')]),
  };

/**
 * Each chunk's listing as the byte scan makes it (`ScanOptions.fieldCounts`), beside what `listFieldCountMismatches`
 * gives for the chunk's own file (the header line, then the chunk's bytes), as the chunk would list it otherwise.
 */
async function scannedAndListed(
  bytes: Buffer,
  options: {
    seed: number;
    max: number;
    chunkBytes: number;
    limit: ScanListingLimits;
    delimiter?: string;
  },
) {
  const delimiter = options.delimiter ?? ',';
  const told: Array<{ chunk: ByteChunk; listing: ReturnType<typeof shown> | 'not listed' }> = [];
  const scan = await scanRecordStream(pieces(bytes, options.seed, options.max), new PassThrough().resume(), {
    headerLines: 1,
    quoted: true,
    delimiter,
    chunking: { recordsPerChunk: Number.POSITIVE_INFINITY, bytesPerChunk: options.chunkBytes },
    fieldCounts: options.limit,
    onChunk: (chunk, _, fieldCounts) =>
      told.push({ chunk: { ...chunk }, listing: fieldCounts ? shown(fieldCounts.mismatches) : 'not listed' }),
  });
  const dir = await mkdtemp(join(tmpdir(), 'chunk-field-counts-'));
  try {
    const listedApart: Array<ReturnType<typeof shown>> = [];
    for (const [i, { chunk }] of told.entries()) {
      const path = join(dir, `chunk-${i}.csv`);
      await writeFile(
        path,
        Buffer.concat([bytes.subarray(0, scan.headerBytes), bytes.subarray(chunk.start, chunk.end)]),
      );
      listedApart.push(shown(await listFieldCountMismatches(path, delimiter, options.limit)));
    }
    return { scanned: told.map((t) => t.listing), listedApart };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

describe('the byte scan lists each chunk’s field-count mismatches as the chunk’s own listing does', () => {
  it.each([
    [11, 6_000, 17, 600],
    [12, 40_000, 23, 2_000],
    [13, 200_000, 4_096, 9_000],
    [14, 1_500_000, 1 << 20, 200_000],
    [15, 3_000_000, 3 << 20, 1 << 20],
  ])('random text %i (%i bytes, pieces up to %i bytes, chunks of %i bytes)', async (seed, size, max, chunkBytes) => {
    const bytes = Buffer.from(csvText(seed, size, ',', true));
    const limit = { records: 1e6, bytes: 1e9 };
    const { scanned, listedApart } = await scannedAndListed(bytes, { seed, max, chunkBytes, limit });
    expect(scanned).toEqual(listedApart);
    // Not vacuous: several chunks, each listed by the scan, many with records to list.
    expect(scanned.length).toBeGreaterThan(2);
    expect(scanned.filter((s) => s !== 'not listed' && s !== undefined && s.records.length > 0).length).toBeGreaterThan(
      scanned.length / 3,
    );
  });

  it('another delimiter, a long record across many pieces, and a last record without a line end', async () => {
    const long = `"${'z'.repeat(20_000)}\n${'w'.repeat(7_000)}";1;2\n`;
    const rest = csvText(16, 30_000, ';', true).replace(/\r\n/g, '\n').split('\n').slice(1).join('\n');
    const bytes = Buffer.from(`h1;h2;h3;h4\n1;2;3\n${long}1;2\n${rest.replace(/\r?\n?$/, '')}\n9;9`);
    const limit = { records: 1e6, bytes: 1e9 };
    const { scanned, listedApart } = await scannedAndListed(bytes, {
      seed: 16,
      max: 700,
      chunkBytes: 4_000,
      limit,
      delimiter: ';',
    });
    expect(scanned).toEqual(listedApart);
    expect(scanned[0]).not.toBe('not listed');
    expect(scanned.at(-1)).toMatchObject({ records: expect.arrayContaining([[expect.any(Number), '9;9']]) });
  });

  it('a chunk over the limits, or not UTF-8, has no listing (undefined), as its own listing has none', async () => {
    const clean = csvText(17, 200_000, ',', true);
    const bad = Buffer.from(clean);
    bad[Math.floor(bad.length * 0.6)] = 0xff; // in a later chunk
    for (const [bytes, limit] of [
      [bad, { records: 1e6, bytes: 1e9 }],
      [Buffer.from(clean), { records: 3, bytes: 1e9 }],
      [Buffer.from(clean), { records: 1e6, bytes: 2_500 }],
    ] as const) {
      const { scanned, listedApart } = await scannedAndListed(bytes, { seed: 17, max: 333, chunkBytes: 20_000, limit });
      expect(scanned).toEqual(listedApart);
      expect(scanned.some((s) => s === undefined)).toBe(true);
      expect(scanned.some((s) => s !== undefined && s !== 'not listed')).toBe(true);
    }
  });

  it('a record longer than the byte limit that ends in a chunk: that chunk’s listing is over the limit', async () => {
    const bytes = Buffer.from(`a,b\n1,2\n"${'q'.repeat(5_000)}",1,2\n${'3,4\n'.repeat(2_000)}`);
    const { scanned, listedApart } = await scannedAndListed(bytes, {
      seed: 18,
      max: 64,
      chunkBytes: 2_000,
      limit: { records: 100, bytes: 4_000 },
    });
    expect(scanned).toEqual(listedApart);
    expect(scanned[0]).toBeUndefined();
    expect(scanned.slice(1).every((s) => s !== undefined && s !== 'not listed' && s.records.length === 0)).toBe(true);
  });
});

describe('the byte scan’s listing, on texts the random ones miss', () => {
  const limit = { records: 1e7, bytes: 1e9 };

  it('every record listed: more events than the loop holds at once, chunks cut among them', async () => {
    const bytes = Buffer.from(`a,b\n${'1\n'.repeat(1_000_000)}2,3\n`);
    const { scanned, listedApart } = await scannedAndListed(bytes, {
      seed: 20,
      max: 1 << 20,
      chunkBytes: 300_000,
      limit: { ...limit, held: Number.POSITIVE_INFINITY }, // 130 MB of listings: the held cap would stop them part-way
    });
    expect(scanned).toEqual(listedApart);
    expect(scanned.length).toBeGreaterThan(5);
    expect(scanned.reduce((n, s) => n + (s === 'not listed' || s === undefined ? 0 : s.records.length), 0)).toBe(
      1_000_000,
    );
  });

  it('a quoted header with a delimiter and a line end in it, split across pieces', async () => {
    const bytes = Buffer.from(`\ufeffh,"a,1","b\n2"\n${'1,"x,y",3\n4,5\n"6\n7",8,9,10\n'.repeat(500)}`);
    const { scanned, listedApart } = await scannedAndListed(bytes, { seed: 21, max: 5, chunkBytes: 2_000, limit });
    expect(scanned).toEqual(listedApart);
    const first = scanned[0];
    if (first === 'not listed' || first === undefined) throw new Error(`chunk 0: ${first}`);
    expect(first.header).toBe(Buffer.from('\ufeffh,"a,1","b\n2"\n').toString('latin1'));
    expect(first.records.slice(0, 2)).toEqual([
      [2, '4,5\n'],
      [3, '"6\n7",8,9,10\n'],
    ]);
  });

  it('no chunk is listed from where the quoting is unclean on (its chunks are not kept)', async () => {
    const rows = '1,2,3\n4,5\n'.repeat(400);
    const bytes = Buffer.from(`a,b,c\n${rows}7,12" pipe,9\n${rows}`);
    const { scanned, listedApart } = await scannedAndListed(bytes, { seed: 22, max: 999, chunkBytes: 1_000, limit });
    const unclean = scanned.findIndex((s) => s === 'not listed');
    expect(unclean).toBeGreaterThan(1);
    expect(scanned.slice(0, unclean)).toEqual(listedApart.slice(0, unclean));
    expect(scanned.slice(unclean).every((s) => s === 'not listed')).toBe(true);
  });
});

describe('the listings the byte scan gives out', () => {
  it('hold at most 8 MiB together with the default limits (one listing may hold ~38 MiB)', () => {
    const limit = fieldCountLimits(DEFAULT_REJECTS_LIMITS);
    expect(limit.bytes + HELD_RECORD_OVERHEAD * limit.records).toBeGreaterThan(HELD_LISTINGS_BYTES);
    expect(heldBudget(limit)).toBe(HELD_LISTINGS_BYTES);
  });

  it('hold at most their budget together: the chunks after that are left to list their own files', async () => {
    const bytes = Buffer.from(csvText(19, 60_000, ',', true));
    const limit = { records: 10, bytes: 2_000 };
    const { scanned, listedApart } = await scannedAndListed(bytes, { seed: 19, max: 500, chunkBytes: 3_000, limit });
    const given = scanned.findIndex((s) => s === 'not listed');
    expect(given).toBeGreaterThan(1);
    expect(scanned.slice(0, given)).toEqual(listedApart.slice(0, given));
    expect(scanned.slice(given).every((s) => s === 'not listed')).toBe(true);
    const held = scanned
      .slice(0, given)
      .flatMap((s) => (s === 'not listed' || s === undefined ? [] : s.records))
      .reduce((sum, [, record]) => sum + Buffer.byteLength(record, 'latin1') + HELD_RECORD_OVERHEAD, 0);
    expect(held).toBeLessThanOrEqual(heldBudget(limit));
    expect(held).toBeGreaterThan(heldBudget(limit) / 2);
  });
});
