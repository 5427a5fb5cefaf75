/**
 * `lake watch DIR`: ingests files as they appear — the local analogue of S3 events. A file is taken once it
 * has been still for the quiet period (see local/stability.ts), so half-written files wait. A file bronze
 * already holds different bytes for is refused loudly — stderr, counted as failed, recorded for `lake
 * status` — never silently. A file copied into bronze whose ingest never finished (a watcher killed midway)
 * is ingested: "in the lake" means "has a manifest". Polling rather than fs.watch: it behaves the same on
 * every OS and on network and container mounts.
 */
import { existsSync, statSync } from 'node:fs';
import { stat } from 'node:fs/promises';
import { resolve, sep } from 'node:path';
import type { DatasetContract } from '../../engine/contract/index.ts';
import {
  IntentContendedError,
  MaintenanceLeaseHeldError,
  ObjectChangedError,
  PublishedMeanwhileError,
  RecordTakenOverError,
  SourceSettlingError,
} from '../../engine/index.ts';
import { CommandFailed, UserError } from '../errors.ts';
import { LockBusyError } from '../../adapters/local/file-lock.ts';
import { onInterrupt } from '../interrupt.ts';
import type { Io } from '../io.ts';
import { clearConflict, openConflicts, recordConflict } from '../local/conflicts.ts';
import { cleanUpAbandoned } from '../local/ingest-batch.ts';
import { GoldFollower } from '../local/gold-follower.ts';
import { BronzeConflictError, planFiles } from '../local/ingest-plan.ts';
import { scanDirectory, type Found, type InputFiles } from '../local/input-files.ts';
import { ingestPlannedFile, InputChangedError } from '../local/ingest-run.ts';
import { manifestLine, reportSkipped } from '../local/ingest-report.ts';
import { LocalLake } from '../local/lake.ts';
import { displayPath, openOrCreateLake } from '../local/lake-dir.ts';
import { StabilityTracker, type FileSnapshot } from '../local/stability.ts';
import type { JsonOptions, LakeOptions, ThreadsOptions } from '../options.ts';
import { formatDuration, plural } from '../ui/format.ts';

export interface WatchOptions extends LakeOptions, JsonOptions, ThreadsOptions {
  dataset?: string;
  interval: number;
  /** A file is taken once it has not changed for this long (ms). */
  quietPeriod: number;
  once?: boolean;
}

interface Counts {
  ingested: number;
  skipped: number;
  failed: number;
  /** `--once`: files still changing, left for the next run. */
  waiting: number;
}

async function scan(root: string, lakeDir: string): Promise<InputFiles> {
  const found = existsSync(root)
    ? await scanDirectory(root).catch(() => ({ files: [], skipped: [] }) as InputFiles)
    : { files: [], skipped: [] };
  const outsideLake = (path: string) => !path.startsWith(lakeDir + sep); // never ingest the lake into itself
  return {
    files: found.files.filter((f) => outsideLake(f.path)),
    skipped: found.skipped.filter((k) => outsideLake(k.path)),
  };
}

async function snapshotOf(path: string): Promise<FileSnapshot | undefined> {
  const s = await stat(path).catch(() => undefined); // gone between listing and stat
  return s && { size: s.size, mtimeMs: s.mtimeMs, ino: s.ino };
}

class Watcher {
  private readonly stability: StabilityTracker;
  private readonly reportedSkips = new Set<string>();
  private readonly conflicted = new Set<string>();
  readonly counts: Counts = { ingested: 0, skipped: 0, failed: 0, waiting: 0 };
  /** Files whose ingest failed for a reason of the machine, and when each is tried again. */
  private readonly retries = new Map<string, { attempts: number; at: number }>();

  constructor(
    private readonly lake: LocalLake,
    private readonly root: string,
    private readonly forced: DatasetContract | undefined,
    private readonly io: Io,
    private readonly options: WatchOptions,
  ) {
    this.stability = new StabilityTracker(options.quietPeriod);
  }

  private get json(): boolean {
    return this.options.json === true;
  }

