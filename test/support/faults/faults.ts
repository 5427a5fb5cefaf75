/** Typed front of the fault preload (kill-at.mjs): which fault, where, as environment variables for a child. */
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

export const KILL_AT_PRELOAD = join(import.meta.dirname, 'kill-at.mjs');

/** File-system operations the preload can intercept (see kill-at.mjs for the path each is matched on). */
export type FsOp = 'rename' | 'link' | 'writeFile' | 'copyFile' | 'rm' | 'unlink' | 'open' | 'mkdtemp' | 'write';

export interface FaultPoint {
  /** Matched against the operation's target path, `/`-separated. */
  at: RegExp;
  /** The Nth matching operation (1-based). @default 1 */
  nth?: number;
  ops?: readonly FsOp[];
  /** Before the operation, or after it whatever its outcome (a failed open of a held lock too). @default 'after' */
  when?: 'before' | 'after';
}

export interface BarrierPoint extends FaultPoint {
  /** Each party writes a file here; all continue once `parties` files exist. */
  dir: string;
  parties: number;
  /** @default 120_000: generous, so that a loaded machine is never mistaken for a barrier that cannot fill */
  timeoutMs?: number;
}

export interface Faults {
  /** SIGKILL at the point. */
  kill?: FaultPoint;
  /** The point and every later match fail with ENOSPC (always before the operation), until `until` exists when given. */
  enospc?: Omit<FaultPoint, 'when'> & { until?: string };
  /** Rendezvous of several processes at the point. */
  barrier?: BarrierPoint;
  /** A file system without hard links: every link() fails with EPERM. */
  noHardLinks?: boolean;
}

/** A child process exits with this when its barrier never filled. */
export const BARRIER_TIMEOUT_EXIT = 86;

function pointEnv(action: 'KILL' | 'ENOSPC' | 'BARRIER', point: FaultPoint): Record<string, string> {
  const env: Record<string, string> = {
    [`FAULT_${action}_AT`]: point.at.source,
    [`FAULT_${action}_NTH`]: String(point.nth ?? 1),
  };
  if (point.ops) env[`FAULT_${action}_OPS`] = point.ops.join(',');
  if (point.when) env[`FAULT_${action}_WHEN`] = point.when;
  return env;
}

/** Environment that loads the preload into a Node child (also through the CLI's own loader) with these faults. */
export function faultEnv(faults: Faults): Record<string, string> {
  const env: Record<string, string> = { NODE_OPTIONS: `--import=${pathToFileURL(KILL_AT_PRELOAD).href}` };
  if (faults.kill) Object.assign(env, pointEnv('KILL', faults.kill));
  if (faults.noHardLinks) env.FAULT_NO_HARD_LINKS = '1';
  if (faults.enospc)
    Object.assign(
      env,
      pointEnv('ENOSPC', faults.enospc),
      faults.enospc.until ? { FAULT_ENOSPC_UNTIL: faults.enospc.until } : {},
    );
  if (faults.barrier) {
    const b = faults.barrier;
    Object.assign(env, pointEnv('BARRIER', b), { FAULT_BARRIER_DIR: b.dir, FAULT_BARRIER_PARTIES: String(b.parties) });
    env.FAULT_BARRIER_TIMEOUT_MS = String(b.timeoutMs ?? 120_000);
  }
  return env;
}

/** Regular expression for a literal piece of path. */
export function literal(text: string): RegExp {
  return new RegExp(text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'));
}
