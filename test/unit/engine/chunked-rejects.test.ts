import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { describe, expect, it } from '@jest/globals';
import { MALFORMED_RAW_RECORD_CHARS } from '../../../engine/reader.ts';
import { listFieldCountMismatches } from '../../../engine/sources/field-counts.ts';
import { scanRecordStream, scanRecords, writeChunk, type ScanOptions } from '../../../engine/sources/records.ts';
import { createTestLake, HEADER } from '../../support/local-lake.ts';
import { contractsWithReadings, READING_COLUMNS, row } from '../../support/unit/ingest-inputs.ts';

/** The chunks the byte scan plans, each written out as a file (header repeated), as text. */
async function chunksOf(
  text: string,
  options: ScanOptions,
): Promise<Array<{ text: string; recordOffset: number; records: number }>> {
  const dir = await mkdtemp(join(tmpdir(), 'chunks-'));
  const path = join(dir, 'input.txt');
  await writeFile(path, text);
  const { chunks, headerBytes } = await scanRecords(path, join(dir, 'blanks.csv'), options);
  const out = [];
  for (const [i, chunk] of chunks.entries()) {
    await writeChunk(path, headerBytes, chunk, join(dir, `chunk-${i}.txt`));
    out.push({
      text: await readFile(join(dir, `chunk-${i}.txt`), 'utf8'),
      recordOffset: chunk.recordOffset,
      records: chunk.records,
    });
  }
  return out;
}

async function scan(text: string, quoted = true) {
  const dir = await mkdtemp(join(tmpdir(), 'scan-'));
  await writeFile(join(dir, 'input.txt'), text);
  const result = await scanRecords(join(dir, 'input.txt'), join(dir, 'blanks.csv'), {
    headerLines: quoted ? 1 : 0,
    quoted,
  });
  return { ...result, blanks: await readFile(join(dir, 'blanks.csv'), 'utf8') };
}

describe('scanRecords', () => {
  it('counts records as the reader does: quoted newlines inside, blank lines listed with a running count', async () => {
    expect(await scan('a,b\n1,"x\ny"\n\n2,"q""r"\r\n\r\n3,z')).toEqual({
      records: 5,
      blankLines: 2,
      maxRecordBytes: 9,
      quotingClean: true,
      oversize: [],
      lineEnds: { crlf: 2, lf: 3, bareCr: 0 },
      headerBytes: 4,
      chunks: [],
      sampleEnd: -1,
      blanks: '2,1\n4,2\n',
    });
    expect(await scan('{"a":1}\n\n{"a":"\n', false)).toMatchObject({ records: 3, blankLines: 1, quotingClean: true });
  });

  it('counts carriage returns with no line feed after them (classic Mac line ends, stray CRs), across buffers too', async () => {
    expect((await scan('a,b\r1,x\r2,y\r')).lineEnds).toEqual({ crlf: 0, lf: 0, bareCr: 3 });
    expect((await scan('a,b\r\n1,"x\ry"\r\n2,z\n\r')).lineEnds).toEqual({ crlf: 2, lf: 1, bareCr: 2 });
    // A 7-byte header puts a CR as the last byte of the scan's first 1 MiB buffer, its LF first in the next.
    const big = `a,b,cd\n${'1,x\r\n'.repeat(400_000)}`;
    expect(Buffer.from(big)[(1 << 20) - 1]).toBe(0x0d);
    expect((await scan(big)).lineEnds).toEqual({ crlf: 400_000, lf: 1, bareCr: 0 });
  });

  it('over a stream as over a file, and says where the first records not over the limit end (the key sample)', async () => {
    const text = '{"a":1}\n{"b":"' + 'x'.repeat(40) + '"}\n\n{"c":3}\n{"d":4}\n';
    const options = { headerLines: 0, quoted: false, maxRecordBytes: 20, sampleRecords: 3 };
    const buffers = async function* () {
      for (let at = 0; at < text.length; at += 5) yield Buffer.from(text.slice(at, at + 5));
    };
    const streamed = await scanRecordStream(buffers(), new PassThrough().resume(), options);
    // Records 1, 3 (blank) and 4 are the first three not over the limit: the sample ends after record 4.
    expect(streamed.sampleEnd).toBe(text.indexOf('{"d"'));
    const dir = await mkdtemp(join(tmpdir(), 'scan-'));
    await writeFile(join(dir, 'input.txt'), text);
    expect(await scanRecords(join(dir, 'input.txt'), join(dir, 'blanks.csv'), options)).toEqual(streamed);
    expect(
      (await scanRecordStream(buffers(), new PassThrough().resume(), { ...options, sampleRecords: 9 })).sampleEnd,
    ).toBe(text.length);
  });

  it('flags quoting the reader may see differently: a quote inside a field, after a closing quote, or left open', async () => {
    expect((await scan('a,b\n1,ab"c\n')).quotingClean).toBe(false);
    expect((await scan('a,b\n1,"ab"c\n')).quotingClean).toBe(false);
    expect((await scan('a,b\n1,"abc\n2,x\n')).quotingClean).toBe(false);
    expect((await scan('a,b\n"1","a,""b"""\n"",x\n')).quotingClean).toBe(true);
  });
});

