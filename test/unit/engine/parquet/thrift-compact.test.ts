import { join } from 'node:path';
import { describe, it } from '@jest/globals';
import { expect } from '../../../support/expect.ts';
import {
  CompactType,
  decodeStruct,
  encodeStruct,
  field,
  ThriftDecodeError,
  type ThriftStruct,
} from '../../../../engine/parquet/thrift-compact.ts';
import { readWithDuckDb } from '../../../support/duckdb-reader.ts';
import { readFooterBytes, scratchDir, writeParquet } from '../../../support/unit/parquet-files.ts';

describe('Thrift compact codec', () => {
  it.each([
    [
      'several row groups, decimals, timestamps, a NULL-only column, bloom filters',
      `SELECT range AS id, CAST(range / 7 AS DECIMAL(18,2)) AS amount, CAST(range * 1.5 AS DECIMAL(38,4)) AS big,
              TIMESTAMP '2024-01-01' + INTERVAL (range) SECOND AS at, CAST(TIMESTAMP '2024-01-01' AS TIMESTAMP_MS) AS at_ms,
              CAST(NULL AS VARCHAR) AS nothing, 'EUR' AS currency, range % 3 = 0 AS flag, range / 3.0 AS ratio,
              DATE '2024-02-29' AS day`,
      'COMPRESSION zstd, ROW_GROUP_SIZE 2048',
      `count(DISTINCT row_group_id) = 5 AND count(bloom_filter_offset) > 0 AND bool_or(stats_null_count = 2048)`,
    ],
    [
      'nested structs, lists and maps',
      `SELECT {'a': range, 'b': [range, NULL]} AS s, [['x'], []] AS l, MAP {'k': range} AS m, (range % 256)::UTINYINT AS u`,
      'ROW_GROUP_SIZE 2048',
      `count(DISTINCT path_in_schema) = 6`,
    ],
    ['key-value metadata', `SELECT range AS id`, `KV_METADATA {owner: 'lake', note: 'é"'}`, 'true'],
    ['no rows', `SELECT range AS id, 'x' AS s FROM range(0)`, '', 'count(*) = 0'],
  ])('decodes and re-encodes a DuckDB footer byte for byte: %s', async (_, select, options, shape) => {
    const path = join(await scratchDir(), 'f.parquet');
    await writeParquet(`${select.includes('FROM') ? select : `${select} FROM range(10000)`}`, path, options);
    const [file] = await readWithDuckDb(`SELECT ${shape} AS as_intended FROM parquet_metadata('${path}')`);
    expect(file?.as_intended, 'the file has what the case is about').toBe(true);
    const bytes = await readFooterBytes(path);
    const metadata = decodeStruct(bytes).struct;
    expect(decodeStruct(bytes).end).toBe(bytes.length);
    expect(Buffer.from(encodeStruct(metadata)).equals(Buffer.from(bytes))).toBe(true);
  });

  it('keeps fields it has no name for: long field ids, every type, long lists, maps and sets', () => {
    const tree: ThriftStruct = {
      kind: 'struct',
      fields: [
        { id: 1, value: { kind: 'bool', value: true } },
        { id: 2, value: { kind: 'bool', value: false } },
        { id: 3, value: { kind: 'i8', value: -128 } },
        { id: 4, value: { kind: 'i16', value: -32768 } },
        { id: 5, value: { kind: 'i32', value: -2147483648 } },
        { id: 6, value: { kind: 'i64', value: -(2n ** 63n) } },
        { id: 7, value: { kind: 'i64', value: 2n ** 63n - 1n } },
        { id: 8, value: { kind: 'double', value: -1.5e300 } },
        { id: 30, value: { kind: 'binary', value: new Uint8Array(300).fill(7) } },
        {
          id: 31,
          value: {
            kind: 'list',
            elementType: CompactType.BOOL_TRUE,
            elements: Array.from({ length: 20 }, (_, i) => ({ kind: 'bool' as const, value: i % 2 === 0 })),
          },
        },
        { id: 32, value: { kind: 'set', elementType: CompactType.STRUCT, elements: [{ kind: 'struct', fields: [] }] } },
        {
          id: 33,
          value: {
            kind: 'map',
            keyType: CompactType.BINARY,
            valueType: CompactType.I64,
            entries: [
              [
                { kind: 'binary', value: Uint8Array.of(1) },
                { kind: 'i64', value: 5n },
              ],
            ],
          },
        },
        { id: 34, value: { kind: 'map', keyType: CompactType.BINARY, valueType: CompactType.BINARY, entries: [] } },
        { id: 32767, value: { kind: 'struct', fields: [{ id: -1, value: { kind: 'i32', value: 1 } }] } },
      ],
    };
    const bytes = encodeStruct(tree);
    const decoded = decodeStruct(bytes);
    expect(decoded.end).toBe(bytes.length);
    expect(decoded.struct).toEqual(tree);
    expect(Buffer.from(encodeStruct(decoded.struct)).equals(Buffer.from(bytes))).toBe(true);
    expect(field(decoded.struct, 32767)).toEqual(tree.fields.at(-1)?.value);
  });

  it('reads the compact protocol as specified, not only as it writes it', () => {
    // i32 field 1 = -1 (zigzag 1), field 16 (long form: type byte, zigzag i16 32) = binary "ab", stop.
    const bytes = Uint8Array.of(0x15, 0x01, 0x08, 0x20, 0x02, 0x61, 0x62, 0x00);
    expect(decodeStruct(bytes).struct).toEqual({
      kind: 'struct',
      fields: [
        { id: 1, value: { kind: 'i32', value: -1 } },
        { id: 16, value: { kind: 'binary', value: Uint8Array.of(0x61, 0x62) } },
      ],
    });
  });

  it('refuses data that ends inside a struct or carries an unknown type', () => {
    expect(() => decodeStruct(Uint8Array.of(0x15, 0x01))).toThrow(ThriftDecodeError);
    expect(() => decodeStruct(Uint8Array.of(0x18, 0x05, 0x61))).toThrow(/runs past the end/);
    expect(() => decodeStruct(Uint8Array.of(0x1e, 0x00))).toThrow(/unknown compact type 14/);
  });
});