  /** Files that have been still for the quiet period; says once about each file it waits for. */
  async ready(): Promise<Found[]> {
    const { files, skipped } = await scan(this.root, this.lake.dir);
    const fresh = skipped.filter((k) => !this.reportedSkips.has(k.path));
    for (const k of fresh) this.reportedSkips.add(k.path);
    reportSkipped(fresh, this.io);

    const present = new Set(files.map((f) => f.path));
    this.stability.retain(present);
    for (const path of [...this.conflicted].filter((p) => !present.has(p))) {
      this.conflicted.delete(path);
      await clearConflict(this.lake.dir, path); // renamed or removed: the conflict is over
    }
    for (const path of [...this.retries.keys()].filter((p) => !present.has(p))) this.retries.delete(path);
    const out: Found[] = [];
    for (const f of files) {
      const snapshot = await snapshotOf(f.path);
      if (!snapshot) continue;
      const readiness = this.stability.observe(f.path, snapshot, Date.now());
      const retry = this.retries.get(f.path);
      if (readiness === 'ready' || (readiness === 'handled' && retry !== undefined && retry.at <= Date.now()))
        out.push(f);
      else if (readiness !== 'handled') {
        if (this.options.once) {
          this.counts.waiting++;
          this.io.note(
            this.io.errStyle.yellow(
              `… ${f.relative} changed within the last ${formatDuration(this.options.quietPeriod)}: left for the next run\n`,
            ),
          );
        } else if (readiness.firstSight) {
          this.io.note(
            this.io.errStyle.dim(
              `… ${f.relative} is changing: waiting until it has been still for ${formatDuration(this.options.quietPeriod)}\n`,
            ),
          );
        }
      }
    }
    return out;
  }

  /** Ingests ready files; returns how many were ingested. */
  async take(files: Found[]): Promise<number> {
    let ingested = 0;
    for (const f of files) {
      this.stability.markHandled(f.path);
      try {
        const [planned] = await planFiles(this.lake, [f], this.forced);
        if (!planned) continue;
        if (planned.ingested) {
          this.counts.skipped++;
          if (!this.json) this.io.print(this.io.style.dim(`= ${planned.key} is already in the lake\n`));
          continue;
        }
        const now = await snapshotOf(f.path);
        const seen = this.stability.snapshot(f.path);
        if (!now || !seen || now.size !== seen.size || now.mtimeMs !== seen.mtimeMs || now.ino !== seen.ino) {
          if (now) this.stability.restart(f.path, now, Date.now()); // changed while being hashed: wait again
          continue;
        }
        if (planned.inBronze && !this.json) {
          this.io.print(
            this.io.style.dim(
              `↻ ${planned.key} is in bronze but was never ingested (an interrupted run): ingesting it now\n`,
            ),
          );
        }
        const manifest = await ingestPlannedFile(this.lake, planned, {
          onNote: (text) => this.io.note(this.io.errStyle.yellow(text)),
        });
        this.retries.delete(f.path);
        this.counts.ingested++;
        ingested++;
        this.io.print(this.json ? `${JSON.stringify(manifest)}\n` : manifestLine(manifest, this.io.style));
      } catch (e) {
        await this.failed(f, e);
      }
    }
    return ingested;
  }

  private async failed(f: Found, e: unknown): Promise<void> {
    if (e instanceof InputChangedError) {
      const now = await snapshotOf(f.path);
      if (now) this.stability.restart(f.path, now, Date.now());
      this.io.note(
        this.io.errStyle.dim(
          `… ${f.relative} changed while being ingested: waiting until it has been still for ${formatDuration(this.options.quietPeriod)}\n`,
        ),
      );
      return;
    }
    this.counts.failed++;
    if (e instanceof BronzeConflictError) {
      this.conflicted.add(f.path);
      const s = await stat(f.path).catch(() => undefined);
      if (s) {
        await recordConflict(this.lake.dir, {
          path: f.path,
          key: e.key,
          size: s.size,
          mtime_ms: s.mtimeMs,
          bronze_size: e.bronze.size,
          bronze_landed: e.bronze.landed.toISOString(),
          first_seen: new Date().toISOString(),
        });
      }
      const s2 = this.io.errStyle;
      this.io.note(
        `${s2.red(s2.bold(`✗ NOT INGESTED: ${f.relative}`))}\n  ${s2.red(e.message)}\n  ${s2.dim(`hint: ${e.hint}`)}\n`,
      );
      return;
    }
    if (!isMachineFailure(e)) {
      const hint =
        e instanceof UserError && e.hint
          ? ` (${e.hint})`
          : ' (tried again when the file changes, or when the watch restarts)';
      this.io.note(this.io.errStyle.red(`✗ ${f.relative}: ${(e as Error).message}${hint}\n`));
      return;
    }
    // Not the file's fault (a full disk, a busy lock, too many open files): tried again, later each time.
    const attempts = (this.retries.get(f.path)?.attempts ?? 0) + 1;
    const pause = Math.min(this.options.interval * 2 ** attempts, MAX_RETRY_PAUSE_MS);
    this.retries.set(f.path, { attempts, at: Date.now() + pause });
    this.io.note(
      this.io.errStyle.red(`✗ ${f.relative}: ${(e as Error).message} (tried again in ${formatDuration(pause)})\n`),
    );
  }
}

