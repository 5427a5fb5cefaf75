import { PassThrough } from 'node:stream';
import { describe, expect, it } from '@jest/globals';
import { scanRecordStream, type ByteChunk, type ScanOptions, type ScanSoFar } from '../../../engine/sources/records.ts';
import { scanRecordStreamModel } from './record-scan-model.ts';
import { seededRandom as random } from '../../support/unit/seeded-random.ts';
import { textPieces as pieces } from '../../support/unit/text-pieces.ts';

/**
 * A text of about `bytes` mixing everything the scan tells apart: clean and stray quotes (escaped, left open,
 * after a closing quote), quoted line ends, LF, CRLF and bare CR line ends, blank lines and lines of only CRs,
 * long records, another delimiter, and a last line with or without a line end.
 */
function text(seed: number, bytes: number, delimiter: string): Buffer {
  const next = random(seed);
  const pick = <T>(xs: T[]): T => xs[Math.floor(next() * xs.length)] as T;
  const field = (): string =>
    pick([
      () => 'x'.repeat(Math.floor(next() * 40)),
      () => `"a${delimiter}b"`,
      () => '"line\nbreak"',
      () => '"crlf\r\ninside"',
      () => '"say ""hi"""',
      () => '',
      () => 'é€',
      () => 'y'.repeat(Math.floor(next() * 300)),
      // rarer: what makes the quoting unclean, and stray carriage returns
      ...(next() < 0.1 ? [() => '12" pipe', () => '"ab"c', () => '"open', () => 'a\rb'] : []),
    ])();
  const lineEnd = (): string => (next() < 0.9 ? '\n' : pick(['\r\n', '\r']));
  let out = `a${delimiter}b${delimiter}c`;
  while (out.length < bytes) {
    const r = next();
    const line =
      r < 0.92
        ? Array.from({ length: 1 + Math.floor(next() * 4) }, field).join(delimiter)
        : pick(['', '\r', '\r\r', ' ']);
    out += lineEnd() + line;
  }
  return Buffer.from(next() < 0.5 ? out + lineEnd() : out);
}

/** The text as one buffer. */
async function* whole(bytes: Buffer): AsyncGenerator<Buffer> {
  yield bytes;
}

type Scanner = typeof scanRecordStream;

/** What a scan reports: its result, the blank-line list it writes, and every chunk as it was told of it. */
async function run(scanner: Scanner, source: AsyncIterable<Buffer>, options: ScanOptions) {
  const told: Array<{ chunk: ByteChunk; soFar: ScanSoFar }> = [];
  const blankLines: Buffer[] = [];
  const out = new PassThrough();
  out.on('data', (b: Buffer) => blankLines.push(b));
  const result = await scanner(source, out, {
    ...options,
    onChunk: (chunk, soFar) => told.push({ chunk: { ...chunk }, soFar: structuredClone(soFar) }),
  });
  return { result, blankLines: Buffer.concat(blankLines).toString(), told };
}

