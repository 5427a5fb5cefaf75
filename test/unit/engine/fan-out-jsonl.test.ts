/**
 * JSON Lines through the fan-out seams (plan → every chunk on its own → commit) gives exactly what one pass
 * gives: every chunk binds its fields from the key sample the plan staged (the whole text's first lines, as
 * the one pass samples them), so a chunk that lacks a key, or sees one the start of the text does not, still
 * reads as the whole text reads. Compared row for row (a large silver by its count and a digest of its rows) and with
 * EXCEPT ALL both ways in DuckDB, silver and quarantine, at chunk sizes down to one line.
 */
import { gzipSync } from 'node:zlib';
import { describe, it } from '@jest/globals';
import { expect } from '../../support/expect.ts';
import { transformFanOutChunk } from '../../../engine/index.ts';
import { createTestLake } from '../../support/local-lake.ts';
import {
  differingRows,
  ENGINE,
  expectFanOutSameAsOnePass,
  planFannedOut,
} from '../../support/unit/fan-out-vs-one-pass.ts';
import { contractsWithReadings, READING_COLUMNS } from '../../support/unit/ingest-inputs.ts';

const contracts = contractsWithReadings([
  { ...READING_COLUMNS[0]!, aliases: ['id'] },
  { ...READING_COLUMNS[1]!, aliases: ['DEVICE'] },
  { name: 'owner_email', type: 'string', required: false, pii: 'hash' },
]);

const line = (i: number, extra = '') => `{"reading_id":${i},"device":"d${i}","owner_email":"o${i}@x.org"${extra}}`;
const lines = (from: number, n: number) => Array.from({ length: n }, (_, k) => line(from + k));
const oversize = (i: number) => `{"reading_id":${i},"device":"${'x'.repeat(300)}","owner_email":"big@x.org"}`;

const INPUTS: Array<[string, string | Buffer]> = [
  [
    // Bad lines on both sides of every cut, lines that are not objects, blank lines, invalid UTF-8, keys only
    // after line 1 (an alias spelling, a key no column has) and a stretch of lines without a required key.
    'readings/mixed.jsonl',
    Buffer.concat([
      Buffer.from(
        [
          '{"id":1,"device":"d1"}',
          'not json',
          '',
          '{"reading_id":"x","device":"d2"}',
          '[1]',
          '42',
          line(3),
          '{"reading_id":4,"DEVICE":"d4","owner_email":"o4@x.org","firmware":"1.2"}',
          '',
          '',
          '{"reading_id":5}',
          '{"reading_id":6,"owner_email":"o6@x.org"}',
          '{"reading_id":7,"device":"d7", broken',
          '{"reading_id":8,"device":"',
        ].join('\n'),
      ),
      Buffer.from([0xc3, 0x28]),
      Buffer.from(`"}\n${lines(9, 4).join('\n')}\n{"reading_id":13,"device":null}\n${line(14)}\n`),
    ]),
  ],
  ['readings/bom.jsonl', `\uFEFF${[...lines(1, 6), '{"reading_id":"bad","device":"d"}', line(8)].join('\n')}\n`],
  ['readings/crlf.jsonl', [...lines(1, 4), 'nope', '', ...lines(6, 4), '{"device":"only"}'].join('\r\n')],
  [
    'readings/gzip.jsonl.gz',
    gzipSync([...lines(1, 5), 'not json', '{"reading_id":7}', ...lines(8, 4)].join('\n') + '\n'),
  ],
  // Records over the 200-byte limit: the very first line (a chunk of its own at 1-byte chunks) and in between.
  [
    'readings/oversize.jsonl',
    [oversize(1), ...lines(2, 3), oversize(5), '{"reading_id":"bad"}', ...lines(7, 3), oversize(10)].join('\n') + '\n',
  ],
  ['readings/no-final-line-end.jsonl', [...lines(1, 6), '{"reading_id":7,"device":"d7"'].join('\n')],
];

async function expectSameAsOnePass(key: string, content: string | Buffer, chunkSizes: number[]): Promise<void> {
  await expectFanOutSameAsOnePass({
    key,
    content,
    chunkSizes,
    dataset: 'readings',
    contracts,
    alsoExpect: async ({ planned, committed }, { onePass, fannedOut }, chunkBytes) => {
      if (planned.kind !== 'fan-out') throw new Error(`${key} was not fanned out: ${planned.why}`);
      // Committed from the chunks, not ingested again in one pass because a chunk could not be read alone.
      expect(committed, `chunkBytes ${chunkBytes}`).toBe('committed');
      expect(planned.plan.chunks.length, `chunkBytes ${chunkBytes}`).toBeGreaterThan(1);
      for (const zone of ['silver/readings/*.parquet', 'quarantine/readings/records/*.parquet'])
        expect(await differingRows(`${onePass.root}/${zone}`, `${fannedOut.root}/${zone}`), zone).toBe(0);
    },
  });
}

describe('JSON Lines fan-out (plan, chunks, commit) equals one pass', () => {
  it.each(INPUTS)('%s at chunk sizes of 1, 40 and 150 bytes', async (key, content) => {
    await expectSameAsOnePass(key, content, [1, 40, 150]);
  });

  it('keys are sampled from the first 10,000 lines of the whole text, not from each chunk', async () => {
    // A key no column has, first seen at line 10,500: neither pass binds it. 6,000 lines without `device`
    // after line 11,000: chunks of those alone would miss a required column, yet bind it from the sample.
    const text = [
      ...lines(1, 10_499),
      line(10_500, ',"late_key":1'),
      ...lines(10_501, 500),
      ...Array.from({ length: 6_000 }, (_, k) => `{"reading_id":${11_001 + k}}`),
    ].join('\n');
    await expectSameAsOnePass('readings/long.jsonl', text, [60_000]);
  });

  it('the plan stages the key sample and every chunk reads it: a chunk without it fails loudly', async () => {
    const [key, content] = INPUTS[0]!;
    const lake = await createTestLake(contracts, ENGINE);
    const { plan, options } = await planFannedOut(lake, key, content, 40, contracts);
    expect(plan.key_sample).toMatch(/key-sample\.jsonl$/);
    await lake.store.delete('silver', [plan.key_sample ?? '']);
    await expect(transformFanOutChunk(plan, 1, options)).rejects.toThrow(/key sample of .* is gone/);
  });
});
