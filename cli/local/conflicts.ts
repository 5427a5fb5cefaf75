/**
 * Files `lake watch` could not ingest because bronze already holds different bytes under their name — often
 * the complete version of a file taken while it was still being written. Kept in `<lake>/conflicts/` so that
 * `lake status` shows them long after the watcher's message scrolled away; a record is dropped once its
 * file is gone or changed (renamed to be ingested, or removed).
 */
import { createHash } from 'node:crypto';
import { mkdir, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ownerToken } from '../../adapters/local/process-owner.ts';

export const CONFLICTS_DIR = 'conflicts';

export interface ConflictRecord {
  /** The refused input file. */
  path: string;
  key: string;
  size: number;
  mtime_ms: number;
  bronze_size: number;
  bronze_landed: string;
  first_seen: string;
}

function recordPath(lakeDir: string, path: string): string {
  return join(lakeDir, CONFLICTS_DIR, `${createHash('sha256').update(path).digest('hex').slice(0, 16)}.json`);
}

export async function recordConflict(lakeDir: string, record: ConflictRecord): Promise<void> {
  const target = recordPath(lakeDir, record.path);
  await mkdir(join(lakeDir, CONFLICTS_DIR), { recursive: true });
  const aside = `${target}.${ownerToken()}.tmp`;
  await writeFile(aside, `${JSON.stringify(record, null, 2)}\n`);
  await rename(aside, target);
}

export async function clearConflict(lakeDir: string, path: string): Promise<void> {
  await rm(recordPath(lakeDir, path), { force: true });
}

/** Conflicts whose file is still there, unchanged; `prune` deletes the records of the others. */
export async function openConflicts(lakeDir: string, options: { prune?: boolean } = {}): Promise<ConflictRecord[]> {
  const dir = join(lakeDir, CONFLICTS_DIR);
  const names = await readdir(dir).catch(() => [] as string[]);
  const out: ConflictRecord[] = [];
  for (const name of names.filter((n) => n.endsWith('.json'))) {
    const record = await readFile(join(dir, name), 'utf8').then(
      (t) => JSON.parse(t) as ConflictRecord,
      () => undefined,
    );
    if (!record) continue;
    const now = await stat(record.path).catch(() => undefined);
    if (now && now.size === record.size && now.mtimeMs === record.mtime_ms) out.push(record);
    else if (options.prune) await rm(join(dir, name), { force: true });
  }
  return out.sort((a, b) => a.first_seen.localeCompare(b.first_seen));
}
