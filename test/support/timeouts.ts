/**
 * Timeouts of a tier (setupFilesAfterEnv of every jest project): tests get the tier's timeout (jest.config.mjs
 * `globals.MEDALLION_TEST_TIMEOUT_MS`; jest itself only honours a run-wide `testTimeout`), and hooks get 300 s
 * unless they say otherwise: a `beforeAll` that ingests a lake may take longer than a unit test may.
 *
 * The hooks are patched in the environment's globals before any test file imports `@jest/globals` (which reads
 * them once per file), so this file must not import it: the jest object comes from `import.meta.jest`.
 */
import type { jest as JestObject } from '@jest/globals';

const HOOK_TIMEOUT_MS = 300_000;

const testTimeout = (globalThis as { MEDALLION_TEST_TIMEOUT_MS?: unknown }).MEDALLION_TEST_TIMEOUT_MS;
if (typeof testTimeout !== 'number')
  throw new Error('test/support/timeouts.ts: globals.MEDALLION_TEST_TIMEOUT_MS missing in this jest project');
(import.meta as ImportMeta & { jest: typeof JestObject }).jest.setTimeout(testTimeout);

type Hook = (fn: (...args: never[]) => unknown, timeout?: number) => void;
const hooks = globalThis as unknown as Record<'beforeAll' | 'afterAll' | 'beforeEach' | 'afterEach', Hook>;
for (const name of ['beforeAll', 'afterAll', 'beforeEach', 'afterEach'] as const) {
  const original = hooks[name];
  hooks[name] = (fn, timeout) => original(fn, timeout ?? HOOK_TIMEOUT_MS);
}
