/**
 * `lake watch DIR`: ingests files as they appear — the local analogue of S3 events. A file is taken once its
 * size and modification time have stayed the same for one polling interval, so half-written files wait.
 * Polling rather than fs.watch: it behaves the same on every OS and on network and container mounts.
 */
import { existsSync, statSync } from 'node:fs';
import { stat } from 'node:fs/promises';
import { resolve, sep } from 'node:path';
import type { DatasetContract } from '../../engine/contract/types.ts';
import { UserError } from '../errors.ts';
import { onInterrupt } from '../interrupt.ts';
import type { Io } from '../io.ts';
import { findInputFiles, planFiles, type Found } from '../local/ingest-plan.ts';
import { refreshGoldWithProgress } from '../local/ingest-batch.ts';
import { ingestPlannedFile } from '../local/ingest-run.ts';
import { manifestLine } from '../local/ingest-report.ts';
import { LocalLake } from '../local/lake.ts';
import { displayPath, openOrCreateLake } from '../local/lake-dir.ts';
import type { JsonOptions, LakeOptions } from '../options.ts';
import { formatDuration, plural } from '../ui/format.ts';

export interface WatchOptions extends LakeOptions, JsonOptions {
  dataset?: string;
  interval: number;
  once?: boolean;
}

interface Seen {
  size: number;
  mtimeMs: number;
  /** Ingested (or judged) in this state; it is looked at again only when it changes. */
  handled: boolean;
}

interface Counts {
  ingested: number;
  skipped: number;
  failed: number;
}

async function scan(root: string, lakeDir: string): Promise<Found[]> {
  const files = existsSync(root) ? await findInputFiles([root]).catch(() => [] as Found[]) : [];
  return files.filter((f) => !f.path.startsWith(lakeDir + sep)); // never ingest the lake into itself
}

class Watcher {
  private readonly seen = new Map<string, Seen>();
  readonly counts: Counts = { ingested: 0, skipped: 0, failed: 0 };

  constructor(
    private readonly lake: LocalLake,
    private readonly root: string,
    private readonly forced: DatasetContract | undefined,
    private readonly io: Io,
    private readonly json: boolean,
  ) {}

  /**
   * Files whose size and mtime held still since the previous pass. A new file untouched for longer than
   * `quietMs` (moved in, or there before the watch began) is ready at once.
   */
  async ready(quietMs: number): Promise<Found[]> {
    const now = Date.now();
    const out: Found[] = [];
    for (const f of await scan(this.root, this.lake.dir)) {
      let s;
      try {
        s = await stat(f.path);
      } catch {
        continue; // gone between listing and stat
      }
      const prev = this.seen.get(f.path);
      if (!prev || prev.size !== s.size || prev.mtimeMs !== s.mtimeMs) {
        this.seen.set(f.path, { size: s.size, mtimeMs: s.mtimeMs, handled: false });
        if (!prev && now - s.mtimeMs > quietMs) out.push(f);
      } else if (!prev.handled) out.push(f);
    }
    return out;
  }

  /** Ingests ready files; returns how many were ingested. */
  async take(files: Found[]): Promise<number> {
    let ingested = 0;
    for (const f of files) {
      const entry = this.seen.get(f.path);
      if (entry) entry.handled = true;
      try {
        const [planned] = await planFiles(this.lake, [f], this.forced);
        if (!planned) continue;
        if (planned.inBronze) {
          this.counts.skipped++;
          if (!this.json) this.io.print(this.io.style.dim(`= ${planned.key} is already in the lake\n`));
          continue;
        }
        const manifest = await ingestPlannedFile(this.lake, planned);
        this.counts.ingested++;
        ingested++;
        this.io.print(this.json ? `${JSON.stringify(manifest)}\n` : manifestLine(manifest, this.io.style));
      } catch (e) {
        this.counts.failed++;
        const hint = e instanceof UserError && e.hint ? ` (${e.hint})` : '';
        this.io.note(this.io.errStyle.red(`✗ ${f.relative}: ${(e as Error).message}${hint}\n`));
      }
    }
    return ingested;
  }
}

export async function watchAction(dir: string, options: WatchOptions, io: Io): Promise<void> {
  const root = resolve(dir);
  if (!existsSync(root)) throw new UserError(`no such directory: ${dir}`, `create it first (mkdir -p ${dir}), then drop files into it`);
  if (!statSync(root).isDirectory()) throw new UserError(`${dir} is not a directory`, 'watch a directory; to ingest one file use `lake ingest FILE`');
  const lake = LocalLake.open(await openOrCreateLake(options.lake));
  const forced = options.dataset ? lake.contracts.get(lake.dataset(options.dataset)) : undefined;
  const watcher = new Watcher(lake, root, forced, io, options.json === true);
  const started = Date.now();

  let stopping = false;
  let wake: (() => void) | undefined;
  const release = onInterrupt(() => {
    stopping = true;
    wake?.();
  });
  if (!options.json && !options.once) {
    io.print(`Watching ${displayPath(root)} → lake ${displayPath(lake.dir)} (every ${formatDuration(options.interval)}; Ctrl-C to stop)\n`);
  }
  try {
    while (!stopping) {
      const files = await watcher.ready(options.once ? Number.NEGATIVE_INFINITY : 2 * options.interval);
      if ((await watcher.take(files)) > 0) {
        const gold = await refreshGoldWithProgress(lake, io);
        if (!options.json) io.print(io.style.dim(`${gold}\n`));
      }
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
    const failed = c.failed ? `, ${io.style.red(`${c.failed} failed`)}` : '';
    io.print(`${options.once ? 'Done' : `\nStopped after ${formatDuration(Date.now() - started)}`}: ${plural(c.ingested, 'file')} ingested${skipped}${failed}.\n`);
  }
}
