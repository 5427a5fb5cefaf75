/**
 * One column chunk holding the same value (or NULL) in every row of a row group, laid out as DuckDB 1.5 lays
 * out such a chunk (same page kinds, encodings, statistics and schema element), but UNCOMPRESSED: codecs are
 * per chunk, and a few bytes gain nothing from ZSTD.
 */
import {
  ColumnChunk,
  ColumnMetaData,
  Codec,
  ConvertedType,
  DataPageHeader,
  DictionaryPageHeader,
  Encoding,
  LogicalType,
  PageHeader,
  PageType,
  Repetition,
  SchemaElement,
  Statistics,
  TimestampType,
  TimeUnit,
  Type,
} from './format.ts';
import {
  binary,
  bool,
  CompactType,
  encodeStruct,
  i32,
  i64,
  list,
  struct,
  type ThriftStruct,
} from './thrift-compact.ts';

/** A column whose value is the same in every row of the file. */
export interface ConstantColumn {
  name: string;
  type: 'string' | 'timestamp_ms';
  /** A string for `string`, a Date for `timestamp_ms`; null for a column that is NULL in every row. */
  value: string | Date | null;
}

const utf8 = new TextEncoder();

/** The schema element DuckDB writes for a VARCHAR (no logicalType, only UTF8) or a TIMESTAMP_MS column. */
export function constantSchemaElement(column: ConstantColumn): ThriftStruct {
  const timestamp = column.type === 'timestamp_ms';
  const unit = struct([TimeUnit.millis, struct()]);
  return struct(
    [SchemaElement.type, i32(timestamp ? Type.INT64 : Type.BYTE_ARRAY)],
    [SchemaElement.repetitionType, i32(Repetition.OPTIONAL)],
    [SchemaElement.name, binary(utf8.encode(column.name))],
    [SchemaElement.convertedType, i32(timestamp ? ConvertedType.TIMESTAMP_MILLIS : ConvertedType.UTF8)],
    [
      SchemaElement.logicalType,
      timestamp
        ? struct([
            LogicalType.timestamp,
            struct([TimestampType.isAdjustedToUTC, bool(false)], [TimestampType.unit, unit]),
          ])
        : undefined,
    ],
  );
}

/** The value's PLAIN bytes without a length prefix (what statistics hold), or null; throws on a mistyped value. */
export function plainValue(column: ConstantColumn): Uint8Array | null {
  const { name, type, value } = column;
  if (value === null) return null;
  if (type === 'string') {
    if (typeof value !== 'string') throw new TypeError(`constant column ${name}: a string column needs a string`);
    return utf8.encode(value);
  }
  // Dates from another realm (DuckDB, node:fs, jest's VM) fail instanceof: check the shape instead.
  if (typeof value === 'string' || typeof value.getTime !== 'function' || Number.isNaN(value.getTime()))
    throw new TypeError(`constant column ${name}: a timestamp_ms column needs a valid Date`);
  const bytes = new Uint8Array(8);
  new DataView(bytes.buffer).setBigInt64(0, BigInt(value.getTime()), true);
  return bytes;
}

/** A little-endian u32: the length prefix of definition levels and of a PLAIN BYTE_ARRAY value. */
export function u32le(n: number): Uint8Array {
  const bytes = new Uint8Array(4);
  new DataView(bytes.buffer).setUint32(0, n, true);
  return bytes;
}

/**
 * An RLE run (RLE/bit-packed hybrid) of `count` copies of a value that fits one byte: header varint(count << 1),
 * then the value. No run at all for no rows.
 */
function rleRun(count: number, value: number): number[] {
  const out: number[] = [];
  if (count === 0) return out;
  for (let header = count * 2; ; header = Math.floor(header / 128)) {
    if (header < 0x80) {
      out.push(header, value);
      return out;
    }
    out.push((header % 128) | 0x80);
  }
}

function page(header: ThriftStruct, body: Uint8Array): Uint8Array {
  const h = encodeStruct(header);
  const out = new Uint8Array(h.length + body.length);
  out.set(h);
  out.set(body, h.length);
  return out;
}

const pageHeader = (type: number, size: number, detailField: number, detail: ThriftStruct): ThriftStruct =>
  struct(
    [PageHeader.type, i32(type)],
    [PageHeader.uncompressedPageSize, i32(size)],
    [PageHeader.compressedPageSize, i32(size)],
    [detailField, detail],
  );

export interface ConstantChunk {
  /** The chunk's pages, to be written at `offset`. */
  bytes: Uint8Array;
  /** The footer's ColumnChunk for them. */
  columnChunk: ThriftStruct;
  /** ColumnMetaData.total_uncompressed_size (= total_compressed_size: the chunk is uncompressed). */
  size: number;
}

/**
 * The pages of one row group's chunk, starting at byte `offset` of the file. A value: a PLAIN dictionary page of
 * that one value, then a V1 data page of definition levels (4-byte length, then one RLE run of 1s at bit width
 * 1) and dictionary indexes (bit width byte 1, then one RLE run of index 0). NULL: one data page of definition
 * levels that are all 0 and no values.
 */
