import type { Manifest, ObjectStore } from '../../engine/contract/index.ts';

/**
 * Fault injection on a real store: the store with some methods replaced, every other call going to the store
 * itself (the replacements may call it too). Only for faults the store cannot produce (a failed upload, a step
 * run between two of the engine's writes).
 */
export function withOverrides<S extends object>(store: S, overrides: Partial<S>): S {
  return Object.assign(Object.create(store) as S, overrides);
}

/**
 * The store with another writer's change to `key` (here a settle's `settled`, as an ingest announces a removal) landing
 * between a maintenance's read of it and its first write of it (fault injection: a step run between two of its calls).
 */
export function settleLandsBeforeFirstWrite(store: ObjectStore, key: string, settledAt: string): ObjectStore {
  let landed = false;
  return withOverrides(store, {
    putBytes: async (...args: Parameters<ObjectStore['putBytes']>) => {
      if (!landed && args[0] === 'silver' && args[1] === key) {
        landed = true;
        const now = JSON.parse(
          Buffer.from((await store.getBytes('silver', key)) as Uint8Array).toString('utf8'),
        ) as Manifest;
        await store.putBytes(
          'silver',
          key,
          JSON.stringify({ ...now, settled: { settled_at: settledAt, months: ['2024-01'] } }),
        );
      }
      return store.putBytes(...args);
    },
  });
}
