/**
 * The project's Python tools (the moto emulator, cfn-lint) live in one virtualenv, `.venv/`, installed on first
 * use with pip. Installs are serialized by a lock directory, so two test tiers starting at once never run
 * `python -m venv` or pip into the same environment concurrently.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, rmSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';

export const PROJECT_ROOT = resolve(import.meta.dirname, '..');
export const VENV_DIR = join(PROJECT_ROOT, '.venv');
const LOCK_DIR = join(PROJECT_ROOT, '.venv.install-lock');
/** A lock older than this was left by a killed install. */
const STALE_LOCK_MS = 10 * 60_000;

/** Why a Python tool is not available, phrased for a human reading test output. */
export class PythonToolUnavailableError extends Error {
  constructor(
    message: string,
    /** True when the machine simply lacks Python: a developer may skip what needs it, CI may not. */
    readonly pythonMissing: boolean,
  ) {
    super(message);
    this.name = 'PythonToolUnavailableError';
  }
}

export function findPython(): string | undefined {
  for (const candidate of [process.env.PYTHON, 'python3', 'python'].filter((c): c is string => !!c)) {
    const probe = spawnSync(candidate, ['-c', 'import sys, venv; print(sys.version_info[0])'], { encoding: 'utf8' });
    if (probe.status === 0 && probe.stdout.trim() === '3') return candidate;
  }
  return undefined;
}

function sleep(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

/** Runs `fn` holding the install lock (waits for another holder; breaks a stale lock). */
export function withInstallLock<T>(fn: () => T, timeoutMs = 15 * 60_000): T {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      mkdirSync(LOCK_DIR);
      break;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      let age = 0;
      try {
        age = Date.now() - statSync(LOCK_DIR).mtimeMs;
      } catch {
        continue; // released meanwhile
      }
      if (age > STALE_LOCK_MS) rmSync(LOCK_DIR, { recursive: true, force: true });
      else if (Date.now() > deadline)
        throw new Error(`waited ${timeoutMs} ms for ${LOCK_DIR} (another install of a Python tool)`);
      else sleep(500);
    }
  }
  try {
    return fn();
  } finally {
    rmSync(LOCK_DIR, { recursive: true, force: true });
  }
}

/**
 * Makes sure `.venv/bin/<binary>` exists, installing `requirement` with pip (creating `.venv/` first) when it
 * does not. Returns the binary's path and how long the install took (0 when it was already there).
 */
export function ensurePythonTool(
  requirement: string,
  binary: string,
  log: (line: string) => void = () => {},
): { path: string; installMs: number } {
  const path = join(VENV_DIR, 'bin', binary);
  if (existsSync(path)) return { path, installMs: 0 };
  return withInstallLock(() => {
    if (existsSync(path)) return { path, installMs: 0 }; // installed while we waited
    const python = findPython();
    if (!python)
      throw new PythonToolUnavailableError(
        `python3 (with the venv module) was not found, so ${requirement} cannot be installed`,
        true,
      );
    const started = Date.now();
    log(`installing ${requirement} into ${VENV_DIR} (one-off)`);
    const steps: [string, string[]][] = [];
    if (!existsSync(join(VENV_DIR, 'bin', 'pip'))) steps.push([python, ['-m', 'venv', VENV_DIR]]);
    steps.push([join(VENV_DIR, 'bin', 'pip'), ['install', '--disable-pip-version-check', '--quiet', requirement]]);
    for (const [command, args] of steps) {
      const run = spawnSync(command, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
      if (run.status !== 0) {
        throw new PythonToolUnavailableError(
          `installing ${requirement} failed: \`${command} ${args.join(' ')}\` exited with ${run.status ?? run.signal}: ${(run.stderr || run.stdout).trim().slice(-2000)}`,
          false,
        );
      }
    }
    if (!existsSync(path))
      throw new PythonToolUnavailableError(`${requirement} installed but ${path} is missing`, false);
    return { path, installMs: Date.now() - started };
  });
}
