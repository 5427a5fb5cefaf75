/**
 * The engine's limits (record size, source width, gzip expansion) and its deterministic failures: every
 * record the input holds is accounted for — in silver, or in quarantine with a reason — or the file is
 * quarantined whole. Expected counts come from the test's own input, never from the engine.
 */
import { gzipSync } from 'node:zlib';
import { describe, expect, it } from '@jest/globals';
import { ContractRegistry, parseContract } from '../../../engine/contract/index.ts';
import {
  asDeterministicRejection,
  EngineInvariantError,
  FileReason,
  MAX_SOURCE_COLUMNS,
  type Manifest,
} from '../../../engine/index.ts';
import { createTestLake, HEADER } from '../../support/local-lake.ts';

const good = (id: string, month = '01') => `${id},A,1.00,EUR,2024-${month}-01T00:00:00Z`;
const goods = (n: number, prefix: string) => Array.from({ length: n }, (_, i) => good(`${prefix}${i}`));

function expectConserved(m: Manifest, expected: { rowsIn: number; valid: number }) {
  expect(m.rows_in).toBe(expected.rowsIn);
  expect(m.rows_valid).toBe(expected.valid);
  expect(m.rows_quarantined).toBe(expected.rowsIn - expected.valid);
}

describe('a record over the record limit is quarantined, never dropped', () => {
  it('the issue’s case: 33 MiB record between 1,000 good rows each side (rows_in 2001, not 2000)', async () => {
    const lake = await createTestLake();
    const huge = `${good('TXL')},${'B'.repeat(33 << 20)}`;
    const m = await lake.ingest(
      'transactions/huge.csv',
      [HEADER, ...goods(1000, 'X'), huge, ...goods(1000, 'Y')].join('\n') + '\n',
    );
    expectConserved(m, { rowsIn: 2001, valid: 2000 });
    expect(m.reasons).toEqual({ RECORD_TOO_LARGE: 1 });
    const [q] = await lake.quarantineRows();
    expect(q).toMatchObject({ record_number: 1001, reasons: ['RECORD_TOO_LARGE'] });
    expect(String(q?.raw_record)).toBe(huge.slice(0, 1024));
    expect(String((q?.details as string[])[0])).toMatch(
      /the record is 34603044 bytes, over the 1048576-byte record limit/,
    );
  });

  it('numbers every other row as in the original input: blank lines, malformed and invalid rows around cut records', async () => {
    const lake = await createTestLake(undefined, { maxRecordBytes: 100 });
    const big = (id: string) => `${good(id)},${'x'.repeat(200)}`;
    const lines = [
      HEADER,
      good('T1'),
      big('B2'),
      '',
      'T3,A,1.00',
      big('B4'),
      big('B5'),
      good('T6'),
      'T7,A,bad,EUR,2024-01-01T00:00:00Z',
      '',
      big('B8'),
      'T9,A,1.00,EUR,2024-01-01,extra',
      good('T10'),
    ];
    const m = await lake.ingest('transactions/mixed.csv', lines.join('\r\n'));
    // 12 lines after the header, 2 blank: 10 records; T1, T6, T10 valid.
    expectConserved(m, { rowsIn: 10, valid: 3 });
    expect(m.reasons).toEqual({ RECORD_TOO_LARGE: 4, MALFORMED_ROW: 2, INVALID_AMOUNT: 1 });
    const q = await lake.quarantineRows();
    expect(q.map((r) => [r.record_number, r.reasons])).toEqual([
      [2, ['RECORD_TOO_LARGE']],
      [3, ['MALFORMED_ROW']],
      [4, ['RECORD_TOO_LARGE']],
      [5, ['RECORD_TOO_LARGE']],
      [7, ['INVALID_AMOUNT']],
      [8, ['RECORD_TOO_LARGE']],
      [9, ['MALFORMED_ROW']],
    ]);
    expect((await lake.silverRows()).map((r) => r.transaction_id)).toEqual(['T1', 'T10', 'T6']);
  });

  it("a record limit at or above the reader's own line limit is refused before anything is read", async () => {
    const lake = await createTestLake(undefined, { maxRecordBytes: 2 << 20 });
    await expect(lake.ingest('transactions/x.csv', [HEADER, good('T1')].join('\n'))).rejects.toThrow(
      /maxRecordBytes must be between 1 and 2097151/,
    );
  });

  it('a classic-Mac (CR) body is not taken for one oversize record: the file is rejected whole, as under the limit', async () => {
    const lake = await createTestLake(undefined, { maxRecordBytes: 200 });
    const m = await lake.ingest('transactions/mac.csv', `${HEADER}\n${goods(50, 'M').join('\r')}\r`);
    expect(m).toMatchObject({ status: 'rejected', reasons: { UNREADABLE: 1 } });
    expect(m.quarantine.file_key).not.toBeNull();
  });

  it('inside a gzip, and as the last record without a line end', async () => {
    const lake = await createTestLake(undefined, { maxRecordBytes: 1000 });
    const text = [HEADER, ...goods(3, 'G'), `${good('BIG')},${'z'.repeat(5000)}`].join('\n');
    const m = await lake.ingest('transactions/last.csv.gz', gzipSync(text));
    expectConserved(m, { rowsIn: 4, valid: 3 });
    expect(m.reasons).toEqual({ RECORD_TOO_LARGE: 1 });
    expect((await lake.quarantineRows()).map((r) => r.record_number)).toEqual([4]);
  });

  it('JSON Lines: counted by line; a dataset with PII columns keeps no bytes of the cut-off line', async () => {
    const events = parseContract(
      {
        name: 'events',
        version: '1',
        bronzePrefix: 'events/',
        source: { format: 'jsonl' },
        columns: [
          { name: 'id', type: 'bigint', required: true },
          { name: 'email', type: 'string', pii: 'hash' },
        ],
        partitionBy: [],
      },
      'events.json',
    );
    const lake = await createTestLake(new ContractRegistry([events]), { maxRecordBytes: 64 });
    const lines = ['{"id": 1}', '', JSON.stringify({ id: 2, email: `${'a'.repeat(100)}@x.org` }), '{"id": 3}'];
    const m = await lake.ingest('events/e.jsonl', lines.join('\n') + '\n');
    expectConserved(m, { rowsIn: 3, valid: 2 });
    // A file whose only record is oversize: quarantined as such, not MISSING_COLUMNS (no keys left to bind).
    const only = await lake.ingest('events/only.jsonl', `${JSON.stringify({ id: 9, email: 'y'.repeat(100) })}\n`);
    expect(only).toMatchObject({
      status: 'succeeded',
      rows_in: 1,
      rows_quarantined: 1,
      reasons: { RECORD_TOO_LARGE: 1 },
    });
    const [q] = await lake.quarantineRows('events');
    expect(q).toMatchObject({ record_number: 3, reasons: ['RECORD_TOO_LARGE'], raw_record: null });
    expect(String((q?.details as string[])[0])).toMatch(/withheld/);
  });
});

