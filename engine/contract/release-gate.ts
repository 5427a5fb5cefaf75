/**
 * The breaking-change gate over a contracts directory. Released versions are kept next to the contracts as
 * exact copies, `released/<name>@<version>.json`; a breaking change's migration note is
 * `migrations/<name>@<version>.md`. `npm run contracts:check` runs the gate (part of `npm test`);
 * `npm run contracts:release` snapshots the contracts whose version has no snapshot yet.
 */
import { copyFileSync, existsSync, mkdirSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { compareSemVer, judgeContractEvolution, parseSemVer, type EvolutionVerdict, type SemVer } from './evolution.ts';
import { ContractError, loadContractFile, loadContracts } from './load.ts';
import type { DatasetContract } from './types.ts';

export const RELEASED_DIR = 'released';
export const MIGRATIONS_DIR = 'migrations';

const SNAPSHOT_NAME = /^([a-z][a-z0-9_]*)@(\d+\.\d+\.\d+)\.json$/;

export const releasedSnapshotPath = (contractsDir: string, name: string, version: string): string =>
  join(contractsDir, RELEASED_DIR, `${name}@${version}.json`);
export const migrationNotePath = (contractsDir: string, name: string, version: string): string =>
  join(contractsDir, MIGRATIONS_DIR, `${name}@${version}.md`);

interface Snapshot {
  name: string;
  version: SemVer;
  file: string;
}

function snapshots(contractsDir: string): Snapshot[] {
  const dir = join(contractsDir, RELEASED_DIR);
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((f) => f.endsWith('.json'))
    .map((f) => {
      const m = SNAPSHOT_NAME.exec(f);
      const version = m ? parseSemVer(m[2] as string) : undefined;
      if (!m || !version)
        throw new ContractError(
          join(dir, f),
          '$',
          'released snapshot must be named <dataset>@<MAJOR.MINOR.PATCH>.json',
        );
      return { name: m[1] as string, version, file: join(dir, f) };
    });
}

/** The last released version of each dataset, loaded and checked against its file name. */
export function lastReleased(contractsDir: string): Map<string, DatasetContract> {
  const latest = new Map<string, Snapshot>();
  for (const s of snapshots(contractsDir)) {
    const seen = latest.get(s.name);
    if (!seen || compareSemVer(s.version, seen.version) > 0) latest.set(s.name, s);
  }
  const released = new Map<string, DatasetContract>();
  for (const [name, s] of latest) {
    const contract = loadContractFile(s.file);
    const expected = `${s.version.major}.${s.version.minor}.${s.version.patch}`;
    if (contract.name !== name || contract.version !== expected) {
      throw new ContractError(
        s.file,
        '$',
        `snapshot holds ${contract.name}@${contract.version}, its file name says ${name}@${expected}`,
      );
    }
    released.set(name, contract);
  }
  return released;
}

export interface GateReport {
  verdicts: EvolutionVerdict[];
  /** Datasets with no released snapshot yet (their first release is pending). */
  unreleased: string[];
  /** Everything that blocks the gate, each naming its dataset. */
  problems: string[];
}

/** Compares every contract of a directory with its last released version. */
export function runContractGate(contractsDir: string): GateReport {
  const current = loadContracts(contractsDir);
  const released = lastReleased(contractsDir);
  const report: GateReport = { verdicts: [], unreleased: [], problems: [] };
  for (const name of current.names()) {
    const contract = current.get(name) as DatasetContract;
    const before = released.get(name);
    if (!parseSemVer(contract.version)) {
      report.problems.push(
        `${contract.file}: version: "${contract.version}" is not a semantic version (MAJOR.MINOR.PATCH)`,
      );
      continue;
    }
    if (!before) {
      report.unreleased.push(name);
      continue;
    }
    const verdict = judgeContractEvolution(
      before,
      contract,
      existsSync(migrationNotePath(contractsDir, name, contract.version)),
    );
    report.verdicts.push(verdict);
    report.problems.push(
      ...verdict.problems.map((p) => `${contract.file}: ${name} ${before.version} → ${contract.version}: ${p}`),
    );
  }
  for (const [name, before] of released) {
    if (current.get(name)) continue;
    if (!existsSync(migrationNotePath(contractsDir, name, 'retired'))) {
      report.problems.push(
        `${name}: released as ${before.version} but its contract is gone: removing a dataset is breaking (write ${join(MIGRATIONS_DIR, `${name}@retired.md`)} to retire it)`,
      );
    }
  }
  return report;
}

/** Snapshots every contract whose version has no snapshot yet. Refuses when the gate has problems. Returns the files written. */
export function releaseContracts(contractsDir: string): string[] {
  const report = runContractGate(contractsDir);
  if (report.problems.length > 0) throw new Error(`contract gate failed:\n${report.problems.join('\n')}`);
  mkdirSync(join(contractsDir, RELEASED_DIR), { recursive: true });
  const written: string[] = [];
  const current = loadContracts(contractsDir);
  for (const name of current.names()) {
    const contract = current.get(name) as DatasetContract;
    const target = releasedSnapshotPath(contractsDir, name, contract.version);
    if (existsSync(target)) continue;
    copyFileSync(contract.file, target);
    written.push(target);
  }
  return written;
}
