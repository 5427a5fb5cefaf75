/** `lake unlock`: releases a dataset's maintenance lease by its id (engine releaseMaintenanceLease), local or `--aws`. */
import { describeLease, readMaintenanceLease, releaseMaintenanceLease, type ObjectStore } from '../../engine/index.ts';
import { UserError } from '../errors.ts';
import type { Io } from '../io.ts';
import { LocalLake } from '../local/lake.ts';
import { localLeaseHolderAlive } from '../local/maintenance-lease.ts';
import { requireLake } from '../local/lake-dir.ts';
import { awsMode, type AwsOptions, type JsonOptions, type LakeOptions } from '../options.ts';
import { renderJson } from '../ui/output.ts';

export interface UnlockCommandOptions extends LakeOptions, JsonOptions, AwsOptions {
  dataset: string;
  lease: string;
  /** Release a lease whose holder process still runs on this machine. */
  force?: boolean;
}

async function unlock(store: ObjectStore, options: UnlockCommandOptions, flags: string, io: Io): Promise<void> {
  const outcome = await releaseMaintenanceLease(store, options.dataset, options.lease);
  if (outcome === 'held_by_another') {
    const held = await readMaintenanceLease(store, options.dataset);
    throw new UserError(
      `${options.dataset}: lease ${options.lease} is not the one held — ${held ? describeLease(held) : 'it was just released'}; nothing was released`,
      `npx lake status${flags} shows the lease held now`,
    );
  }
  if (options.json) io.print(renderJson({ dataset: options.dataset, lease_id: options.lease, outcome }));
  else if (outcome === 'released')
    io.print(
      `Released the maintenance lease ${options.lease} of ${options.dataset}. Finish what it was doing: npx lake status${flags} names the command.\n`,
    );
  else io.print(`${options.dataset} holds no maintenance lease: nothing to release.\n`);
}

export async function unlockAction(options: UnlockCommandOptions, io: Io): Promise<void> {
  const aws = awsMode(options);
  if (aws) {
    const [{ openAwsSession }, { stackFlags }] = await Promise.all([
      import('../aws/session.ts'),
      import('../aws/maintenance.ts'),
    ]);
    const session = await openAwsSession(aws);
    try {
      await unlock(session.store, options, stackFlags(aws), io);
    } finally {
      session.close();
    }
    return;
  }
  const lake = LocalLake.open(requireLake(options.lake));
  const held = await readMaintenanceLease(lake.store, options.dataset);
  // Past its expiry is not gone: a long erase or compact still holds it, and releasing it would let a second one run.
  if (held && held.lease_id === options.lease && localLeaseHolderAlive(held) && !options.force)
    throw new UserError(
      `${options.dataset}: lease ${options.lease} is held by a process that is still running (pid ${held.owner?.pid}): ${describeLease(held)}; nothing was released`,
      'wait for it to finish (or stop it); --force releases the lease anyway, letting a second erase or compact run beside it',
    );
  await unlock(lake.store, options, '', io);
}