describe('an oversize record of a dataset with PII keeps no PII', () => {
  const people = parseContract(
    {
      name: 'people',
      version: '1',
      bronzePrefix: 'people/',
      source: { format: 'csv' },
      columns: [
        { name: 'id', type: 'bigint', required: true },
        { name: 'note', type: 'string' },
        { name: 'email', type: 'string', pii: 'hash' },
        { name: 'ssn', type: 'string', pii: 'drop' },
      ],
      partitionBy: [],
    },
    'people.json',
  );
  const ingest = async (record: string) => {
    const lake = await createTestLake(new ContractRegistry([people]), { maxRecordBytes: 200 });
    await lake.ingest('people/p.csv', `id,note,email,ssn\n1,n,a@x.org,1\n${record},${'x'.repeat(400)}\n`);
    return (await lake.quarantineRows('people'))[0];
  };

  it('PII fields of its first bytes are redacted', async () => {
    const q = await ingest('2,"quoted, note",alice@example.com,123-45-6789');
    expect(q?.raw_record).toBe(`2,"quoted, note",<hashed PII>,<dropped PII>,${'x'.repeat(400)}`);
  });

  it('a stray quote (fields cannot be told apart for sure): its bytes are withheld, not shown', async () => {
    const q = await ingest('2,12" pipe,alice@example.com,123-45-6789');
    expect(q).toMatchObject({ reasons: ['RECORD_TOO_LARGE'], raw_record: null });
    expect(String((q?.details as string[])[0])).toMatch(/withheld/);
  });
});

