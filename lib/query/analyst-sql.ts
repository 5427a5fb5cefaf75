import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { parseQueryFile } from '../../engine/gold/index.ts';

/** One analyst SQL file, ready to become an Athena named query. */
export interface AnalystQuery {
  /** File name without `.sql`. */
  readonly name: string;
  readonly description: string;
  /** The SQL as written: `silver.`/`gold.`/`quarantine.` qualifiers, default parameter values in place. */
  readonly sql: string;
}

const MAX_DESCRIPTION = 1024; // Athena's limit

/** Reads every `*.sql` file of a directory (none, or no directory at all, is fine), sorted by name. */
export function readAnalystQueries(dir: string): AnalystQuery[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((file) => file.endsWith('.sql'))
    .sort()
    .map((file) => {
      const name = basename(file, '.sql');
      const parsed = parseQueryFile(name, readFileSync(join(dir, file), 'utf8'));
      const description = parsed.title || `Analyst query from queries/${file}`;
      return { name, description: description.slice(0, MAX_DESCRIPTION), sql: parsed.sql };
    });
}
