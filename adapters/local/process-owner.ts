/**
 * Who owns a lock, a scratch directory or a half-written file of the local lake: a process on a host. Used to
 * tell what a crashed process left behind (its owner is gone) from what a running one is still using.
 */
import { createHash, randomBytes } from 'node:crypto';
import { readFileSync, readlinkSync } from 'node:fs';
import { hostname } from 'node:os';

export interface ProcessOwner {
  pid: number;
  host: string;
  /** When the owning process started (ISO). With the pid it tells a reused pid from the original owner. */
  process_started_at: string;
  /**
   * The kernel boot and PID namespace the pid belongs to (Linux), so containers sharing a host name never
   * judge each other's pids. Absent in records of older versions and off Linux.
   */
  machine?: string;
  /** The process's start time in the kernel's own clock ticks since boot (Linux): tells a reused pid exactly. */
  start_ticks?: number;
}

const PROCESS_STARTED_AT = new Date(Date.now() - Math.round(process.uptime() * 1000)).toISOString();

function readOr(read: () => string, fallback: string): string {
  try {
    return read().trim();
  } catch {
    return fallback;
  }
}

/** Boot id + PID namespace of this process ('' where the system cannot say). */
const MACHINE = ((): string => {
  const boot = readOr(() => readFileSync('/proc/sys/kernel/random/boot_id', 'utf8'), '');
  const ns = readOr(() => readlinkSync('/proc/self/ns/pid'), '');
  return boot || ns ? `${boot}/${ns}` : '';
})();

/** Field 22 of /proc/<pid>/stat (starttime, clock ticks since boot), or undefined where it cannot be read. */
export function processStartTicks(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const ticks = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19]);
    return Number.isFinite(ticks) ? ticks : undefined;
  } catch {
    return undefined;
  }
}

const START_TICKS = processStartTicks(process.pid);

export function currentOwner(): ProcessOwner {
  return {
    pid: process.pid,
    host: hostname(),
    process_started_at: PROCESS_STARTED_AT,
    ...(MACHINE ? { machine: MACHINE } : {}),
    ...(START_TICKS !== undefined ? { start_ticks: START_TICKS } : {}),
  };
}

/** Whether an owner's pid can be judged here: the same host and, where either side knows it, the same boot and PID namespace. */
export function sameMachine(owner: Pick<ProcessOwner, 'host' | 'machine'>): boolean {
  if (owner.host !== hostname()) return false;
  if (owner.machine === undefined) return true; // a record of an older version: same host is all it says
  return owner.machine === MACHINE;
}

/** The host tag of records written before tags carried the boot and PID namespace. */
const legacyHostTag = (): string => createHash('sha256').update(hostname()).digest('hex').slice(0, 8);

/** A short, file-name-safe tag of a host (8 hex digits): its name and, where known, its boot and PID namespace. */
export function hostTag(host = hostname()): string {
  return createHash('sha256')
    .update(host === hostname() ? `${host}${MACHINE ? `|${MACHINE}` : ''}` : host)
    .digest('hex')
    .slice(0, 8);
}

/**
 * Whether the owner's process still runs, judged on this machine: `gone` when its pid is free or now belongs to
 * a process that started at another moment (a reused pid); `alive` when the pid's start time is the owner's;
 * `unknown` when either start time cannot be read (not Linux, /proc hidden, a record of an older version) —
 * then only the owner's heartbeat can tell.
 */
export function ownerState(owner: Pick<ProcessOwner, 'pid' | 'start_ticks'>): 'alive' | 'gone' | 'unknown' {
  if (!processAlive(owner.pid)) return 'gone';
  const actual = processStartTicks(owner.pid);
  if (owner.start_ticks === undefined || actual === undefined) return 'unknown';
  return actual === owner.start_ticks ? 'alive' : 'gone';
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
  // The tag of the previous version (host name only) still means this host: its pid can be judged here.
  if (owner && (owner.hostTag === hostTag() || owner.hostTag === legacyHostTag())) return !processAlive(owner.pid);
  return ageMs > maxAgeMs;
}
