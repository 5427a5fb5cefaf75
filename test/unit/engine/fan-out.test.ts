/**
 * The fan-out seams (plan → every chunk on its own → commit), driven on the local store, give exactly what
 * one pass over the same object gives — silver rows, quarantine rows with their numbers and reasons,
 * manifest counts — at chunk sizes down to one record, and leave no staging, no intent record and no
 * duplicate when a chunk runs twice.
 */
import { gzipSync } from 'node:zlib';
import { describe, expect, it } from '@jest/globals';
import {
  commitFanOut,
  loadContracts,
  planFanOut,
  transformFanOutChunk,
  type IngestOptions,
  type Manifest,
  type PlanOutcome,
  type SourceRef,
} from '../../../engine/index.ts';
import { createTestLake, HEADER, type TestLake } from '../../support/local-lake.ts';

const row = (i: number, amount = '1.00') => `T${i},A${i % 3},${amount},EUR,2024-0${(i % 3) + 1}-15T10:00:00Z`;
const rows = (from: number, n: number) => Array.from({ length: n }, (_, k) => row(from + k));

const INPUTS: Array<[string, string | Buffer, 'fan-out' | 'ingested']> = [
  [
    'transactions/quoted-newlines.csv',
    [
      HEADER,
      row(1),
      '"T2\nspans\nlines",A,1.00,EUR,2024-01-01',
      row(3),
      '"T4, with comma",B,2.00,USD,2024-02-01',
      ...rows(5, 6),
    ].join('\n') + '\n',
    'fan-out',
  ],
  [
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
    'fan-out',
  ],
  [
    'transactions/crlf.csv',
    [HEADER, ...rows(1, 5), 'T6,A', row(7, 'bad'), '"T8\r\nq",A,1.00,EUR,2024-01-01', ...rows(9, 4)].join('\r\n'),
    'fan-out',
  ],
  ['transactions/bom.csv', `\uFEFF${[HEADER, ...rows(1, 8), 'T9,A,1.00'].join('\n')}\n`, 'fan-out'],
  ['transactions/gzip.csv.gz', gzipSync([HEADER, ...rows(1, 10), 'T11,A', row(12, 'no')].join('\n')), 'fan-out'],
  [
    'transactions/oversize.csv',
    [HEADER, ...rows(1, 3), `T4,${'x'.repeat(300)},1.00,EUR,2024-01-01`, row(5, 'bad'), ...rows(6, 3)].join('\n') +
      '\n',
    'fan-out',
  ],
  // What the byte scan cannot vouch for is ingested in one pass by the plan step.
  [
    'transactions/mixed-ends.csv',
    `${HEADER}\r\n${row(1)}\r\nT2,A\n${row(3, 'bad')}\n${row(4)}\r\nT5,A,1.00,EUR\n${rows(6, 5).join('\n')}\n`,
    'ingested',
  ],
  [
    'transactions/inch.csv',
    [HEADER, ...rows(1, 3), 'T4,12" pipe,2.00,EUR,2024-01-02', 'T5,A,3.00', ...rows(6, 4)].join('\n') + '\n',
    'ingested',
  ],
  ['transactions/wrong-header.csv', `a,b,c\n1,2,3\n4,5,6\n`, 'ingested'],
];

const SOURCE = { bucket: 'test-bronze', etag: 'etag-1', lastModified: new Date('2024-05-01T12:00:00Z') };
const ENGINE = { maxRecordBytes: 200 };

const counts = (m: Manifest) => ({
  status: m.status,
  rows_in: m.rows_in,
  rows_valid: m.rows_valid,
  rows_quarantined: m.rows_quarantined,
  reasons: m.reasons,
  partitions: m.partitions.map((p) => [p.prefix, p.rows]),
  columns: m.columns,
  bytes_in: m.bytes_in,
  bytes_in_uncompressed: m.bytes_in_uncompressed,
  compression: m.compression,
});

async function outcome(lake: TestLake, m: Manifest) {
  const quarantine = (await lake.quarantineRows('transactions')).map((r) => [
    r.record_number,
    r.reasons,
    r.details,
    r.raw_record,
    r.source_key,
    r.ingest_run_id,
  ]);
  return { counts: counts(m), silver: await lake.silverRows('transactions'), quarantine };
}

function optionsOf(lake: TestLake): IngestOptions {
  return { contracts: loadContracts(), store: lake.store, catalog: lake.catalog, workDir: lake.root, ...ENGINE };
}

/** What the state machine does: plan, every chunk (here in reverse order, as a Map may finish them), commit. */
async function fanOut(
  lake: TestLake,
  key: string,
  content: string | Buffer,
  chunkBytes: number,
): Promise<{ planned: PlanOutcome; manifest: Manifest }> {
  await lake.store.putBytes('bronze', key, content);
  const source: SourceRef = { ...SOURCE, key };
  const options = optionsOf(lake);
  const planned = await planFanOut(source, await lake.store.getStream('bronze', key), {
    ...options,
    fanOutChunkBytes: chunkBytes,
  });
  if (planned.kind === 'ingested') return { planned, manifest: planned.manifest };
  for (const chunk of [...planned.plan.chunks].reverse()) {
    await transformFanOutChunk(planned.plan, chunk.index, options);
  }
  const committed = await commitFanOut(planned.plan, options);
  return { planned, manifest: committed.manifest };
}

