/**
 * Contract evolution: what changed between a contract's last released version and the working copy, and
 * whether its version number says so. Additive changes (old silver files still read, producers' files still
 * pass) need a minor bump; breaking ones need a major bump and a migration note; the rest a patch bump.
 */
import type { ColumnChecks, ColumnContract, DatasetContract, ScalarType } from './types.ts';

/** How much a change can hurt a reader of silver or a producer of bronze. */
export type ChangeLevel = 'patch' | 'minor' | 'major';

export interface ContractChange {
  level: ChangeLevel;
  /** Where in the contract, e.g. `columns.amount.type`. */
  path: string;
  detail: string;
}

export interface SemVer {
  major: number;
  minor: number;
  patch: number;
}

const SEMVER = /^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)$/;

export function parseSemVer(text: string): SemVer | undefined {
  const m = SEMVER.exec(text);
  return m ? { major: Number(m[1]), minor: Number(m[2]), patch: Number(m[3]) } : undefined;
}

export function compareSemVer(a: SemVer, b: SemVer): number {
  return a.major - b.major || a.minor - b.minor || a.patch - b.patch;
}

const LEVEL_RANK: Record<ChangeLevel, number> = { patch: 0, minor: 1, major: 2 };

/** Whether a value of type `from` reads as `to` without loss (old Parquet files under a new table type). */
function typeWidens(from: ScalarType, to: ScalarType): boolean {
  if (from.kind === 'decimal' && to.kind === 'decimal') {
    return to.scale >= from.scale && to.precision - to.scale >= from.precision - from.scale;
  }
  return from.kind === 'int' && to.kind === 'bigint';
}

function sameType(a: ScalarType, b: ScalarType): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

/** One bound of a check: `relaxed` when the new bound accepts every value the old one did. */
function boundChange(
  path: string,
  label: string,
  before: number | string | undefined,
  after: number | string | undefined,
  relaxed: (a: number | string, b: number | string) => boolean,
): ContractChange[] {
  if (before === after) return [];
  if (after === undefined)
    return [{ level: 'minor', path, detail: `${label} check ${JSON.stringify(before)} removed (relaxed)` }];
  if (before === undefined)
    return [
      {
        level: 'major',
        path,
        detail: `${label} check ${JSON.stringify(after)} added: rows that passed before may be rejected`,
      },
    ];
  return relaxed(before, after)
    ? [{ level: 'minor', path, detail: `${label} relaxed from ${JSON.stringify(before)} to ${JSON.stringify(after)}` }]
    : [
        {
          level: 'major',
          path,
          detail: `${label} tightened from ${JSON.stringify(before)} to ${JSON.stringify(after)}: rows that passed before may be rejected`,
        },
      ];
}

const asNumber = (v: number | string): number => (typeof v === 'number' ? v : Date.parse(v));

function checkChanges(path: string, before: ColumnChecks, after: ColumnChecks): ContractChange[] {
  const changes: ContractChange[] = [];
  const oldValues = before.allowedValues;
  const newValues = after.allowedValues;
  if (oldValues && !newValues)
    changes.push({ level: 'minor', path: `${path}.allowedValues`, detail: 'allowed values check removed (relaxed)' });
  if (!oldValues && newValues)
    changes.push({
      level: 'major',
      path: `${path}.allowedValues`,
      detail: `allowed values ${newValues.join(', ')} added: rows that passed before may be rejected`,
    });
  if (oldValues && newValues) {
    const removed = oldValues.filter((v) => !newValues.includes(v));
    const added = newValues.filter((v) => !oldValues.includes(v));
    if (removed.length > 0)
      changes.push({
        level: 'major',
        path: `${path}.allowedValues`,
        detail: `allowed values removed: ${removed.join(', ')}`,
      });
    if (added.length > 0)
      changes.push({
        level: 'minor',
        path: `${path}.allowedValues`,
        detail: `allowed values added: ${added.join(', ')}`,
      });
  }
  if (before.pattern !== after.pattern) {
    changes.push(
      after.pattern === undefined
        ? { level: 'minor', path: `${path}.pattern`, detail: 'pattern check removed (relaxed)' }
        : {
            level: 'major',
            path: `${path}.pattern`,
            detail: `pattern ${before.pattern === undefined ? 'added' : `changed from /${before.pattern}/`} to /${after.pattern}/: rows that passed before may be rejected`,
          },
    );
  }
  changes.push(...boundChange(`${path}.min`, 'min', before.min, after.min, (a, b) => asNumber(b) <= asNumber(a)));
  changes.push(...boundChange(`${path}.max`, 'max', before.max, after.max, (a, b) => asNumber(b) >= asNumber(a)));
  changes.push(
    ...boundChange(
      `${path}.maxLength`,
      'maxLength',
      before.maxLength,
      after.maxLength,
      (a, b) => Number(b) >= Number(a),
    ),
  );
  return changes;
}

