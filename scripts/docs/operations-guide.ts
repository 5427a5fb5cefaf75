/**
 * docs/operations-guide.md: the prose of scripts/docs/operations-guide.src.md with its `{{generated:<part>}}`
 * markers replaced by parts rendered from code — the contracts, the gold layer's definitions, the stage
 * configuration, package.json, the runbook's headings and the alarms of the synthesized prod template — so the
 * guide cannot drift from what is deployed (test/cdk/operations-guide.test.ts compares it with this output).
 */
import { readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import {
  LINEAGE_COLUMNS,
  partitionColumns,
  QUARANTINE_COLUMNS,
  silverColumns,
  type ContractRegistry,
  type DatasetContract,
  type TableColumn,
} from '../../engine/index.ts';
import { GOLD_TABLES, GOLD_VIEWS } from '../../datasets/index.ts';
import { STAGES } from '../../lib/config/stages.ts';
import type { CfnResource } from './synth-template.ts';

export interface GuideInputs {
  repoRoot: string;
  contracts: ContractRegistry;
  /** Resources of the synthesized prod template. */
  resources: Record<string, CfnResource>;
}

const cell = (text: string): string => text.replace(/\|/g, '\\|').replace(/\n/g, ' ');
/** A runbook heading as link text: no backticks, `<dataset>` kept visible. */
const headingText = (heading: string): string => heading.replace(/`/g, '').replace(/</g, '&lt;').replace(/>/g, '&gt;');
const datasets = (contracts: ContractRegistry): DatasetContract[] =>
  contracts.names().map((n) => contracts.get(n) as DatasetContract);
const erdType = (hiveType: string): string => hiveType.replace(/[(),<>]/g, '_').replace(/_+$/, '');
const entity = (schema: string, name: string): string => `${schema}_${name}`.toUpperCase();

function contextDiagram({ contracts }: GuideInputs): string {
  const owners = [...new Set(datasets(contracts).map((c) => c.owner))].sort();
  return [
    '```mermaid',
    'graph TD',
    '    subgraph "Medallion Lake (one AWS account, one stack per stage)"',
    '        Lake("Medallion Lake<br/>validates producer files against dataset contracts,<br/>serves silver/gold tables to SQL")',
    '    end',
    ...owners.map(
      (o, i) =>
        `    P${i}["Producer: ${o}<br/>(${datasets(contracts)
          .filter((c) => c.owner === o)
          .map((c) => c.name)
          .join(', ')})"] -- "uploads CSV / JSON Lines to bronze" --> Lake`,
    ),
    '    Lake -- "Ingest Completed / Rejected events (EventBridge)" --> Owners["Dataset owners<br/>(EventBridge rules, optional SNS topic per owner)"]',
    '    Analysts["Analysts"] -- "SQL via Athena workgroup analysts" --> Lake',
    '    Platform["Platform team / on-call"] -- "SQL via workgroup platform, lake CLI --aws" --> Lake',
    '    Lake -- "alarms (SNS, e-mail)" --> Platform',
    '```',
  ].join('\n');
}

function techStack({ repoRoot }: GuideInputs): string {
  const pkg = JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8')) as {
    engines: Record<string, string>;
    dependencies: Record<string, string>;
    devDependencies: Record<string, string>;
  };
  const v = (name: string): string => pkg.dependencies[name] ?? pkg.devDependencies[name] ?? '?';
  const sdk = Object.keys(pkg.dependencies)
    .filter((d) => d.startsWith('@aws-sdk/client-'))
    .map((d) => d.replace('@aws-sdk/client-', ''))
    .sort();
  return [
    '| concern | technology (version pinned in package.json) |',
    '|---|---|',
    `| language, runtime | TypeScript ${v('typescript')} (strict), Node.js ${pkg.engines.node} (Lambda \`nodejs24.x\`) |`,
    `| transformation engine | DuckDB (\`@duckdb/node-api\` ${v('@duckdb/node-api')}) inside the ingest function and the local lake |`,
    `| infrastructure as code | AWS CDK (\`aws-cdk-lib\` ${v('aws-cdk-lib')}, CLI ${v('aws-cdk')}), cdk-nag ${v('cdk-nag')} (AwsSolutions, PCI DSS 3.2.1) |`,
    `| AWS services | S3 (zones), SQS, EventBridge, Lambda, Glue Data Catalog, Athena (engine v3), KMS, Secrets Manager, CloudWatch, SNS, Lake Formation (opt-in) |`,
    `| AWS SDK v3 clients | ${sdk.join(', ')} |`,
    `| storage format | Parquet (ZSTD), Hive partitions, Glue \`EXTERNAL_TABLE\`s without crawlers |`,
    `| observability | Powertools for AWS Lambda (logger, metrics EMF, tracer, batch, parser with zod ${v('zod')}) ${v('@aws-lambda-powertools/logger')}, X-Ray |`,
    `| tests | jest ${v('jest')}; moto (AWS emulator) and Trino 476 in the integration tier |`,
  ].join('\n');
}

