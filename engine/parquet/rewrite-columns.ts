/**
 * Drops top-level columns from a Parquet file and appends columns that hold one value in every row, by
 * rewriting only its footer: the data pages are neither read nor moved.
 *
 * A dropped column's chunks stay in the file as bytes no footer entry points to (readers find chunks by the
 * offsets in the footer). An all-NULL column costs DuckDB one page of a few dozen bytes per row group, so
 * dropping the engine's scratch column leaves that much behind.
 *
 * The file is edited in place, which is not atomic: this is for files not yet published (after a crash
 * mid-rewrite the file is written again).
 */
import { closeSync, ftruncateSync, openSync, writeSync } from 'node:fs';
import { constantChunk, constantSchemaElement, plainValue, u32le, type ConstantColumn } from './constant-chunk.ts';
import { ParquetRewriteError } from './errors.ts';
import { PARQUET_MAGIC, readFooterSync } from './footer.ts';
import { ColumnChunk, ColumnMetaData, ColumnOrder, FileMetaData, RowGroup, SchemaElement } from './format.ts';
import {
  encodeStruct,
  field,
  i32,
  i64,
  setField,
  setStructList,
  struct,
  structList,
  type ThriftStruct,
  type ThriftValue,
} from './thrift-compact.ts';

export type { ConstantColumn } from './constant-chunk.ts';

export interface ColumnRewrite {
  /** Top-level, non-nested columns to remove. */
  drop: string[];
  /** Columns to add after the remaining ones, in this order. */
  append: ConstantColumn[];
}

export { ParquetRewriteError };

/** A rewritten file: its rows (from its footer) and its size now. */
export interface RewrittenFile {
  rows: number;
  bytes: number;
}

export async function rewriteParquetColumns(path: string, rewrite: ColumnRewrite): Promise<RewrittenFile> {
  return rewriteParquetColumnsSync(path, rewrite);
}

/**
 * `rewriteParquetColumns` with blocking file calls on the JavaScript thread (about six per file: open, size, two or
 * three reads, a write, a close): for a footer of a file just written, each costs less than a worker-pool round trip
 * (at two sessions the pool's dispatch and wake-ups of ~100 files' footers took ~60 ms of the JavaScript thread).
 */
export function rewriteParquetColumnsSync(path: string, rewrite: ColumnRewrite): RewrittenFile {
  const fail = (reason: string): never => {
    throw new ParquetRewriteError(`${path}: ${reason}`);
  };
  const fd = openSync(path, 'r+');
  try {
    const { metadata, footerStart, size } = readFooterSync(fd, path);
    const rows = field(metadata, FileMetaData.numRows);
    if (rows?.kind !== 'i64') return fail('footer has no row count');
    const appended = rewriteMetadata(metadata, rewrite, footerStart, fail);
    const newFooter = encodeStruct(metadata);
    const out = Buffer.concat([...appended, newFooter, u32le(newFooter.length), PARQUET_MAGIC]);
    for (let written = 0; written < out.length;)
      written += writeSync(fd, out, written, out.length - written, footerStart + written);
    if (footerStart + out.length < size) ftruncateSync(fd, footerStart + out.length);
    return { rows: Number(rows.value), bytes: footerStart + out.length };
  } finally {
    closeSync(fd);
  }
}