function columnChanges(before: ColumnContract, after: ColumnContract): ContractChange[] {
  const path = `columns.${after.name}`;
  const changes: ContractChange[] = [];
  if (!sameType(before.type, after.type)) {
    changes.push(
      typeWidens(before.type, after.type)
        ? { level: 'minor', path: `${path}.type`, detail: `type widened from ${before.typeText} to ${after.typeText}` }
        : {
            level: 'major',
            path: `${path}.type`,
            detail: `type changed from ${before.typeText} to ${after.typeText} (narrowed or incompatible): silver files written before may not read`,
          },
    );
  }
  if (before.required !== after.required) {
    changes.push(
      after.required
        ? {
            level: 'major',
            path: `${path}.required`,
            detail: 'became required: files without it are rejected, old rows may hold NULL',
          }
        : { level: 'minor', path: `${path}.required`, detail: 'no longer required (relaxed)' },
    );
  }
  if (before.pii !== after.pii) {
    changes.push({
      level: 'major',
      path: `${path}.pii`,
      detail: `PII handling changed from ${before.pii} to ${after.pii}: silver values change meaning`,
    });
  }
  const removedAliases = before.aliases.filter((a) => !after.aliases.includes(a));
  const addedAliases = after.aliases.filter((a) => !before.aliases.includes(a));
  if (removedAliases.length > 0)
    changes.push({
      level: 'major',
      path: `${path}.aliases`,
      detail: `source headers no longer accepted: ${removedAliases.join(', ')}`,
    });
  if (addedAliases.length > 0)
    changes.push({
      level: 'minor',
      path: `${path}.aliases`,
      detail: `source headers added: ${addedAliases.join(', ')}`,
    });
  if (before.invalidReason !== after.invalidReason) {
    changes.push({
      level: 'major',
      path: `${path}.invalidReason`,
      detail: `reason code changed from ${before.invalidReason} to ${after.invalidReason}: quarantine queries and alerts on the old code stop matching`,
    });
  }
  changes.push(...checkChanges(`${path}.checks`, before.checks, after.checks));
  if (before.description !== after.description)
    changes.push({ level: 'patch', path: `${path}.description`, detail: 'description changed' });
  return changes;
}

