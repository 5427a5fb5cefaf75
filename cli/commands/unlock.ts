/** `lake unlock`: release a dataset's maintenance lease left by a run that stopped (the behaviour is in actions/unlock.ts). */
import type { Command } from 'commander';
import type { UnlockCommandOptions } from '../actions/unlock.ts';
import type { Io } from '../io.ts';
import { addAwsOptions, addJsonOption, addLakeOption } from '../options.ts';

export function registerUnlock(program: Command, io: Io): void {
  const command = program
    .command('unlock')
    .summary("release a dataset's maintenance lease left by an erase or compact that stopped")
    .description(
      "An erase or compact on AWS holds the dataset's maintenance lease (silver `_maintenance/leases/<dataset>.json`) while it rewrites files; ingests of the dataset wait (their messages are retried) meanwhile. A run that was killed leaves it behind: `lake status --aws` shows it as a stale lease with this command. Release it only when no erase or compact of the dataset still runs; then finish the interrupted run (`lake status` names the command). Only the lease with the given id is released.",
    )
    .requiredOption('--dataset <name>', 'the dataset whose lease to release')
    .requiredOption('--lease <id>', 'the lease id (lake status shows it; a lease held by another id is left alone)')
    .option('--force', 'local lake: release the lease even though its holder process still runs on this machine');
  addLakeOption(command);
  addJsonOption(command, 'the outcome');
  addAwsOptions(command);
  command.addHelpText(
    'after',
    `
Examples:
  $ npx lake unlock --aws --stack MedallionLake-prod --dataset transactions --lease compact-20260101T020000Z-1a2b3c4d`,
  );
  command.action(async (options: UnlockCommandOptions) =>
    (await import('../actions/unlock.ts')).unlockAction(options, io),
  );
}