export function constantChunk(column: ConstantColumn, rows: number, offset: number): ConstantChunk {
  const value = plainValue(column);
  const timestamp = column.type === 'timestamp_ms';
  const levels = rleRun(rows, value === null ? 0 : 1);
  const dataBody = Uint8Array.from([
    ...u32le(levels.length),
    ...levels,
    ...(value === null ? [] : [1, ...rleRun(rows, 0)]),
  ]);
  const dataHeader = struct(
    [DataPageHeader.numValues, i32(rows)],
    [DataPageHeader.encoding, i32(dataEncoding(value))],
    [DataPageHeader.definitionLevelEncoding, i32(Encoding.RLE)],
    [DataPageHeader.repetitionLevelEncoding, i32(Encoding.RLE)],
  );
  let dictionary: Uint8Array | undefined;
  if (value !== null) {
    const plain = timestamp ? value : Uint8Array.from([...u32le(value.length), ...value]);
    const detail = struct(
      [DictionaryPageHeader.numValues, i32(1)],
      [DictionaryPageHeader.encoding, i32(Encoding.PLAIN)],
    );
    dictionary = page(
      pageHeader(PageType.DICTIONARY_PAGE, plain.length, PageHeader.dictionaryPageHeader, detail),
      plain,
    );
  }
  const data = page(pageHeader(PageType.DATA_PAGE, dataBody.length, PageHeader.dataPageHeader, dataHeader), dataBody);
  const bytes = new Uint8Array((dictionary?.length ?? 0) + data.length);
  if (dictionary) bytes.set(dictionary);
  bytes.set(data, dictionary?.length ?? 0);

  const statistics = value === null ? struct([Statistics.nullCount, i64(rows)]) : valueStatistics(value);
  const dataPageOffset = offset + (dictionary?.length ?? 0);
  const metaData = struct(
    [ColumnMetaData.type, i32(timestamp ? Type.INT64 : Type.BYTE_ARRAY)],
    [ColumnMetaData.encodings, list(CompactType.I32, [i32(dataEncoding(value))])],
    [ColumnMetaData.pathInSchema, list(CompactType.BINARY, [binary(utf8.encode(column.name))])],
    [ColumnMetaData.codec, i32(Codec.UNCOMPRESSED)],
    [ColumnMetaData.numValues, i64(rows)],
    [ColumnMetaData.totalUncompressedSize, i64(bytes.length)],
    [ColumnMetaData.totalCompressedSize, i64(bytes.length)],
    [ColumnMetaData.dataPageOffset, i64(dataPageOffset)],
    [ColumnMetaData.dictionaryPageOffset, dictionary ? i64(offset) : undefined],
    [ColumnMetaData.statistics, statistics],
  );
  // ColumnChunk.file_offset (2) is required by the Thrift definition but deprecated: DuckDB writes 0.
  const columnChunk = struct([ColumnChunk.fileOffset, i64(0)], [ColumnChunk.metaData, metaData]);
  return { bytes, columnChunk, size: bytes.length };
}

/** DuckDB keeps at most this many bytes of a string in statistics (longer ones get bounds, not the value). */
const MAX_STATISTICS_BYTES = 256;

/**
 * Statistics as DuckDB writes them for a chunk of one value: min = max = the value (the deprecated min/max too),
 * one distinct value, exact. A value longer than 256 bytes gets DuckDB's bounds instead, which are not exact:
 * min = its prefix cut at a character boundary, max = that prefix up to its last byte below 0x7F, incremented
 * (still UTF-8); with no such byte there is no bound, and DuckDB writes neither min nor max.
 */
function valueStatistics(value: Uint8Array): ThriftStruct {
  let min = value;
  let max: Uint8Array | undefined = value;
  if (value.length > MAX_STATISTICS_BYTES) {
    let cut = MAX_STATISTICS_BYTES;
    while (cut > 0 && ((value[cut] ?? 0) & 0xc0) === 0x80) cut -= 1;
    min = value.slice(0, cut);
    const last = min.findLastIndex((b) => b < 0x7f);
    max = last === -1 ? undefined : Uint8Array.of(...min.subarray(0, last), (min[last] ?? 0) + 1);
  }
  const exact = max === value;
  return struct(
    [Statistics.max, max && binary(max)],
    [Statistics.min, max && binary(min)],
    [Statistics.nullCount, i64(0)],
    [Statistics.distinctCount, i64(1)],
    [Statistics.maxValue, max && binary(max)],
    [Statistics.minValue, max && binary(min)],
    [Statistics.isMaxValueExact, max && bool(exact)],
    [Statistics.isMinValueExact, max && bool(exact)],
  );
}

/**
 * The data page's encoding, which is also all DuckDB lists in ColumnMetaData.encodings for such a chunk. DuckDB
 * marks a V1 data page's dictionary indexes PLAIN_DICTIONARY (in a data page it means what RLE_DICTIONARY means).
 */
const dataEncoding = (value: Uint8Array | null): number =>
  value === null ? Encoding.PLAIN : Encoding.PLAIN_DICTIONARY;
