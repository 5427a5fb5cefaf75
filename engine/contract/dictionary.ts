import { relative } from 'node:path';
import type { ContractRegistry } from './load.ts';
import { LINEAGE_COLUMNS, partitionColumns, QUARANTINE_COLUMNS } from './schema.ts';
import type { ColumnContract, DatasetContract } from './types.ts';

const cell = (text: string): string => text.replace(/\|/g, '\\|').replace(/\n/g, ' ');

function checksText(c: ColumnContract): string {
  const k = c.checks;
  const parts: string[] = [];
  if (k.allowedValues) parts.push(`one of ${k.allowedValues.join(', ')}`);
  if (k.pattern) parts.push(`matches \`${k.pattern}\``);
  if (k.min !== undefined) parts.push(`≥ ${k.min}`);
  if (k.max !== undefined) parts.push(`≤ ${k.max}`);
  if (k.maxLength !== undefined) parts.push(`≤ ${k.maxLength} chars`);
  return parts.join('; ') || '–';
}

function datasetSection(c: DatasetContract, repoRoot: string): string {
  const lines = [
    `## \`${c.name}\` (contract ${c.version})`,
    '',
    c.description,
    '',
    `- Owner: ${c.owner}`,
    `- Contract file: \`${relative(repoRoot, c.file)}\``,
    `- Bronze prefix: \`${c.bronzePrefix}\` — ${c.source.format === 'csv' ? `CSV with a header row, delimiter \`${c.source.delimiter}\`` : 'JSON Lines'}, gzip detected from the bytes`,
    `- Silver table: \`silver.${c.name}\`, partitioned by ${
      partitionColumns(c)
        .map((p) => `\`${p.name}\` (${p.comment})`)
        .join(', ') || 'nothing'
    }`,
    `- Quarantine table: \`quarantine.${c.name}\``,
    '',
    '| column | type | required | source headers | checks | invalid reason | PII | description |',
    '|---|---|---|---|---|---|---|---|',
    ...c.columns.map(
      (col) =>
        `| \`${col.name}\` | ${col.typeText} | ${col.required ? 'yes' : 'no'} | ${[col.name, ...col.aliases].map((a) => `\`${a}\``).join(', ')} | ${cell(checksText(col))} | \`${col.invalidReason}\` | ${col.pii} | ${cell(col.description)} |`,
    ),
    '',
  ];
  return lines.join('\n');
}

/** The data dictionary, generated from the contracts (docs/data-dictionary.md is this output, checked by a test). */
export function renderDataDictionary(registry: ContractRegistry, repoRoot: string): string {
  return [
    '# Data dictionary',
    '',
    '<!-- Generated from contracts/*.json by `npm run docs`. Do not edit by hand: a test fails when it drifts. -->',
    '',
    ...registry.names().map((name) => datasetSection(registry.get(name) as DatasetContract, repoRoot)),
    '## Columns every silver table has (lineage)',
    '',
    '| column | type | description |',
    '|---|---|---|',
    ...LINEAGE_COLUMNS.map((c) => `| \`${c.name}\` | ${c.hiveType} | ${cell(c.comment)} |`),
    '',
    '## Quarantine tables',
    '',
    'Row-level reasons: `MISSING_REQUIRED`, `MALFORMED_ROW`, `RECORD_TOO_LARGE` and each column\'s invalid reason above. Whole-file reasons: `EMPTY_FILE`, `MISSING_COLUMNS`, `UNREADABLE`, `UNKNOWN_DATASET`, `TOO_MANY_COLUMNS`, `EXPANSION_LIMIT`, `PROCESSING_FAILED`, `TOO_LARGE_FOR_ONE_PASS` (see docs/engine.md, "Limits").',
    '',
    '| column | type | description |',
    '|---|---|---|',
    ...QUARANTINE_COLUMNS.map((c) => `| \`${c.name}\` | ${c.hiveType} | ${cell(c.comment)} |`),
    '',
  ].join('\n');
}
