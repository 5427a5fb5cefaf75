/** Runs `lake` the way a user does: a child process, its output and its exit code. */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

export const REPO_ROOT = resolve(import.meta.dirname, '../../..');
export const LAKE_BIN = join(REPO_ROOT, 'cli', 'lake.mjs');

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
  ms: number;
}

export interface RunOptions {
  cwd?: string;
  env?: Record<string, string | undefined>;
  timeoutMs?: number;
}

/** A clean environment: no colours, no inherited lake or AWS settings. */
export function cliEnv(extra: Record<string, string | undefined> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    NO_COLOR: '1',
    FORCE_COLOR: undefined,
    LAKE_DIR: undefined,
    LAKE_STACK: undefined,
    LAKE_DEBUG: undefined,
  };
  for (const [k, v] of Object.entries(extra)) env[k] = v;
  for (const k of Object.keys(env)) if (env[k] === undefined) delete env[k];
  return env;
}

export function startLake(args: readonly string[], options: RunOptions = {}): ChildProcess {
  return spawn(process.execPath, [LAKE_BIN, ...args], {
    cwd: options.cwd ?? REPO_ROOT,
    env: cliEnv(options.env),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
}

export function lake(args: readonly string[], options: RunOptions = {}): Promise<CliResult> {
  const started = performance.now();
  const child = startLake(args, options);
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
  return new Promise((resolveResult, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(
        new Error(
          `lake ${args.join(' ')} did not finish in ${options.timeoutMs ?? 120_000} ms\nstdout: ${stdout}\nstderr: ${stderr}`,
        ),
      );
    }, options.timeoutMs ?? 120_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolveResult({ code, stdout, stderr, ms: performance.now() - started });
    });
  });
}

/** A scratch directory removed by the returned function. */
export async function scratchDir(prefix = 'lake-e2e-'): Promise<{ dir: string; remove: () => Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  return { dir, remove: () => rm(dir, { recursive: true, force: true }) };
}

/** Waits until `predicate` holds for the text a stream has produced so far. */
export function waitForOutput(
  child: ChildProcess,
  stream: 'stdout' | 'stderr',
  predicate: (text: string) => boolean,
  timeoutMs = 30_000,
): Promise<string> {
  const source = child[stream];
  if (!source) throw new Error(`no ${stream}`);
  let text = '';
  return new Promise((resolveText, reject) => {
    if (child.exitCode !== null || child.signalCode !== null) {
      reject(new Error(`the process has already ended (${child.exitCode ?? child.signalCode})`));
      return;
    }
    const timer = setTimeout(
      () => reject(new Error(`timed out after ${timeoutMs} ms waiting on ${stream}; got:\n${text}`)),
      timeoutMs,
    );
    const onData = (d: Buffer) => {
      text += d.toString();
      if (predicate(text)) {
        clearTimeout(timer);
        source.off('data', onData);
        resolveText(text);
      }
    };
    source.on('data', onData);
    child.on('close', () => {
      clearTimeout(timer);
      if (!predicate(text)) reject(new Error(`process ended before the expected output; ${stream} was:\n${text}`));
    });
  });
}

/** No user mistake may print a stack trace. */
export function hasStackTrace(text: string): boolean {
  return /^\s+at .+(\.ts|\.js|\.mjs):\d+/m.test(text);
}
