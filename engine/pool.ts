/** Running work over items as they come, a bounded number at once. */

/**
 * Runs `work` over the items an iterable yields (sync or async: items may still be arriving), at most `limit`
 * at once, results in yield order. After a failure no new item is started; every started one settles before
 * the failure is thrown, so no DuckDB session outlives the call.
 */
export async function inPool<T, R>(
  items: Iterable<T> | AsyncIterable<T>,
  limit: number,
  work: (item: T, index: number) => Promise<R>,
): Promise<R[]> {
  const results: Promise<R>[] = [];
  const running = new Set<Promise<unknown>>();
  let failed = false;
  let index = 0;
  for await (const item of items) {
    if (failed) break; // a task failed while the next item was awaited
    const task = work(item, index++);
    results.push(task);
    const settled: Promise<unknown> = task.then(
      (): boolean => running.delete(settled),
      (): boolean => ((failed = true), running.delete(settled)),
    );
    running.add(settled);
    if (running.size >= limit) await Promise.race(running);
    if (failed) break;
  }
  const outcomes = await Promise.allSettled(results);
  const rejected = outcomes.find((o): o is PromiseRejectedResult => o.status === 'rejected');
  if (rejected) throw rejected.reason;
  return outcomes.map((o) => (o as PromiseFulfilledResult<R>).value);
}

/** Items pushed by a producer as it finds them, read once, in order, by one consumer (`for await`). */
export class Feed<T> implements AsyncIterable<T> {
  private readonly items: T[] = [];
  private ended = false;
  private wake: (() => void) | undefined;

  push(item: T): void {
    if (this.ended) return;
    this.items.push(item);
    this.wake?.();
  }

  /** No more items: the consumer finishes once it has read those pushed. */
  end(): void {
    this.ended = true;
    this.wake?.();
  }

  /** No more items, and those pushed but not yet read are dropped. */
  cancel(): void {
    this.items.length = 0;
    this.end();
  }

  async *[Symbol.asyncIterator](): AsyncIterator<T> {
    for (;;) {
      const item = this.items.shift();
      if (item !== undefined) yield item;
      else if (this.ended) return;
      else await new Promise<void>((resolve) => (this.wake = resolve));
    }
  }
}

/**
 * `count` slots, handed out in the order they are asked for (`take`), whoever asks first waits least: work that
 * prepares ahead (copies its input) and then needs a slot keeps its order. Work that can wait asks for a spare
 * slot (`spare`): one no ordered ask is waiting for.
 */
export class OrderedSlots {
  private free: number;
  private readonly queue: Array<() => void> = [];
  private readonly spares: Array<() => void> = [];
  private last: Promise<unknown> = Promise.resolve();
  /** Ordered asks not granted yet (queued, or about to be: each waits for the one before it to be granted). */
  private pending = 0;

  constructor(count: number) {
    this.free = count;
  }

  /** A slot after every earlier call's: resolves with its release, which must be called once. */
  take(): Promise<() => void> {
    this.pending++;
    const turn = this.last.then(() => this.acquire());
    this.last = turn;
    return turn;
  }

  /** A slot once no ordered ask waits for one (spare asks among themselves in the order asked). */
  spare(): Promise<() => void> {
    return new Promise((resolve) => {
      const grant = (): void => resolve(this.releaser());
      if (this.free > 0 && this.pending === 0) {
        this.free--;
        grant();
      } else this.spares.push(grant);
    });
  }

  private acquire(): Promise<() => void> {
    return new Promise((resolve) => {
      const grant = (): void => {
        this.pending--;
        resolve(this.releaser());
        // Slots kept free for ordered asks about to be queued go to spare asks once none is left.
        while (this.pending === 0 && this.free > 0 && this.spares.length > 0) {
          this.free--;
          this.spares.shift()?.();
        }
      };
      if (this.free > 0) {
        this.free--;
        grant();
      } else this.queue.push(grant);
    });
  }

  private releaser(): () => void {
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const next = this.queue.shift() ?? (this.pending > 0 ? undefined : this.spares.shift());
      if (next) next();
      else this.free++; // an ordered ask about to be queued takes it
    };
  }
}