describe('the byte scan plans chunks', () => {
  const byRecords = (recordsPerChunk: number) => ({ recordsPerChunk, bytesPerChunk: Number.POSITIVE_INFINITY });

  it('lists records whose field count outside quotes differs from the header, only for UTF-8 text', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'fields-'));
    const path = join(dir, 'in.csv');
    await writeFile(path, 'a,b,c\n1,2,3\n1,2\n\n"1,x","2\n,y",3\n1,2,3,4\r\n"1"",""",2,3\n1');
    const listed = await listFieldCountMismatches(path, ',', { records: 10, bytes: 1 << 20 });
    expect(listed?.header.toString()).toBe('a,b,c\n');
    expect(listed?.records.map((r) => ({ record: r.record, text: r.bytes.toString() }))).toEqual([
      { record: 2, text: '1,2\n' },
      { record: 5, text: '1,2,3,4\r\n' },
      { record: 7, text: '1' },
    ]);
    // Over a limit: not listed at all (the caller reads the whole text instead).
    expect(await listFieldCountMismatches(path, ',', { records: 2, bytes: 1 << 20 })).toBeUndefined();
    expect(await listFieldCountMismatches(path, ',', { records: 10, bytes: 8 })).toBeUndefined();
    // Records and characters across read buffers (1 MiB): a long record, then a character cut by the boundary.
    const long = `x,${'é'.repeat(600_000)}`;
    await writeFile(path, `a,b\n${long}\n1\n`);
    expect(
      (await listFieldCountMismatches(path, ',', { records: 10, bytes: 1 << 20 }))?.records.map((r) =>
        r.bytes.toString(),
      ),
    ).toEqual(['1\n']);
    await writeFile(path, `a,b\n1,${'x'.repeat((1 << 20) - 7)}é\n2\n`);
    expect(
      (await listFieldCountMismatches(path, ',', { records: 10, bytes: 1 << 20 }))?.records.map((r) => r.record),
    ).toEqual([2]);
    await writeFile(path, Buffer.concat([Buffer.from('a,b\n1,'), Buffer.from([0xe9]), Buffer.from('\n2\n')]));
    expect(await listFieldCountMismatches(path, ',', { records: 10, bytes: 1 << 20 })).toBeUndefined();
    await writeFile(path, Buffer.concat([Buffer.from('a,b\n1,'), Buffer.from([0xe2, 0x82])]));
    expect(await listFieldCountMismatches(path, ',', { records: 10, bytes: 1 << 20 })).toBeUndefined();
  });

  it('cuts only where a record ends, repeats the header, and says where each chunk starts', async () => {
    const text = 'h1,h2\n1,"a\nb"\n2,x\n\n3,"q""\n"\n4,y';
    const chunks = await chunksOf(text, { chunking: byRecords(2), headerLines: 1, quoted: true });
    expect(chunks).toEqual([
      { text: 'h1,h2\n1,"a\nb"\n2,x\n', recordOffset: 0, records: 2 },
      { text: 'h1,h2\n\n3,"q""\n"\n', recordOffset: 2, records: 2 },
      { text: 'h1,h2\n4,y', recordOffset: 4, records: 1 },
    ]);
    // Every byte after the header is in exactly one chunk.
    expect(chunks.map((c) => c.text.slice('h1,h2\n'.length)).join('')).toBe(text.slice('h1,h2\n'.length));
  });

  it('treats every newline as a record end for JSON Lines (no header, quotes mean nothing)', async () => {
    const chunks = await chunksOf('{"a":"x\n{"b":1}\n{"c":2}\n', {
      chunking: byRecords(2),
      headerLines: 0,
      quoted: false,
    });
    expect(chunks).toEqual([
      { text: '{"a":"x\n{"b":1}\n', recordOffset: 0, records: 2 },
      { text: '{"c":2}\n', recordOffset: 2, records: 1 },
    ]);
  });

  it('by bytes: a chunk ends at the first record end past the limit; a header with no line end gives no chunk', async () => {
    const chunks = await chunksOf('h\n12345\n1\n123\n\n12', {
      chunking: { recordsPerChunk: 100, bytesPerChunk: 5 },
      headerLines: 1,
      quoted: true,
    });
    expect(chunks).toEqual([
      { text: 'h\n12345\n', recordOffset: 0, records: 1 },
      { text: 'h\n1\n123\n', recordOffset: 1, records: 2 },
      { text: 'h\n\n12', recordOffset: 3, records: 2 },
    ]);
    expect(await chunksOf('h1,h2', { chunking: byRecords(1), headerLines: 1, quoted: true })).toEqual([]);
  });
});

