/**
 * `npm run contracts:check`: the breaking-change gate (part of `npm test`). Compares every contract in
 * contracts/ with its last released snapshot (contracts/released/<name>@<version>.json) and exits 1 when a
 * change is not matched by its version bump (or a breaking one has no contracts/migrations/<name>@<version>.md).
 * `npm run contracts:release` (`--release`): snapshots the contracts whose version has no snapshot yet.
 */
import { relative, resolve } from 'node:path';
import { DEFAULT_CONTRACTS_DIR, releaseContracts, runContractGate } from '../engine/index.ts';

const dir = process.env.LAKE_CONTRACTS_DIR ? resolve(process.env.LAKE_CONTRACTS_DIR) : DEFAULT_CONTRACTS_DIR;
const root = resolve(import.meta.dirname, '..');

if (process.argv.includes('--release')) {
  const written = releaseContracts(dir);
  console.log(
    written.length
      ? written.map((f) => `released ${relative(root, f)}`).join('\n')
      : 'every contract version is already released',
  );
} else {
  const report = runContractGate(dir);
  for (const v of report.verdicts) {
    const head = `${v.dataset}: released ${v.releasedVersion}, working copy ${v.currentVersion}`;
    console.log(v.changes.length === 0 ? `${head}: no change` : `${head}: needs a ${v.required} bump`);
    for (const c of v.changes) console.log(`  [${c.level}] ${c.path}: ${c.detail}`);
  }
  for (const name of report.unreleased) console.log(`${name}: not released yet (npm run contracts:release)`);
  if (report.problems.length > 0) {
    console.error(
      `contract gate: ${report.problems.length} problem(s)\n${report.problems.map((p) => `  ${p}`).join('\n')}`,
    );
    process.exitCode = 1;
  } else {
    console.log('contract gate: ok');
  }
}