function erdEntity(
  name: string,
  columns: readonly TableColumn[],
  keys: readonly TableColumn[],
  markers: Record<string, string> = {},
): string[] {
  return [
    `    ${name} {`,
    ...[...columns, ...keys].map(
      (c) => `        ${erdType(c.hiveType)} ${c.name}${markers[c.name] ? ` ${markers[c.name]}` : ''}`,
    ),
    '    }',
  ];
}

function erd({ contracts }: GuideInputs): string {
  const lines = ['```mermaid', 'erDiagram'];
  lines.push(
    '    BRONZE_OBJECT {',
    '        string bucket',
    '        string key PK',
    '        string version_id PK',
    '    }',
  );
  lines.push(
    '    MANIFEST {',
    '        string dataset',
    '        string source_key FK',
    '        string run_id PK',
    '        string contract_version',
    '        bigint rows_in',
    '        bigint rows_valid',
    '        bigint rows_quarantined',
    '    }',
  );
  lines.push('    BRONZE_OBJECT ||--|| MANIFEST : "one per ingest run"');
  for (const c of datasets(contracts)) {
    const silver = entity('silver', c.name);
    const quarantine = entity('quarantine', c.name);
    lines.push(...erdEntity(silver, silverColumns(c), partitionColumns(c), { source_key: 'FK', ingest_run_id: 'FK' }));
    lines.push(...erdEntity(quarantine, QUARANTINE_COLUMNS, [], { source_key: 'FK', ingest_run_id: 'FK' }));
    lines.push(
      `    BRONZE_OBJECT ||--o{ ${silver} : "valid rows"`,
      `    BRONZE_OBJECT ||--o{ ${quarantine} : "rejected rows or file"`,
      `    MANIFEST ||--o{ ${silver} : "ingest_run_id"`,
    );
  }
  for (const t of GOLD_TABLES.filter((g) => contracts.get(g.sourceDataset))) {
    lines.push(...erdEntity(entity('gold', t.name), t.columns, t.partitionKeys));
    lines.push(`    ${entity('silver', t.sourceDataset)} ||--o{ ${entity('gold', t.name)} : "aggregated into"`);
  }
  for (const v of GOLD_VIEWS.filter((g) => contracts.get(g.sourceDataset))) {
    lines.push(...erdEntity(entity('gold', v.name), v.columns, []));
    lines.push(`    ${entity('silver', v.sourceDataset)} ||--o{ ${entity('gold', v.name)} : "view over"`);
  }
  lines.push('```');
  return lines.join('\n');
}

function dataDictionarySummary({ contracts, repoRoot }: GuideInputs): string {
  const lines = [
    '| dataset | contract | version | columns (type, required) | partitioned by | PII |',
    '|---|---|---|---|---|---|',
  ];
  for (const c of datasets(contracts)) {
    const cols = c.columns
      .map((col) => `\`${col.name}\` ${col.typeText}${col.required ? '' : ' (nullable)'}`)
      .join(', ');
    const pii =
      c.columns
        .filter((col) => col.pii !== 'none')
        .map((col) => `\`${col.name}\`: ${col.pii}`)
        .join(', ') || 'none';
    lines.push(
      `| \`${c.name}\` | \`${relative(repoRoot, c.file)}\` | ${c.version} | ${cell(cols)} | ${
        partitionColumns(c)
          .map((p) => `\`${p.name}\``)
          .join(', ') || '–'
      } | ${pii} |`,
    );
  }
  lines.push(
    '',
    `Every silver table also carries the lineage columns ${LINEAGE_COLUMNS.map((c) => `\`${c.name}\``).join(', ')}.`,
  );
  return lines.join('\n');
}

function ownership({ contracts }: GuideInputs): string {
  const lines = ['| dataset | owner (contract `owner`) | bronze prefix | description |', '|---|---|---|---|'];
  for (const c of datasets(contracts))
    lines.push(`| \`${c.name}\` | ${c.owner} | \`${c.bronzePrefix}\` | ${cell(c.description)} |`);
  return lines.join('\n');
}

