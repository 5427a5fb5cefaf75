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
