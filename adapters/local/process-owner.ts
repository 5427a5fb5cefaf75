/**
 * Who owns a lock, a scratch directory or a half-written file of the local lake: a process on a host. Used to
 * tell what a crashed process left behind (its owner is gone) from what a running one is still using.
 */
import { createHash, randomBytes } from 'node:crypto';
import { hostname } from 'node:os';

export interface ProcessOwner {
  pid: number;
  host: string;
  /** When the owning process started (ISO). With the pid it tells a reused pid from the original owner. */
  process_started_at: string;
}

const PROCESS_STARTED_AT = new Date(Date.now() - Math.round(process.uptime() * 1000)).toISOString();

export function currentOwner(): ProcessOwner {
  return { pid: process.pid, host: hostname(), process_started_at: PROCESS_STARTED_AT };
}

/** A short, file-name-safe tag of a host name (8 hex digits). */
export function hostTag(host = hostname()): string {
  return createHash('sha256').update(host).digest('hex').slice(0, 8);
}

/**
 * `<pid>-<host tag>-<random>`: names a file or directory after its owner, so a sweep can tell whose it is
 * from the name alone (nothing to read, nothing that a crash could leave half-written).
 */
export function ownerToken(): string {
  return `${process.pid}-${hostTag()}-${randomBytes(4).toString('hex')}`;
}

export interface ParsedOwnerToken {
  pid: number;
  hostTag: string;
}

const TOKEN = /(\d+)-([0-9a-f]{8})-[0-9a-f]{8}/;

/** The owner named by a token inside `name` (anchored at the end when `suffix` is given), or undefined. */
export function parseOwnerToken(name: string, suffix = ''): ParsedOwnerToken | undefined {
  const escaped = suffix.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  const m = new RegExp(`(?:^|[.])${TOKEN.source}${escaped}$`).exec(name);
  return m ? { pid: Number(m[1]), hostTag: m[2] as string } : undefined;
}

/** Whether a process with this pid exists on this host (EPERM: it exists, owned by another user). */
export function processAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Whether what an owner left is abandoned: its process is gone (decidable only on the same host), or — for an
 * owner on another host, or one that cannot be told — it has not been touched for `maxAgeMs`.
 */
export function ownerGone(owner: ParsedOwnerToken | undefined, ageMs: number, maxAgeMs: number): boolean {
  if (owner && owner.hostTag === hostTag()) return !processAlive(owner.pid);
  return ageMs > maxAgeMs;
}