/**
 * A failure of the machine rather than of the file (errno: disk full, too many open files; a busy lock; an erase
 * or compact holding the dataset's maintenance lease; another attempt of the same source publishing or removing its
 * earlier files at once; a shared file replaced while it was rewritten): worth a retry.
 */
export const isMachineFailure = (e: unknown): boolean =>
  !(e instanceof UserError) &&
  (e instanceof LockBusyError ||
    e instanceof MaintenanceLeaseHeldError ||
    e instanceof SourceSettlingError ||
    e instanceof RecordTakenOverError ||
    e instanceof PublishedMeanwhileError ||
    e instanceof IntentContendedError ||
    e instanceof ObjectChangedError ||
    typeof (e as NodeJS.ErrnoException).code === 'string');

/** The longest pause before a failed file is tried again. */
const MAX_RETRY_PAUSE_MS = 5 * 60_000;

export async function watchAction(dir: string, options: WatchOptions, io: Io): Promise<void> {
  const root = resolve(dir);
  if (!existsSync(root))
    throw new UserError(`no such directory: ${dir}`, `create it first (mkdir -p ${dir}), then drop files into it`);
  if (!statSync(root).isDirectory())
    throw new UserError(`${dir} is not a directory`, 'watch a directory; to ingest one file use `lake ingest FILE`');
  const lake = LocalLake.open(await openOrCreateLake(options.lake), { threads: options.threads });
  const forced = options.dataset ? lake.contracts.get(lake.dataset(options.dataset)) : undefined;
  await cleanUpAbandoned(lake, io);
  await openConflicts(lake.dir, { prune: true });
  const watcher = new Watcher(lake, root, forced, io, options);
  const gold = new GoldFollower(lake, io, options);
  const started = Date.now();

  let stopping = false;
  let wake: (() => void) | undefined;
  const release = onInterrupt(() => {
    stopping = true;
    wake?.();
  });
  if (!options.json && !options.once) {
    io.print(
      `Watching ${displayPath(root)} → lake ${displayPath(lake.dir)} (every ${formatDuration(options.interval)}; a file is taken once still for ${formatDuration(options.quietPeriod)}; Ctrl-C to stop)\n`,
    );
  }
  try {
    while (!stopping) {
      if ((await watcher.take(await watcher.ready())) > 0) gold.markDue();
      await gold.refreshIfDue();
      if (options.once) break;
      await new Promise<void>((r) => {
        wake = r;
        setTimeout(r, options.interval);
      });
    }
  } finally {
    release();
  }
  const c = watcher.counts;
  if (!options.json) {
    const skipped = c.skipped ? `, ${c.skipped} already in the lake` : '';
    const waiting = c.waiting ? `, ${c.waiting} still changing` : '';
    const failed = c.failed ? `, ${io.style.red(`${c.failed} failed`)}` : '';
    io.print(
      `${options.once ? 'Done' : `\nStopped after ${formatDuration(Date.now() - started)}`}: ${plural(c.ingested, 'file')} ingested${skipped}${waiting}${failed}.\n`,
    );
  }
  if (c.failed) {
    throw new CommandFailed(
      `${plural(c.failed, 'file')} could not be ingested`,
      'see the messages above; `lake status` lists files refused because bronze holds a different version',
    );
  }
  if (gold.failedLast)
    throw new CommandFailed(
      'gold could not be refreshed (the ingests themselves succeeded)',
      'run `lake replay`, or ingest again: the refresh resumes',
    );
}
