/**
 * One Parquet file from several with the same schema, by copying their bytes one after another and writing one
 * footer that lists all their row groups, every offset moved by where its file's bytes now start: no page is read,
 * decoded or re-encoded. The chunks of one text write their quarantines with the same SELECT, so this is how they
 * become the text's one quarantine file without a DuckDB session.
 */
import { open, rename, rm } from 'node:fs/promises';
import { AwaitedWriter, readBlocks } from '../sources/file-blocks.ts';
import { u32le } from './constant-chunk.ts';
import { readFooter, PARQUET_MAGIC } from './footer.ts';
import { ColumnChunk, ColumnMetaData, FileMetaData, RowGroup } from './format.ts';
import { ParquetRewriteError } from './errors.ts';
import {
  dropFields,
  encodeStruct,
  field,
  i16,
  i64,
  setField,
  setStructList,
  struct,
  structList,
  type ThriftStruct,
} from './thrift-compact.ts';

/** The file written: its rows and row groups (the sums of its parts') and its size. */
export interface ConcatenatedFile {
  rows: number;
  rowGroups: number;
  bytes: number;
}

/**
 * Writes `target` holding the rows of `paths`, in order. Throws `ParquetRewriteError` (and writes nothing) when the files' schemas or column orders differ, or a file is encrypted or not Parquet.
 */
export async function concatParquet(paths: readonly string[], target: string): Promise<ConcatenatedFile> {
  if (paths.length === 0) throw new ParquetRewriteError(`${target}: no files to concatenate`);
  const parts = [];
  for (const path of paths) {
    const file = await open(path, 'r');
    try {
      parts.push({ path, ...(await readFooter(file, path)) });
    } finally {
      await file.close();
    }
  }
  const first = parts[0] as (typeof parts)[number];
  const shape = (m: ThriftStruct): string =>
    [FileMetaData.schema, FileMetaData.columnOrders]
      .map((id) => {
        const v = field(m, id);
        return v ? Buffer.from(encodeStruct(struct([id, v]))).toString('base64') : '';
      })
      .join('/');
  const rowGroups: ThriftStruct[] = [];
  let rows = 0n;
  let position = PARQUET_MAGIC.length;
  for (const part of parts) {
    const fail = (reason: string): never => {
      throw new ParquetRewriteError(`${part.path}: ${reason}`);
    };
    if (shape(part.metadata) !== shape(first.metadata)) fail(`schema differs from ${first.path}'s`);
    if (field(part.metadata, FileMetaData.encryptionAlgorithm)) fail('encrypted files are not concatenated');
    const partRows = field(part.metadata, FileMetaData.numRows);
    if (partRows?.kind !== 'i64') return fail('footer has no row count');
    rows += partRows.value;
    // Its bytes between the leading magic and its footer (pages, bloom filters, page indexes) move from offset 4 to
    // `position`. A page index's offset index holds the absolute offsets of its pages, which would not move: page
    // indexes are left out (both, as the format pairs them; readers then read without them — DuckDB writes none).
    const delta = BigInt(position - PARQUET_MAGIC.length);
    for (const rowGroup of structList(part.metadata, FileMetaData.rowGroups) ?? []) {
      shift(rowGroup, RowGroup.fileOffset, delta);
      for (const chunk of structList(rowGroup, RowGroup.columns) ?? []) {
        if (field(chunk, ColumnChunk.cryptoMetadata) || field(chunk, ColumnChunk.encryptedColumnMetadata))
          fail('encrypted column chunks are not concatenated');
        if (field(chunk, ColumnChunk.filePath)) fail('column chunks in other files are not concatenated');
        shift(chunk, ColumnChunk.fileOffset, delta);
        dropFields(chunk, [
          ColumnChunk.offsetIndexOffset,
          ColumnChunk.offsetIndexLength,
          ColumnChunk.columnIndexOffset,
          ColumnChunk.columnIndexLength,
        ]);
        const meta = field(chunk, ColumnChunk.metaData);
        if (meta?.kind !== 'struct') return fail('a column chunk has no meta_data');
        for (const id of [
          ColumnMetaData.dataPageOffset,
          ColumnMetaData.indexPageOffset,
          ColumnMetaData.dictionaryPageOffset,
          ColumnMetaData.bloomFilterOffset,
        ])
          shift(meta, id, delta);
      }
      // An ordinal is an i16: past its range the row groups go without one (it is optional).
      if (field(rowGroup, RowGroup.ordinal)) {
        if (rowGroups.length <= 0x7fff) setField(rowGroup, RowGroup.ordinal, i16(rowGroups.length));
        else dropFields(rowGroup, [RowGroup.ordinal]);
      }
      rowGroups.push(rowGroup);
    }
    position += part.footerStart - PARQUET_MAGIC.length;
  }
  const metadata = first.metadata;
  setField(metadata, FileMetaData.numRows, i64(rows));
  setStructList(metadata, FileMetaData.rowGroups, rowGroups);
  const footer = encodeStruct(metadata);

  // Written aside and renamed: a failure leaves no partial file at `target`.
  const partial = `${target}.partial`;
  const out = new AwaitedWriter(partial);
  try {
    await out.write(PARQUET_MAGIC);
    for (const part of parts)
      for await (const block of readBlocks(part.path, { start: PARQUET_MAGIC.length, end: part.footerStart }))
        await out.write(block);
    await out.write(Buffer.concat([footer, u32le(footer.length), PARQUET_MAGIC]));
    await out.close();
    await rename(partial, target);
  } catch (e) {
    const error = await out.abort(e);
    await rm(partial, { force: true });
    throw error;
  }
  return { rows: Number(rows), rowGroups: rowGroups.length, bytes: position + footer.length + 8 };
}

/** Moves an offset field by `delta`; 0 (or none) means unset and stays so (no Parquet offset can be 0: the magic is there). */
function shift(s: ThriftStruct, id: number, delta: bigint): void {
  const v = field(s, id);
  if (v?.kind === 'i64' && v.value > 0n) setField(s, id, i64(v.value + delta));
}