describe('the byte scan (WebAssembly loop) reports what the JavaScript scan it replaced reports', () => {
  const cases = Array.from({ length: 24 }, (_, i) => i);

  it.each(cases)('random text %i: counts, line ends, blank lines, oversize records, quoting, chunks', async (seed) => {
    const next = random(1_000 + seed);
    const delimiter = next() < 0.7 ? ',' : ';';
    const bytes = text(seed, 2_000 + Math.floor(next() * 60_000), delimiter);
    const csv = next() < 0.8;
    const sizes = (index: number): number => 50 + ((index * 37) % 400);
    const options: ScanOptions = {
      headerLines: csv ? 1 : 0,
      quoted: csv,
      delimiter,
      maxRecordBytes: next() < 0.7 ? 100 + Math.floor(next() * 300) : undefined,
      chunking:
        next() < 0.8
          ? { recordsPerChunk: 1 + Math.floor(next() * 60), bytesPerChunk: next() < 0.5 ? 300 : sizes }
          : undefined,
      sampleRecords: next() < 0.5 ? Math.floor(next() * 40) : undefined,
    };
    const max = next() < 0.5 ? 17 : 4_096;
    const loop = await run(scanRecordStream, pieces(bytes, seed, max), options);
    // The model counts a buffer's bare carriage returns before its records: fed a byte at a time, what it tells
    // each chunk of them is what it had read up to the chunk's end, as the loop's is.
    const model = await run(scanRecordStreamModel, pieces(bytes, seed + 1, 1), options);
    expect(loop).toEqual(model);
    // Not vacuous: the texts have what the scan is there to find.
    expect(model.result.records).toBeGreaterThan(10);
  });

  it('across the loop’s 1 MiB blocks: a text of several MiB in one buffer and in 8 MiB reads', async () => {
    const bytes = text(77, 5 << 20, ',');
    const options: ScanOptions = {
      headerLines: 1,
      quoted: true,
      maxRecordBytes: 250,
      chunking: { recordsPerChunk: 40_000, bytesPerChunk: 700_000 },
      sampleRecords: 1_000,
    };
    const loop = await run(scanRecordStream, whole(bytes), options);
    const model = await run(scanRecordStreamModel, pieces(bytes, 5, 1 << 16), options);
    const withoutBareCrSoFar = (r: typeof loop) => ({
      ...r,
      told: r.told.map((t) => ({ ...t, soFar: { ...t.soFar, lineEnds: { ...t.soFar.lineEnds, bareCr: 0 } } })),
    });
    expect(withoutBareCrSoFar(loop)).toEqual(withoutBareCrSoFar(model));
    expect(loop.result.lineEnds).toEqual(model.result.lineEnds);
    expect(model.result.chunks.length).toBeGreaterThan(5);
    expect(model.result.oversize.length).toBeGreaterThan(0);
    expect(model.result.blankLines).toBeGreaterThan(0);
    expect(model.result.lineEnds.crlf + model.result.lineEnds.bareCr).toBeGreaterThan(0);
  });

  it('a text whose every field is quoted (escaped quotes, quoted line ends, CRLF): records and quoting as the model', async () => {
    const next = random(4242);
    const fields = ['x', '', 'a,b', 'say ""hi""', 'line\nbreak', 'crlf\r\n', '""', 'é€'];
    const rows = Array.from({ length: 20_000 }, () =>
      Array.from({ length: 4 }, () => `"${fields[Math.floor(next() * fields.length)]}"`).join(','),
    );
    const bytes = Buffer.from(`"a","b","c","d"\r\n${rows.join('\r\n')}\r\n"x","y"z,"1","2"\r\n`);
    const options: ScanOptions = {
      headerLines: 1,
      quoted: true,
      maxRecordBytes: 30,
      chunking: { recordsPerChunk: 3_000, bytesPerChunk: 50_000 },
    };
    const loop = await run(scanRecordStream, whole(bytes), options);
    expect(loop).toEqual(await run(scanRecordStreamModel, pieces(bytes, 3, 1), options));
    expect(loop.result.records).toBe(20_001);
    expect(loop.result.quotingClean).toBe(false); // the last record's `"y"z`
    expect(loop.told.filter((t) => t.soFar.quotingClean)).toHaveLength(loop.told.length - 1);
  });

  it('a delimiter that is no single byte (€) opens no field after its last byte, in 16-byte groups as byte by byte', async () => {
    const bytes = Buffer.from(`a€b\n1€"x\ny"\n${'2€"z"\n'.repeat(10)}`);
    expect(bytes.subarray(0, 16).toString()).toBe('a€b\n1€"x\ny"\n'); // one group, its quotes after the € bytes
    const options: ScanOptions = { headerLines: 1, quoted: true, delimiter: '€' };
    const loop = await run(scanRecordStream, whole(bytes), options);
    expect(loop).toEqual(await run(scanRecordStreamModel, pieces(bytes, 1, 1), options));
    expect(loop.result.quotingClean).toBe(false);
  });

  it('more blank lines and oversize records in one block than the loop holds events for (it stops and goes on)', async () => {
    const bytes = Buffer.from(`a,b\n${'\n\r\n'.repeat(15_000)}${`1,${'x'.repeat(30)}\n`.repeat(20_000)}2,y`);
    const options: ScanOptions = {
      headerLines: 1,
      quoted: true,
      maxRecordBytes: 20,
      chunking: { recordsPerChunk: 100_000, bytesPerChunk: 400_000 },
    };
    const loop = await run(scanRecordStream, whole(bytes), options);
    expect(loop).toEqual(await run(scanRecordStreamModel, pieces(bytes, 9, 1 << 16), options));
    expect(loop.result.blankLines).toBe(30_000);
    expect(loop.result.oversize).toHaveLength(20_000);
  });

  it('texts the random ones may miss: empty, one byte, CR at the end, a quote left open to the end', async () => {
    const options: ScanOptions = { headerLines: 1, quoted: true, chunking: { recordsPerChunk: 2, bytesPerChunk: 5 } };
    for (const t of ['', '\n', 'a', 'a\r', 'a\n\r', 'a,b\n"x\n\n', 'a\n""""\n"', 'a\n\r\n\r\n\n', 'h\n1\n2\n3']) {
      const once = async function* () {
        if (t) yield Buffer.from(t);
      };
      const byByte = async function* () {
        for (const b of Buffer.from(t)) yield Buffer.from([b]);
      };
      expect(await run(scanRecordStream, byByte(), options)).toEqual(await run(scanRecordStreamModel, once(), options));
    }
  });
});
