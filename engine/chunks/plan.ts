/** The chunk plan's sizes (as few chunks as a text's size needs, later ones a little smaller) and whether to chunk at all. */
import type { InputScan } from '../reader.ts';
import { readerSeesScannedRecords } from '../sources/records.ts';

/**
 * How an input is cut into chunks: a function of the input alone (never of the machine), so a re-run on
 * any machine writes the same keys and bytes. Parallelism only decides how many chunks run at once.
 */
export interface ChunkingOptions {
  /**
   * Chunks average at most this many bytes (the first up to `CHUNK_TAPER` more, the last as much less); each ends
   * at the first record end past its size. @default 32 MiB
   */
  chunkBytes: number;
  /** Inputs smaller than this are one pass over the whole text. @default 64 MiB */
  minBytesToChunk: number;
}

export const DEFAULT_CHUNKING: ChunkingOptions = { chunkBytes: 32 << 20, minBytesToChunk: 64 << 20 };

/**
 * The average bytes per chunk that cut a text of `bytes` into as few chunks of about `chunkBytes` at most as
 * possible (a short last chunk would leave a core idle while the others finish); `taperedChunkBytes` sizes each
 * one around it. A function of the text's size alone, as the chunk plan must be.
 */
export function evenChunkBytes(bytes: number, chunking: ChunkingOptions): number {
  if (!(bytes > chunking.chunkBytes)) return chunking.chunkBytes;
  return Math.ceil(bytes / Math.ceil(bytes / chunking.chunkBytes));
}

/**
 * How much bigger than the average the first chunk is, and smaller the last (the sizes between fall evenly).
 * Chunks are planned and started in order, so a later one starts later: with less text it finishes about when the
 * earlier ones do (at two sessions the second starts ~0.15 s after the first, once the scan has planned it and
 * it is copied — with even chunks that core then idled at the end).
 */
export const CHUNK_TAPER = 0.1;

/**
 * Bytes of chunk `index` of a text of `bytes`: as many chunks as `evenChunkBytes` plans (fewer only where a record
 * is a sizable share of a chunk: each chunk ends past its size), the first `CHUNK_TAPER` above their average size
 * and the last as far below it. A function of the text's size alone.
 */
export function taperedChunkBytes(bytes: number, chunking: ChunkingOptions): (index: number) => number {
  const even = evenChunkBytes(bytes, chunking);
  const chunks = plannedChunks(bytes, chunking);
  if (chunks < 2) return () => even;
  return (index) =>
    Math.ceil(even * (1 + (CHUNK_TAPER * (chunks - 1 - 2 * Math.min(index, chunks - 1))) / (chunks - 1)));
}

/** How many chunks the byte scan plans for a text of `bytes` (fewer where a record is a sizable share of a chunk). */
export function plannedChunks(bytes: number, chunking: ChunkingOptions): number {
  return Math.ceil(bytes / evenChunkBytes(bytes, chunking));
}

/** The byte scan's chunking for a text of `bytes`: record-aligned chunks, later ones a little smaller. */
export const chunkLimits = (bytes: number, chunking: ChunkingOptions) => ({
  recordsPerChunk: Number.POSITIVE_INFINITY,
  bytesPerChunk: taperedChunkBytes(bytes, chunking),
});

/**
 * Whether the text is cut into chunks: large enough, read by DuckDB exactly as the byte scan reads it (clean
 * quoting, one line-end style, no stray carriage return), and wholly covered by the planned chunks.
 */
export function worthChunking(scan: InputScan, bytes: number, chunking: ChunkingOptions): boolean {
  const covered =
    scan.headerBytes >= 0 &&
    scan.chunks.length > 0 &&
    scan.headerBytes + scan.chunks.reduce((sum, c) => sum + c.end - c.start, 0) === bytes;
  return bytes >= chunking.minBytesToChunk && covered && readerSeesScannedRecords(scan);
}