/** Edits the footer in place and returns the new chunks' bytes, to be written from `dataEnd` on. */
function rewriteMetadata(
  metadata: ThriftStruct,
  { drop, append }: ColumnRewrite,
  dataEnd: number,
  fail: (reason: string) => never,
): Uint8Array[] {
  for (const column of append) {
    try {
      plainValue(column);
    } catch (e) {
      fail(e instanceof Error ? e.message : String(e));
    }
  }
  const schema = structList(metadata, FileMetaData.schema) ?? fail('footer has no schema');
  const root = schema[0] ?? fail('footer has an empty schema');
  const columns = topLevelColumns(schema, fail);

  const dropped = drop.map((name) => {
    const column = columns.find((c) => c.name === name) ?? fail(`column to drop not found: ${name}`);
    if (!column.leaf) fail(`column to drop is nested: ${name}`);
    return column;
  });
  const kept = columns.filter((c) => !dropped.includes(c));
  for (const { name } of append)
    if (kept.some((c) => c.name === name) || append.filter((a) => a.name === name).length > 1)
      fail(`column to append already exists: ${name}`);
  const droppedLeaves = new Set(dropped.map((c) => c.leafIndex));
  const keepLeaf = (_: unknown, leaf: number): boolean => !droppedLeaves.has(leaf);
  const droppedElements = new Set(dropped.map((c) => c.schemaIndex));

  setStructList(metadata, FileMetaData.schema, [
    ...schema.filter((_, i) => !droppedElements.has(i)),
    ...append.map(constantSchemaElement),
  ]);
  setField(root, SchemaElement.numChildren, i32(kept.length + append.length));
  const orders = structList(metadata, FileMetaData.columnOrders);
  if (orders)
    setStructList(metadata, FileMetaData.columnOrders, [
      ...orders.filter(keepLeaf),
      ...append.map(() => struct([ColumnOrder.typeOrder, struct()])),
    ]);

  const bytes: Uint8Array[] = [];
  let offset = dataEnd;
  for (const rowGroup of structList(metadata, FileMetaData.rowGroups) ?? []) {
    const rows = int(field(rowGroup, RowGroup.numRows)) ?? fail('a row group has no num_rows');
    const chunks = structList(rowGroup, RowGroup.columns) ?? fail('a row group has no columns');
    if (chunks.length !== columns.reduce((n, c) => n + c.leafCount, 0))
      fail(`a row group has ${chunks.length} column chunks, the schema ${columns.length} leaves`);
    let uncompressed = 0;
    let compressed = 0;
    for (const chunk of chunks.filter((_, leaf) => droppedLeaves.has(leaf))) {
      const meta = chunkMeta(chunk) ?? fail('a dropped column chunk has no meta_data (encrypted?)');
      uncompressed -= int(field(meta, ColumnMetaData.totalUncompressedSize)) ?? 0;
      compressed -= int(field(meta, ColumnMetaData.totalCompressedSize)) ?? 0;
    }
    const newChunks = append.map((column) => {
      const chunk = constantChunk(column, rows, offset);
      offset += chunk.size;
      uncompressed += chunk.size;
      compressed += chunk.size;
      bytes.push(chunk.bytes);
      return chunk.columnChunk;
    });
    const columnChunks = [...chunks.filter(keepLeaf), ...newChunks];
    setStructList(rowGroup, RowGroup.columns, columnChunks);
    // Both totals are sums over the row group's column chunks (ColumnMetaData 6 and 7).
    addTo(rowGroup, RowGroup.totalByteSize, uncompressed);
    addTo(rowGroup, RowGroup.totalCompressedSize, compressed);
    // RowGroup.file_offset: the first page of the row group, which moves if its first column was dropped.
    const first = columnChunks[0] && chunkMeta(columnChunks[0]);
    if (field(rowGroup, RowGroup.fileOffset) && first) {
      const start =
        int(field(first, ColumnMetaData.dictionaryPageOffset)) ?? int(field(first, ColumnMetaData.dataPageOffset));
      if (start !== undefined) setField(rowGroup, RowGroup.fileOffset, i64(start));
    }
  }
  return bytes;
}

interface TopLevelColumn {
  name: string;
  schemaIndex: number;
  leaf: boolean;
  /** Index of its first leaf among all leaves: row groups' column chunks and column_orders follow leaf order. */
  leafIndex: number;
  leafCount: number;
}

/** The root's children; the schema is the tree flattened depth-first, groups carrying num_children. */
function topLevelColumns(schema: ThriftStruct[], fail: (reason: string) => never): TopLevelColumn[] {
  let index = 1;
  let leaves = 0;
  const walk = (): number => {
    const element = schema[index] ?? fail(`schema ends inside a group at element ${index}`);
    index += 1;
    const children = int(field(element, SchemaElement.numChildren)) ?? 0;
    if (children === 0 && field(element, SchemaElement.type) !== undefined) return 1;
    let count = 0;
    for (let i = 0; i < children; i++) count += walk();
    return count;
  };
  const root = schema[0];
  const columns: TopLevelColumn[] = [];
  for (let i = 0; i < (root ? (int(field(root, SchemaElement.numChildren)) ?? 0) : 0); i++) {
    const schemaIndex = index;
    const element = schema[index];
    const nameValue = element && field(element, SchemaElement.name);
    const leafCount = walk();
    columns.push({
      name: nameValue?.kind === 'binary' ? new TextDecoder().decode(nameValue.value) : '',
      schemaIndex,
      leaf: index === schemaIndex + 1 && leafCount === 1,
      leafIndex: leaves,
      leafCount,
    });
    leaves += leafCount;
  }
  if (index !== schema.length) fail(`schema has ${schema.length} elements, its tree ${index}`);
  return columns;
}

const int = (v: ThriftValue | undefined): number | undefined =>
  v?.kind === 'i64' ? Number(v.value) : v?.kind === 'i32' || v?.kind === 'i16' ? v.value : undefined;

function chunkMeta(chunk: ThriftStruct): ThriftStruct | undefined {
  const meta = field(chunk, ColumnChunk.metaData);
  return meta?.kind === 'struct' ? meta : undefined;
}

function addTo(s: ThriftStruct, id: number, delta: number): void {
  const v = field(s, id);
  if (v?.kind === 'i64') setField(s, id, i64(v.value + BigInt(delta)));
}