describe('a wide file reads only what the contract needs', () => {
  const extras = (n: number) => Array.from({ length: n }, (_, i) => `unknown_extra_column_${i}`);

  it('header only, 200 and 2,000 extra columns: succeeds with zero rows (ran out of 128 MB before)', async () => {
    const lake = await createTestLake();
    for (const n of [200, 2000]) {
      const m = await lake.ingest(`transactions/wide-${n}.csv`, `${[HEADER, ...extras(n)].join(',')}\n`);
      expect(m).toMatchObject({ status: 'succeeded', rows_in: 0 });
    }
  });

  it('valid, invalid and malformed rows of a 500-column file are all accounted for', async () => {
    const lake = await createTestLake();
    const pad = extras(500).map(() => 'v');
    const lines = [
      [HEADER, ...extras(500)].join(','),
      ...goods(50, 'W').map((r) => [r, ...pad].join(',')),
      ['T_BAD,A,x,EUR,2024-01-01T00:00:00Z', ...pad].join(','),
      'T_SHORT,A',
    ];
    const m = await lake.ingest('transactions/wide-rows.csv', lines.join('\n') + '\n');
    expectConserved(m, { rowsIn: 52, valid: 50 });
    expect(m.reasons).toEqual({ INVALID_AMOUNT: 1, MALFORMED_ROW: 1 });
    expect(m.columns.ignored).toHaveLength(500);
    // Beyond READ_ALL_COLUMNS_UP_TO the quarantined row keeps the contract's columns only.
    const invalid = (await lake.quarantineRows()).find((r) => (r.reasons as string[]).includes('INVALID_AMOUNT'));
    expect(Object.keys(JSON.parse(String(invalid?.raw_record)) as object)).toHaveLength(5);
  });

  it(`TOO_MANY_COLUMNS beyond ${MAX_SOURCE_COLUMNS} columns, and for a header with no line end in its first MiB`, async () => {
    const lake = await createTestLake();
    const m = await lake.ingest(
      'transactions/too-wide.csv',
      `${[HEADER, ...extras(MAX_SOURCE_COLUMNS)].join(',')}\n${good('T1')}\n`,
    );
    expect(m).toMatchObject({ status: 'rejected', reasons: { TOO_MANY_COLUMNS: 1 } });
    expect(m.quarantine.file_detail).toMatch(/10005 source columns; the limit is 10000/);
    const endless = await lake.ingest('transactions/endless.csv', `${HEADER},${'h'.repeat(2 << 20)}`);
    expect(endless).toMatchObject({ status: 'rejected', reasons: { TOO_MANY_COLUMNS: 1 } });
  });
});

