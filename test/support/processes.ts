import { spawnSync } from 'node:child_process';

/** The pid of a process that has exited: what a crashed owner of a lock or scratch directory leaves. */
export function deadPid(): number {
  const child = spawnSync(process.execPath, ['-e', '']);
  if (!child.pid) throw new Error('could not start a child process');
  return child.pid;
}
