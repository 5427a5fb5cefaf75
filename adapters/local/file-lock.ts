import { open, rm, stat } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';

export interface FileLockOptions {
  /** How long to wait for another holder. 0 fails at once. @default 0 */
  waitMs?: number;
  /** A lock older than this is taken to be left by a crashed process and broken. @default - never broken */
  staleMs?: number;
  /** Message when the lock cannot be had. */
  busyMessage?: string;
}

/** Runs `work` while holding an exclusive lock file (created with O_EXCL), across processes. */
export async function withFileLock<T>(path: string, work: () => Promise<T>, options: FileLockOptions = {}): Promise<T> {
  const deadline = Date.now() + (options.waitMs ?? 0);
  for (;;) {
    try {
      const handle = await open(path, 'wx');
      await handle.writeFile(`${process.pid} ${new Date().toISOString()}\n`);
      await handle.close();
      break;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      const age = await stat(path).then((s) => Date.now() - s.mtimeMs, () => 0);
      if (options.staleMs !== undefined && age > options.staleMs) {
        await rm(path, { force: true });
        continue;
      }
      if (Date.now() >= deadline) throw new Error(options.busyMessage ?? `${path} is locked by another process`);
      await sleep(10 + Math.random() * 20);
    }
  }
  try {
    return await work();
  } finally {
    await rm(path, { force: true });
  }
}
