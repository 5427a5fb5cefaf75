/**
 * `lake erase --aws` and `lake compact --aws`: the same engine use cases as on the local lake, on the deployed
 * lake's buckets (S3 through the engine's ObjectStore port). Rewritten manifests land under `_manifests/`,
 * whose object events feed the gold-refresh queue: gold recomputes the months an erasure touched by itself.
 * Partition locations do not change, so the Glue catalog needs nothing.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GetSecretValueCommand } from '@aws-sdk/client-secrets-manager';
import {
  MaintenanceLeaseHeldError,
  withMaintenanceLease,
  type CompactionReport,
  type MaintenanceOperation,
} from '../../engine/index.ts';
import type { ObjectStore } from '../../engine/contract/index.ts';
import { inFlightNote, pendingIngests } from '../pending-ingests.ts';
import { runCompaction } from '../actions/compact.ts';
import { printErasure, runErasure, localIdentity, type EraseCommandOptions } from '../actions/erase.ts';
import { UserError } from '../errors.ts';
import type { Io } from '../io.ts';
import { loadLakeContracts } from '../local/lake.ts';
import type { AwsMode } from '../options.ts';
import { renderJson } from '../ui/output.ts';
import { openAwsSession, type AwsSession } from './session.ts';

/** The deployment's PII salt (the secret the ingest function reads), when erasing by a `hash` column. */
async function piiSalt(session: AwsSession, secretId: string | undefined): Promise<string> {
  if (!secretId) return '';
  const { SecretString } = await session.clients.secretsManager.send(new GetSecretValueCommand({ SecretId: secretId }));
  if (!SecretString) throw new UserError(`secret ${secretId} has no string value`);
  return SecretString;
}

/** The stack's flags, for the commands a message suggests. */
export const stackFlags = (mode: AwsMode): string => ` --aws --stack ${mode.stack}`;

/**
 * Runs one maintenance use case holding the dataset's lease (engine/maintenance/lease.ts), so the ingest
 * function writes nothing into the dataset meanwhile. A lease held by someone else is the user's to resolve.
 */
export async function underLease<T>(
  store: ObjectStore,
  mode: AwsMode,
  dataset: string,
  operation: MaintenanceOperation,
  holder: string,
  work: () => Promise<T>,
): Promise<T> {
  try {
    return await withMaintenanceLease(store, { dataset, operation, holder }, work);
  } catch (e) {
    if (!(e instanceof MaintenanceLeaseHeldError) || e.lease.dataset !== dataset || e.blocked !== `the ${operation}`)
      throw e;
    throw new UserError(
      e.message.replace(/`lake unlock ([^`]*)`/, '`npx lake unlock $1' + stackFlags(mode) + '`'),
      e.stale
        ? `check that no erase or compact of ${dataset} runs (its holder's terminal, or the scheduled compaction's logs), then run the unlock command above`
        : 'run it again when that one has finished (npx lake status' + stackFlags(mode) + ' shows the lease)',
    );
  }
}

export interface AwsEraseOptions extends EraseCommandOptions {
  piiSaltSecret?: string;
}

export async function eraseOnAws(mode: AwsMode, options: AwsEraseOptions, io: Io): Promise<void> {
  const contracts = loadLakeContracts();
  const contract = contracts.get(options.dataset);
  if (!contract)
    throw new UserError(`unknown dataset "${options.dataset}"`, `known datasets: ${contracts.names().join(', ')}`);
  const hashes = contract.columns.some(
    (c) => c.pii === 'hash' && new RegExp(`^\\s*"?${c.name}"?\\s*=`, 'i').test(options.where),
  );
  if (hashes && !options.piiSaltSecret) {
    throw new UserError(
      `--where names a hash PII column: the value must be hashed with the deployment's salt`,
      "pass --pii-salt-secret <the PII salt secret ARN> (the ingest function's PII_SALT_SECRET_ARN)",
    );
  }
  const session = await openAwsSession(mode);
  const work = await mkdtemp(join(tmpdir(), 'lake-erase-'));
  try {
    const { store } = session;
    const requestedBy = options.requestedBy ?? `${localIdentity()} (AWS stack ${mode.stack})`;
    const erase = () =>
      runErasure({
        store,
        contracts,
        dataset: contract.name,
        where: options.where,
        piiSalt: salt,
        requestedBy,
        dryRun: options.dryRun,
        workDir: work,
      });
    const salt = await piiSalt(session, options.piiSaltSecret);
    // A dry run writes nothing: it needs no lease (and runs beside a maintenance in progress).
    let inFlight: string[] = [];
    const record = options.dryRun
      ? await erase()
      : await underLease(store, mode, contract.name, 'erase', `${localIdentity()} (lake erase)`, async () => {
          // Ingests that passed their lease check before the lease existed may still write: name them.
          inFlight = await pendingIngests(store, contract.name);
          return erase();
        });
    if (inFlight.length) io.note(io.errStyle.yellow(inFlightNote(contract.name, inFlight)));
    if (options.json) io.print(renderJson(record));
    else {
      printErasure(record, io);
      if (!record.dry_run && record.rows_removed.silver > 0)
        io.print(io.style.dim('gold: the rewritten manifests queue a gold refresh of the affected months\n'));
    }
  } finally {
    await rm(work, { recursive: true, force: true });
    session.close();
  }
}

export async function compactOnAws(
  mode: AwsMode,
  options: { dataset?: string; partition?: string; targetBytes: number; dryRun?: boolean },
  io: Io,
): Promise<CompactionReport[]> {
  const contracts = loadLakeContracts();
  const session = await openAwsSession(mode);
  const work = await mkdtemp(join(tmpdir(), 'lake-compact-'));
  try {
    if (options.dataset && !contracts.get(options.dataset))
      throw new UserError(`unknown dataset "${options.dataset}"`, `known datasets: ${contracts.names().join(', ')}`);
    const datasets = options.dataset ? [options.dataset] : contracts.names();
    const reports: CompactionReport[] = [];
    for (const dataset of datasets) {
      const progress = io.progress();
      progress.phase(`compacting ${dataset} on ${mode.stack}`);
      try {
        const { store } = session;
        const compact = () =>
          runCompaction({
            store,
            contracts,
            dataset,
            partition: options.partition,
            targetBytes: options.targetBytes,
            dryRun: options.dryRun,
            workDir: work,
          });
        reports.push(
          options.dryRun
            ? await compact()
            : await underLease(store, mode, dataset, 'compact', `${localIdentity()} (lake compact)`, compact),
        );
      } finally {
        progress.stop();
      }
    }
    return reports;
  } finally {
    await rm(work, { recursive: true, force: true });
    session.close();
  }
}
