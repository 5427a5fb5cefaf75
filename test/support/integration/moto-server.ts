/**
 * The moto server (PyPI `moto[server]`) as a local AWS emulator: installed into the project's `.venv/`
 * when missing, started on a free 127.0.0.1 port, reset between tests, stopped on teardown.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { join, resolve } from 'node:path';
import { ensurePythonTool, PythonToolUnavailableError } from '../../../scripts/python-venv.ts';

export const PROJECT_ROOT = resolve(import.meta.dirname, '../../..');
export const VENV_DIR = join(PROJECT_ROOT, '.venv');
export const MOTO_SERVER_BIN = join(VENV_DIR, 'bin', 'moto_server');
/** moto 5.x: the notes in ../shared/notes/aws-emulation.md were checked against 5.2. */
export const MOTO_REQUIREMENT = 'moto[server]>=5.1,<6';

/** Why the emulator is not available, phrased for a human reading test output. */
export class EmulatorUnavailableError extends Error {
  constructor(
    message: string,
    /** True when the machine simply lacks Python: a developer may skip the tier, CI may not. */
    readonly pythonMissing: boolean,
  ) {
    super(message);
    this.name = 'EmulatorUnavailableError';
  }
}

/**
 * Installs moto into `.venv/` unless it is already there (serialized with the other Python tools' installs,
 * scripts/python-venv.ts). Returns how long the install took (0 when cached).
 */
export function ensureMotoInstalled(log: (line: string) => void = () => {}): number {
  try {
    return ensurePythonTool(MOTO_REQUIREMENT, 'moto_server', log).installMs;
  } catch (error) {
    if (error instanceof PythonToolUnavailableError)
      throw new EmulatorUnavailableError(error.message, error.pythonMissing);
    throw error;
  }
}

export async function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() =>
        typeof address === 'object' && address ? resolvePort(address.port) : reject(new Error('no port')),
      );
    });
  });
}

export interface RunningMoto {
  endpoint: string;
  process: ChildProcess;
  stop(): Promise<void>;
}

/** Starts `moto_server` on a free port and waits until `GET /moto-api/` answers 200. */
export async function startMoto(timeoutMs = 60_000): Promise<RunningMoto> {
  const port = await freePort();
  const endpoint = `http://127.0.0.1:${port}`;
  const child = spawn(MOTO_SERVER_BIN, ['-H', '127.0.0.1', '-p', String(port)], {
    stdio: ['ignore', 'ignore', 'pipe'],
    env: { ...process.env, PYTHONUNBUFFERED: '1' },
  });
  let stderrTail = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    stderrTail = (stderrTail + chunk.toString('utf8')).slice(-4000);
  });
  let exited: string | undefined;
  child.on('exit', (code, signal) => (exited = `exited with ${code ?? signal}`));

  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (exited)
      throw new EmulatorUnavailableError(`moto_server ${exited} before it was ready: ${stderrTail.trim()}`, false);
    try {
      const res = await fetch(`${endpoint}/moto-api/`);
      if (res.status === 200) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new EmulatorUnavailableError(
        `moto_server did not answer on ${endpoint}/moto-api/ within ${timeoutMs} ms: ${stderrTail.trim()}`,
        false,
      );
    }
    await new Promise((r) => setTimeout(r, 200));
  }

  return {
    endpoint,
    process: child,
    stop: () =>
      new Promise<void>((resolveStop) => {
        if (exited) return resolveStop();
        child.once('exit', () => resolveStop());
        child.kill('SIGTERM');
        setTimeout(() => child.kill('SIGKILL'), 5_000).unref();
      }),
  };
}

/** Clears every resource in the emulator (`POST /moto-api/reset`). */
export async function resetMoto(endpoint: string): Promise<void> {
  const res = await fetch(`${endpoint}/moto-api/reset`, { method: 'POST' });
  if (!res.ok) throw new Error(`moto reset failed: HTTP ${res.status} ${await res.text()}`);
}
