/** A Parquet file's footer: where it starts and its decoded FileMetaData. */
import type { FileHandle } from 'node:fs/promises';
import { ParquetRewriteError } from './errors.ts';
import { decodeStruct, ThriftDecodeError, type ThriftStruct } from './thrift-compact.ts';

export const PARQUET_MAGIC = Uint8Array.from([0x50, 0x41, 0x52, 0x31]); // PAR1

/** One read of the file's end holds the footer of most files (a footer of 20 row groups is ~20 KB). */
const TAIL_BYTES = 64 * 1024;

export interface Footer {
  metadata: ThriftStruct;
  /** Offset of the footer's first byte: the pages and indexes end there. */
  footerStart: number;
  size: number;
}

/** Reads and decodes the footer of the Parquet file open as `file`; `ParquetRewriteError` names `path` and why not. */
export async function readFooter(file: FileHandle, path: string): Promise<Footer> {
  const fail = (reason: string): never => {
    throw new ParquetRewriteError(`${path}: ${reason}`);
  };
  const { size } = await file.stat();
  if (size < 12) fail(`not a Parquet file (${size} bytes)`);
  let tail = await readAt(file, Math.max(0, size - TAIL_BYTES), Math.min(size, TAIL_BYTES));
  const head = await readAt(file, 0, 4);
  if (!head.equals(PARQUET_MAGIC) || !tail.subarray(-4).equals(PARQUET_MAGIC))
    fail(`not a Parquet file (no PAR1 magic at its start and end; an encrypted footer is not supported)`);
  const footerLength = tail.readUInt32LE(tail.length - 8);
  const footerStart = size - 8 - footerLength;
  if (footerStart < 4) fail(`footer length ${footerLength} does not fit in a file of ${size} bytes`);
  if (footerLength + 8 > tail.length) tail = await readAt(file, footerStart, footerLength + 8);
  const footer = tail.subarray(tail.length - 8 - footerLength, tail.length - 8);
  try {
    return { metadata: decodeStruct(footer).struct, footerStart, size };
  } catch (e) {
    if (e instanceof ThriftDecodeError) return fail(`unreadable footer: ${e.message}`);
    throw e;
  }
}

async function readAt(file: FileHandle, position: number, length: number): Promise<Buffer> {
  const buffer = Buffer.alloc(length);
  const { bytesRead } = await file.read(buffer, 0, length, position);
  return buffer.subarray(0, bytesRead);
}
