/** The integration tier's stop (moto, the private assembly), handed from globalSetup to globalTeardown. */
const KEY = Symbol.for('medallion.integration.teardown');
type Teardown = () => Promise<void>;

export function setTeardown(teardown: Teardown): void {
  (globalThis as Record<symbol, Teardown | undefined>)[KEY] = teardown;
}

export async function runTeardown(): Promise<void> {
  const holder = globalThis as Record<symbol, Teardown | undefined>;
  const teardown = holder[KEY];
  holder[KEY] = undefined;
  await teardown?.();
}
