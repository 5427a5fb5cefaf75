/**
 * One realm for errors, as outside jest (setupFilesAfterEnv of every jest project). jest runs each test file in
 * its own VM context, so an error made by Node.js itself or by a native module (DuckDB, node:fs) has another
 * `Error` than the code under test, and `e instanceof Error` is false for it — in tests only. Here `instanceof`
 * on the context's `Error` (and on classes extending it) also accepts native errors of the other realm.
 */
import { isNativeError } from 'node:util/types';

const ownInstanceOf = Function.prototype[Symbol.hasInstance];
Object.defineProperty(Error, Symbol.hasInstance, {
  configurable: true,
  value(this: unknown, value: unknown): boolean {
    if (ownInstanceOf.call(this, value)) return true;
    return this === Error && isNativeError(value);
  },
});
