/**
 * jest's `expect`, plus what the suite used from its previous runner: a message as second argument
 * (`expect(value, 'what this checks')`, printed above the matcher's own report), `expect.soft` (the
 * failure is recorded, the test goes on, and fails after it ran) and `expect.poll(fn).matcher(…)` (calls `fn`
 * until the matcher passes; 1 s, every 50 ms, as before). Test files that use none of these import `expect`
 * from `@jest/globals` directly.
 */
import { afterEach, expect as jestExpect } from '@jest/globals';

type JestExpect = typeof jestExpect;
type Matchers = ReturnType<JestExpect>;
type WithMessage = <T>(actual: T, message?: string) => Matchers;
type PollOptions = { timeout?: number; interval?: number; message?: string };
/** Every matcher of `expect(value)`, awaited: `await expect.poll(() => x).toBe(true)`. */
type Polled = {
  [K in keyof Matchers]: Matchers[K] extends (...args: infer A) => unknown ? (...args: A) => Promise<void> : never;
} & { not: Polled };
export type MessageExpect = JestExpect &
  WithMessage & { soft: WithMessage; poll: (fn: () => unknown, options?: PollOptions) => Polled };

function prefixed(error: unknown, message: string): unknown {
  if (error instanceof Error) error.message = `${message}\n\n${error.message}`;
  return error;
}

/** The matchers of `target`, each failure prefixed with `message` (or handed to `onFailure` instead of thrown). */
function wrapMatchers(target: object, message: string | undefined, onFailure: (error: unknown) => void): object {
  return new Proxy(target, {
    get(obj, property, receiver) {
      const value: unknown = Reflect.get(obj, property, receiver);
      if (typeof value === 'function') {
        return (...args: unknown[]) => {
          try {
            const result: unknown = Reflect.apply(value, obj, args);
            if (result instanceof Promise)
              return result.catch((error: unknown) => onFailure(message ? prefixed(error, message) : error));
            return result;
          } catch (error) {
            onFailure(message ? prefixed(error, message) : error);
            return undefined;
          }
        };
      }
      // `.not`, `.resolves`, `.rejects`: matcher objects of their own.
      if (value !== null && typeof value === 'object') return wrapMatchers(value, message, onFailure);
      return value;
    },
  });
}

const rethrow = (error: unknown): never => {
  throw error;
};

/** Soft failures of the running test; reported (and cleared) after it. */
const softFailures: unknown[] = [];
afterEach(() => {
  const failures = softFailures.splice(0);
  if (failures.length === 1) throw failures[0];
  if (failures.length > 1)
    throw new Error(
      `${failures.length} soft assertions failed:\n\n${failures.map((f) => (f instanceof Error ? f.message : String(f))).join('\n\n')}`,
    );
});

const withMessage: WithMessage = (actual, message) =>
  message === undefined
    ? jestExpect(actual)
    : (wrapMatchers(jestExpect(actual) as object, message, rethrow) as Matchers);

function poll(
  fn: () => unknown,
  { timeout = 1_000, interval = 50, message }: PollOptions = {},
  negated = false,
): Polled {
  return new Proxy({} as Polled, {
    get(_, property) {
      if (property === 'not')
        return poll(fn, { timeout, interval, ...(message === undefined ? {} : { message }) }, !negated);
      if (property === 'then') return undefined;
      return async (...args: unknown[]) => {
        const deadline = Date.now() + timeout;
        for (;;) {
          try {
            const matchers = jestExpect(await fn()) as unknown as Record<string | symbol, unknown> & {
              not: Record<string | symbol, unknown>;
            };
            const matcher = (negated ? matchers.not : matchers)[property] as (...a: unknown[]) => unknown;
            await matcher(...args);
            return;
          } catch (error) {
            if (Date.now() >= deadline) throw message ? prefixed(error, message) : error;
          }
          await new Promise((resolve) => setTimeout(resolve, interval));
        }
      };
    },
  });
}

export const expect = Object.assign(withMessage, jestExpect, {
  poll: (fn: () => unknown, options?: PollOptions) => poll(fn, options),
  soft: ((actual, message) =>
    wrapMatchers(jestExpect(actual) as object, message, (error) =>
      softFailures.push(error),
    ) as Matchers) satisfies WithMessage,
}) as MessageExpect;
