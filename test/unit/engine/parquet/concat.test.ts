import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from '@jest/globals';
import { concatParquet } from '../../../../engine/parquet/concat.ts';
import { ParquetRewriteError } from '../../../../engine/parquet/errors.ts';
import { ColumnChunk, FileMetaData, RowGroup } from '../../../../engine/parquet/format.ts';
import {
  decodeStruct,
  encodeStruct,
  i32,
  i64,
  setField,
  structList,
} from '../../../../engine/parquet/thrift-compact.ts';
import { readWithDuckDb } from '../../../support/duckdb-reader.ts';
import { expect } from '../../../support/expect.ts';
import { readFooterBytes, readWithHyparquet, scratchDir, writeParquet } from '../../../support/unit/parquet-files.ts';

/** Quarantine-like rows: numbers, lists of text, NULLs, long text (several pages), written as the quarantine is. */
const rows = (from: number, count: number): string => `
  SELECT range AS record_number, ['A', 'B_' || (range % 3)] AS reasons,
         CASE WHEN range % 5 = 0 THEN NULL ELSE ['detail ' || range] END AS details,
         CASE WHEN range % 7 = 0 THEN NULL ELSE repeat('x', (range % 50)::INT) || range END AS raw_record,
         TIMESTAMP '2024-05-06 07:08:09.123' AS ingested_at
  FROM range(${from}, ${from + count})`;
const OPTIONS = 'COMPRESSION zstd, ROW_GROUP_SIZE 2048';

describe('concatParquet', () => {
  it('gives the rows of its parts in order, read back by DuckDB and by hyparquet (an independent reader)', async () => {
    const dir = await scratchDir();
    const parts = [
      { from: 1, count: 5_000 },
      { from: 5_001, count: 1 },
      { from: 5_002, count: 2_048 },
      { from: 7_050, count: 3_000 },
    ];
    const paths = parts.map((_, i) => join(dir, `part-${i}.parquet`));
    for (const [i, p] of parts.entries()) await writeParquet(rows(p.from, p.count), paths[i] as string, OPTIONS);
    const whole = join(dir, 'whole.parquet');
    await writeParquet(rows(1, 10_049), whole, OPTIONS);
    const target = join(dir, 'concatenated.parquet');

    const written = await concatParquet(paths, target);

    expect(written.rows).toBe(10_049);
    expect(written.rowGroups).toBe(3 + 1 + 1 + 2); // each part's row groups, kept as they are
    const [counts] = await readWithDuckDb(
      `SELECT (SELECT count(*) FROM (FROM '${target}' EXCEPT ALL FROM '${whole}')) AS only_concatenated,
              (SELECT count(*) FROM (FROM '${whole}' EXCEPT ALL FROM '${target}')) AS only_whole,
              (SELECT count(*) FROM '${target}') AS n,
              (SELECT bool_and(record_number = position) FROM (SELECT record_number, row_number() OVER () AS position FROM '${target}')) AS in_order`,
    );
    expect(counts).toEqual({ only_concatenated: '0', only_whole: '0', n: '10049', in_order: true });
    // Statistics moved with their row groups: a filter on record_number that prunes by them finds its rows.
    const filtered = (path: string) =>
      readWithDuckDb(
        `SELECT count(*) AS n, min(raw_record) AS least FROM '${path}' WHERE record_number BETWEEN 7000 AND 7100`,
      );
    expect(await filtered(target)).toEqual(await filtered(whole));
    expect((await filtered(target))[0]?.n).toBe('101');
    const decoded = await readWithHyparquet(target);
    expect(decoded).toHaveLength(10_049);
    expect(decoded.map((r) => Number(r.record_number))).toEqual(Array.from({ length: 10_049 }, (_, i) => i + 1));
    expect(decoded[4_999]).toEqual({
      record_number: 5_000n,
      reasons: ['A', 'B_2'],
      details: null,
      raw_record: `${'x'.repeat(0)}5000`,
      ingested_at: new Date('2024-05-06T07:08:09.123Z'),
    });
    expect(decoded[5_000]?.details).toEqual(['detail 5001']);
  });

  it('leaves page indexes out (their page offsets would not move) and keeps no partial file when it fails', async () => {
    const dir = await scratchDir();
    const paths = [join(dir, 'a.parquet'), join(dir, 'b.parquet')];
    await writeParquet(rows(1, 3_000), paths[0] as string, OPTIONS);
    await writeParquet(rows(3_001, 3_000), paths[1] as string, OPTIONS);
    // DuckDB writes no page index: give the second file's chunks one (offsets into its own bytes, as a writer would).
    const file = await readFile(paths[1] as string);
    const footerLength = file.readUInt32LE(file.length - 8);
    const footerStart = file.length - 8 - footerLength;
    const metadata = decodeStruct(file.subarray(footerStart, file.length - 8)).struct;
    for (const rowGroup of structList(metadata, FileMetaData.rowGroups) ?? [])
      for (const chunk of structList(rowGroup, RowGroup.columns) ?? []) {
        setField(chunk, ColumnChunk.offsetIndexOffset, i64(footerStart - 40));
        setField(chunk, ColumnChunk.offsetIndexLength, i32(20));
        setField(chunk, ColumnChunk.columnIndexOffset, i64(footerStart - 20));
        setField(chunk, ColumnChunk.columnIndexLength, i32(20));
      }
    const footer = encodeStruct(metadata);
    const length = Buffer.alloc(4);
    length.writeUInt32LE(footer.length);
    await writeFile(
      paths[1] as string,
      Buffer.concat([file.subarray(0, footerStart), footer, length, Buffer.from('PAR1')]),
    );
    const target = join(dir, 'out.parquet');

    await concatParquet(paths, target);

    const written = decodeStruct(await readFooterBytes(target)).struct;
    const chunkFields = (structList(written, FileMetaData.rowGroups) ?? []).flatMap((g) =>
      (structList(g, RowGroup.columns) ?? []).flatMap((c) => c.fields.map((f) => f.id)),
    );
    expect(chunkFields.filter((id) => id >= 4 && id <= 7)).toEqual([]);
    expect(await readWithHyparquet(target)).toHaveLength(6_000);
    // A target it cannot take (a directory, found only when the written file is renamed there): the error, and the
    // file written aside is removed.
    const taken = join(dir, 'taken');
    await mkdir(join(taken, 'inside'), { recursive: true });
    await expect(concatParquet(paths, taken)).rejects.toThrow(/EISDIR|ENOTEMPTY|EEXIST/);
    expect((await readdir(dir)).sort()).toEqual(['a.parquet', 'b.parquet', 'out.parquet', 'taken']);
  });

  it('refuses parts whose schemas differ, naming the file, and files that are not Parquet', async () => {
    const dir = await scratchDir();
    const a = join(dir, 'a.parquet');
    const b = join(dir, 'b.parquet');
    await writeParquet(rows(1, 10), a, OPTIONS);
    await writeParquet(`SELECT range AS record_number FROM range(3)`, b, OPTIONS);
    await expect(concatParquet([a, b], join(dir, 'out.parquet'))).rejects.toThrow(
      new ParquetRewriteError(`${b}: schema differs from ${a}'s`),
    );
    await expect(concatParquet([a, join(dir, 'missing.parquet')], join(dir, 'out.parquet'))).rejects.toThrow(/ENOENT/);
    await expect(concatParquet([], join(dir, 'out.parquet'))).rejects.toThrow(/no files to concatenate/);
  });
});
