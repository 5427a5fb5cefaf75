/** The cross-process lock: owner recorded, abandoned locks taken over, live ones waited for, never two holders. */
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, utimes, writeFile } from 'node:fs/promises';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, it } from '@jest/globals';
import { expect } from '../../../support/expect.ts';
import { deadPid } from '../../../support/processes.ts';
import { LockBusyError, LockLostError, parseHolder, withFileLock } from '../../../../adapters/local/file-lock.ts';
import { currentOwner } from '../../../../adapters/local/process-owner.ts';

describe('withFileLock', () => {
  let dir: string;
  let lock: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'lock-'));
    lock = join(dir, 'table.lock');
  });
  afterEach(() => rm(dir, { recursive: true, force: true }));

  it('names its owner while held (pid, host, process start, time) and is gone afterwards', async () => {
    const seen = await withFileLock(lock, async () => parseHolder(await readFile(lock, 'utf8')));
    expect(seen).toMatchObject({ pid: process.pid, host: hostname() });
    expect(Date.parse(seen?.process_started_at ?? '')).toBeLessThanOrEqual(Date.parse(seen?.acquired_at ?? ''));
    expect(existsSync(lock)).toBe(false);
  });

  it('takes over a lock whose owner process is gone, at once', async () => {
    await writeFile(
      lock,
      JSON.stringify({
        pid: deadPid(),
        host: hostname(),
        process_started_at: '',
        acquired_at: new Date().toISOString(),
        nonce: 'n',
      }),
    );
    const takeovers: string[] = [];
    expect(await withFileLock(lock, async () => 'ran', { onTakeover: (_h, why) => takeovers.push(why) })).toBe('ran');
    expect(takeovers).toEqual([expect.stringMatching(/no longer running/)]);
  });

  it('never takes over a live holder on this host by age (suspended, asleep): it is waited for', async () => {
    await writeFile(
      lock,
      `${JSON.stringify({ ...currentOwner(), acquired_at: '2024-01-01T00:00:00Z', nonce: 'live' })}\n`,
    );
    const old = new Date(Date.now() - 3_600_000);
    await utimes(lock, old, old);
    await expect(withFileLock(lock, async () => 'ran', { staleMs: 1_000 })).rejects.toBeInstanceOf(LockBusyError);
  });

  it('takes over a lock whose pid lives on as another process (started at another time)', async () => {
    await writeFile(lock, JSON.stringify({ ...currentOwner(), start_ticks: 1, acquired_at: '', nonce: 'reused' }));
    const takeovers: string[] = [];
    expect(await withFileLock(lock, async () => 'ran', { onTakeover: (_h, why) => takeovers.push(why) })).toBe('ran');
    expect(takeovers).toEqual([expect.stringMatching(/no longer running/)]);
  });

  it('judges a live pid whose start time cannot be told (older record, no /proc) by its heartbeat', async () => {
    const { start_ticks: _t, ...withoutTicks } = currentOwner();
    await writeFile(lock, JSON.stringify({ ...withoutTicks, acquired_at: '', nonce: 'old-format' }));
    await expect(withFileLock(lock, async () => 'ran', { staleMs: 60_000 })).rejects.toBeInstanceOf(LockBusyError);
    const old = new Date(Date.now() - 120_000);
    await utimes(lock, old, old);
    expect(await withFileLock(lock, async () => 'ran', { staleMs: 60_000 })).toBe('ran');
  });

  it('judges a holder of another PID namespace with the same host name by its heartbeat only', async () => {
    await writeFile(
      lock,
      JSON.stringify({
        pid: deadPid(),
        host: hostname(),
        machine: 'another-boot/pid:[1]',
        process_started_at: '',
        acquired_at: '',
        nonce: 'n',
      }),
    );
    await expect(withFileLock(lock, async () => 'ran', { staleMs: 60_000 })).rejects.toBeInstanceOf(LockBusyError);
    const old = new Date(Date.now() - 120_000);
    await utimes(lock, old, old);
    expect(await withFileLock(lock, async () => 'ran', { staleMs: 60_000 })).toBe('ran');
  });

  it('tells its work when the lock was taken over, before the work writes', async () => {
    const error = await withFileLock(lock, async (held) => {
      await held.assertHeld();
      await writeFile(lock, JSON.stringify({ ...currentOwner(), acquired_at: '', nonce: 'someone else' }));
      return held.assertHeld().then(
        () => undefined,
        (e: unknown) => e,
      );
    });
    expect(error).toBeInstanceOf(LockLostError);
  });

  it('also reads the older "<pid> <time>" lock format', async () => {
    await writeFile(lock, `${deadPid()} 2024-01-01T00:00:00.000Z\n`);
    expect(await withFileLock(lock, async () => 'ran')).toBe('ran');
  });

  it('takes over a lock of another host once its heartbeat is older than staleMs, not before', async () => {
    await writeFile(
      lock,
      JSON.stringify({
        pid: 1,
        host: 'elsewhere',
        process_started_at: '',
        acquired_at: '2024-01-01T00:00:00Z',
        nonce: 'n',
      }),
    );
    await expect(withFileLock(lock, async () => 'ran', { staleMs: 60_000 })).rejects.toThrow(
      /held by pid 1 on elsewhere/,
    );
    const old = new Date(Date.now() - 120_000);
    await utimes(lock, old, old);
    expect(await withFileLock(lock, async () => 'ran', { staleMs: 60_000 })).toBe('ran');
  });

  it('waits for a live holder and runs when it lets go', async () => {
    let release!: () => void;
    const held = new Promise<void>((r) => (release = r));
    const first = withFileLock(lock, () => held);
    await expect.poll(() => existsSync(lock)).toBe(true); // the first holds it before the second tries
    let waited = false;
    const second = withFileLock(lock, async () => 'second ran', {
      waitMs: 60_000,
      onWait: () => {
        waited = true;
        release(); // the holder finishes only once the second is known to be waiting
      },
    });
    await first;
    expect(await second).toBe('second ran');
    expect(waited).toBe(true);
  });

  it('gives up on a live holder after the wait, naming it', async () => {
    let release!: () => void;
    const first = withFileLock(lock, () => new Promise<void>((r) => (release = r)));
    await expect.poll(() => existsSync(lock)).toBe(true);
    const error = await withFileLock(lock, async () => 'ran').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(LockBusyError);
    expect((error as LockBusyError).holder?.pid).toBe(process.pid);
    release();
    await first;
  });

  it('many waiters on an abandoned lock: exactly one holder at a time, every one runs', async () => {
    await writeFile(
      lock,
      JSON.stringify({ pid: deadPid(), host: hostname(), process_started_at: '', acquired_at: '', nonce: 'n' }),
    );
    let inside = 0;
    let most = 0;
    let ran = 0;
    await Promise.all(
      Array.from({ length: 8 }, () =>
        withFileLock(
          lock,
          async () => {
            most = Math.max(most, ++inside);
            await new Promise((r) => setImmediate(r));
            inside--;
            ran++;
          },
          { waitMs: 60_000 },
        ),
      ),
    );
    expect(most).toBe(1);
    expect(ran).toBe(8);
  });
});
