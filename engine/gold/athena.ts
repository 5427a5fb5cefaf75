/**
 * Helpers for registering the analyst layer on AWS (used by the infrastructure code; no AWS SDK here).
 * SQL in this repository names tables `silver.x`, `gold.x`, `quarantine.x`; a stage's Glue databases have
 * other names, so the qualifiers are rewritten when queries and views are deployed.
 */
import type { TableColumn } from '../contract/schema.ts';
import type { GoldView } from './tables.ts';

export type LakeDatabase = 'silver' | 'gold' | 'quarantine';
export type DatabaseNames = Readonly<Record<LakeDatabase, string>>;

/**
 * Rewrites `silver.` / `gold.` / `quarantine.` qualifiers to the stage's database names, leaving string
 * literals, quoted identifiers and comments alone.
 */
export function qualifyDatabases(sql: string, names: DatabaseNames): string {
  let out = '';
  let i = 0;
  while (i < sql.length) {
    const rest = sql.slice(i);
    const skipped =
      /^'(?:[^']|'')*'/.exec(rest) ??
      /^"(?:[^"]|"")*"/.exec(rest) ??
      /^--[^\n]*/.exec(rest) ??
      /^\/\*[\s\S]*?\*\//.exec(rest);
    if (skipped) {
      out += skipped[0];
      i += skipped[0].length;
      continue;
    }
    const word = /^[A-Za-z_][A-Za-z0-9_]*/.exec(rest);
    if (word) {
      const w = word[0];
      const lower = w.toLowerCase();
      const qualifies = sql[i + w.length] === '.' && (lower === 'silver' || lower === 'gold' || lower === 'quarantine');
      const before = out[out.length - 1];
      out += qualifies && before !== '.' ? names[lower as LakeDatabase] : w;
      i += w.length;
      continue;
    }
    out += sql[i];
    i += 1;
  }
  return out;
}

/** Trino type name for a Hive/Glue type (Presto view definitions carry Trino types). */
export function trinoType(hiveType: string): string {
  const t = hiveType.trim().toLowerCase();
  if (t === 'string') return 'varchar';
  if (t === 'timestamp') return 'timestamp(3)';
  if (t === 'int') return 'integer';
  const array = /^array<(.+)>$/.exec(t);
  if (array) return `array(${trinoType(array[1] as string)})`;
  return t;
}

/** The fields of a Glue `TableInput` for an Athena view (shape of `@aws-sdk/client-glue` TableInput). */
export interface GlueViewInput {
  Name: string;
  TableType: 'VIRTUAL_VIEW';
  Parameters: Record<string, string>;
  ViewOriginalText: string;
  ViewExpandedText: string;
  StorageDescriptor: {
    Columns: Array<{ Name: string; Type: string; Comment: string }>;
    SerdeInfo: Record<string, never>;
  };
}

/**
 * A Glue table input that Athena reads as a view: `ViewOriginalText` carries the Presto/Trino view
 * definition, base64-encoded JSON, as Athena writes it for `CREATE VIEW`.
 *
 * Checked on Trino 476 (the test tier that runs the analyst SQL): a Glue `Description` becomes the table
 * comment, which must stay `Presto View` or the view is not found — so the description goes in a
 * parameter; and a view needs an owner or `runAsInvoker`: it runs with the querying principal's rights,
 * as Athena's IAM model has it.
 */
export function glueViewInput(view: GoldView, names: DatabaseNames, catalog = 'awsdatacatalog'): GlueViewInput {
  const columns = (cols: readonly TableColumn[]) => cols.map((c) => ({ name: c.name, type: trinoType(c.hiveType) }));
  const definition = {
    originalSql: qualifyDatabases(view.sql, names),
    catalog,
    schema: names.gold,
    columns: columns(view.columns),
    runAsInvoker: true,
  };
  return {
    Name: view.name,
    TableType: 'VIRTUAL_VIEW',
    Parameters: { presto_view: 'true', comment: 'Presto View', description: view.description.slice(0, 512) },
    ViewOriginalText: `/* Presto View: ${Buffer.from(JSON.stringify(definition)).toString('base64')} */`,
    ViewExpandedText: '/* Presto View */',
    StorageDescriptor: {
      Columns: view.columns.map((c) => ({ Name: c.name, Type: c.hiveType, Comment: c.comment })),
      SerdeInfo: {},
    },
  };
}
