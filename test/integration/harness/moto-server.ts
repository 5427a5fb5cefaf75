/**
 * The moto server (PyPI `moto[server]`) as a local AWS emulator: installed into the project's `.venv/`
 * when missing, started on a free 127.0.0.1 port, reset between tests, stopped on teardown.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createServer } from 'node:net';
import { join, resolve } from 'node:path';

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

function findPython(): string | undefined {
  for (const candidate of [process.env.PYTHON, 'python3', 'python'].filter((c): c is string => !!c)) {
    const probe = spawnSync(candidate, ['-c', 'import sys, venv; print(sys.version_info[0])'], { encoding: 'utf8' });
    if (probe.status === 0 && probe.stdout.trim() === '3') return candidate;
  }
  return undefined;
}

/** Installs moto into `.venv/` unless it is already there. Returns how long the install took (0 when cached). */
export function ensureMotoInstalled(log: (line: string) => void = () => {}): number {
  if (existsSync(MOTO_SERVER_BIN)) return 0;
  const python = findPython();
  if (!python) {
    throw new EmulatorUnavailableError('python3 (with the venv module) was not found, so the moto emulator cannot be installed', true);
  }
  const started = Date.now();
  log(`installing ${MOTO_REQUIREMENT} into ${VENV_DIR} (one-off, ~30 s)`);
  const steps: [string, string[]][] = [
    [python, ['-m', 'venv', VENV_DIR]],
    [join(VENV_DIR, 'bin', 'pip'), ['install', '--disable-pip-version-check', '--quiet', MOTO_REQUIREMENT]],
  ];
  for (const [command, args] of steps) {
    const run = spawnSync(command, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
    if (run.status !== 0) {
      throw new EmulatorUnavailableError(
        `installing moto failed: \`${command} ${args.join(' ')}\` exited with ${run.status ?? run.signal}: ${(run.stderr || run.stdout).trim().slice(-2000)}`,
        false,
      );
    }
  }
  if (!existsSync(MOTO_SERVER_BIN)) throw new EmulatorUnavailableError(`moto installed but ${MOTO_SERVER_BIN} is missing`, false);
  return Date.now() - started;
}

export async function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address ? resolvePort(address.port) : reject(new Error('no port'))));
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
    if (exited) throw new EmulatorUnavailableError(`moto_server ${exited} before it was ready: ${stderrTail.trim()}`, false);
    try {
      const res = await fetch(`${endpoint}/moto-api/`);
      if (res.status === 200) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new EmulatorUnavailableError(`moto_server did not answer on ${endpoint}/moto-api/ within ${timeoutMs} ms: ${stderrTail.trim()}`, false);
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
