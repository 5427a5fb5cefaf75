/**
 * The parquet-format (parquet.thrift) field ids and enum values the column rewrite reads or writes.
 * https://github.com/apache/parquet-format/blob/master/src/main/thrift/parquet.thrift
 */

export const FileMetaData = { schema: 2, numRows: 3, rowGroups: 4, columnOrders: 7, encryptionAlgorithm: 8 } as const;

export const SchemaElement = {
  type: 1,
  repetitionType: 3,
  name: 4,
  numChildren: 5,
  convertedType: 6,
  logicalType: 10,
} as const;

export const RowGroup = {
  columns: 1,
  totalByteSize: 2,
  numRows: 3,
  fileOffset: 5,
  totalCompressedSize: 6,
  ordinal: 7,
} as const;

export const ColumnChunk = {
  filePath: 1,
  fileOffset: 2,
  metaData: 3,
  offsetIndexOffset: 4,
  offsetIndexLength: 5,
  columnIndexOffset: 6,
  columnIndexLength: 7,
  cryptoMetadata: 8,
  encryptedColumnMetadata: 9,
} as const;

export const ColumnMetaData = {
  type: 1,
  encodings: 2,
  pathInSchema: 3,
  codec: 4,
  numValues: 5,
  totalUncompressedSize: 6,
  totalCompressedSize: 7,
  dataPageOffset: 9,
  indexPageOffset: 10,
  dictionaryPageOffset: 11,
  statistics: 12,
  bloomFilterOffset: 14,
} as const;

export const Statistics = {
  max: 1,
  min: 2,
  nullCount: 3,
  distinctCount: 4,
  maxValue: 5,
  minValue: 6,
  isMaxValueExact: 7,
  isMinValueExact: 8,
} as const;

export const PageHeader = {
  type: 1,
  uncompressedPageSize: 2,
  compressedPageSize: 3,
  dataPageHeader: 5,
  dictionaryPageHeader: 7,
} as const;
export const DataPageHeader = { numValues: 1, encoding: 2, definitionLevelEncoding: 3, repetitionLevelEncoding: 4 };
export const DictionaryPageHeader = { numValues: 1, encoding: 2 } as const;

/** LogicalType is a union: TIMESTAMP = 8, whose TimestampType has isAdjustedToUTC = 1, unit = 2 (TimeUnit: MILLIS = 1). */
export const LogicalType = { timestamp: 8 } as const;
export const TimestampType = { isAdjustedToUTC: 1, unit: 2 } as const;
export const TimeUnit = { millis: 1 } as const;
/** ColumnOrder is a union: TYPE_ORDER = 1 (an empty TypeDefinedOrder). */
export const ColumnOrder = { typeOrder: 1 } as const;

export const Type = { INT64: 2, BYTE_ARRAY: 6 } as const;
export const ConvertedType = { UTF8: 0, TIMESTAMP_MILLIS: 9 } as const;
export const Repetition = { OPTIONAL: 1 } as const;
export const Encoding = { PLAIN: 0, PLAIN_DICTIONARY: 2, RLE: 3 } as const;
export const Codec = { UNCOMPRESSED: 0 } as const;
export const PageType = { DATA_PAGE: 0, DICTIONARY_PAGE: 2 } as const;
