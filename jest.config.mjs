// Test tiers mirror the code: engine unit tests, CDK assertions, emulator integration, CLI end-to-end, faults.
// Native ESM (the code uses `import.meta.url` and `.ts` import specifiers): `npm test` runs jest under
// `node --experimental-vm-modules`; TypeScript is stripped by @swc/jest (no type check here: `npm run typecheck`).

// Decorators are the legacy (experimentalDecorators) kind, as tsconfig.json and esbuild compile them (Powertools' tracer).
/** @type {import('jest').Config['transform']} */
const transform = {
  '^.+\\.ts$': [
    '@swc/jest',
    {
      jsc: {
        parser: { syntax: 'typescript', decorators: true },
        transform: { legacyDecorator: true },
        target: 'es2022',
      },
      module: { type: 'es6' },
    },
  ],
};

/** Settings every tier shares. Test and hook (300 s) timeouts are set by test/support/timeouts.ts. */
const tier = (displayName, testTimeout, extra = {}) => ({
  displayName,
  testMatch: [`<rootDir>/test/${displayName}/**/*.test.ts`],
  testEnvironment: 'node',
  extensionsToTreatAsEsm: ['.ts'],
  moduleFileExtensions: ['ts', 'js', 'mjs', 'cjs', 'json', 'node'],
  transform,
  setupFilesAfterEnv: ['<rootDir>/test/support/timeouts.ts', '<rootDir>/test/support/one-realm.ts'],
  globals: { MEDALLION_TEST_TIMEOUT_MS: testTimeout },
  ...extra,
});

/** @type {import('jest').Config} */
export default {
  projects: [
    tier('unit', 60_000),
    tier('cdk', 180_000),
    // One emulator and one synthesized assembly per run (globalSetup), test files one after another (serial runner).
    tier('integration', 600_000, {
      globalSetup: '<rootDir>/test/integration/global-setup.ts',
      globalTeardown: '<rootDir>/test/integration/global-teardown.ts',
      runner: '<rootDir>/test/support/serial-runner.mjs',
    }),
    // The CLI is spawned from its bundle: globalSetup rebuilds dist/ when a source is newer.
    tier('e2e', 180_000, { globalSetup: '<rootDir>/test/support/build-cli.ts' }),
    // Fault campaign (kill -9, disk full, concurrent writers, redelivery): child processes, bounded, no timing assertions.
    tier('faults', 180_000, { globalSetup: '<rootDir>/test/support/build-cli.ts' }),
  ],
};
