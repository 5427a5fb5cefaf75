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

export function currentOwner(): ProcessOwner {
  return { pid: process.pid, host: hostname(), process_started_at: PROCESS_STARTED_AT, ...(MACHINE ? { machine: MACHINE } : {}) };
}

/** Whether an owner's pid can be judged here: the same host and, where known, the same boot and PID namespace. */
export function sameMachine(owner: Pick<ProcessOwner, 'host' | 'machine'>): boolean {
  if (owner.host !== hostname()) return false;
  return owner.machine === undefined || MACHINE === '' || owner.machine === MACHINE;
}

/** A short, file-name-safe tag of a host (8 hex digits): its name and, where known, its boot and PID namespace. */
export function hostTag(host = hostname()): string {
  return createHash('sha256').update(host === hostname() ? `${host}${MACHINE ? `|${MACHINE}` : ''}` : host).digest('hex').slice(0, 8);
}

/** Clock ticks per second of /proc/<pid>/stat (USER_HZ): 100 on every Linux Node.js runs on. */
const USER_HZ = 100;

/** When the process with this pid started (ms since epoch), from /proc; undefined where that cannot be read. */
export function processStartedAt(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' '); // after "pid (comm) "
    const startTicks = Number(fields[19]); // field 22 of stat(5): starttime
    const bootTime = Number(/^btime (\d+)$/m.exec(readFileSync('/proc/stat', 'utf8'))?.[1]);
    if (!Number.isFinite(startTicks) || !Number.isFinite(bootTime)) return undefined;
    return bootTime * 1000 + (startTicks / USER_HZ) * 1000;
  } catch {
    return undefined;
  }
}

/**
 * Whether the owner still runs: its pid exists and — where both start times are known — started when the
 * owner did (a reused pid is another process). Only meaningful when `sameMachine(owner)`.
 */
export function ownerAlive(owner: Pick<ProcessOwner, 'pid' | 'process_started_at'>): boolean {
  if (!processAlive(owner.pid)) return false;
  const recorded = Date.parse(owner.process_started_at);
  const actual = processStartedAt(owner.pid);
  if (!Number.isFinite(recorded) || actual === undefined) return true;
  return Math.abs(actual - recorded) < 5_000;
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