const contracts = contractsWithReadings(READING_COLUMNS);
/** Small enough that every input below has its rejects read in chunks. */
const TINY = { rejectsPerPass: 1, rejectBytesPerPass: 1, recordsPerChunk: 2, bytesPerChunk: 1 << 20 };

const INPUTS: Array<[string, string | Buffer]> = [
  [
    'transactions/broken.csv',
    [HEADER, row(1), 'T2,A,1.00', row(3, 'x'), '', row(4), 'T5,A,1.00,EUR,2024-01-01,extra', row(6)].join('\n') + '\n',
  ],
  [
    'transactions/quoted.csv',
    `${HEADER}\r\n"T1\r\nline",A,1.00,EUR,2024-01-01\r\nT2,A\r\n\r\nT3,A,2.555,EUR,2024-01-01\r\nT4,B,3.00,USD,2024-02-01`,
  ],
  [
    // Quoted delimiters and newlines in good and bad records, non-ASCII text, a bad last record with no line end.
    'transactions/listed.csv',
    [
      HEADER,
      '"T1,x",A,1.00,EUR,2024-01-01',
      '"T2\nsplit","Zoë, ☕",2.00,EUR',
      row(3),
      '"T4,"",""",A,1.00,EUR,2024-01-01,"extra,"',
      '',
      row(5),
      'T6,Ω',
    ].join('\n'),
  ],
  [
    // Bytes that are not UTF-8: the reader rejects that record too, so the field counts alone cannot say which.
    'transactions/latin1.csv',
    Buffer.concat([
      Buffer.from(`${HEADER}\n${row(1)}\nT2,A,1.00\nT3,`),
      Buffer.from([0xe9]),
      Buffer.from(`,1.00,EUR,2024-01-01\n${row(4)}\n`),
    ]),
  ],
  ['transactions/mixed-ends.csv', `${HEADER}\r\n${row(1)}\r\nT2,A\n${row(3, 'bad')}\n${row(4)}\r\nT5,A,1.00,EUR\n`],
  [
    // Malformed records longer than DuckDB keeps of a rejected line (10,000 bytes), one quoted, CRLF line ends: the
    // listed records' text comes from the listing, the full passes' from DuckDB's copy; both keep the first characters.
    'transactions/long-malformed.csv',
    [
      HEADER,
      row(1),
      `T2,${'M'.repeat(12_000)},1.00`,
      row(3),
      `T4,"${'N,'.repeat(3_000)}",1.00,EUR,2024-01-01,x`,
      row(5),
    ].join('\r\n') + '\r\n',
  ],
  [
    // The JSON reader rejects lines that are not UTF-8; lines that are not JSON objects are found by the engine.
    'readings/r.jsonl',
    Buffer.concat([
      Buffer.from('{"reading_id":1,"device":"d1"}\nnot json\n\n{"reading_id":"x","device":"'),
      Buffer.from([0xc3, 0x28]),
      Buffer.from('"}\n[1]\n{"reading_id":3,"device":"'),
      Buffer.from([0xff]),
      Buffer.from('"}\n{"reading_id":4,"device":"d4"}\n'),
    ]),
  ],
];

describe('quoting the byte scan cannot vouch for', () => {
  it('a quote inside a field is a plain character, as DuckDB reads it; the rejects are read in chunks, nothing lost', async () => {
    const lake = await createTestLake();
    const lines = [
      HEADER,
      'T1,A,1.00,EUR,2024-01-01',
      'T2,12" pipe,2.00,EUR,2024-01-02',
      'T3,A,3.00',
      'T4,A,4.00,EUR,2024-01-04',
      'T5,A',
    ];
    const m = await lake.ingest('transactions/inch.csv', lines.join('\n') + '\n');
    expect(m).toMatchObject({ rows_in: 5, rows_valid: 3, rows_quarantined: 2, reasons: { MALFORMED_ROW: 2 } });
    expect(m.engine.rejects_in_chunks).toBe(true);
    expect((await lake.silverRows()).map((r) => r.account_id)).toEqual(['A', '12" pipe', 'A']);
    expect((await lake.quarantineRows()).map((r) => r.record_number)).toEqual([3, 5]);
  });

  it('an unterminated quote makes the rest of the file one malformed record, read in chunks', async () => {
    const lake = await createTestLake();
    const m = await lake.ingest(
      'transactions/open.csv',
      [HEADER, row(1), '"T2,unterminated,1.00,EUR,2024-01-01', row(3), row(4)].join('\n') + '\n',
    );
    expect(m).toMatchObject({ rows_in: 2, rows_valid: 1, rows_quarantined: 1, reasons: { MALFORMED_ROW: 1 } });
    expect(m.engine.rejects_in_chunks).toBe(true);
    expect(String((await lake.quarantineRows())[0]?.raw_record)).toContain('T4');
  });
});

