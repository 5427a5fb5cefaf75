/** Child processes of the fault cases: the `lake` CLI as a user runs it, and the Lambda-like runner. */
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { cliEnv, startLake } from '../e2e/cli.ts';

const INGEST_BRONZE = join(import.meta.dirname, 'ingest-bronze.mjs');

export interface ChildResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export interface ChildOptions {
  /** Extra environment (fault variables). */
  env?: Record<string, string>;
  /** The child's TMPDIR: where the engine puts its scratch directory. */
  tmpDir: string;
  /** @default 150_000 (a barrier waits up to 120 s) */
  timeoutMs?: number;
}

function collect(child: ChildProcess, what: string, timeoutMs: number): Promise<ChildResult> {
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${what} did not finish in ${timeoutMs} ms\nstdout: ${stdout}\nstderr: ${stderr}`));
    }, timeoutMs);
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    });
  });
}

function childEnv(options: ChildOptions): Record<string, string> {
  // No inherited NODE_OPTIONS: the preload comes only from the fault variables.
  return { NODE_OPTIONS: '', ...options.env, TMPDIR: options.tmpDir };
}

/** `lake <args>` in a child process. */
export function runLake(args: readonly string[], options: ChildOptions): Promise<ChildResult> {
  return collect(startLake(args, { env: childEnv(options) }), `lake ${args.join(' ')}`, options.timeoutMs ?? 150_000);
}

/** `lake ingest` of an object already in the lake's bronze (as an upload or the watcher left it). */
export function ingestFromBronze(lakeDir: string, key: string, options: ChildOptions): Promise<ChildResult> {
  return runLake(['ingest', join(lakeDir, 'bronze', ...key.split('/')), '--lake', lakeDir], options);
}

/** Starts the Lambda-like runner: one bronze object through the engine with the local adapters. */
export function startIngestBronze(lakeDir: string, key: string, options: ChildOptions): Promise<ChildResult> {
  const child = spawn(process.execPath, [INGEST_BRONZE, lakeDir, key], {
    env: cliEnv(childEnv(options)),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  return collect(child, `ingest-bronze ${key}`, options.timeoutMs ?? 150_000);
}

/** For assertion messages: what a child said. */
export function describeRun(r: ChildResult): string {
  return `exit ${r.code ?? r.signal}\nstdout:\n${r.stdout}\nstderr:\n${r.stderr}`;
}
