/** Where a chunk's scratch lives in the work directory: its text and own files, and the routed passes' shared output. */
import { readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';

/** Removes every chunk's scratch directory and their shared output (a discarded or failed attempt at the chunks). */
export async function removeChunkDirs(workDir: string): Promise<void> {
  for (const entry of await readdir(workDir)) {
    if (/^chunk-\d{5}$/.test(entry) || entry === CHUNKS_OUT)
      await rm(join(workDir, entry), { recursive: true, force: true });
  }
}

/** A chunk's name: its scratch directory's, and the start of its files' names in the shared output. */
const chunkName = (index: number): string => `chunk-${String(index).padStart(5, '0')}`;

/** A chunk's own scratch directory (its text, rejects, quarantine and spill). */
export const chunkDir = (workDir: string, index: number): string => join(workDir, chunkName(index));

/** Where a routed pass writes beside other texts: `dir`, its files' names starting with `as`. */
export interface SharedOutput {
  dir: string;
  as: string;
}

/**
 * The chunks' routed passes write into one directory, each file named after its chunk: a partition's directory is
 * made once, not once per chunk (each new directory is an inode, ~0.5–1 ms on ext4 without a journal).
 */
const CHUNKS_OUT = 'chunks-out';
export const chunkOutput = (workDir: string, index: number): SharedOutput => ({
  dir: join(workDir, CHUNKS_OUT),
  as: `${chunkName(index)}-`,
});

/** A chunk's text, in its scratch directory: teed there while the text was scanned, or copied. */
export const chunkTextPath = (workDir: string, index: number): string => join(chunkDir(workDir, index), 'input.txt');