describe('a file with many malformed records has its rejects read in chunks, with the same outcome as one pass', () => {
  it.each(INPUTS)('%s', async (key, text) => {
    const onePass = await createTestLake(contracts);
    const chunked = await createTestLake(contracts, { rejectsLimits: TINY });
    const a = await onePass.ingest(key, text);
    const b = await chunked.ingest(key, text);
    expect(a.engine.rejects_in_chunks).toBe(false);
    expect(b.engine.rejects_in_chunks).toBe(true);
    expect(a.reasons.MALFORMED_ROW).toBeGreaterThan(0);
    const counts = (m: typeof a) => ({
      rows_in: m.rows_in,
      rows_valid: m.rows_valid,
      rows_quarantined: m.rows_quarantined,
      reasons: m.reasons,
      partitions: m.partitions,
    });
    expect(counts(b)).toEqual(counts(a));
    const dataset = a.dataset;
    const order = dataset === 'readings' ? 'reading_id' : 'transaction_id';
    expect(await chunked.silverRows(dataset, order)).toEqual(await onePass.silverRows(dataset, order));
    const quarantine = await onePass.quarantineRows(dataset);
    expect(quarantine).toHaveLength(a.rows_quarantined);
    expect(await chunked.quarantineRows(dataset)).toEqual(quarantine);
  });
});

describe('a malformed record longer than DuckDB keeps of a rejected line (its first 10,000 bytes)', () => {
  /** Two malformed records of non-ASCII text, ~12,000 bytes each: DuckDB's copy of them would end inside a character. */
  const longMalformed = (eol: string): string =>
    [
      HEADER,
      row(1),
      `T2,${'€'.repeat(4_000)},1.00`,
      row(3),
      `T4,"${'é,'.repeat(3_000)}",1.00,EUR,2024-01-01,x`,
      row(5),
    ].join(eol) + eol;
  const NOTE = `raw_record holds its first ${MALFORMED_RAW_RECORD_CHARS} characters`;

  it.each([
    ['LF', '\n'],
    ['CRLF', '\r\n'],
  ])(
    'is quarantined with its first characters and a note, the rest of the file ingested (%s; one pass and chunks)',
    async (_, eol) => {
      const text = longMalformed(eol);
      const onePass = await createTestLake(contracts);
      const chunked = await createTestLake(contracts, { chunking: { chunkBytes: 1, minBytesToChunk: 0 }, threads: 2 });
      const a = await onePass.ingest('transactions/long.csv', text);
      const b = await chunked.ingest('transactions/long.csv', text);
      expect(a).toMatchObject({ status: 'succeeded', rows_in: 5, rows_valid: 3, rows_quarantined: 2 });
      expect(b.engine.chunks).toBe(5);
      const quarantine = await onePass.quarantineRows('transactions');
      expect(quarantine.map((r) => [r.record_number, r.raw_record])).toEqual([
        [2, `T2,${'€'.repeat(4_000)}`.slice(0, MALFORMED_RAW_RECORD_CHARS)],
        [4, `T4,"${'é,'.repeat(3_000)}`.slice(0, MALFORMED_RAW_RECORD_CHARS)],
      ]);
      for (const r of quarantine) expect(r.details).toContain(NOTE);
      expect(await chunked.quarantineRows('transactions')).toEqual(quarantine);
      expect(await chunked.silverRows('transactions')).toEqual(await onePass.silverRows('transactions'));
    },
  );

  it('keeps a shorter record whole, with no note', async () => {
    const lake = await createTestLake(contracts);
    const record = `T2,${'ü'.repeat(100)},1.00`;
    await lake.ingest('transactions/short.csv', [HEADER, row(1), record].join('\n') + '\n');
    const [q] = await lake.quarantineRows('transactions');
    expect(q?.raw_record).toBe(record);
    expect(q?.details).not.toContain(NOTE);
  });

  it('read by the full rejects passes (more malformed records than one listing holds), the file is rejected whole saying why', async () => {
    const lake = await createTestLake(contracts, { rejectsLimits: TINY });
    const m = await lake.ingest('transactions/long.csv', longMalformed('\n'));
    expect(m).toMatchObject({ status: 'rejected', reasons: { UNREADABLE: 1 } });
    expect(m.quarantine.file_detail).toMatch(/malformed record over 10,000 bytes .*duckdb\/duckdb#10929/);
  });
});
