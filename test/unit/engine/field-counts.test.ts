import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from '@jest/globals';
import { listFieldCountMismatches } from '../../../engine/sources/field-counts.ts';
import { generatedModule, generatedPath, watSources } from '../../../scripts/build-wasm.ts';
import { seededRandom as random } from '../../support/unit/seeded-random.ts';

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

/** A CSV text of about `bytes` whose quoting is clean, with short and long fields, quoted line ends and commas, wrong field counts, CRLF and blank lines. */
function csvText(seed: number, bytes: number, delimiter = ','): string {
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
    const line = r < 0.95 ? Array.from({ length: count }, field).join(delimiter) : pick(['', '\r', '\r\r']);
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
