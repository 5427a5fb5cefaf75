/**
 * Inputs the ingest tests share: transactions CSV rows, the awkward CSV files a chunked or fanned-out ingest
 * must read exactly as one pass does, and a JSON Lines `readings` dataset beside the shipped contracts.
 */
import { gzipSync } from 'node:zlib';
import { ContractRegistry, loadContracts, parseContract } from '../../../engine/contract/index.ts';
import { HEADER } from '../local-lake.ts';

/** One transactions CSV line: record `i`, three accounts, three months. */
export const row = (i: number, amount = '1.00') => `T${i},A${i % 3},${amount},EUR,2024-0${(i % 3) + 1}-15T10:00:00Z`;
/** `n` good transactions lines from record `from` on. */
export const rows = (from: number, n: number) => Array.from({ length: n }, (_, k) => row(from + k));

/** CSV files whose quoting, line ends, blank lines or bad rows put every kind of chunk boundary to the test. */
export const AWKWARD_CSV = {
  quotedNewlines: [
    'transactions/quoted-newlines.csv',
    [
      HEADER,
      row(1),
      '"T2\nspans\nlines",A,1.00,EUR,2024-01-01',
      row(3),
      '"T4, with comma",B,2.00,USD,2024-02-01',
      ...rows(5, 6),
    ].join('\n') + '\n',
  ],
  badRowsEverywhere: [
    'transactions/bad-rows-everywhere.csv',
    [
      HEADER,
      'T1,A,1.00',
      row(2, 'x'),
      '',
      row(3),
      'T4,A,1.00,EUR,2024-01-01,extra',
      row(5, '1.005'),
      '',
      '',
      row(6),
      'T7,A',
      row(8),
      'T9,A,1.00,XXX,2024-01-01',
      'T10,A',
    ].join('\n') + '\n',
  ],
  crlf: [
    'transactions/crlf.csv',
    [HEADER, ...rows(1, 5), 'T6,A', row(7, 'bad'), '"T8\r\nq",A,1.00,EUR,2024-01-01', ...rows(9, 4)].join('\r\n'),
  ],
  bom: ['transactions/bom.csv', `\uFEFF${[HEADER, ...rows(1, 8), 'T9,A,1.00'].join('\n')}\n`],
  gzip: ['transactions/gzip.csv.gz', gzipSync([HEADER, ...rows(1, 10), 'T11,A', row(12, 'no')].join('\n'))],
  mixedEnds: [
    'transactions/mixed-ends.csv',
    `${HEADER}\r\n${row(1)}\r\nT2,A\n${row(3, 'bad')}\n${row(4)}\r\nT5,A,1.00,EUR\n${rows(6, 5).join('\n')}\n`,
  ],
  inch: [
    'transactions/inch.csv',
    [HEADER, ...rows(1, 3), 'T4,12" pipe,2.00,EUR,2024-01-02', 'T5,A,3.00', ...rows(6, 4)].join('\n') + '\n',
  ],
} satisfies Record<string, [key: string, content: string | Buffer]>;

/** The `readings` columns when a test needs no more: a required id and a required device. */
export const READING_COLUMNS = [
  { name: 'reading_id', type: 'bigint', required: true },
  { name: 'device', type: 'string', required: true },
];

/** The shipped contracts plus a JSON Lines `readings` dataset (bronze prefix `readings/`) of these columns. */
export function contractsWithReadings(columns: Array<Record<string, string | boolean | string[]>>): ContractRegistry {
  const readings = parseContract(
    {
      name: 'readings',
      version: '1',
      bronzePrefix: 'readings/',
      source: { format: 'jsonl' },
      columns,
      partitionBy: [],
    },
    'readings.json',
  );
  return new ContractRegistry([...loadContracts().contracts, readings]);
}

/** `bytes` in pieces of 100 kB, stopping after `pauseAt` bytes until `resume` resolves (a download that stalls). */
export async function* pausing(
  bytes: Buffer,
  pauseAt: number,
  resume: () => Promise<unknown>,
): AsyncIterable<Uint8Array> {
  for (let i = 0; i < bytes.length; i += 100_000) {
    if (i >= pauseAt && i - 100_000 < pauseAt) await resume();
    yield bytes.subarray(i, i + 100_000);
  }
}
