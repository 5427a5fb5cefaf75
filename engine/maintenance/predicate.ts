/**
 * The one predicate erasure accepts: `<column> = <value>` on a contract column. Parsed here, never passed to
 * SQL as text: the column must be one the contract names, and the value becomes a quoted SQL string.
 */
import type { ColumnContract, DatasetContract } from '../contract/types.ts';

export interface EqualityPredicate {
  column: ColumnContract;
  /** The value as the person gave it (before typing or hashing). */
  value: string;
  /** The predicate as given, for messages. */
  text: string;
}

/** Input a maintenance use case refuses (unknown dataset, a malformed partition): the caller's to fix. */
export class MaintenanceInputError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'MaintenanceInputError';
  }
}

/** A predicate erasure cannot take; the message says why and what it accepts. */
export class PredicateError extends MaintenanceInputError {
  constructor(message: string) {
    super(message);
    this.name = 'PredicateError';
  }
}

const FORM = `use <column> = <value>, e.g. account_id = 'ACC001' (quote a value with spaces; '' inside quotes is one ')`;
const BARE_VALUE = /^[A-Za-z0-9_.:@+-]+$/;

function unquote(literal: string): string {
  if (literal.startsWith("'")) {
    if (literal.length < 2 || !literal.endsWith("'"))
      throw new PredicateError(`unterminated quoted value ${literal}: ${FORM}`);
    const inner = literal.slice(1, -1);
    if (/'(?!')/.test(inner.replace(/''/g, '')))
      throw new PredicateError(`a quote inside the value must be doubled (''): ${literal}`);
    return inner.replace(/''/g, "'");
  }
  if (!BARE_VALUE.test(literal)) throw new PredicateError(`"${literal}" is not a plain value: ${FORM}`);
  return literal;
}

/** Parses and checks `text` against the contract: only `=`, only a contract column, one value. */
export function parseEqualityPredicate(text: string, contract: DatasetContract): EqualityPredicate {
  const match = /^\s*("?)([A-Za-z_][A-Za-z0-9_]*)\1\s*=\s*(.*?)\s*$/s.exec(text);
  if (!match)
    throw new PredicateError(
      `cannot read the predicate "${text}": only an equality on one column is accepted; ${FORM}`,
    );
  const name = match[2] as string;
  const literal = match[3] as string;
  const column = contract.columns.find((c) => c.name.toLowerCase() === name.toLowerCase());
  if (!column) {
    throw new PredicateError(
      `unknown column "${name}" in dataset ${contract.name}: its columns are ${contract.columns.map((c) => c.name).join(', ')}`,
    );
  }
  // A `drop` column is accepted: silver and quarantine records never hold it, but a whole rejected file kept
  // as it came may (the erasure searches those for the raw value).
  if (literal === '') throw new PredicateError(`no value after "=" in "${text}": ${FORM}`);
  const value = unquote(literal);
  if (value.trim() === '')
    throw new PredicateError(`the value in "${text}" is blank: an erasure needs a value to match`);
  return { column, value, text: text.trim() };
}
