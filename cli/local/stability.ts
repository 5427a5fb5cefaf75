/**
 * When is a file in a landing directory complete? Nothing on a file system says so; the rule here is that its
 * size, modification time and inode have not changed for a quiet period — observed by the watcher across
 * polls, or evident from a modification time older than the quiet period. A writer that pauses for longer
 * than the quiet period defeats any such rule, which is why producers should write `NAME.part` (or `.tmp`,
 * never looked at) and rename it to `NAME` when complete (docs/cli.md, "lake watch").
 */
export interface FileSnapshot {
  size: number;
  mtimeMs: number;
  ino: number;
}

interface Tracked {
  snapshot: FileSnapshot;
  /** When the watcher first saw this snapshot (its clock, not the file system's). */
  since: number;
  handled: boolean;
}

export type Readiness =
  /** Quiet for the whole period: take it. */
  | 'ready'
  /** Changed within the quiet period; `firstSight` once per new snapshot (to say so once). */
  | { settling: true; firstSight: boolean }
  /** Taken already in this exact state. */
  | 'handled';

const same = (a: FileSnapshot, b: FileSnapshot): boolean =>
  a.size === b.size && a.mtimeMs === b.mtimeMs && a.ino === b.ino;

export class StabilityTracker {
  private readonly files = new Map<string, Tracked>();

  constructor(readonly quietMs: number) {}

  observe(path: string, snapshot: FileSnapshot, now: number): Readiness {
    let tracked = this.files.get(path);
    const changed = !tracked || !same(tracked.snapshot, snapshot);
    if (!tracked || changed) {
      tracked = { snapshot, since: now, handled: false };
      this.files.set(path, tracked);
    }
    if (tracked.handled) return 'handled';
    const quietFor = Math.max(now - tracked.since, now - snapshot.mtimeMs);
    return quietFor >= this.quietMs ? 'ready' : { settling: true, firstSight: changed };
  }

  /** Taken in its current state: not looked at again until it changes. */
  markHandled(path: string): void {
    const tracked = this.files.get(path);
    if (tracked) tracked.handled = true;
  }

  /** Seen changing while it was being taken: start its quiet period again. */
  restart(path: string, snapshot: FileSnapshot, now: number): void {
    this.files.set(path, { snapshot, since: now, handled: false });
  }

  snapshot(path: string): FileSnapshot | undefined {
    return this.files.get(path)?.snapshot;
  }

  /** Forgets files no longer present. */
  retain(present: ReadonlySet<string>): void {
    for (const path of this.files.keys()) if (!present.has(path)) this.files.delete(path);
  }
}
