/**
 * An exclusive lock across processes: a lock file naming its owner (pid, host, start time), created
 * atomically with its content (written aside, then link(2), which fails when the lock exists). The holder
 * touches the file while it works (a heartbeat), so a lock is abandoned when its owner's process is gone (on
 * this host) or its heartbeat is older than `staleMs` (any host). An abandoned lock is taken over; a live one
 * is waited for, at most `waitMs`.
 */
import { link, open, rm, unlink, utimes, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import { isNoHardLinks } from '../../engine/index.ts';
import { currentOwner, ownerState, ownerToken, sameMachine, type ProcessOwner } from './process-owner.ts';

export interface LockHolder extends ProcessOwner {
  acquired_at: string;
  /** Unique per acquisition: tells this holder from a later one with the same pid. */
  nonce: string;
}

export interface FileLockOptions {
  /** How long to wait for a live holder. 0 fails at once. @default 0 */
  waitMs?: number;
  /** A lock whose heartbeat is older than this is abandoned, whoever holds it. @default 120000 */
  staleMs?: number;
  /** How often the holder touches the lock. @default staleMs / 4 */
  heartbeatMs?: number;
  /** Called once, when the lock is found held by a live owner and the wait begins. */
  onWait?: (holder: LockHolder | undefined) => void;
  /** Called when an abandoned lock is taken over. */
  onTakeover?: (holder: LockHolder | undefined, why: string) => void;
}

export const DEFAULT_LOCK_STALE_MS = 120_000;
/** A breaker (the lock that serializes takeovers) is held for milliseconds; older than this it is abandoned. */
const BREAKER_STALE_MS = 10_000;

/** The lock is held by a live owner and the wait ran out. */
export class LockBusyError extends Error {
  constructor(
    readonly path: string,
    readonly holder: LockHolder | undefined,
  ) {
    super(`${path} is held by ${describeHolder(holder)}`);
    this.name = 'LockBusyError';
  }
}

export function describeHolder(holder: LockHolder | undefined): string {
  if (!holder) return 'an unknown process';
  const where = holder.host === hostname() ? '' : ` on ${holder.host}`;
  return `pid ${holder.pid}${where} since ${holder.acquired_at}`;
}

/** The holder written in a lock file; also reads the older `<pid> <iso time>` format (same host). */
export function parseHolder(text: string): LockHolder | undefined {
  try {
    const parsed = JSON.parse(text) as Partial<LockHolder>;
    if (typeof parsed.pid === 'number' && typeof parsed.host === 'string') {
      return {
        pid: parsed.pid,
        host: parsed.host,
        process_started_at: String(parsed.process_started_at ?? ''),
        ...(typeof parsed.machine === 'string' ? { machine: parsed.machine } : {}),
        ...(typeof parsed.start_ticks === 'number' ? { start_ticks: parsed.start_ticks } : {}),
        acquired_at: String(parsed.acquired_at ?? ''),
        nonce: String(parsed.nonce ?? ''),
      };
    }
  } catch {
    const legacy = /^(\d+) (\S+)\s*$/.exec(text);
    if (legacy)
      return {
        pid: Number(legacy[1]),
        host: hostname(),
        process_started_at: '',
        acquired_at: legacy[2] as string,
        nonce: '',
      };
  }
  return undefined;
}

interface Observed {
  text: string;
  holder: LockHolder | undefined;
  ageMs: number;
  /** Which file it was (a lock removed and taken again is another inode) and when it was last touched. */
  ino: number;
  mtimeMs: number;
}

/** The lock's content and age read from one open file, so they belong to the same lock. */
async function observe(path: string): Promise<Observed | undefined> {
  let handle;
  try {
    handle = await open(path, 'r');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw e;
  }
  try {
    const [s, text] = [await handle.stat(), await handle.readFile('utf8')];
    return { text, holder: parseHolder(text), ageMs: Date.now() - s.mtimeMs, ino: s.ino, mtimeMs: s.mtimeMs };
  } finally {
    await handle.close();
  }
}

/**
 * Why the observed lock is abandoned, or undefined while its owner may still be working. An owner this host
 * can judge (same boot and PID namespace, start time readable) is abandoned exactly when its process is gone —
 * a live one keeps its lock however long it is suspended or asleep; any other owner is abandoned when its
 * heartbeat is older than `staleMs`.
 */
export function abandonedBecause(observed: Pick<Observed, 'holder' | 'ageMs'>, staleMs: number): string | undefined {
  const { holder, ageMs } = observed;
  if (holder && sameMachine(holder)) {
    const state = ownerState(holder);
    if (state === 'gone') return `its owner (pid ${holder.pid}) is no longer running`;
    if (state === 'alive') return undefined;
  }
  if (ageMs > staleMs) return `it has not been touched for ${Math.round(ageMs / 1000)} s`;
  return undefined;
}

/**
 * Creates `path` holding `content`, atomically; false when it exists. Without hard links it falls back to an
 * exclusive create (O_EXCL) and writes the content after: a reader may then see the lock empty for a moment,
 * which reads as an unknown holder judged by its (fresh) age — waited for, never taken over.
 */
async function createExclusive(path: string, content: string): Promise<boolean> {
  const aside = `${path}.${ownerToken()}.tmp`;
  await writeFile(aside, content);
  try {
    await link(aside, path);
    return true;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'EEXIST') return false;
    if (!isNoHardLinks(e)) throw e;
    return createExclusiveWithoutLinks(path, content);
  } finally {
    await unlink(aside).catch(() => {});
  }
}

