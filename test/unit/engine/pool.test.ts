/** The engine's small concurrency tools: a bounded pool over items still arriving, a feed, ordered slots. */
import { describe, it } from '@jest/globals';
import { expect } from '../../support/expect.ts';
import { Feed, inPool, OrderedSlots } from '../../../engine/pool.ts';

const tick = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

describe('Feed', () => {
  it('yields what was pushed, in order, also items pushed while the reader waits, and ends when told', async () => {
    const feed = new Feed<number>();
    feed.push(1);
    const read = (async () => {
      const seen: number[] = [];
      for await (const n of feed) seen.push(n);
      return seen;
    })();
    await tick();
    feed.push(2);
    feed.push(3);
    await tick();
    feed.end();
    feed.push(4); // after the end: dropped
    expect(await read).toEqual([1, 2, 3]);
  });

  it('drops the items not yet read when cancelled', async () => {
    const feed = new Feed<number>();
    for (const n of [1, 2, 3]) feed.push(n);
    const seen: number[] = [];
    for await (const n of feed) {
      seen.push(n);
      feed.cancel();
    }
    expect(seen).toEqual([1]);
  });
});

describe('OrderedSlots', () => {
  it('hands out at most `count` slots at once, in the order they were asked for', async () => {
    const slots = new OrderedSlots(2);
    const granted: number[] = [];
    const releases = [0, 1, 2, 3].map((i) => slots.take().then((release) => (granted.push(i), release)));
    await tick();
    expect(granted).toEqual([0, 1]);
    (await releases[1])?.();
    await tick();
    expect(granted).toEqual([0, 1, 2]);
    const release0 = await releases[0];
    release0?.();
    release0?.(); // a second call gives nothing back twice
    await tick();
    expect(granted).toEqual([0, 1, 2, 3]);
    (await releases[2])?.();
    (await releases[3])?.();
    const more = [slots.take(), slots.take(), slots.take()];
    await tick();
    let third = false;
    void more[2]?.then(() => (third = true));
    await tick();
    expect(third).toBe(false); // two free slots, not three
  });
});

describe('OrderedSlots spare asks', () => {
  it('grants a spare ask only a slot no ordered ask is waiting for', async () => {
    const slots = new OrderedSlots(1);
    const granted: string[] = [];
    const first = await slots.take();
    const spare = slots.spare().then((release) => (granted.push('spare'), release));
    const second = slots.take().then((release) => (granted.push('second'), release));
    first();
    await tick();
    expect(granted).toEqual(['second']); // asked later, but ordered asks come first
    (await second)();
    await tick();
    expect(granted).toEqual(['second', 'spare']);
    const release = await spare;
    release();
    release(); // a second call gives nothing back twice
    const [a, b] = [slots.spare(), slots.spare()];
    let secondSpare = false;
    void b.then(() => (secondSpare = true));
    await tick();
    expect(secondSpare).toBe(false); // one slot, not two
    (await a)();
    await tick();
    expect(secondSpare).toBe(true);
  });

  it('gives a slot kept for an ordered ask about to be queued to a waiting spare ask once it is granted', async () => {
    const slots = new OrderedSlots(2);
    const [a, b] = [await slots.take(), await slots.take()];
    let spared = 0;
    void slots.spare().then(() => spared++);
    const next = slots.take(); // not queued yet: it waits for the ask before it to be granted
    a();
    b(); // two slots free, one ordered ask about to take one
    await next;
    await tick();
    expect(spared).toBe(1);
  });
});

describe('inPool', () => {
  it('runs at most `limit` at once over an async iterable, results in item order', async () => {
    const feed = new Feed<number>();
    let running = 0;
    let most = 0;
    const done = inPool(feed, 2, async (n) => {
      most = Math.max(most, ++running);
      await tick();
      running--;
      return n * 10;
    });
    for (const n of [1, 2, 3, 4, 5]) feed.push(n);
    feed.end();
    expect(await done).toEqual([10, 20, 30, 40, 50]);
    expect(most).toBe(2);
  });

  it('starts nothing after a failure, lets the started items settle, and throws the first failure by item order', async () => {
    const started: number[] = [];
    let settled = 0;
    const result = inPool([0, 1, 2, 3, 4, 5], 2, async (n) => {
      started.push(n);
      await tick();
      settled++;
      if (n === 1) throw new Error('item 1 failed');
      return n;
    });
    await expect(result).rejects.toThrow('item 1 failed');
    expect(started).toEqual([0, 1, 2]);
    expect(settled).toBe(started.length);
  });
});
