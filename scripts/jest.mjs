#!/usr/bin/env node
/**
 * Runs jest on native ESM (`node --experimental-vm-modules`, which only the jest process and its workers get:
 * the children the tests spawn do not inherit it).
 *
 *   node scripts/jest.mjs [--tier=<project>] [jest arguments…]
 *
 * `--tier` becomes jest's `--selectProjects`, placed last: that option takes every word after it, so
 * `npm run test:unit -- test/unit/engine/limits.test.ts` still means the file.
 *
 * Without arguments (`npm test`), two jest processes run side by side: the integration tier, and every other tier.
 * One jest runs its projects' runners one after another, and on two cores it runs the other tiers in band, so the
 * integration files (one after another, mostly waiting on the emulator, Trino and the bundled functions) would only
 * start once the rest had finished. Their output is relayed line by line, each line whole and tagged with its run
 * (`[integration]`, `[other tiers]`); the last lines say how each run ended.
 */
import { spawn, spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { createInterface } from 'node:readline';
import config from '../jest.config.mjs';

const ROOT = join(import.meta.dirname, '..');
const jestBin = join(dirname(createRequire(import.meta.url).resolve('jest/package.json')), 'bin', 'jest.js');
const jestArgs = (args) => ['--experimental-vm-modules', '--disable-warning=ExperimentalWarning', jestBin, ...args];
const args = process.argv.slice(2);

if (args.length > 0) {
  const tiers = args.filter((a) => a.startsWith('--tier=')).map((a) => a.slice('--tier='.length));
  const rest = args.filter((a) => !a.startsWith('--tier='));
  const select = tiers.length ? ['--selectProjects', ...tiers] : [];
  const { status, signal } = spawnSync(process.execPath, jestArgs([...rest, ...select]), { stdio: 'inherit' });
  process.exit(status ?? (signal ? 1 : 0));
}

// Built once here: both processes' global setups would otherwise rebuild a stale bundle into dist/ at the same time.
const built = spawnSync(process.execPath, [join(ROOT, 'scripts', 'build-cli.mjs'), '--if-stale'], { stdio: 'inherit' });
if (built.status !== 0) process.exit(built.status ?? 1);

const SIDE_BY_SIDE = 'integration';
const tiers = config.projects.map((p) => p.displayName);
if (!tiers.includes(SIDE_BY_SIDE)) throw new Error(`jest.config.mjs has no ${SIDE_BY_SIDE} project`);
const groups = [[SIDE_BY_SIDE], tiers.filter((t) => t !== SIDE_BY_SIDE)];

/** One jest process over `group`, each line of its output relayed whole after `tag`; resolves with its exit code. */
function runJest(group, tag) {
  const child = spawn(process.execPath, jestArgs(['--selectProjects', ...group]), {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const relayed = [
    [child.stdout, process.stdout],
    [child.stderr, process.stderr],
  ].map(
    ([from, to]) =>
      new Promise((resolve) => {
        createInterface({ input: from, crlfDelay: Infinity })
          .on('line', (line) => to.write(`${tag} ${line}\n`))
          .on('close', resolve);
      }),
  );
  const exited = new Promise((resolve) => {
    child.on('error', (e) => {
      process.stderr.write(`${tag} could not run jest: ${e.message}\n`);
      resolve(1);
    });
    child.on('close', (code, signal) => resolve(code ?? (signal ? 1 : 0)));
  });
  return Promise.all([exited, ...relayed]).then(([code]) => code);
}

const started = performance.now();
const runs = groups.map((group) => ({ group, tag: `[${group.length === 1 ? group[0] : 'other tiers'}]` }));
const codes = await Promise.all(runs.map(({ group, tag }) => runJest(group, tag)));
const seconds = Math.round((performance.now() - started) / 1000);
for (const [i, { group, tag }] of runs.entries())
  console.log(`${tag} jest ${group.join(', ')}: ${codes[i] === 0 ? 'passed' : `FAILED (exit ${codes[i]})`}`);
console.log(`jest: both runs took ${seconds} s`);
// Not process.exit(): writes to a piped stdout are asynchronous, and the last lines would be cut off.
process.exitCode = codes.every((c) => c === 0) ? 0 : 1;
