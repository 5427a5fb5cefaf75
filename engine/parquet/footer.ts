/** A Parquet file's footer: where it starts and its decoded FileMetaData. */
import { fstatSync, readSync } from 'node:fs';
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
  const readAt = async (position: number, length: number): Promise<Buffer> => {
    const buffer = Buffer.allocUnsafe(length);
    const { bytesRead } = await file.read(buffer, 0, length, position);
    return buffer.subarray(0, bytesRead);
  };
  const { size } = await file.stat();
  checkSize(path, size);
  const tail = await readAt(Math.max(0, size - TAIL_BYTES), Math.min(size, TAIL_BYTES));
  const bounds = footerBounds(path, size, await readAt(0, 4), tail);
  const bytes =
    bounds.footerLength + 8 > tail.length ? await readAt(bounds.footerStart, bounds.footerLength + 8) : tail;
  return decodeFooter(path, size, bounds, bytes);
}

/**
 * `readFooter` with blocking reads of a file descriptor: for the small files of a text just written (in the page
 * cache), a few system calls on the JavaScript thread cost less than a round trip through the worker pool each.
 */
export function readFooterSync(fd: number, path: string): Footer {
  const readAt = (position: number, length: number): Buffer => {
    const buffer = Buffer.allocUnsafe(length);
    return buffer.subarray(0, readSync(fd, buffer, 0, length, position));
  };
  const { size } = fstatSync(fd);
  checkSize(path, size);
  const tail = readAt(Math.max(0, size - TAIL_BYTES), Math.min(size, TAIL_BYTES));
  const bounds = footerBounds(path, size, readAt(0, 4), tail);
  const bytes = bounds.footerLength + 8 > tail.length ? readAt(bounds.footerStart, bounds.footerLength + 8) : tail;
  return decodeFooter(path, size, bounds, bytes);
}

const fail = (path: string, reason: string): never => {
  throw new ParquetRewriteError(`${path}: ${reason}`);
};

function checkSize(path: string, size: number): void {
  if (size < 12) fail(path, `not a Parquet file (${size} bytes)`);
}

/** Where the footer is, from the file's first 4 bytes and its last ones (`tail`). */
function footerBounds(
  path: string,
  size: number,
  head: Buffer,
  tail: Buffer,
): { footerStart: number; footerLength: number } {
  if (!head.equals(PARQUET_MAGIC) || !tail.subarray(-4).equals(PARQUET_MAGIC))
    fail(path, `not a Parquet file (no PAR1 magic at its start and end; an encrypted footer is not supported)`);
  const footerLength = tail.readUInt32LE(tail.length - 8);
  const footerStart = size - 8 - footerLength;
  if (footerStart < 4) fail(path, `footer length ${footerLength} does not fit in a file of ${size} bytes`);
  return { footerStart, footerLength };
}

/** The footer decoded from `bytes`, which end with it and the file's last 8 bytes. */
function decodeFooter(
  path: string,
  size: number,
  { footerStart, footerLength }: { footerStart: number; footerLength: number },
  bytes: Buffer,
): Footer {
  const footer = bytes.subarray(bytes.length - 8 - footerLength, bytes.length - 8);
  try {
    return { metadata: decodeStruct(footer).struct, footerStart, size };
  } catch (e) {
    if (e instanceof ThriftDecodeError) return fail(path, `unreadable footer: ${e.message}`);
    throw e;
  }
}
