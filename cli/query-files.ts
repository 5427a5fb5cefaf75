/** The analysts' query files (queries/*.sql): found by path or by name, parameters filled in. */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseQueryFile, type QueryFile } from '../engine/gold/index.ts';
import { UserError } from './errors.ts';

export const QUERIES_DIR = fileURLToPath(new URL('../queries/', import.meta.url));

export function listQueryFiles(dir = QUERIES_DIR): QueryFile[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((f) => f.endsWith('.sql'))
    .sort()
    .map((f) => parseQueryFile(f.replace(/\.sql$/, ''), readFileSync(join(dir, f), 'utf8')));
}

/** `queries/x.sql`, `./my.sql`, or just `x`: a path first, then a name in queries/. */
export function findQueryFile(ref: string, dir = QUERIES_DIR): QueryFile {
  const candidates = [resolve(ref), join(dir, ref), join(dir, `${ref}.sql`)];
  const path = candidates.find((p) => existsSync(p) && !p.endsWith('/'));
  if (!path) {
    const known = listQueryFiles(dir).map((q) => q.name);
    throw new UserError(
      `no query file "${ref}"`,
      known.length ? `query files in queries/: ${known.join(', ')} (or give a path)` : 'give the path of a .sql file',
    );
  }
  return parseQueryFile(basename(path).replace(/\.sql$/, ''), readFileSync(path, 'utf8'));
}

/** `name=value` pairs from repeated `--param`. */
export function parseParams(pairs: readonly string[]): Record<string, string> {
  const params: Record<string, string> = {};
  for (const pair of pairs) {
    const eq = pair.indexOf('=');
    if (eq <= 0) throw new UserError(`--param expects name=value, got "${pair}"`);
    params[pair.slice(0, eq).trim()] = pair.slice(eq + 1).trim();
  }
  return params;
}
