#!/usr/bin/env node
/**
 * Runs jest on native ESM (`node --experimental-vm-modules`, which only the jest process and its workers get:
 * the children the tests spawn do not inherit it).
 *
 *   node scripts/jest.mjs [--tier=<project>] [jest arguments…]
 *
 * `--tier` becomes jest's `--selectProjects`, placed last: that option takes every word after it, so
 * `npm run test:unit -- test/unit/engine/limits.test.ts` still means the file.
 */
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

const jestBin = join(dirname(createRequire(import.meta.url).resolve('jest/package.json')), 'bin', 'jest.js');
const args = process.argv.slice(2);
const tiers = args.filter((a) => a.startsWith('--tier=')).map((a) => a.slice('--tier='.length));
const rest = args.filter((a) => !a.startsWith('--tier='));
const select = tiers.length ? ['--selectProjects', ...tiers] : [];
const { status, signal } = spawnSync(
  process.execPath,
  ['--experimental-vm-modules', '--disable-warning=ExperimentalWarning', jestBin, ...rest, ...select],
  { stdio: 'inherit' },
);
process.exit(status ?? (signal ? 1 : 0));
