/**
 * globalSetup of the tiers that spawn `lake` (e2e, faults; the integration setup calls it too): the CLI runs from
 * its bundle, dist/cli/lake.mjs, so it is rebuilt when a source it was built from is newer (or it is missing).
 * A child process, not an import of the build script: jest loads global setups through `require` and its
 * transform, which a plain `.mjs` import in their graph would switch off (Node's type stripping then loads the
 * graph, and refuses what it cannot strip).
 */
import { execFileSync } from 'node:child_process';
import { join, resolve } from 'node:path';

const ROOT = resolve(import.meta.dirname, '../..');

export default function ensureCliBuilt(): void {
  const out = execFileSync(process.execPath, [join(ROOT, 'scripts', 'build-cli.mjs'), '--if-stale'], {
    cwd: ROOT,
    encoding: 'utf8',
  });
  if (out.trim()) console.log(`[tests] ${out.trim()}`);
}
