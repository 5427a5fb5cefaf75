/** Gold behind `lake watch`: refreshed after ingests, retried after a failure, never stopping the watch. */
import type { Io } from '../io.ts';
import { formatDuration } from '../ui/format.ts';
import { refreshGoldAfterIngest, reportGold } from './ingest-batch.ts';
import { goldLockWaitMs, type LocalLake } from './lake.ts';

/**
 * A watch waits this long at most for another process's gold refresh (which then includes the watch's
 * ingests): long enough to close the moment in which that refresh is finishing, short enough not to stall
 * the landing directory behind a long refresh.
 */
const WATCH_GOLD_LOCK_WAIT_MS = 10_000;

/** Gold after ingests: a refresh that failed is tried again later, with a growing pause; it never stops the watch. */
export class GoldFollower {
  private due = false;
  private failures = 0;
  private retryAt = 0;
  failedLast = false;

  constructor(
    private readonly lake: LocalLake,
    private readonly io: Io,
    private readonly options: { interval: number; once?: boolean; json?: boolean },
  ) {}

  markDue(): void {
    this.due = true;
    this.retryAt = 0;
  }

  async refreshIfDue(): Promise<void> {
    if (!this.due || Date.now() < this.retryAt) return;
    const outcome = await refreshGoldAfterIngest(this.lake, this.io, {
      lockWaitMs: Math.min(goldLockWaitMs(), WATCH_GOLD_LOCK_WAIT_MS),
    });
    reportGold(outcome, this.io, this.options.json);
    this.failedLast = outcome.kind === 'failed';
    if (outcome.kind === 'refreshed') {
      this.due = false;
      this.failures = 0;
      return;
    }
    if (outcome.kind === 'deferred') {
      // Another process's refresh was asked to include these ingests; look again later all the same.
      this.retryAt = Date.now() + Math.max(this.options.interval, WATCH_GOLD_LOCK_WAIT_MS);
      return;
    }
    this.failures++;
    const pause = Math.min(this.options.interval * 2 ** this.failures, 60_000);
    this.retryAt = Date.now() + pause;
    if (!this.options.once)
      this.io.note(this.io.errStyle.dim(`  the gold refresh is tried again in ${formatDuration(pause)}\n`));
  }
}