describe('fan-out (plan, chunks, commit) equals one pass', () => {
  it.each(INPUTS)('%s at chunk sizes of 1, 40 and 150 bytes', async (key, content, expected) => {
    const onePass = await createTestLake(undefined, ENGINE);
    const reference = await outcome(onePass, await onePass.ingest(key, content, SOURCE));
    for (const chunkBytes of [1, 40, 150]) {
      const lake = await createTestLake(undefined, ENGINE);
      const { planned, manifest } = await fanOut(lake, key, content, chunkBytes);
      expect(planned.kind).toBe(expected);
      if (planned.kind === 'fan-out' && chunkBytes === 1) expect(planned.plan.chunks.length).toBeGreaterThan(3);
      expect(await outcome(lake, manifest)).toEqual(reference);
      expect(manifest.rows_in).toBe(manifest.rows_valid + manifest.rows_quarantined);
      expect(await lake.files('silver', '_staging/')).toEqual([]);
      expect(await lake.files('silver', '_pending/')).toEqual([]);
    }
  });

  it('a chunk run twice (a retry) overwrites its staged keys: no duplicate rows', async () => {
    const [key, content] = INPUTS[1]!;
    const onePass = await createTestLake(undefined, ENGINE);
    const reference = await outcome(onePass, await onePass.ingest(key, content, SOURCE));
    const lake = await createTestLake(undefined, ENGINE);
    await lake.store.putBytes('bronze', key, content);
    const options = optionsOf(lake);
    const planned = await planFanOut({ ...SOURCE, key }, await lake.store.getStream('bronze', key), {
      ...options,
      fanOutChunkBytes: 40,
    });
    if (planned.kind !== 'fan-out') throw new Error('expected a fan-out');
    for (const c of planned.plan.chunks) await transformFanOutChunk(planned.plan, c.index, options);
    const staged = await lake.files('silver', '_staging/');
    for (const c of planned.plan.chunks) await transformFanOutChunk(planned.plan, c.index, options);
    expect(await lake.files('silver', '_staging/')).toEqual(staged);
    expect(staged.filter((k) => k.endsWith('.parquet')).length).toBeGreaterThan(planned.plan.chunks.length);
    const committed = await commitFanOut(planned.plan, options);
    expect(committed.kind).toBe('committed');
    expect(await outcome(lake, committed.manifest)).toEqual(reference);
  });

  it('a commit with a chunk missing throws and publishes nothing', async () => {
    const [key, content] = INPUTS[1]!;
    const lake = await createTestLake(undefined, ENGINE);
    await lake.store.putBytes('bronze', key, content);
    const options = optionsOf(lake);
    const planned = await planFanOut({ ...SOURCE, key }, await lake.store.getStream('bronze', key), {
      ...options,
      fanOutChunkBytes: 40,
    });
    if (planned.kind !== 'fan-out') throw new Error('expected a fan-out');
    for (const c of planned.plan.chunks.slice(1)) await transformFanOutChunk(planned.plan, c.index, options);
    await expect(commitFanOut(planned.plan, options)).rejects.toThrow(
      /chunk 0 of transactions\/bad-rows-everywhere.csv has no result/,
    );
    expect(await lake.files('silver', '_manifests/')).toEqual([]);
    expect(await lake.files('silver', 'transactions/')).toEqual([]);
    expect(await lake.files('silver', '_pending/')).toHaveLength(1);
  });

  it('a chunk result of another plan (other byte ranges) never counts, and a new plan starts from empty staging', async () => {
    const [key, content] = INPUTS[1]!;
    const lake = await createTestLake(undefined, ENGINE);
    await lake.store.putBytes('bronze', key, content);
    const options = optionsOf(lake);
    const planned = await planFanOut({ ...SOURCE, key }, await lake.store.getStream('bronze', key), {
      ...options,
      fanOutChunkBytes: 40,
    });
    if (planned.kind !== 'fan-out') throw new Error('expected a fan-out');
    for (const c of planned.plan.chunks) await transformFanOutChunk(planned.plan, c.index, options);
    const shifted = {
      ...planned.plan,
      chunks: planned.plan.chunks.map((c, i) => (i === 0 ? { ...c, end: c.end + 1 } : c)),
    };
    await expect(commitFanOut(shifted, options)).rejects.toThrow(/chunk 0 of .* has no result/);
    const replanned = await planFanOut({ ...SOURCE, key }, await lake.store.getStream('bronze', key), {
      ...options,
      fanOutChunkBytes: 150,
    });
    if (replanned.kind !== 'fan-out') throw new Error('expected a fan-out');
    expect((await lake.files('silver', '_staging/')).filter((k) => k.includes('/chunk-'))).toEqual([]);
    expect(await lake.files('silver', '_manifests/')).toEqual([]);
  });
});
