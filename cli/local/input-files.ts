/**
 * Finding the files to ingest. One rule for symbolic links: they are never followed — not as arguments, not
 * inside directories — and each one is named in the output with the reason, so nothing outside what was
 * named (e.g. a link to /etc/passwd) is copied into the lake, and nothing is skipped silently. Hidden files
 * and partial downloads (`.part`, `.tmp`, `.crdownload`, `~…`) inside directories are skipped by design.
 */
import { lstat, readdir } from 'node:fs/promises';
import { basename, join, relative, resolve, sep } from 'node:path';
import { UserError } from '../errors.ts';

/** Editors, downloads and copies in progress leave these; they are never data. */
export function isIgnoredName(name: string): boolean {
  return name.startsWith('.') || name.startsWith('~') || /\.(tmp|part|partial|crdownload|swp)$/i.test(name);
}

export interface Found {
  path: string;
  /** Path relative to the directory argument, `/`-separated; the base name for a file argument. */
  relative: string;
}

export interface Skipped {
  path: string;
  reason: string;
}

export interface InputFiles {
  files: Found[];
  /** Named in the output: symbolic links and anything that is not a regular file. */
  skipped: Skipped[];
}

export const SYMLINK_REASON = 'a symbolic link: links are never followed (name the file it points to)';
export const NOT_A_FILE_REASON = 'not a regular file';

/** Regular files below `root`, recursively; symbolic links and special files are reported, not followed. */
export async function scanDirectory(
  root: string,
  out: InputFiles = { files: [], skipped: [] },
  dir = root,
): Promise<InputFiles> {
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    if (isIgnoredName(entry.name)) continue;
    const full = join(dir, entry.name);
    if (entry.isSymbolicLink()) out.skipped.push({ path: full, reason: SYMLINK_REASON });
    else if (entry.isDirectory()) await scanDirectory(root, out, full);
    else if (entry.isFile()) out.files.push({ path: full, relative: relative(root, full).split(sep).join('/') });
    else out.skipped.push({ path: full, reason: NOT_A_FILE_REASON });
  }
  return out;
}

async function lstatOrUndefined(path: string): Promise<Awaited<ReturnType<typeof lstat>> | undefined> {
  try {
    return await lstat(path);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw e;
  }
}

/** The files named by `lake ingest` arguments. Throws when there is nothing to ingest at all. */
export async function findInputFiles(args: readonly string[]): Promise<InputFiles> {
  const found: InputFiles = { files: [], skipped: [] };
  for (const arg of args) {
    const path = resolve(arg);
    const s = await lstatOrUndefined(path);
    if (!s) throw new UserError(`no such file or directory: ${arg}`);
    if (s.isSymbolicLink()) found.skipped.push({ path, reason: SYMLINK_REASON });
    else if (s.isDirectory()) {
      const [files, skipped] = [found.files.length, found.skipped.length];
      await scanDirectory(path, found);
      if (found.files.length === files && found.skipped.length === skipped)
        throw new UserError(`${arg} holds no files to ingest`);
    } else if (s.isFile()) found.files.push({ path, relative: basename(path) });
    else found.skipped.push({ path, reason: NOT_A_FILE_REASON });
  }
  if (found.files.length === 0) {
    const why = found.skipped.map((k) => `${k.path}: ${k.reason}`).join('; ');
    throw new UserError(
      `nothing to ingest${why ? ` (skipped ${why})` : ''}`,
      'name regular files, or directories that hold them',
    );
  }
  return found;
}
