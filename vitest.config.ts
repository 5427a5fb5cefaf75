import { defineConfig } from 'vitest/config';

// Test tiers mirror the code: engine unit tests, CDK assertions, emulator integration, CLI end-to-end, faults.
export default defineConfig({
  test: {
    testTimeout: 60_000,
    hookTimeout: 300_000,
    pool: 'forks',
    projects: [
      { extends: true, test: { name: 'unit', include: ['test/unit/**/*.test.ts'] } },
      { extends: true, test: { name: 'cdk', include: ['test/cdk/**/*.test.ts'], testTimeout: 180_000 } },
      {
        extends: true,
        test: {
          name: 'integration',
          include: ['test/integration/**/*.test.ts'],
          globalSetup: ['test/integration/global-setup.ts'],
          testTimeout: 600_000,
          fileParallelism: false,
        },
      },
      { extends: true, test: { name: 'e2e', include: ['test/e2e/**/*.test.ts'], testTimeout: 180_000 } },
      // Fault campaign (kill -9, disk full, concurrent writers, redelivery): child processes, bounded, no timing assertions.
      { extends: true, test: { name: 'faults', include: ['test/faults/**/*.test.ts'], testTimeout: 180_000 } },
    ],
  },
});
