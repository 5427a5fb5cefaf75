/**
 * Fault injection on a real store: the store with some methods replaced, every other call going to the store
 * itself (the replacements may call it too). Only for faults the store cannot produce (a failed upload, a step
 * run between two of the engine's writes).
 */
export function withOverrides<S extends object>(store: S, overrides: Partial<S>): S {
  return Object.assign(Object.create(store) as S, overrides);
}