describe('gzip expansion limits', () => {
  const body = [HEADER, ...goods(20_000, 'Z')].join('\n');
  const gz = gzipSync(body, { level: 9 });

  it('beyond the ratio (past its floor): EXPANSION_LIMIT, the original kept whole', async () => {
    const lake = await createTestLake(undefined, {
      expansionLimits: { maxRatio: 5, ratioFloorBytes: 1024, maxBytes: 1 << 30 },
    });
    const m = await lake.ingest('transactions/bomb.csv.gz', gz);
    expect(m).toMatchObject({ status: 'rejected', rows_in: 0, reasons: { EXPANSION_LIMIT: 1 } });
    expect(m.quarantine.file_detail).toMatch(/beyond 5× its \d+ compressed bytes/);
    expect(Buffer.from((await lake.store.getBytes('quarantine', m.quarantine.file_key ?? '')) ?? []).equals(gz)).toBe(
      true,
    );
  });

  it('beyond the absolute cap; within both limits the same file ingests', async () => {
    const capped = await createTestLake(undefined, {
      expansionLimits: { maxRatio: 1000, ratioFloorBytes: 1024, maxBytes: 100_000 },
    });
    expect(await capped.ingest('transactions/big.csv.gz', gz)).toMatchObject({
      status: 'rejected',
      reasons: { EXPANSION_LIMIT: 1 },
    });
    const lake = await createTestLake(undefined, {
      expansionLimits: { maxRatio: 1000, ratioFloorBytes: 1024, maxBytes: 1 << 30 },
    });
    expectConserved(await lake.ingest('transactions/ok.csv.gz', gz), { rowsIn: 20_000, valid: 20_000 });
  });
});

describe('adversarial quoting never fails an ingest (it would fail every retry)', () => {
  it('15 files of random quotes, line ends and delimiters: each conserved or rejected whole, none throws', async () => {
    const lake = await createTestLake();
    let seed = 7;
    const random = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
    const pieces = [
      'T1',
      'A',
      '1.00',
      'EUR',
      '2024-01-01T00:00:00Z',
      '"',
      '""',
      ',',
      '\n',
      '\r\n',
      '\r',
      ' ',
      'x',
      '"q"',
      '\n\n',
    ];
    for (let f = 0; f < 15; f++) {
      const lines = [HEADER];
      for (let r = 0; r < 1 + Math.floor(random() * 8); r++) {
        lines.push(
          random() < 0.5
            ? good(`T${r}`)
            : Array.from(
                { length: 1 + Math.floor(random() * 10) },
                () => pieces[Math.floor(random() * pieces.length)],
              ).join(''),
        );
      }
      const m = await lake.ingest(`transactions/fuzz-${f}.csv`, lines.join(random() < 0.8 ? '\n' : '\r\n'), {
        etag: `fuzz-${f}`,
      });
      expect(m.rows_in).toBe(m.rows_valid + m.rows_quarantined);
      if (m.status === 'rejected') expect(m.quarantine.file_reason).toBe('UNREADABLE');
    }
  });
});

describe('a failure a retry would repeat quarantines the file whole instead of looping', () => {
  it('DuckDB out of its memory limit: PROCESSING_FAILED with the reason', async () => {
    const lake = await createTestLake(undefined, { memoryLimit: '1MB' });
    const m = await lake.ingest('transactions/oom.csv', [HEADER, ...goods(10, 'M')].join('\n'));
    expect(m).toMatchObject({ status: 'rejected', reasons: { PROCESSING_FAILED: 1 }, partitions: [] });
    expect(m.quarantine.file_detail).toMatch(/Out of Memory/);
    expect(await lake.files('silver', 'transactions/')).toEqual([]);
  });

  it('machine failures stay errors to retry; engine and data failures become rejections', () => {
    const full = Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' });
    expect(asDeterministicRejection(full)).toBeUndefined();
    expect(
      asDeterministicRejection(new Error('IO Error: Could not write file "x": No space left on device')),
    ).toBeUndefined();
    expect(asDeterministicRejection(new EngineInvariantError('routes disagree'))?.reason).toBe(
      FileReason.PROCESSING_FAILED,
    );
    expect(
      asDeterministicRejection(new Error('writing silver: Out of Memory Error: failed to allocate'))?.detail,
    ).toMatch(/^writing silver: Out of Memory/);
  });
});
