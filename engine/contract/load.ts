import { readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type {
  ColumnChecks,
  ColumnContract,
  DatasetContract,
  PartitionField,
  PartitionTransform,
  PiiClass,
  ScalarType,
  SourceFormat,
} from './types.ts';
import { UNKNOWN_DATASET } from '../layout.ts';

/** A contract file that does not describe a valid dataset. Carries the file and the JSON path at fault. */
export class ContractError extends Error {
  constructor(
    readonly file: string,
    readonly path: string,
    readonly reason: string,
  ) {
    super(`${file}: ${path}: ${reason}`);
    this.name = 'ContractError';
  }
}

const SNAKE_CASE = /^[a-z][a-z0-9_]*$/;
const PII_CLASSES: readonly PiiClass[] = ['none', 'hash', 'drop'];
const FORMATS: readonly SourceFormat[] = ['csv', 'jsonl'];
const TRANSFORMS: readonly PartitionTransform[] = ['year', 'month', 'day', 'identity'];
const TEMPORAL_TRANSFORMS: readonly PartitionTransform[] = ['year', 'month', 'day'];

export function parseType(text: string): ScalarType | undefined {
  const t = text.trim().toLowerCase();
  const decimal = /^decimal\(\s*(\d+)\s*,\s*(\d+)\s*\)$/.exec(t);
  if (decimal) {
    const precision = Number(decimal[1]);
    const scale = Number(decimal[2]);
    if (precision < 1 || precision > 38 || scale > precision) return undefined;
    return { kind: 'decimal', precision, scale };
  }
  switch (t) {
    case 'string':
    case 'int':
    case 'bigint':
    case 'double':
    case 'boolean':
    case 'date':
    case 'timestamp':
      return { kind: t };
    default:
      return undefined;
  }
}

type Json = unknown;

class Reader {
  constructor(readonly file: string) {}

  fail(path: string, reason: string): never {
    throw new ContractError(this.file, path, reason);
  }

  object(value: Json, path: string): Record<string, Json> {
    if (typeof value !== 'object' || value === null || Array.isArray(value)) this.fail(path, 'must be an object');
    return value as Record<string, Json>;
  }

  string(value: Json, path: string): string {
    if (typeof value !== 'string' || value.trim() === '') this.fail(path, 'must be a non-empty string');
    return value;
  }

  optionalString(value: Json, path: string, fallback: string): string {
    return value === undefined ? fallback : this.string(value, path);
  }

  stringArray(value: Json, path: string): string[] {
    if (value === undefined) return [];
    if (!Array.isArray(value)) this.fail(path, 'must be an array of strings');
    return value.map((v, i) => this.string(v, `${path}[${i}]`));
  }

  oneOf<T extends string>(value: Json, allowed: readonly T[], path: string, fallback?: T): T {
    if (value === undefined && fallback !== undefined) return fallback;
    if (typeof value !== 'string' || !allowed.includes(value as T)) {
      this.fail(path, `must be one of ${allowed.join(', ')} (got ${JSON.stringify(value)})`);
    }
    return value as T;
  }

  unknownKeys(obj: Record<string, Json>, known: readonly string[], path: string): void {
    for (const key of Object.keys(obj)) {
      if (!known.includes(key)) this.fail(`${path}.${key}`, `unknown property (expected one of ${known.join(', ')})`);
    }
  }
}

function readChecks(r: Reader, value: Json, path: string, type: ScalarType): ColumnChecks {
  if (value === undefined) return {};
  const obj = r.object(value, path);
  r.unknownKeys(obj, ['allowedValues', 'pattern', 'min', 'max', 'maxLength'], path);
  const checks: ColumnChecks = {};
  if (obj.allowedValues !== undefined) {
    checks.allowedValues = r.stringArray(obj.allowedValues, `${path}.allowedValues`);
    if (checks.allowedValues.length === 0) r.fail(`${path}.allowedValues`, 'must not be empty');
  }
  if (obj.pattern !== undefined) {
    checks.pattern = r.string(obj.pattern, `${path}.pattern`);
    try {
      new RegExp(checks.pattern);
    } catch (e) {
      r.fail(`${path}.pattern`, `is not a valid regular expression: ${(e as Error).message}`);
    }
    // Patterns run in DuckDB, whose RE2 engine has no lookaround and no backreferences.
    if (/\(\?<?[=!]|\\[1-9]|\\k</.test(checks.pattern)) {
      r.fail(
        `${path}.pattern`,
        'uses lookaround or a backreference, which RE2 (the engine that runs the check) does not support',
      );
    }
  }
  for (const bound of ['min', 'max'] as const) {
    const b = obj[bound];
    if (b === undefined) continue;
    const numeric = ['int', 'bigint', 'double', 'decimal'].includes(type.kind);
    if (numeric && typeof b !== 'number') r.fail(`${path}.${bound}`, 'must be a number for a numeric column');
    if ((type.kind === 'date' || type.kind === 'timestamp') && (typeof b !== 'string' || Number.isNaN(Date.parse(b)))) {
      r.fail(`${path}.${bound}`, 'must be an ISO date/timestamp string for a temporal column');
    }
    if (!numeric && type.kind !== 'date' && type.kind !== 'timestamp')
      r.fail(`${path}.${bound}`, `not supported for ${type.kind} columns`);
    checks[bound] = b as number | string;
  }
  if (obj.maxLength !== undefined) {
    if (typeof obj.maxLength !== 'number' || !Number.isInteger(obj.maxLength) || obj.maxLength < 1) {
      r.fail(`${path}.maxLength`, 'must be a positive integer');
    }
    checks.maxLength = obj.maxLength;
  }
  return checks;
}

function readColumn(r: Reader, value: Json, path: string): ColumnContract {
  const obj = r.object(value, path);
  r.unknownKeys(obj, ['name', 'type', 'required', 'aliases', 'checks', 'pii', 'invalidReason', 'description'], path);
  const name = r.string(obj.name, `${path}.name`);
  if (!SNAKE_CASE.test(name)) r.fail(`${path}.name`, `"${name}" must be lower snake_case (Athena lower-cases names)`);
  const typeText = r.string(obj.type, `${path}.type`);
  const type = parseType(typeText);
  if (!type) {
    r.fail(
      `${path}.type`,
      `unknown type "${typeText}" (string, int, bigint, double, decimal(p,s) with 1<=p<=38 and s<=p, boolean, date, timestamp)`,
    );
  }
  if (obj.required !== undefined && typeof obj.required !== 'boolean')
    r.fail(`${path}.required`, 'must be true or false');
  const invalidReason = r.optionalString(obj.invalidReason, `${path}.invalidReason`, `INVALID_${name.toUpperCase()}`);
  if (!/^[A-Z][A-Z0-9_]*$/.test(invalidReason))
    r.fail(`${path}.invalidReason`, 'must be an UPPER_SNAKE_CASE reason code');
  return {
    name,
    type,
    typeText: typeText.trim().toLowerCase().replace(/\s+/g, ''),
    required: obj.required === true,
    aliases: r.stringArray(obj.aliases, `${path}.aliases`),
    checks: readChecks(r, obj.checks, `${path}.checks`, type),
    pii: r.oneOf(obj.pii, PII_CLASSES, `${path}.pii`, 'none'),
    invalidReason,
    description: r.optionalString(obj.description, `${path}.description`, ''),
  };
}

function readPartitions(r: Reader, value: Json, columns: ColumnContract[]): PartitionField[] {
  if (value === undefined) return [];
  if (!Array.isArray(value)) r.fail('partitionBy', 'must be an array');
  return value.map((v, i) => {
    const path = `partitionBy[${i}]`;
    const obj = r.object(v, path);
    r.unknownKeys(obj, ['name', 'source', 'transform'], path);
    const name = r.string(obj.name, `${path}.name`);
    if (!SNAKE_CASE.test(name)) r.fail(`${path}.name`, 'must be lower snake_case');
    if (columns.some((c) => c.name === name)) r.fail(`${path}.name`, `"${name}" clashes with a column name`);
    const source = r.string(obj.source, `${path}.source`);
    const column = columns.find((c) => c.name === source);
    if (!column) r.fail(`${path}.source`, `no column named "${source}"`);
    if (!column.required) r.fail(`${path}.source`, `partition source "${source}" must be a required column`);
    if (column.pii !== 'none')
      r.fail(`${path}.source`, `partition source "${source}" is PII (${column.pii}); partition paths would expose it`);
    const transform = r.oneOf(obj.transform, TRANSFORMS, `${path}.transform`);
    if (TEMPORAL_TRANSFORMS.includes(transform) && column.type.kind !== 'timestamp' && column.type.kind !== 'date') {
      r.fail(`${path}.transform`, `"${transform}" needs a date or timestamp column, "${source}" is ${column.typeText}`);
    }
    return { name, source, transform };
  });
}

/** Parses and validates one contract document. Errors name the file and the JSON path at fault. */
export function parseContract(document: Json, file: string): DatasetContract {
  const r: Reader = new Reader(file);
  const obj = r.object(document, '$');
  r.unknownKeys(
    obj,
    ['$schema', 'name', 'version', 'description', 'owner', 'bronzePrefix', 'source', 'columns', 'partitionBy'],
    '$',
  );
  const name = r.string(obj.name, 'name');
  if (!SNAKE_CASE.test(name)) r.fail('name', `"${name}" must be lower snake_case (it becomes a Glue table name)`);
  if (name === UNKNOWN_DATASET) r.fail('name', `"${name}" is reserved for objects no contract owns`);
  const version = r.string(obj.version, 'version');
  const bronzePrefix = r.optionalString(obj.bronzePrefix, 'bronzePrefix', `${name}/`);
  if (!bronzePrefix.endsWith('/') || bronzePrefix.startsWith('/'))
    r.fail('bronzePrefix', 'must be a relative key prefix ending in "/"');

  const sourceObj = obj.source === undefined ? {} : r.object(obj.source, 'source');
  r.unknownKeys(sourceObj, ['format', 'delimiter'], 'source');
  const format = r.oneOf(sourceObj.format, FORMATS, 'source.format', 'csv');
  const delimiter = r.optionalString(sourceObj.delimiter, 'source.delimiter', ',');
  if (delimiter.length !== 1 || delimiter === '"')
    r.fail('source.delimiter', 'must be a single character other than "');

  if (!Array.isArray(obj.columns) || obj.columns.length === 0) r.fail('columns', 'must be a non-empty array');
  const columns = obj.columns.map((c, i) => readColumn(r, c, `columns[${i}]`));
  const seen = new Map<string, string>();
  columns.forEach((c, i) => {
    for (const label of [c.name, ...c.aliases]) {
      const key = normalizeHeaderName(label);
      const owner = seen.get(key);
      if (owner !== undefined && owner !== c.name) {
        r.fail(`columns[${i}]`, `header "${label}" would match both "${owner}" and "${c.name}"`);
      }
      seen.set(key, c.name);
    }
  });
  const partitionBy = readPartitions(r, obj.partitionBy, columns);
  return {
    name,
    version,
    description: r.optionalString(obj.description, 'description', ''),
    owner: r.optionalString(obj.owner, 'owner', 'unknown'),
    bronzePrefix,
    source: { format, delimiter },
    columns,
    partitionBy,
    file,
  };
}

/** Header matching is case-, whitespace- and underscore-insensitive: `Transaction ID` = `transaction_id` = `TransactionID`. */
export function normalizeHeaderName(label: string): string {
  return label
    .replace(/^\uFEFF/, '')
    .toLowerCase()
    .replace(/[\s_]+/g, '');
}

export function loadContractFile(file: string): DatasetContract {
  let document: Json;
  try {
    document = JSON.parse(readFileSync(file, 'utf8'));
  } catch (e) {
    throw new ContractError(file, '$', `is not valid JSON: ${(e as Error).message}`);
  }
  return parseContract(document, file);
}

/** The contracts of a lake, looked up by name or by the bronze key they own. */
export class ContractRegistry {
  private readonly byName = new Map<string, DatasetContract>();

  constructor(readonly contracts: readonly DatasetContract[]) {
    for (const c of contracts) {
      const clash = this.byName.get(c.name);
      if (clash) throw new ContractError(c.file, 'name', `dataset "${c.name}" is also defined in ${clash.file}`);
      this.byName.set(c.name, c);
    }
    for (const a of contracts) {
      for (const b of contracts) {
        if (a !== b && b.bronzePrefix.startsWith(a.bronzePrefix)) {
          throw new ContractError(
            b.file,
            'bronzePrefix',
            `"${b.bronzePrefix}" overlaps "${a.bronzePrefix}" of ${a.name} (${a.file})`,
          );
        }
      }
    }
  }

  get(name: string): DatasetContract | undefined {
    return this.byName.get(name);
  }

  /** The contract whose bronze prefix owns this key, if any. */
  forKey(key: string): DatasetContract | undefined {
    return this.contracts.find((c) => key.startsWith(c.bronzePrefix));
  }

  names(): string[] {
    return [...this.byName.keys()].sort();
  }
}

export const DEFAULT_CONTRACTS_DIR = resolve(import.meta.dirname, '../../contracts');

/** Loads every `*.json` contract in a directory. Adding a dataset = adding one file here. */
export function loadContracts(dir: string = DEFAULT_CONTRACTS_DIR): ContractRegistry {
  const files = readdirSync(dir)
    .filter((f) => f.endsWith('.json') && !f.startsWith('_'))
    .sort();
  return new ContractRegistry(files.map((f) => loadContractFile(join(dir, f))));
}
