/**
 * globalSetup of the tiers that spawn `lake` (e2e, faults; integration calls it too): the CLI runs from its
 * bundle, dist/cli/lake.mjs, so it is rebuilt here when a source it was built from is newer (or it is missing).
 */
import { buildCli, staleReason } from '../../scripts/build-cli.mjs';

export default async function ensureCliBuilt(): Promise<void> {
  const reason = staleReason();
  if (reason === undefined) return;
  const ms = await buildCli();
  console.log(`[tests] lake CLI rebuilt in ${Math.round(ms)} ms (${reason})`);
}
