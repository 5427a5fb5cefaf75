/**
 * Scratch space of the local lake: `<lake>/.work/<pid>-<host tag>-<random>/`, one directory per ingest (the
 * engine places its input, its chunks and DuckDB's spill there) or gold refresh (DuckDB spills there), named after the process that owns
 * it and holding `owner.json` (what it is doing). A crashed run leaves its directory behind — hundreds of MB
 * for a large file — and so may a crashed copy leave `<key>.<token>.tmp` beside a lake object; the next
 * command that writes to the lake removes what belongs to processes that are gone (`sweepAbandoned`), never
 * what a running process is using.
 */
import { mkdir, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import {
  currentOwner,
  ownerGone,
  ownerToken,
  parseOwnerToken,
  type ProcessOwner,
} from '../../adapters/local/process-owner.ts';

export const WORK_DIR_NAME = '.work';
const OWNER_FILE = 'owner.json';
/** Leftovers whose owner cannot be asked (another host, or no owner in the name) are removed after this. */
export const UNOWNED_MAX_AGE_MS = 24 * 60 * 60 * 1000;
/** Aside copies written by earlier versions (`<key>.<uuid>.tmp`, no owner): no copy takes this long. */
const LEGACY_STAGING_MAX_AGE_MS = 60 * 60 * 1000;
const LEGACY_STAGING = /\.[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\.tmp$/;

export interface WorkOwner extends ProcessOwner {
  created_at: string;
  command: string;
  /** The bronze key being ingested, if any. */
  source_key?: string;
}

export interface WorkDir {
  path: string;
  release(): Promise<void>;
}

export function workRoot(lakeDir: string): string {
  return join(lakeDir, WORK_DIR_NAME);
}

/** A fresh scratch directory owned by this process. */
export async function claimWorkDir(lakeDir: string, about: { command: string; sourceKey?: string }): Promise<WorkDir> {
  const path = join(workRoot(lakeDir), ownerToken());
  await mkdir(path, { recursive: true });
  const owner: WorkOwner = {
    ...currentOwner(),
    created_at: new Date().toISOString(),
    command: about.command,
    source_key: about.sourceKey,
  };
  await writeFile(join(path, OWNER_FILE), `${JSON.stringify(owner)}\n`);
  return { path, release: () => rm(path, { recursive: true, force: true }) };
}

interface WorkEntry {
  path: string;
  owner: WorkOwner | undefined;
  abandoned: boolean;
}

/**
 * Since the path last changed, its names included: a hard link (an aside copy handed over, a put's key-lock marker)
 * keeps its file's modification time, which may be days old, while linking it set its change time.
 */
async function ageMs(path: string): Promise<number> {
  const s = await stat(path);
  return Date.now() - Math.max(s.mtimeMs, s.ctimeMs);
}

async function workEntries(lakeDir: string): Promise<WorkEntry[]> {
  const root = workRoot(lakeDir);
  let names: string[];
  try {
    names = await readdir(root);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw e;
  }
  const out: WorkEntry[] = [];
  for (const name of names) {
    const path = join(root, name);
    const age = await ageMs(path).catch(() => undefined);
    if (age === undefined) continue; // removed meanwhile
    const owner = await readFile(join(path, OWNER_FILE), 'utf8').then(
      (t) => JSON.parse(t) as WorkOwner,
      () => undefined,
    );
    out.push({ path, owner, abandoned: ownerGone(parseOwnerToken(name), age, UNOWNED_MAX_AGE_MS) });
  }
  return out;
}

/** What running processes are doing in this lake (for `lake status`: an ingest in flight, not abandoned). */
export async function activeWork(lakeDir: string): Promise<WorkOwner[]> {
  return (await workEntries(lakeDir)).filter((e) => !e.abandoned && e.owner).map((e) => e.owner as WorkOwner);
}

export interface SweepResult {
  /** Paths removed, relative to the lake. */
  removed: string[];
  bytes: number;
}

async function sizeOf(path: string): Promise<number> {
  const s = await stat(path).catch(() => undefined);
  if (!s) return 0;
  if (!s.isDirectory()) return s.nlink > 1 ? 0 : s.size; // a second name (the linked input) frees nothing
  let total = 0;
  for (const name of await readdir(path).catch(() => [] as string[])) total += await sizeOf(join(path, name));
  return total;
}

async function abandonedStagingFiles(dir: string, out: string[]): Promise<void> {
  let entries;
  try {
    entries = await readdir(dir, { withFileTypes: true });
  } catch {
    return;
  }
  for (const entry of entries) {
    const full = join(dir, entry.name);
    if (entry.isDirectory()) {
      if (entry.name !== WORK_DIR_NAME) await abandonedStagingFiles(full, out);
      continue;
    }
    if (!entry.name.endsWith('.tmp')) continue;
    const age = await ageMs(full).catch(() => undefined);
    if (age === undefined) continue;
    const owner = parseOwnerToken(entry.name, '.tmp');
    if (
      owner
        ? ownerGone(owner, age, UNOWNED_MAX_AGE_MS)
        : LEGACY_STAGING.test(entry.name) && age > LEGACY_STAGING_MAX_AGE_MS
    )
      out.push(full);
  }
}

/**
 * Removes scratch directories and aside copies (`*.tmp`) whose owner is gone: its process is no longer
 * running on this host, or — owner on another host or unknown — untouched for a day.
 */
export async function sweepAbandoned(lakeDir: string): Promise<SweepResult> {
  const doomed = (await workEntries(lakeDir)).filter((e) => e.abandoned).map((e) => e.path);
  await abandonedStagingFiles(lakeDir, doomed);
  let bytes = 0;
  for (const path of doomed) {
    bytes += await sizeOf(path);
    await rm(path, { recursive: true, force: true });
  }
  return { removed: doomed.map((p) => p.slice(lakeDir.length + 1)), bytes };
}