async function createExclusiveWithoutLinks(path: string, content: string): Promise<boolean> {
  let handle;
  try {
    handle = await open(path, 'wx');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw e;
  }
  try {
    await handle.writeFile(content);
  } finally {
    await handle.close();
  }
  return true;
}

/**
 * Removes the lock if it still is exactly what was judged abandoned. Takeovers are serialized by a breaker
 * lock, so two waiters that both judged the same lock abandoned never remove a fresh lock taken in between.
 */
async function breakAbandoned(path: string, judged: Observed, staleMs: number): Promise<void> {
  const breaker = `${path}.break`;
  if (!(await createExclusive(breaker, JSON.stringify(currentOwner())))) {
    const b = await observe(breaker);
    if (b && abandonedBecause(b, BREAKER_STALE_MS)) await rm(breaker, { force: true });
    else await sleep(5 + Math.random() * 10);
    return; // another process is taking over; look again
  }
  try {
    // Still the very lock judged (same file, untouched since), and still abandoned when judged again now.
    const now = await observe(path);
    const same = now && now.ino === judged.ino && now.mtimeMs === judged.mtimeMs && now.text === judged.text;
    if (same && abandonedBecause(now, staleMs) !== undefined) await rm(path, { force: true });
  } finally {
    await rm(breaker, { force: true });
  }
}

/** What the work under a lock can ask of it. */
export interface HeldLock {
  /** Throws LockLostError unless this acquisition still holds the lock: call it before writes that must not race. */
  assertHeld(): Promise<void>;
}

/** The lock was taken over while its work ran (it looked abandoned to another process). */
export class LockLostError extends Error {
  constructor(readonly path: string) {
    super(`${path} was taken over by another process while this one held it; its work was stopped before writing`);
    this.name = 'LockLostError';
  }
}

/** Runs `work` while holding the lock at `path`. Throws LockBusyError when a live holder outlasts `waitMs`. */
export async function withFileLock<T>(
  path: string,
  work: (lock: HeldLock) => Promise<T>,
  options: FileLockOptions = {},
): Promise<T> {
  const staleMs = options.staleMs ?? DEFAULT_LOCK_STALE_MS;
  const deadline = Date.now() + (options.waitMs ?? 0);
  const mine: LockHolder = { ...currentOwner(), acquired_at: new Date().toISOString(), nonce: ownerToken() };
  const content = `${JSON.stringify(mine)}\n`;
  let waiting = false;
  let pause = 5;
  while (!(await createExclusive(path, content))) {
    const observed = await observe(path);
    if (!observed) continue; // released in between
    const why = abandonedBecause(observed, staleMs);
    if (why) {
      options.onTakeover?.(observed.holder, why);
      await breakAbandoned(path, observed, staleMs);
      continue;
    }
    if (Date.now() >= deadline) throw new LockBusyError(path, observed.holder);
    if (!waiting) options.onWait?.(observed.holder);
    waiting = true;
    await sleep(Math.min(pause * (0.5 + Math.random()), Math.max(1, deadline - Date.now())));
    pause = Math.min(pause * 2, 100);
  }

  const heartbeat = setInterval(
    () => {
      const now = new Date();
      utimes(path, now, now).catch(() => {});
    },
    options.heartbeatMs ?? Math.max(1000, Math.floor(staleMs / 4)),
  );
  heartbeat.unref();
  const held: HeldLock = {
    async assertHeld() {
      if ((await observe(path))?.holder?.nonce !== mine.nonce) throw new LockLostError(path);
    },
  };
  try {
    return await work(held);
  } finally {
    clearInterval(heartbeat);
    const still = await observe(path).catch(() => undefined);
    if (still?.holder?.nonce === mine.nonce) await rm(path, { force: true });
  }
}
