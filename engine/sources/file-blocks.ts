/**
 * Reading a file's bytes in large blocks into one buffer that is read into again and again, and writing
 * blocks whose every write is awaited. A read stream gives a fresh buffer per read: for a 114 MB text read
 * three times over (byte scan, chunk copies, field-count listing) that is ~350 MB of short-lived buffers, and
 * V8 answers external memory like that with a full garbage collection every few dozen MB.
 */
import { createWriteStream, type WriteStream } from 'node:fs';
import { open, rename, rm, truncate } from 'node:fs/promises';

/** Bytes per block: few turns of the JavaScript thread per chunk, small next to a DuckDB session's memory. */
export const BLOCK_BYTES = 8 << 20;

/**
 * The bytes [start, end) of the file at `path` (to its end by default), in order, as blocks of one buffer that
 * is reused: **a block is valid only until the next one is asked for** — copy what must be kept.
 */
export async function* readBlocks(
  path: string,
  range: { start?: number; end?: number } = {},
  blockBytes: number = BLOCK_BYTES,
): AsyncGenerator<Buffer> {
  const handle = await open(path, 'r');
  try {
    const start = range.start ?? 0;
    const end = range.end ?? (await handle.stat()).size;
    const buffer = Buffer.allocUnsafe(Math.max(1, Math.min(blockBytes, end - start)));
    for (let position = start; position < end;) {
      const { bytesRead } = await handle.read(buffer, 0, Math.min(buffer.length, end - position), position);
      if (bytesRead === 0) throw new Error(`${path}: ends at byte ${position}, before byte ${end}`);
      position += bytesRead;
      yield buffer.subarray(0, bytesRead);
    }
  } finally {
    await handle.close();
  }
}

/**
 * A new file written through a write stream (the faults tier fails and kills those writes), each write awaited:
 * the bytes are in the file when `write` returns, so their buffer may be filled again. A write error — a full
 * disk — is thrown as itself; `close` and `abort` return only once the descriptor is closed.
 */
export class AwaitedWriter {
  private readonly out: WriteStream;
  private failed: unknown;

  constructor(readonly path: string) {
    this.out = createWriteStream(path);
    this.out.on('error', (e) => (this.failed ??= e));
  }

  async write(bytes: Uint8Array): Promise<void> {
    await new Promise<void>((resolve, reject) => this.out.write(bytes, (e) => (e ? reject(e) : resolve())));
  }

  /** Ends the file; a close that fails is an error too ('finish' comes before the descriptor is closed). */
  async close(): Promise<void> {
    await new Promise<void>((resolve, reject) => this.out.end((e?: Error | null) => (e ? reject(e) : resolve())));
    await this.closed();
    if (this.failed) throw this.failed;
  }

  /**
   * Gives up on the file (left as far as written, for the caller to remove) and returns the error that stopped
   * the writer, if any — else `cause`. A stream still opening would create the file after an early return.
   */
  async abort(cause: unknown): Promise<unknown> {
    this.out.destroy();
    await this.closed();
    return this.failed ?? cause;
  }

  private async closed(): Promise<void> {
    if (!this.out.closed) await new Promise<void>((resolve) => this.out.once('close', () => resolve()));
  }
}

/** Writes the byte ranges of the file at `path` one after another to a new file `target`, through one buffer. */
export async function copyRanges(
  path: string,
  ranges: ReadonlyArray<readonly [start: number, end: number]>,
  target: string,
): Promise<void> {
  const out = new AwaitedWriter(target);
  try {
    for (const [start, end] of ranges) {
      // Each range reads into one buffer of its own size, up to BLOCK_BYTES (the header's is small).
      if (end > start) for await (const block of readBlocks(path, { start, end })) await out.write(block);
    }
    await out.close();
  } catch (e) {
    throw await out.abort(e);
  }
}

/**
 * Writes the start of a stream of blocks to a file while the blocks pass through (`tee`), until told where that
 * start ends (`endAt`, while the last block written is being read): the file then holds exactly the bytes before
 * that offset. What a copy of them would give, without reading them again once they have been read. A start not
 * told of within `maxBytes` is given up and its file removed: a stream that never gets there (a text that turns
 * out to be one huge record) is not copied whole. It is written under a name of its own and given `path` once
 * complete, so giving up never removes a file at `path` that someone else wrote.
 */
export class PrefixTee {
  private writer: AwaitedWriter | undefined;
  private written = 0;
  private open = true;
  private readonly outcome: Promise<string | undefined>;
  private settle!: (file: Promise<string | undefined>) => void;
  private readonly partial: string;

  constructor(
    readonly path: string,
    /** The start is known to end within this many bytes, if it ends at all (past it, a copy is made instead). */
    private readonly maxBytes: number,
  ) {
    this.partial = `${path}.partial`;
    this.outcome = new Promise<Promise<string | undefined>>((resolve) => (this.settle = resolve)).then((f) => f);
    this.outcome.catch(() => {}); // awaited by whoever wants the file, or not at all
  }

  /** The blocks of `source`, each in the file before it is given on, as long as the start is not complete. */
  async *tee(source: AsyncIterable<Buffer>): AsyncGenerator<Buffer> {
    try {
      for await (const block of source) {
        if (this.open && this.written >= this.maxBytes) await this.giveUp();
        if (this.open) {
          this.writer ??= new AwaitedWriter(this.partial);
          await this.writer.write(block);
          this.written += block.length;
        }
        yield block;
      }
    } finally {
      // The stream ended or stopped before the start was complete: no file.
      if (this.open) await this.giveUp();
    }
  }

  /** No file: what was written is removed. */
  private async giveUp(): Promise<void> {
    this.open = false;
    const writer = this.writer;
    const outcome = (async () => {
      await writer?.abort(undefined);
      await rm(this.partial, { force: true });
      return undefined;
    })();
    this.settle(outcome);
    await outcome;
  }

  /** The start ends at byte `offset` of the stream, which must be written already. Later calls are ignored. */
  endAt(offset: number): void {
    if (!this.open) return;
    this.open = false;
    const writer = this.writer;
    const finishing = (async () => {
      if (!writer || offset > this.written)
        throw new Error(`${this.path}: the start ends at byte ${offset}, but ${this.written} bytes were written`);
      await writer.close();
      await truncate(this.partial, offset);
      await rename(this.partial, this.path);
      return this.path;
    })();
    this.settle(finishing);
  }

  /** The file once it holds exactly the start; undefined when the stream ended first. */
  file(): Promise<string | undefined> {
    return this.outcome;
  }

  /** Once nothing of the tee writes to its file any more (its outcome, whatever it is, is settled). */
  async settled(): Promise<void> {
    if (!this.open) await this.outcome.catch(() => {});
  }
}