/** Every difference between a released contract and its working copy, each with the version bump it needs. */
export function classifyContractChanges(released: DatasetContract, current: DatasetContract): ContractChange[] {
  const changes: ContractChange[] = [];
  if (released.bronzePrefix !== current.bronzePrefix) {
    changes.push({
      level: 'major',
      path: 'bronzePrefix',
      detail: `bronze prefix changed from ${released.bronzePrefix} to ${current.bronzePrefix}: producers' keys no longer match`,
    });
  }
  if (released.source.format !== current.source.format || released.source.delimiter !== current.source.delimiter) {
    changes.push({
      level: 'major',
      path: 'source',
      detail: `source format changed from ${JSON.stringify(released.source)} to ${JSON.stringify(current.source)}`,
    });
  }
  if (JSON.stringify(released.partitionBy) !== JSON.stringify(current.partitionBy)) {
    changes.push({
      level: 'major',
      path: 'partitionBy',
      detail: `partitioning changed from ${partitionText(released)} to ${partitionText(current)}: existing silver paths and Glue partitions no longer match`,
    });
  }
  for (const before of released.columns) {
    const after = current.columns.find((c) => c.name === before.name);
    if (after) {
      changes.push(...columnChanges(before, after));
      continue;
    }
    const renamedTo = current.columns.find(
      (c) => !released.columns.some((r) => r.name === c.name) && c.aliases.includes(before.name),
    );
    changes.push({
      level: 'major',
      path: `columns.${before.name}`,
      detail: renamedTo
        ? `column renamed to ${renamedTo.name}: queries naming ${before.name} break`
        : 'column removed: queries naming it break',
    });
  }
  for (const after of current.columns) {
    if (released.columns.some((c) => c.name === after.name)) continue;
    changes.push(
      after.required
        ? {
            level: 'major',
            path: `columns.${after.name}`,
            detail: "new required column: producers' files without it are rejected",
          }
        : {
            level: 'minor',
            path: `columns.${after.name}`,
            detail: `new nullable column (${after.typeText}): files written before read it as NULL`,
          },
    );
  }
  if (released.description !== current.description)
    changes.push({ level: 'patch', path: 'description', detail: 'description changed' });
  if (released.owner !== current.owner)
    changes.push({ level: 'patch', path: 'owner', detail: `owner changed from ${released.owner} to ${current.owner}` });
  return changes;
}

function partitionText(c: DatasetContract): string {
  return c.partitionBy.map((p) => `${p.name}=${p.transform}(${p.source})`).join('/') || 'nothing';
}

/** The largest bump the changes need, or undefined when nothing changed. */
export function requiredBump(changes: readonly ContractChange[]): ChangeLevel | undefined {
  let level: ChangeLevel | undefined;
  for (const c of changes) if (level === undefined || LEVEL_RANK[c.level] > LEVEL_RANK[level]) level = c.level;
  return level;
}

export interface EvolutionVerdict {
  dataset: string;
  releasedVersion: string;
  currentVersion: string;
  changes: ContractChange[];
  required: ChangeLevel | undefined;
  /** Why the working copy may not be released as it stands; empty when it may. */
  problems: string[];
}

/**
 * Judges a working copy against its last release. `hasMigrationNote` says whether the migration note a
 * major bump needs exists (see migrationNotePath).
 */
export function judgeContractEvolution(
  released: DatasetContract,
  current: DatasetContract,
  hasMigrationNote: boolean,
): EvolutionVerdict {
  const changes = classifyContractChanges(released, current);
  const required = requiredBump(changes);
  const problems: string[] = [];
  const before = parseSemVer(released.version);
  const after = parseSemVer(current.version);
  const verdict = {
    dataset: current.name,
    releasedVersion: released.version,
    currentVersion: current.version,
    changes,
    required,
    problems,
  };
  if (!before) problems.push(`released version "${released.version}" is not a semantic version (MAJOR.MINOR.PATCH)`);
  if (!after) problems.push(`version "${current.version}" is not a semantic version (MAJOR.MINOR.PATCH)`);
  if (!before || !after) return verdict;
  const order = compareSemVer(after, before);
  if (order < 0) problems.push(`version ${current.version} is lower than the released ${released.version}`);
  if (required === undefined || order < 0) return verdict;
  const list = changes
    .filter((c) => c.level === required)
    .map((c) => `${c.path}: ${c.detail}`)
    .join('; ');
  if (required === 'major') {
    if (after.major <= before.major) {
      problems.push(
        `breaking change refused: ${list} — raise the major version above ${before.major} (e.g. ${before.major + 1}.0.0) and write a migration note`,
      );
    } else if (!hasMigrationNote) {
      problems.push(`breaking change to ${current.version} needs a migration note (${list})`);
    }
  } else if (required === 'minor' && after.major === before.major && after.minor <= before.minor) {
    problems.push(`additive change needs a minor version bump (e.g. ${before.major}.${before.minor + 1}.0): ${list}`);
  } else if (required === 'patch' && order === 0) {
    problems.push(
      `contract changed without a version bump (e.g. ${before.major}.${before.minor}.${before.patch + 1}): ${list}`,
    );
  }
  return verdict;
}
