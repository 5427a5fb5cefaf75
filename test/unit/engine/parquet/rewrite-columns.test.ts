import { readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from '@jest/globals';
import { ColumnMetaData, FileMetaData, RowGroup } from '../../../../engine/parquet/format.ts';
import {
  ParquetRewriteError,
  rewriteParquetColumns,
  type ConstantColumn,
} from '../../../../engine/parquet/rewrite-columns.ts';
import {
  decodeStruct,
  encodeStruct,
  field,
  setField,
  type ThriftStruct,
  type ThriftValue,
} from '../../../../engine/parquet/thrift-compact.ts';
import { readWithDuckDb } from '../../../support/duckdb-reader.ts';
import { expect } from '../../../support/expect.ts';
import {
  exceptAllBothWays,
  readFooterBytes,
  readWithHyparquet,
  scratchDir,
  writeParquet,
} from '../../../support/unit/parquet-files.ts';

const KEY = `landing/ké'y "quoted" 🙂.csv`;
const INGESTED_AT = new Date('2024-05-06T07:08:09.123Z');
const lineage = (version: string | null): ConstantColumn[] => [
  { name: 'source_key', type: 'string', value: KEY },
  { name: 'source_version', type: 'string', value: version },
  { name: 'ingest_run_id', type: 'string', value: 'run-1' },
  { name: 'ingested_at', type: 'timestamp_ms', value: INGESTED_AT },
  { name: 'contract_version', type: 'string', value: null },
];
const sqlString = (s: string): string => `'${s.replaceAll("'", "''")}'`;
/** The same columns as DuckDB writes them when they are real columns of the COPY. */
const lineageSelect = (columns: ConstantColumn[]): string =>
  columns
    .map(({ name, type, value }) =>
      type === 'timestamp_ms'
        ? `CAST(TIMESTAMP '${(value as Date).toISOString().replace('T', ' ').replace('Z', '')}' AS TIMESTAMP_MS) AS ${name}`
        : `${value === null ? 'CAST(NULL AS VARCHAR)' : sqlString(value as string)} AS ${name}`,
    )
    .join(', ');

const DATA = {
  id: 'range AS id',
  s: `'x' || range AS s`,
  amount: 'CAST(range / 7 AS DECIMAL(18,2)) AS amount',
  __payload: 'CAST(NULL AS VARCHAR) AS __payload',
};
const OPTIONS = 'COMPRESSION zstd, ROW_GROUP_SIZE 2048';

/** A file written without the lineage (to be rewritten) and the file DuckDB writes with it as real columns. */
async function pair(
  drop: (keyof typeof DATA)[],
  append: ConstantColumn[],
  rows = 10_000,
): Promise<{ rewritten: string; reference: string }> {
  const dir = await scratchDir();
  const rewritten = join(dir, 'rewritten.parquet');
  const reference = join(dir, 'reference.parquet');
  await writeParquet(`SELECT ${Object.values(DATA).join(', ')} FROM range(${rows})`, rewritten, OPTIONS);
  const kept = Object.entries(DATA)
    .filter(([name]) => !drop.includes(name as keyof typeof DATA))
    .map(([, sql]) => sql);
  await writeParquet(`SELECT ${[...kept, lineageSelect(append)].join(', ')} FROM range(${rows})`, reference, OPTIONS);
  await rewriteParquetColumns(rewritten, { drop, append });
  return { rewritten, reference };
}

const footer = async (path: string): Promise<ThriftStruct> => decodeStruct(await readFooterBytes(path)).struct;
const structs = (v: ThriftValue | undefined): ThriftStruct[] =>
  v?.kind === 'list' ? v.elements.filter((e): e is ThriftStruct => e.kind === 'struct') : [];
const int = (v: ThriftValue | undefined): number => (v?.kind === 'i64' || v?.kind === 'i32' ? Number(v.value) : NaN);
const meta = (chunk: ThriftStruct): ThriftStruct => {
  const m = field(chunk, 3);
  if (m?.kind !== 'struct') throw new Error('column chunk without meta_data');
  return m;
};
/** ColumnMetaData without what depends on where and how the chunk is stored (codec, sizes, offsets, bloom filter). */
const placementFree = (m: ThriftStruct): ThriftStruct => ({
  kind: 'struct',
  fields: m.fields.filter((f) => ![4, 6, 7, 9, 11, 14, 15].includes(f.id)),
});

const schemaRows = (path: string) =>
  readWithDuckDb(`SELECT * EXCLUDE (file_name) FROM parquet_schema('${path}') ORDER BY column_id`);
const chunkStats = (path: string) =>
  readWithDuckDb(
    `SELECT row_group_id, row_group_num_rows, column_id, path_in_schema, type, num_values, stats_min, stats_max,
            stats_null_count, stats_distinct_count, stats_min_value, stats_max_value, encodings
     FROM parquet_metadata('${path}') ORDER BY row_group_id, column_id`,
  );

/** The footer's first field header made to carry compact type 14, which does not exist. */
function corruptFooter(file: Buffer): Buffer {
  const copy = Buffer.from(file);
  copy[copy.length - 8 - copy.readUInt32LE(copy.length - 8)] = 0x1e;
  return copy;
}

describe('rewriteParquetColumns', () => {
  it.each([
    ['the last column', ['__payload'] as const, 'v-1'],
    ['a middle and the last column, with a NULL source_version', ['s', '__payload'] as const, null],
    ['the first column', ['id'] as const, 'v-1'],
  ])('drops %s and appends the lineage: both readers see what DuckDB writes', async (_, drop, version) => {
    const { rewritten, reference } = await pair([...drop], lineage(version));

    expect(await exceptAllBothWays(rewritten, reference)).toEqual({
      only_a: '0',
      only_b: '0',
      rows_a: '10000',
      rows_b: '10000',
    });
    const [hyRewritten, hyReference] = [await readWithHyparquet(rewritten), await readWithHyparquet(reference)];
    expect(hyRewritten).toHaveLength(10_000);
    hyReference.forEach((row, i) => expect(hyRewritten[i], `hyparquet row ${i}`).toEqual(row));
    expect(hyRewritten[9_999]).toMatchObject({ source_key: KEY, source_version: version, contract_version: null });
    expect((hyRewritten[9_999]?.ingested_at as Date).getTime()).toBe(INGESTED_AT.getTime());

    expect(await schemaRows(rewritten)).toEqual(await schemaRows(reference));
    expect(await chunkStats(rewritten), 'row groups, statistics and encodings').toEqual(await chunkStats(reference));
  });

  it('writes the schema elements and column metadata DuckDB writes, and row group totals that add up', async () => {
    const { rewritten, reference } = await pair(['__payload'], lineage(null));
    const [mine, duckdb] = [await footer(rewritten), await footer(reference)];
    const schema = (m: ThriftStruct) => structs(field(m, FileMetaData.schema)).map((e) => Buffer.from(encodeStruct(e)));
    expect(schema(mine)).toEqual(schema(duckdb));
    expect(field(mine, FileMetaData.columnOrders)).toEqual(field(duckdb, FileMetaData.columnOrders));

    const [groups, duckdbGroups] = [structs(field(mine, FileMetaData.rowGroups)), structs(field(duckdb, 4))];
    expect(groups).toHaveLength(5);
    groups.forEach((group, g) => {
      const chunks = structs(field(group, RowGroup.columns)).map(meta);
      const duckdbChunks = structs(field(duckdbGroups[g] ?? { kind: 'struct', fields: [] }, RowGroup.columns)).map(
        meta,
      );
      expect(chunks.map(placementFree)).toEqual(duckdbChunks.map(placementFree));
      expect(chunks.slice(3).map((c) => int(field(c, ColumnMetaData.codec)))).toEqual([0, 0, 0, 0, 0]);
      const sum = (id: number) => chunks.reduce((n, c) => n + int(field(c, id)), 0);
      expect(int(field(group, RowGroup.totalByteSize))).toBe(sum(ColumnMetaData.totalUncompressedSize));
      expect(int(field(group, RowGroup.totalCompressedSize))).toBe(sum(ColumnMetaData.totalCompressedSize));
    });
  });

  it.each([
    ['256 bytes: exact', 'a'.repeat(256)],
    ['300 ASCII bytes', 'a'.repeat(300)],
    ['a cut inside a character', `k//${'é'.repeat(600)}`],
    ['a last kept byte of 0x7E', `ab${'~'.repeat(300)}`],
    ['no byte below 0x7F to increment: no bounds', 'é'.repeat(300)],
  ])('bounds a value longer than 256 bytes in the statistics as DuckDB does: %s', async (_, value) => {
    const { rewritten, reference } = await pair(['__payload'], [{ name: 'source_key', type: 'string', value }], 3000);
    expect(await exceptAllBothWays(rewritten, reference)).toMatchObject({ only_a: '0', only_b: '0', rows_a: '3000' });
    const chunks = async (path: string) =>
      structs(field(await footer(path), FileMetaData.rowGroups)).flatMap((g) =>
        structs(field(g, RowGroup.columns)).map((c) => placementFree(meta(c))),
      );
    expect(await chunks(rewritten)).toEqual(await chunks(reference));
  });

  it('reads a footer longer than its first read of the file end (64 KiB)', async () => {
    const dir = await scratchDir();
    const [rewritten, reference] = [join(dir, 'rewritten.parquet'), join(dir, 'reference.parquet')];
    const wide = Array.from({ length: 200 }, (_, i) => `range + ${i} AS c${i}`).join(', ');
    await writeParquet(`SELECT ${wide}, NULL::VARCHAR AS __payload FROM range(10000)`, rewritten, OPTIONS);
    await writeParquet(`SELECT ${wide}, ${lineageSelect(lineage('v'))} FROM range(10000)`, reference, OPTIONS);
    expect((await readFooterBytes(rewritten)).length).toBeGreaterThan(64 * 1024);
    await rewriteParquetColumns(rewritten, { drop: ['__payload'], append: lineage('v') });
    expect(await exceptAllBothWays(rewritten, reference)).toMatchObject({ only_a: '0', only_b: '0', rows_a: '10000' });
  });

  it("keeps footer fields it has no name for (a newer writer's), in the file and its column chunks", async () => {
    const rewritten = join(await scratchDir(), 'unknown-fields.parquet');
    await writeParquet(`SELECT ${Object.values(DATA).join(', ')} FROM range(3000)`, rewritten, OPTIONS);
    // Give the file's footer unknown fields: FileMetaData 200 and ColumnMetaData 100 of every chunk.
    const file = await readFile(rewritten);
    const old = await readFooterBytes(rewritten);
    const metadata = decodeStruct(old).struct;
    const unknown: ThriftValue = { kind: 'struct', fields: [{ id: 1, value: { kind: 'i32', value: 42 } }] };
    setField(metadata, 200, unknown);
    const groups = structs(field(metadata, FileMetaData.rowGroups));
    for (const g of groups) for (const c of structs(field(g, RowGroup.columns))) setField(meta(c), 100, unknown);
    const newFooter = encodeStruct(metadata);
    const length = Buffer.alloc(4);
    length.writeUInt32LE(newFooter.length);
    const body = file.subarray(0, file.length - 8 - old.length);
    await writeFile(rewritten, Buffer.concat([body, newFooter, length, Buffer.from('PAR1')]));

    await rewriteParquetColumns(rewritten, { drop: ['__payload'], append: lineage('v') });
    const after = await footer(rewritten);
    expect(field(after, 200)).toEqual(unknown);
    const perGroup = structs(field(after, FileMetaData.rowGroups)).map((g) =>
      structs(field(g, RowGroup.columns)).map((c) => field(meta(c), 100)),
    );
    // Each row group: the three kept chunks with their unknown field, then the five appended ones.
    expect(perGroup).toEqual(groups.map(() => [unknown, unknown, unknown, ...Array(5).fill(undefined)]));
    const [rows] = await readWithDuckDb(`SELECT count(*) AS n, count(DISTINCT source_key) AS keys FROM '${rewritten}'`);
    expect(rows).toEqual({ n: '3000', keys: '1' });
  });

  it('keeps the row group offset at the first remaining page when the first column is dropped', async () => {
    const { rewritten } = await pair(['id', '__payload'], lineage('v'));
    for (const group of structs(field(await footer(rewritten), FileMetaData.rowGroups))) {
      const first = meta(structs(field(group, RowGroup.columns))[0] ?? { kind: 'struct', fields: [] });
      const start = field(first, ColumnMetaData.dictionaryPageOffset) ?? field(first, ColumnMetaData.dataPageOffset);
      expect(int(field(group, RowGroup.fileOffset))).toBe(int(start));
    }
  });

  it('puts min = max = the value and no NULLs in the statistics, and only a NULL count for NULL', async () => {
    const { rewritten } = await pair(['__payload'], lineage(null));
    const stats = await readWithDuckDb(
      `SELECT path_in_schema AS name, row_group_num_rows AS n, stats_min_value AS min, stats_max_value AS max,
              stats_null_count AS nulls
       FROM parquet_metadata('${rewritten}') WHERE column_id >= 3 AND row_group_id IN (0, 4) ORDER BY row_group_id, column_id`,
    );
    const at = '2024-05-06 07:08:09.123';
    expect(stats).toEqual(
      ['2048', '1808'].flatMap((n) => [
        { name: 'source_key', n, min: KEY, max: KEY, nulls: '0' },
        { name: 'source_version', n, min: null, max: null, nulls: n },
        { name: 'ingest_run_id', n, min: 'run-1', max: 'run-1', nulls: '0' },
        { name: 'ingested_at', n, min: at, max: at, nulls: '0' },
        { name: 'contract_version', n, min: null, max: null, nulls: n },
      ]),
    );
  });

  it('rewrites a file without rows (no row groups) to the schema DuckDB writes', async () => {
    const { rewritten, reference } = await pair(['__payload'], lineage('v'), 0);
    expect(await schemaRows(rewritten)).toEqual(await schemaRows(reference));
    expect(await exceptAllBothWays(rewritten, reference)).toMatchObject({ rows_a: '0', rows_b: '0' });
    expect(await readWithHyparquet(rewritten)).toEqual([]);
  });

  it("returns the file's rows, as its footer counts them, and its size after the rewrite", async () => {
    for (const rows of [0, 10_000]) {
      const dir = await scratchDir();
      const path = join(dir, 'counted.parquet');
      await writeParquet(`SELECT ${Object.values(DATA).join(', ')} FROM range(${rows})`, path, OPTIONS);
      const result = await rewriteParquetColumns(path, { drop: ['__payload'], append: lineage('v') });
      const [counted] = await readWithDuckDb(`SELECT count(*) AS n FROM read_parquet('${path}')`);
      expect(result).toEqual({ rows: Number(counted?.n), bytes: (await stat(path)).size });
    }
  });

  it('finds the chunks of columns that follow nested ones', async () => {
    const dir = await scratchDir();
    const [rewritten, reference] = [join(dir, 'rewritten.parquet'), join(dir, 'reference.parquet')];
    const nested = `{'a': range, 'b': [range, NULL]} AS s, [[range::VARCHAR], []] AS l, MAP {'k': range} AS m`;
    const rows = 'FROM range(5000)';
    await writeParquet(`SELECT ${nested}, range AS id, NULL::VARCHAR AS __payload ${rows}`, rewritten, OPTIONS);
    await writeParquet(`SELECT ${nested}, ${lineageSelect(lineage('v'))} ${rows}`, reference, OPTIONS);
    await rewriteParquetColumns(rewritten, { drop: ['id', '__payload'], append: lineage('v') });
    expect(await exceptAllBothWays(rewritten, reference)).toMatchObject({ only_a: '0', only_b: '0', rows_a: '5000' });
    expect(await readWithHyparquet(rewritten)).toEqual(await readWithHyparquet(reference));
    expect(await chunkStats(rewritten)).toEqual(await chunkStats(reference));
  });

  describe('refuses, naming the file, and leaves the file as it was', () => {
    it.each([
      ['a truncated file', (b: Buffer) => b.subarray(0, b.length - 3), {}, /not a Parquet file/],
      ['a cut footer', (b: Buffer) => Buffer.concat([b.subarray(0, 4), b.subarray(-8)]), {}, /footer length \d+ does/],
      ['text', () => Buffer.from('id,s\n1,x\n'), {}, /not a Parquet file/],
      ['a corrupt footer', corruptFooter, {}, /unreadable footer: Thrift: unknown compact type 14/],
      ['a missing column', (b: Buffer) => b, { drop: ['nope'] }, /column to drop not found: nope/],
      ['a nested column', (b: Buffer) => b, { drop: ['s'] }, /column to drop is nested: s/],
      ['an existing name', (b: Buffer) => b, { append: lineage('v').map((c) => ({ ...c, name: 'id' })) }, /exists: id/],
      [
        'a mistyped value',
        (b: Buffer) => b,
        { append: [{ name: 't', type: 'timestamp_ms', value: 'yesterday' }] as ConstantColumn[] },
        /t: a timestamp_ms column needs a valid Date/,
      ],
    ])('%s', async (_, damage, rewrite, reason) => {
      const path = join(await scratchDir(), 'bad.parquet');
      await writeParquet(`SELECT range AS id, {'a': range} AS s FROM range(10)`, path);
      await writeFile(path, damage(await readFile(path)));
      const before = await readFile(path);
      const error = await rewriteParquetColumns(path, { drop: [], append: [], ...rewrite }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(ParquetRewriteError);
      expect((error as Error).message).toMatch(path);
      expect((error as Error).message).toMatch(reason);
      expect((await readFile(path)).equals(before)).toBe(true);
    });
  });
});
