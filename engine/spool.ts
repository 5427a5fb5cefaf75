import { createReadStream, createWriteStream } from 'node:fs';
import { open } from 'node:fs/promises';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGunzip } from 'node:zlib';
import { FileRejection, FileReason } from './reasons.ts';

export interface SpooledInput {
  /** Plain (decompressed) bytes, ready for DuckDB. */
  path: string;
  /** The bytes exactly as received (same file as `path` unless the input was gzip). */
  rawPath: string;
  compression: 'gzip' | 'none';
  bytesIn: number;
  bytesUncompressed: number;
}

/** How much of the start of the text is checked for binary content. */
export const SNIFF_BYTES = 64 * 1024;

export interface RawInput {
  rawPath: string;
  bytesIn: number;
}

/** Streams the body to disk exactly as received. Memory stays flat whatever the size; write errors propagate. */
export async function spoolRaw(body: AsyncIterable<Uint8Array>, path: string): Promise<RawInput> {
  let bytes = 0;
  await pipeline(
    Readable.from(body),
    async function* (source: AsyncIterable<Uint8Array>) {
      for await (const chunk of source) {
        bytes += chunk.length;
        yield chunk;
      }
    },
    createWriteStream(path),
  );
  return { rawPath: path, bytesIn: bytes };
}

/** Up to `length` bytes of a file from `position` (fewer at its end). */
export async function readBytes(path: string, position: number, length: number): Promise<Buffer> {
  const handle = await open(path, 'r');
  try {
    const buffer = Buffer.alloc(length);
    const { bytesRead } = await handle.read(buffer, 0, length, position);
    return buffer.subarray(0, bytesRead);
  } finally {
    await handle.close();
  }
}

const readHead = (path: string, length: number): Promise<Buffer> => readBytes(path, 0, length);

async function isBlank(path: string, size: number): Promise<boolean> {
  if (size === 0) return true;
  for await (const chunk of createReadStream(path, { encoding: 'utf8' })) {
    if (hasText(chunk as string)) return false;
  }
  return true;
}

/**
 * How far a gzip may expand. A ratio alone would refuse a small, very repetitive file, so it applies only
 * once the output passes `ratioFloorBytes`; the absolute cap keeps the scratch disk (Lambda: /tmp) from
 * filling. Decompression stops at the first byte over either limit.
 */
export interface ExpansionLimits {
  /** @default 200 (CSV exports compress 5–20×; 200× is a bomb or padding, not a feed) */
  maxRatio: number;
  /** @default 64 MiB */
  ratioFloorBytes: number;
  /** @default 64 GiB */
  maxBytes: number;
}

export const DEFAULT_EXPANSION_LIMITS: ExpansionLimits = {
  maxRatio: 200,
  ratioFloorBytes: 64 << 20,
  maxBytes: 64 * 2 ** 30,
};

/** The most bytes a gzip of `bytesIn` compressed bytes may expand to. */
export const expansionCap = (limits: ExpansionLimits, bytesIn: number): number =>
  Math.min(limits.maxBytes, Math.max(limits.ratioFloorBytes, limits.maxRatio * bytesIn));

/** The rejection of a gzip whose text passed `cap` bytes (decompression stopped at `stoppedAt`). */
export function expansionRejection(
  limits: ExpansionLimits,
  cap: number,
  bytesIn: number,
  stoppedAt: number,
): FileRejection {
  const which =
    cap === limits.maxBytes
      ? `the ${limits.maxBytes}-byte limit`
      : `${limits.maxRatio}× its ${bytesIn} compressed bytes`;
  return new FileRejection(
    FileReason.EXPANSION_LIMIT,
    `the gzip expands beyond ${which}; decompression stopped at ${stoppedAt} bytes`,
  );
}

/** zlib's own errors (bad data, truncated stream) as opposed to the disk's or the process's. */
export const isZlibError = (e: unknown): boolean => {
  const code = (e as NodeJS.ErrnoException).code;
  return typeof code === 'string' && code.startsWith('Z_');
};

/**
 * Makes the spooled bytes ready for DuckDB: decompresses gzip recognised by its magic bytes (not the
 * key's extension). Rejects empty, binary, corrupt-gzip and over-expanding input as data errors; a disk
 * that fills while decompressing stays an error (retried).
 */
export async function decodeText(
  { rawPath, bytesIn }: RawInput,
  plainPath: string,
  limits: ExpansionLimits = DEFAULT_EXPANSION_LIMITS,
): Promise<SpooledInput> {
  const magic = await readHead(rawPath, 2);
  const compression = magic.length === 2 && magic[0] === 0x1f && magic[1] === 0x8b ? 'gzip' : 'none';
  const spooled: SpooledInput = { path: rawPath, rawPath, compression, bytesIn, bytesUncompressed: bytesIn };
  if (compression === 'gzip') {
    let bytesUncompressed = 0;
    const cap = expansionCap(limits, bytesIn);
    try {
      await pipeline(
        createReadStream(rawPath),
        createGunzip(),
        async function* (source: AsyncIterable<Buffer>) {
          for await (const chunk of source) {
            bytesUncompressed += chunk.length;
            if (bytesUncompressed > cap) throw expansionRejection(limits, cap, bytesIn, bytesUncompressed);
            yield chunk;
          }
        },
        createWriteStream(plainPath),
      );
    } catch (e) {
      if (e instanceof FileRejection) throw e;
      if (isZlibError(e))
        throw new FileRejection(FileReason.UNREADABLE, `gzip data is corrupt: ${(e as Error).message}`);
      throw e;
    }
    Object.assign(spooled, { path: plainPath, bytesUncompressed });
  }
  const head = await readHead(spooled.path, SNIFF_BYTES);
  const rejection = await textRejection(head, spooled.bytesUncompressed, () =>
    isBlank(spooled.path, spooled.bytesUncompressed),
  );
  if (rejection) throw rejection;
  return spooled;
}

/** Whether text has anything but whitespace (and byte order marks). */
export const hasText = (text: string): boolean => /\S/.test(text.replace(/\uFEFF/g, ''));

/**
 * What the text cannot be ingested for whatever its records: NUL bytes in its first `SNIFF_BYTES` (`head`),
 * no bytes, or nothing but whitespace.
 */
export async function textRejection(
  head: Buffer,
  bytes: number,
  blank: () => Promise<boolean> | boolean,
): Promise<FileRejection | undefined> {
  if (head.includes(0)) return new FileRejection(FileReason.UNREADABLE, 'not text: NUL bytes in the first 64 KiB');
  if (await blank())
    return new FileRejection(
      FileReason.EMPTY_FILE,
      bytes === 0 ? 'the object has no content' : 'the object contains only whitespace',
    );
  return undefined;
}
