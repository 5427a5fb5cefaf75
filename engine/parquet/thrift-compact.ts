/**
 * A generic Thrift compact-protocol codec: a struct decodes to a tree that keeps every field (known or not)
 * with its compact type, and encodes back to the same bytes for a canonical writer (Apache Thrift's, which
 * DuckDB uses). Parquet footers and page headers are compact-protocol structs.
 */

/** Compact-protocol type codes (a struct field's type nibble; a list's element type). */
export const CompactType = {
  BOOL_TRUE: 1,
  BOOL_FALSE: 2,
  I8: 3,
  I16: 4,
  I32: 5,
  I64: 6,
  DOUBLE: 7,
  BINARY: 8,
  LIST: 9,
  SET: 10,
  MAP: 11,
  STRUCT: 12,
} as const;
export type CompactType = (typeof CompactType)[keyof typeof CompactType];

export type ThriftValue =
  | { kind: 'bool'; value: boolean }
  | { kind: 'i8'; value: number }
  | { kind: 'i16'; value: number }
  | { kind: 'i32'; value: number }
  | { kind: 'i64'; value: bigint }
  | { kind: 'double'; value: number }
  | { kind: 'binary'; value: Uint8Array }
  | { kind: 'list' | 'set'; elementType: CompactType; elements: ThriftValue[] }
  | { kind: 'map'; keyType: CompactType; valueType: CompactType; entries: [ThriftValue, ThriftValue][] }
  | ThriftStruct;

export interface ThriftStruct {
  kind: 'struct';
  fields: ThriftField[];
}

export interface ThriftField {
  id: number;
  value: ThriftValue;
}

export class ThriftDecodeError extends Error {}

/** Decodes one struct starting at `offset`; `end` is the offset just past it. */
export function decodeStruct(bytes: Uint8Array, offset = 0): { struct: ThriftStruct; end: number } {
  const reader = new Reader(bytes, offset);
  const struct = reader.struct();
  return { struct, end: reader.pos };
}

export function encodeStruct(struct: ThriftStruct): Uint8Array {
  const writer = new Writer();
  writer.struct(struct);
  return writer.bytes();
}

class Reader {
  constructor(
    private readonly buf: Uint8Array,
    public pos: number,
  ) {}

  private byte(): number {
    const b = this.buf[this.pos];
    if (b === undefined) throw new ThriftDecodeError(`Thrift: unexpected end of data at byte ${this.pos}`);
    this.pos += 1;
    return b;
  }

  /** An unsigned varint as a number: exact up to 2^53, which every length, count and i32 stays below. */
  private varint(): number {
    let result = 0;
    for (let scale = 1; scale < 2 ** 56; scale *= 128) {
      const b = this.byte();
      result += (b & 0x7f) * scale;
      if (b < 0x80) return result;
    }
    throw new ThriftDecodeError(`Thrift: varint too long for a length or an i32 at byte ${this.pos}`);
  }

  /** A zigzag varint i64: numbers while it fits 7 bytes (49 bits, exact in a double), bigint beyond. */
  private zigzag64(): bigint {
    let small = 0;
    for (let scale = 1; scale < 2 ** 49; scale *= 128) {
      const b = this.byte();
      small += (b & 0x7f) * scale;
      if (b < 0x80) return BigInt(small % 2 === 0 ? small / 2 : -(small + 1) / 2);
    }
    let n = BigInt(small);
    for (let shift = 49n; shift < 70n; shift += 7n) {
      const b = this.byte();
      n |= BigInt(b & 0x7f) << shift;
      if (b < 0x80) return (n >> 1n) ^ -(n & 1n);
    }
    throw new ThriftDecodeError(`Thrift: varint longer than 10 bytes at byte ${this.pos}`);
  }

  private zigzag(): number {
    const n = this.varint();
    return n % 2 === 0 ? n / 2 : -(n + 1) / 2;
  }