function lifecycle(): string {
  const { dev, prod } = STAGES;
  const row = (label: string, a: unknown, b: unknown): string => `| ${label} | ${String(a)} | ${String(b)} |`;
  const days = (n: number | undefined): string => (n === undefined ? 'kept' : `${n} days`);
  return [
    '| setting (lib/config/stages.ts) | dev | prod |',
    '|---|---|---|',
    row(
      'bronze Object Lock',
      dev.bronzeObjectLock ? `${dev.bronzeObjectLock.mode} ${dev.bronzeObjectLock.duration.toDays()} days` : 'none',
      prod.bronzeObjectLock ? `${prod.bronzeObjectLock.mode} ${prod.bronzeObjectLock.duration.toDays()} days` : 'none',
    ),
    row(
      'bronze replaced versions expire after',
      days(dev.retention.bronzeNoncurrentVersionExpirationDays ?? dev.retention.noncurrentVersionExpirationDays),
      days(prod.retention.bronzeNoncurrentVersionExpirationDays ?? prod.retention.noncurrentVersionExpirationDays),
    ),
    row(
      'silver / gold / quarantine replaced versions expire after',
      days(dev.retention.noncurrentVersionExpirationDays),
      days(prod.retention.noncurrentVersionExpirationDays),
    ),
    row(
      'quarantine objects expire after',
      days(dev.retention.quarantineExpirationDays),
      days(prod.retention.quarantineExpirationDays),
    ),
    row(
      'Athena results expire after',
      days(dev.retention.athenaResultsExpirationDays),
      days(prod.retention.athenaResultsExpirationDays),
    ),
    row(
      'S3 access logs expire after',
      days(dev.retention.accessLogsExpirationDays),
      days(prod.retention.accessLogsExpirationDays),
    ),
    row(
      'stack removal',
      dev.allowDestroy ? 'buckets destroyed with the stack' : 'retained',
      prod.allowDestroy ? 'buckets destroyed with the stack' : 'retained',
    ),
  ].join('\n');
}

interface AlarmRow {
  name: string;
  condition: string;
  description: string;
}

const OPERATORS: Record<string, string> = {
  GreaterThanOrEqualToThreshold: '≥',
  GreaterThanThreshold: '>',
  LessThanThreshold: '<',
  LessThanOrEqualToThreshold: '≤',
};

function alarmRows(resources: Record<string, CfnResource>): AlarmRow[] {
  const rows: AlarmRow[] = [];
  for (const r of Object.values(resources)) {
    if (r.Type !== 'AWS::CloudWatch::Alarm' || !r.Properties) continue;
    const p = r.Properties as Record<string, unknown>;
    const op = OPERATORS[String(p.ComparisonOperator)] ?? String(p.ComparisonOperator);
    const periods = Number(p.EvaluationPeriods ?? 1);
    let measured: string;
    if (typeof p.MetricName === 'string') {
      measured = `${String(p.Namespace)} \`${p.MetricName}\` (${String(p.Statistic ?? p.ExtendedStatistic ?? '')} per ${Number(p.Period) / 60} min)`;
    } else {
      const metrics = (p.Metrics ?? []) as { Expression?: string; ReturnData?: boolean; Period?: number }[];
      const result = metrics.find((m) => m.ReturnData !== false && m.Expression) ?? metrics.find((m) => m.Expression);
      measured = `\`${result?.Expression ?? 'metric math'}\`${result?.Period ? ` (per ${result.Period / 60} min)` : ''}`;
    }
    rows.push({
      name: String(p.AlarmName),
      condition: `${measured} ${op} ${String(p.Threshold)}${periods > 1 ? ` for ${periods} periods` : ''}`,
      description: String(p.AlarmDescription ?? ''),
    });
  }
  return rows.sort((a, b) => a.name.localeCompare(b.name));
}

interface RunbookSection {
  heading: string;
  anchor: string;
}

