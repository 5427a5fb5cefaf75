#!/usr/bin/env node
/**
 * The static checks `npm test` runs before jest — lint, type-check, Prettier check, the contract gate — side by
 * side (each is one process on one core: one after another they took ~63 s on two cores, side by side 42 s). Each
 * check's output is printed whole once it ends, with whether it passed; the exit code is 1 when any failed.
 *
 *   node scripts/checks.mjs
 */
import { spawn } from 'node:child_process';
import { performance } from 'node:perf_hooks';

const CHECKS = ['lint', 'typecheck', 'format:check', 'contracts:check'];
const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';

/** Runs `npm run <script>`; resolves once it ended, its output printed. */
function check(script) {
  const started = performance.now();
  // npm.cmd is a batch file: Node runs one only through a shell.
  const child = spawn(npm, ['run', '--silent', script], {
    stdio: ['ignore', 'pipe', 'pipe'],
    shell: process.platform === 'win32',
  });
  const output = [];
  child.stdout.on('data', (b) => output.push(b));
  child.stderr.on('data', (b) => output.push(b));
  return new Promise((resolve) => {
    let reported = false; // a child that fails to start emits 'error' and then 'close'
    const done = (passed, why = '') => {
      if (reported) return;
      reported = true;
      const seconds = ((performance.now() - started) / 1000).toFixed(1);
      const text = Buffer.concat(output).toString('utf8').trimEnd();
      process.stdout.write(
        `── ${script}: ${passed ? 'passed' : `FAILED${why}`} (${seconds} s)\n${text ? `${text}\n` : ''}`,
      );
      resolve(passed);
    };
    child.on('error', (e) => done(false, `: ${e.message}`));
    child.on('close', (code, signal) => done(code === 0, code === 0 ? '' : ` (${signal ?? `exit ${code}`})`));
  });
}

const results = await Promise.all(CHECKS.map(check));
// Not process.exit(): writes to a piped stdout are asynchronous, and the last lines would be cut off.
process.exitCode = results.every(Boolean) ? 0 : 1;