  private value(type: number, inList: boolean): ThriftValue {
    switch (type) {
      case CompactType.BOOL_TRUE:
      case CompactType.BOOL_FALSE:
        // In a struct the field header's type carries the value; in a list each bool is one byte.
        return { kind: 'bool', value: inList ? this.byte() === CompactType.BOOL_TRUE : type === CompactType.BOOL_TRUE };
      case CompactType.I8: {
        const b = this.byte();
        return { kind: 'i8', value: b > 127 ? b - 256 : b };
      }
      case CompactType.I16:
        return { kind: 'i16', value: this.zigzag() };
      case CompactType.I32:
        return { kind: 'i32', value: this.zigzag() };
      case CompactType.I64:
        return { kind: 'i64', value: this.zigzag64() };
      case CompactType.DOUBLE: {
        const view = new DataView(this.buf.buffer, this.buf.byteOffset + this.pos, 8);
        this.pos += 8;
        if (this.pos > this.buf.length) throw new ThriftDecodeError(`Thrift: double past the end of data`);
        return { kind: 'double', value: view.getFloat64(0, true) };
      }
      case CompactType.BINARY: {
        const length = this.varint();
        if (this.pos + length > this.buf.length)
          throw new ThriftDecodeError(`Thrift: binary of ${length} bytes at byte ${this.pos} runs past the end`);
        const value = this.buf.slice(this.pos, this.pos + length);
        this.pos += length;
        return { kind: 'binary', value };
      }
      case CompactType.LIST:
      case CompactType.SET: {
        const header = this.byte();
        const size = header >> 4 === 15 ? this.varint() : header >> 4;
        const elementType = this.type(header & 0x0f);
        const elements: ThriftValue[] = [];
        for (let i = 0; i < size; i++) elements.push(this.value(elementType, true));
        return { kind: type === CompactType.LIST ? 'list' : 'set', elementType, elements };
      }
      case CompactType.MAP: {
        const size = this.varint();
        if (size === 0) return { kind: 'map', keyType: CompactType.BINARY, valueType: CompactType.BINARY, entries: [] };
        const types = this.byte();
        const keyType = this.type(types >> 4);
        const valueType = this.type(types & 0x0f);
        const entries: [ThriftValue, ThriftValue][] = [];
        for (let i = 0; i < size; i++) entries.push([this.value(keyType, true), this.value(valueType, true)]);
        return { kind: 'map', keyType, valueType, entries };
      }
      case CompactType.STRUCT:
        return this.struct();
      default:
        throw new ThriftDecodeError(`Thrift: unknown compact type ${type} at byte ${this.pos}`);
    }
  }

  private type(code: number): CompactType {
    if (code < CompactType.BOOL_TRUE || code > CompactType.STRUCT)
      throw new ThriftDecodeError(`Thrift: unknown compact type ${code} at byte ${this.pos}`);
    return code as CompactType;
  }

  struct(): ThriftStruct {
    const fields: ThriftField[] = [];
    let lastId = 0;
    for (;;) {
      const header = this.byte();
      if (header === 0) return { kind: 'struct', fields };
      const delta = header >> 4;
      const id = delta === 0 ? this.zigzag() : lastId + delta;
      fields.push({ id, value: this.value(header & 0x0f, false) });
      lastId = id;
    }
  }
}

/** i64s below this magnitude are written through numbers (exact: their zigzag stays below 2^53). */
const SMALL_I64 = 2n ** 48n;

class Writer {
  private buf = new Uint8Array(256);
  private length = 0;

  bytes(): Uint8Array {
    return this.buf.slice(0, this.length);
  }

  private reserve(n: number): void {
    if (this.length + n <= this.buf.length) return;
    const grown = new Uint8Array(Math.max(this.buf.length * 2, this.length + n));
    grown.set(this.buf.subarray(0, this.length));
    this.buf = grown;
  }

  private byte(b: number): void {
    this.reserve(1);
    this.buf[this.length++] = b;
  }

  private raw(bytes: Uint8Array): void {
    this.reserve(bytes.length);
    this.buf.set(bytes, this.length);
    this.length += bytes.length;
  }

  /** An unsigned varint of a non-negative number below 2^53. */
  private varint(n: number): void {
    while (n >= 0x80) {
      this.byte((n % 128) | 0x80);
      n = Math.floor(n / 128);
    }
    this.byte(n);
  }

  private zigzag(n: number): void {
    this.varint(n >= 0 ? n * 2 : -n * 2 - 1);
  }

  private zigzag64(n: bigint): void {
    if (n > -SMALL_I64 && n < SMALL_I64) return this.zigzag(Number(n));
    let v = BigInt.asUintN(64, (n << 1n) ^ (n >> 63n));
    while (v >= 0x80n) {
      this.byte(Number(v & 0x7fn) | 0x80);
      v >>= 7n;
    }
    this.byte(Number(v));
  }

