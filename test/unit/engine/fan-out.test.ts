/**
 * The fan-out seams (plan → every chunk on its own → commit), driven on the local store, give exactly what
 * one pass over the same object gives — silver rows, quarantine rows with their numbers and reasons,
 * manifest counts — at chunk sizes down to one record, and leave no staging, no intent record and no
 * duplicate when a chunk runs twice.
 */
import { describe, expect, it } from '@jest/globals';
import { commitFanOut, planFanOut, transformFanOutChunk } from '../../../engine/index.ts';
import { createTestLake, HEADER } from '../../support/local-lake.ts';
import {
  ENGINE,
  expectFanOutSameAsOnePass,
  planFannedOut,
  publishedOutcome,
  SOURCE,
} from '../../support/unit/fan-out-vs-one-pass.ts';
import { AWKWARD_CSV, row, rows } from '../../support/unit/ingest-inputs.ts';

const { quotedNewlines, badRowsEverywhere, crlf, bom, gzip, mixedEnds, inch } = AWKWARD_CSV;
const INPUTS: Array<[string, string | Buffer, 'fan-out' | 'ingested']> = [
  [...quotedNewlines, 'fan-out'],
  [...badRowsEverywhere, 'fan-out'],
  [...crlf, 'fan-out'],
  [...bom, 'fan-out'],
  [...gzip, 'fan-out'],
  [
    'transactions/oversize.csv',
    [HEADER, ...rows(1, 3), `T4,${'x'.repeat(300)},1.00,EUR,2024-01-01`, row(5, 'bad'), ...rows(6, 3)].join('\n') +
      '\n',
    'fan-out',
  ],
  // What the byte scan cannot vouch for is ingested in one pass by the plan step.
  [...mixedEnds, 'ingested'],
  [...inch, 'ingested'],
  ['transactions/wrong-header.csv', `a,b,c\n1,2,3\n4,5,6\n`, 'ingested'],
];

describe('fan-out (plan, chunks, commit) equals one pass', () => {
  it.each(INPUTS)('%s at chunk sizes of 1, 40 and 150 bytes', async (key, content, expected) => {
    await expectFanOutSameAsOnePass({
      key,
      content,
      chunkSizes: [1, 40, 150],
      dataset: 'transactions',
      alsoExpect: async ({ planned }, _, chunkBytes) => {
        expect(planned.kind).toBe(expected);
        if (planned.kind === 'fan-out' && chunkBytes === 1) expect(planned.plan.chunks.length).toBeGreaterThan(3);
      },
    });
  });

  it('a chunk run twice (a retry) overwrites its staged keys: no duplicate rows', async () => {
    const [key, content] = badRowsEverywhere;
    const onePass = await createTestLake(undefined, ENGINE);
    const reference = await publishedOutcome(onePass, 'transactions', await onePass.ingest(key, content, SOURCE), true);
    const lake = await createTestLake(undefined, ENGINE);
    const { plan, options } = await planFannedOut(lake, key, content, 40);
    for (const c of plan.chunks) await transformFanOutChunk(plan, c.index, options);
    const staged = await lake.files('silver', '_staging/');
    for (const c of plan.chunks) await transformFanOutChunk(plan, c.index, options);
    expect(await lake.files('silver', '_staging/')).toEqual(staged);
    expect(staged.filter((k) => k.endsWith('.parquet')).length).toBeGreaterThan(plan.chunks.length);
    const committed = await commitFanOut(plan, options);
    expect(committed.kind).toBe('committed');
    expect(await publishedOutcome(lake, 'transactions', committed.manifest, true)).toEqual(reference);
  });

  it('a commit with a chunk missing throws and publishes nothing', async () => {
    const [key, content] = badRowsEverywhere;
    const lake = await createTestLake(undefined, ENGINE);
    const { plan, options } = await planFannedOut(lake, key, content, 40);
    for (const c of plan.chunks.slice(1)) await transformFanOutChunk(plan, c.index, options);
    await expect(commitFanOut(plan, options)).rejects.toThrow(
      /chunk 0 of transactions\/bad-rows-everywhere.csv has no result/,
    );
    expect(await lake.files('silver', '_manifests/')).toEqual([]);
    expect(await lake.files('silver', 'transactions/')).toEqual([]);
    expect(await lake.files('silver', '_pending/')).toHaveLength(1);
  });

  it('a chunk result of another plan (other byte ranges) never counts, and a new plan starts from empty staging', async () => {
    const [key, content] = badRowsEverywhere;
    const lake = await createTestLake(undefined, ENGINE);
    const { plan, options } = await planFannedOut(lake, key, content, 40);
    for (const c of plan.chunks) await transformFanOutChunk(plan, c.index, options);
    const shifted = { ...plan, chunks: plan.chunks.map((c, i) => (i === 0 ? { ...c, end: c.end + 1 } : c)) };
    await expect(commitFanOut(shifted, options)).rejects.toThrow(/chunk 0 of .* has no result/);
    const replanned = await planFanOut({ ...SOURCE, key }, await lake.store.getStream('bronze', key), {
      ...options,
      fanOutChunkBytes: 150,
    });
    if (replanned.kind !== 'fan-out') throw new Error('expected a fan-out');
    expect((await lake.files('silver', '_staging/')).filter((k) => k.includes('/chunk-'))).toEqual([]);
    expect(await lake.files('silver', '_manifests/')).toEqual([]);
  });

  it('a setting out of range fails each step before it reads anything: the file is never quarantined for it', async () => {
    const [key, content] = badRowsEverywhere;
    const lake = await createTestLake(undefined, ENGINE);
    const { plan, options } = await planFannedOut(lake, key, content, 40);
    const staged = await lake.files('silver', '_staging/');
    const settings = [{ shedAboveBytes: Number.NaN }, { threads: 0 }, { maxRecordBytes: 0.5 }, { memoryLimit: '512' }];
    for (const wrong of settings) {
      // Chunks as small as the plan's: a plan with one chunk would go to the one pass, which checks on its own.
      const bad = { ...options, fanOutChunkBytes: 40, ...wrong };
      const refused = /must be (a number of bytes|a whole number|between)|is not one DuckDB takes/;
      const steps = [
        planFanOut({ ...SOURCE, key }, await lake.store.getStream('bronze', key), bad),
        transformFanOutChunk(plan, 0, bad),
        commitFanOut(plan, bad),
      ];
      for (const step of steps) {
        const error = await step.then(
          () => undefined,
          (e: unknown) => e,
        );
        expect(error).toBeInstanceOf(RangeError);
        expect(String(error)).toMatch(refused);
      }
    }
    expect(await lake.files('quarantine')).toEqual([]);
    expect(await lake.files('silver', '_staging/')).toEqual(staged);
    expect(await lake.files('silver', '_manifests/')).toEqual([]);
  });
});
