import { constants, createReadStream, createWriteStream } from 'node:fs';
import { copyFile, lstat, open, stat, unlink } from 'node:fs/promises';
import { pipeline } from 'node:stream/promises';
import { createGunzip } from 'node:zlib';
import { linkOrCopy } from './local-files.ts';
import { FileRejection, FileReason } from './reasons.ts';
import { AwaitedWriter } from './sources/file-blocks.ts';

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

/** Bytes the spool gathers before each write (an S3 body comes in pieces of 16–64 KiB). */
const SPOOL_WRITE_BYTES = 1 << 20;

/**
 * Streams the body to disk exactly as received. Memory stays flat whatever the size; write errors propagate.
 * `growing` is told of every write once it is in the file, so the file can be read while it is spooled.
 */
export async function spoolRaw(
  body: AsyncIterable<Uint8Array>,
  path: string,
  growing?: GrowingFile,
): Promise<RawInput> {
  let bytes = 0;
  const out = new AwaitedWriter(path);
  // Each write is in the file before `growing` hears of it or `pending` is filled again, so a reader of the
  // growing file never reads past what is written.
  const write = async (from: Uint8Array): Promise<void> => {
    await out.write(from);
    growing?.grew(from.length);
  };
  try {
    const pending = Buffer.allocUnsafe(SPOOL_WRITE_BYTES);
    let filled = 0;
    for await (const piece of body) {
      bytes += piece.length;
      if (filled === 0 && piece.length >= pending.length) {
        await write(piece);
        continue;
      }
      for (let from = 0; from < piece.length;) {
        const n = Math.min(piece.length - from, pending.length - filled);
        pending.set(piece.subarray(from, from + n), filled);
        filled += n;
        from += n;
        if (filled === pending.length) {
          await write(pending);
          filled = 0;
        }
      }
    }
    if (filled > 0) await write(pending.subarray(0, filled));
    await out.close();
  } catch (e) {
    throw await out.abort(e); // returns once the file is closed: the caller may remove it
  } finally {
    growing?.spooled();
  }
  return { rawPath: path, bytesIn: bytes };
}

/**
 * The input when it is a file on local disk already (the local lake's bronze object): given a second name at `path`
 * (a copy where no link can be made) instead of streamed through the process. The engine never writes to it, so
 * the link cannot change the object; it also keeps the bytes readable should the object be removed meanwhile. A
 * symbolic link is copied from the file it points to: link(2) names the symbolic link itself (relative, it would
 * then point elsewhere), and its file is not the lake's to keep a second name of.
 */
export async function placeLocalFile(localFile: string, path: string): Promise<RawInput> {
  await linkOrCopy(localFile, path);
  // What was linked is checked, not the name before: a name made a symbolic link meanwhile is caught too.
  if ((await lstat(path)).isSymbolicLink()) {
    await unlink(path);
    await copyFile(localFile, path, constants.COPYFILE_EXCL);
  }
  return { rawPath: path, bytesIn: (await stat(path)).size };
}

/**
 * A file while it is spooled, read as it grows (`follow`): up to the bytes written so far, to its end once it is
 * `complete`. A spool that fails — or a check of the whole file that rejects it — is passed on with `fail`, and
 * the reader throws it: nothing read from a file that turns out unusable is kept by whoever reads it.
 */
export class GrowingFile {
  private written = 0;
  private writing = true;
  private outcome: { ok: true } | { ok: false; error: unknown } | undefined;
  private waiters: Array<() => void> = [];

  constructor(
    readonly path: string,
    /** What the file's size is expected to be once complete (the object's declared size). */
    readonly expectedBytes: number,
  ) {}

  grew(bytes: number): void {
    this.written += bytes;
    this.wake();
  }

  /** The spool has stopped writing (whether it finished or failed): `reached` waits no more. */
  spooled(): void {
    this.writing = false;
    this.wake();
  }

  complete(): void {
    this.outcome ??= { ok: true };
    this.wake();
  }

  fail(error: unknown): void {
    this.outcome ??= { ok: false, error };
    this.wake();
  }

  /** The spool stopped before the declared size was written (it failed, or the body was shorter). */
  stoppedShort(): boolean {
    return !this.writing && this.written < this.expectedBytes;
  }

  /** Once `bytes` are in the file, or the spool has stopped, or the file is complete or failed: the bytes written then. */
  async reached(bytes: number): Promise<number> {
    while (this.written < bytes && this.writing && !this.outcome) await this.changed();
    return this.written;
  }

  /**
   * The file's bytes in order, as they are written; ends once it is complete, throws once it failed. Every block
   * is read into the same buffer: it is valid only until the next one is asked for.
   */
  async *follow(readBytes = 1 << 20): AsyncGenerator<Buffer> {
    const handle = await open(this.path, 'r');
    try {
      let position = 0;
      const buffer = Buffer.allocUnsafe(readBytes);
      for (;;) {
        if (this.outcome?.ok === false) throw this.outcome.error;
        if (position < this.written) {
          const { bytesRead } = await handle.read(buffer, 0, Math.min(readBytes, this.written - position), position);
          if (bytesRead === 0) throw new Error(`${this.path}: ${this.written} bytes written, but none at ${position}`);
          position += bytesRead;
          yield buffer.subarray(0, bytesRead);
        } else if (this.outcome?.ok) return;
        else await this.changed();
      }
    } finally {
      await handle.close();
    }
  }

  private changed(): Promise<void> {
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  private wake(): void {
    const waiters = this.waiters;
    this.waiters = [];
    for (const resolve of waiters) resolve();
  }
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

/** gzip's magic number: how gzip is recognised everywhere, never by the key's extension. */
export const GZIP_MAGIC: readonly number[] = [0x1f, 0x8b];

/** Whether bytes start with gzip's magic number. */
export const isGzip = (head: Uint8Array): boolean => GZIP_MAGIC.every((byte, i) => head[i] === byte);

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
  const compression = isGzip(await readHead(rawPath, 2)) ? 'gzip' : 'none';
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