  private typeOf(value: ThriftValue): CompactType {
    switch (value.kind) {
      case 'bool':
        return value.value ? CompactType.BOOL_TRUE : CompactType.BOOL_FALSE;
      case 'i8':
        return CompactType.I8;
      case 'i16':
        return CompactType.I16;
      case 'i32':
        return CompactType.I32;
      case 'i64':
        return CompactType.I64;
      case 'double':
        return CompactType.DOUBLE;
      case 'binary':
        return CompactType.BINARY;
      case 'list':
        return CompactType.LIST;
      case 'set':
        return CompactType.SET;
      case 'map':
        return CompactType.MAP;
      case 'struct':
        return CompactType.STRUCT;
    }
  }

  private value(value: ThriftValue, inList: boolean): void {
    switch (value.kind) {
      case 'bool':
        if (inList) this.byte(value.value ? CompactType.BOOL_TRUE : CompactType.BOOL_FALSE);
        return;
      case 'i8':
        this.byte(value.value & 0xff);
        return;
      case 'i16':
      case 'i32':
        this.zigzag(value.value);
        return;
      case 'i64':
        this.zigzag64(value.value);
        return;
      case 'double': {
        const b = new Uint8Array(8);
        new DataView(b.buffer).setFloat64(0, value.value, true);
        this.raw(b);
        return;
      }
      case 'binary':
        this.varint(value.value.length);
        this.raw(value.value);
        return;
      case 'list':
      case 'set': {
        const size = value.elements.length;
        if (size < 15) this.byte((size << 4) | value.elementType);
        else {
          this.byte(0xf0 | value.elementType);
          this.varint(size);
        }
        for (const e of value.elements) this.value(e, true);
        return;
      }
      case 'map':
        this.varint(value.entries.length);
        if (value.entries.length === 0) return;
        this.byte((value.keyType << 4) | value.valueType);
        for (const [k, v] of value.entries) {
          this.value(k, true);
          this.value(v, true);
        }
        return;
      case 'struct':
        this.struct(value);
        return;
    }
  }

  struct(struct: ThriftStruct): void {
    let lastId = 0;
    for (const { id, value } of struct.fields) {
      const type = this.typeOf(value);
      const delta = id - lastId;
      if (delta > 0 && delta <= 15) this.byte((delta << 4) | type);
      else {
        this.byte(type);
        this.zigzag(id);
      }
      this.value(value, false);
      lastId = id;
    }
    this.byte(0);
  }
}

// Accessors for the trees Parquet's footer decodes to.

export const field = (s: ThriftStruct, id: number): ThriftValue | undefined => s.fields.find((f) => f.id === id)?.value;

/** Sets a field, keeping fields ordered by id (as a canonical writer emits them). */
export function setField(s: ThriftStruct, id: number, value: ThriftValue): void {
  const existing = s.fields.find((f) => f.id === id);
  if (existing) existing.value = value;
  else {
    const at = s.fields.findIndex((f) => f.id > id);
    s.fields.splice(at === -1 ? s.fields.length : at, 0, { id, value });
  }
}

/** Removes the fields with these ids (absent ones are ignored). */
export function dropFields(s: ThriftStruct, ids: readonly number[]): void {
  s.fields = s.fields.filter((f) => !ids.includes(f.id));
}

/** A list-of-structs field's elements; undefined when the field is absent or not a list. */
export function structList(s: ThriftStruct, id: number): ThriftStruct[] | undefined {
  const v = field(s, id);
  return v?.kind === 'list' ? v.elements.filter((e): e is ThriftStruct => e.kind === 'struct') : undefined;
}

export const setStructList = (s: ThriftStruct, id: number, elements: ThriftStruct[]): void =>
  setField(s, id, { kind: 'list', elementType: CompactType.STRUCT, elements });

export const struct = (...fields: [number, ThriftValue | undefined][]): ThriftStruct => ({
  kind: 'struct',
  fields: fields.flatMap(([id, value]) => (value === undefined ? [] : [{ id, value }])),
});
export const i16 = (value: number): ThriftValue => ({ kind: 'i16', value });
export const i32 = (value: number): ThriftValue => ({ kind: 'i32', value });
export const i64 = (value: bigint | number): ThriftValue => ({ kind: 'i64', value: BigInt(value) });
export const binary = (value: Uint8Array): ThriftValue => ({ kind: 'binary', value });
export const bool = (value: boolean): ThriftValue => ({ kind: 'bool', value });
export const list = (elementType: CompactType, elements: ThriftValue[]): ThriftValue => ({
  kind: 'list',
  elementType,
  elements,
});
