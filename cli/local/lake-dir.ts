/** Finding the local lake: `--lake DIR`, else `$LAKE_DIR`, else the nearest `.lake` from here upwards. */
import { existsSync, statSync } from 'node:fs';
import { mkdir, readdir, writeFile } from 'node:fs/promises';
import { dirname, join, relative, resolve } from 'node:path';
import { UserError } from '../errors.ts';

export const DEFAULT_LAKE_DIR = '.lake';
export const LAKE_MARKER = 'lake.json';

export interface LakeLocation {
  dir: string;
  /** How it was chosen, for messages. */
  from: '--lake' | 'LAKE_DIR' | 'found' | 'default';
}

/** A directory is a lake when it has the marker, a catalog or a zone directory. */
export function isLake(dir: string): boolean {
  return ['lake.json', 'catalog.json', 'bronze', 'silver'].some((name) => existsSync(join(dir, name)));
}

export function locateLake(flag: string | undefined, cwd = process.cwd(), env = process.env): LakeLocation {
  if (flag) return { dir: resolve(cwd, flag), from: '--lake' };
  if (env.LAKE_DIR) return { dir: resolve(cwd, env.LAKE_DIR), from: 'LAKE_DIR' };
  for (let dir = cwd; ; dir = dirname(dir)) {
    const candidate = join(dir, DEFAULT_LAKE_DIR);
    if (isLake(candidate)) return { dir: candidate, from: 'found' };
    if (dirname(dir) === dir) break;
  }
  return { dir: resolve(cwd, DEFAULT_LAKE_DIR), from: 'default' };
}

/** The lake to read from; a clear error when there is none. */
export function requireLake(flag: string | undefined): string {
  const location = locateLake(flag);
  if (existsSync(location.dir) && !statSync(location.dir).isDirectory()) {
    throw new UserError(`${location.dir} is not a directory`, 'point --lake (or LAKE_DIR) at a lake directory');
  }
  if (!isLake(location.dir)) {
    const where =
      location.from === 'default'
        ? `no lake in ${DEFAULT_LAKE_DIR} here or in a parent directory`
        : `no lake at ${location.dir} (from ${location.from})`;
    throw new UserError(
      where,
      'create one with `npx lake demo` or `npx lake ingest FILE…`, or point to one with --lake DIR',
    );
  }
  return location.dir;
}

/** The lake to write to, created when missing. Refuses a non-empty directory that is not a lake. */
export async function openOrCreateLake(flag: string | undefined): Promise<string> {
  const { dir } = locateLake(flag);
  if (existsSync(dir)) {
    if (!statSync(dir).isDirectory()) throw new UserError(`${dir} is not a directory`, 'point --lake at a directory');
    if (!isLake(dir)) {
      if ((await readdir(dir)).length > 0) {
        throw new UserError(
          `${dir} is not empty and is not a lake`,
          'choose an empty or new directory with --lake DIR',
        );
      }
    }
  }
  await mkdir(dir, { recursive: true });
  const marker = join(dir, LAKE_MARKER);
  if (!existsSync(marker)) {
    await writeFile(marker, `${JSON.stringify({ lake_format: 1, created_at: new Date().toISOString() }, null, 2)}\n`);
  }
  return dir;
}

/** A path as short as it can be said from the current directory. */
export function displayPath(path: string, cwd = process.cwd()): string {
  const rel = relative(cwd, path);
  if (rel === '') return '.';
  return rel.startsWith('..') || rel.startsWith('/') ? path : `./${rel}`;
}

/** ` --lake DIR` when commands must name this lake explicitly to reach it again, else empty. */
export function lakeFlag(dir: string): string {
  return locateLake(undefined).dir === dir ? '' : ` --lake ${displayPath(dir)}`;
}