/** GitHub's anchor of a heading: lower case, punctuation dropped, spaces to dashes. */
const anchorOf = (heading: string): string =>
  heading
    .toLowerCase()
    .replace(/[^\p{L}\p{N} _-]/gu, '')
    .replace(/ /g, '-');

function runbookSections(repoRoot: string): RunbookSection[] {
  return readFileSync(join(repoRoot, 'docs/runbook.md'), 'utf8')
    .split('\n')
    .filter((l) => l.startsWith('## '))
    .map((l) => l.slice(3).trim())
    .map((heading) => ({ heading, anchor: anchorOf(heading) }));
}

/** The runbook section whose heading names the alarm, in full or by a backticked suffix (`-files-rejected`, `-quarantine-rate-<dataset>`). */
function runbookFor(alarm: string, sections: readonly RunbookSection[]): RunbookSection | undefined {
  return sections.find((s) =>
    [...s.heading.matchAll(/`([^`]+)`/g)].some((m) => {
      const pattern = new RegExp(
        `${(m[1] as string).replace(/[.*+?^${}()|[\]\\]/g, '\\$&').replace(/<[a-z_]+>/g, '[a-z0-9_]+')}$`,
      );
      return pattern.test(alarm);
    }),
  );
}

function alarms({ resources, repoRoot }: GuideInputs): string {
  const sections = runbookSections(repoRoot);
  const lines = ['| alarm (prod) | fires when | meaning | runbook |', '|---|---|---|---|'];
  for (const a of alarmRows(resources)) {
    const runbook = runbookFor(a.name, sections);
    lines.push(
      `| \`${a.name}\` | ${cell(a.condition)} | ${cell(a.description)} | ${runbook ? `[${cell(headingText(runbook.heading))}](runbook.md#${runbook.anchor})` : '–'} |`,
    );
  }
  return lines.join('\n');
}

function freshness({ resources }: GuideInputs): string {
  const backlog = alarmRows(resources).find((a) => a.name.endsWith('-ingest-backlog-age'));
  const quarantine = alarmRows(resources).filter((a) => a.name.includes('-quarantine-rate-'));
  const prod = STAGES.prod;
  return [
    '| objective | target (prod) | how it is measured |',
    '|---|---|---|',
    `| freshness: a bronze file is queryable in silver | within ${prod.maxMessageAge.toMinutes()} min of landing (plus one ingest, ≤ ${prod.ingestion.timeout?.toMinutes() ?? 5} min) | ${backlog ? `alarm \`${backlog.name}\`: ${cell(backlog.condition)}` : 'no backlog alarm'}; dashboard "seconds to queryable" |`,
    '| completeness: nothing lost | `rows_in = rows_valid + rows_quarantined` for every manifest | checked by the engine before it publishes; `lake status` per file |',
    `| validity | quarantined rows stay below the threshold per dataset | ${quarantine.map((q) => `\`${q.name}\``).join(', ') || '–'} |`,
    '| gold freshness | gold refreshed after every manifest | gold-refresh alarms (dead letters, undelivered, errors) |',
  ].join('\n');
}

function runbooks({ repoRoot }: GuideInputs): string {
  return runbookSections(repoRoot)
    .map((s) => `- [${headingText(s.heading)}](runbook.md#${s.anchor})`)
    .join('\n');
}

const PARTS: Record<string, (inputs: GuideInputs) => string> = {
  'context-diagram': contextDiagram,
  'tech-stack': techStack,
  erd,
  'data-dictionary': dataDictionarySummary,
  ownership,
  lifecycle: () => lifecycle(),
  alarms,
  freshness,
  runbooks,
};

export const GUIDE_SOURCE = 'scripts/docs/operations-guide.src.md';

/** The operations guide: the prose source with every generated part filled in. Unknown markers are an error. */
export function renderOperationsGuide(inputs: GuideInputs): string {
  const source = readFileSync(join(inputs.repoRoot, GUIDE_SOURCE), 'utf8');
  return source.replace(/\{\{generated:([a-z-]+)\}\}/g, (_m, name: string) => {
    const part = PARTS[name];
    if (!part)
      throw new Error(`${GUIDE_SOURCE}: unknown generated part "${name}" (known: ${Object.keys(PARTS).join(', ')})`);
    return part(inputs);
  });
}
