import { Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { DataLake } from '../../lib/data-lake.ts';
import type { MedallionLakeStack } from '../../lib/medallion-lake-stack.ts';
import { readAnalystQueries } from '../../lib/query/analyst-sql.ts';
import { ATHENA_ENGINE_VERSION, workgroupFor } from '../../lib/query/lake-query.ts';
import {
  logicalId,
  removeSynthOutputs,
  render,
  REPO_ROOT,
  skipBuiltinTemplateValidation,
  synthLake,
  testApp,
} from '../support/cdk/synth.ts';

skipBuiltinTemplateValidation();

const GIB = 1024 ** 3;

let dev: { stack: MedallionLakeStack; template: Template };
let prod: { stack: MedallionLakeStack; template: Template };
let dir: string;

beforeAll(() => {
  dev = synthLake({ context: { stage: 'dev' } });
  prod = synthLake({ context: { stage: 'prod' } });
  dir = mkdtempSync(join(tmpdir(), 'medallion-queries-'));
});
afterAll(() => {
  removeSynthOutputs();
  rmSync(dir, { recursive: true, force: true });
});

function workgroup(template: Template, name: string): Record<string, unknown> {
  const found = Object.values(template.findResources('AWS::Athena::WorkGroup')).filter(
    (w) => w.Properties.Name === name,
  );
  expect(found).toHaveLength(1);
  return found[0]?.Properties as Record<string, unknown>;
}

describe('workgroups', () => {
  it.each([
    ['dev', 'analysts', 1 * GIB],
    ['dev', 'platform', 10 * GIB],
    ['prod', 'analysts', 10 * GIB],
    ['prod', 'platform', 100 * GIB],
  ] as const)(
    '%s %s: engine v3 pinned, settings enforced, scan cutoff, metrics, encrypted results',
    (stage, kind, cutoff) => {
      const { stack, template } = stage === 'dev' ? dev : prod;
      const props = workgroup(template, `medallion-${stage}-${kind}`);
      const config = props.WorkGroupConfiguration as Record<string, unknown>;
      expect(config).toMatchObject({
        EnforceWorkGroupConfiguration: true,
        EngineVersion: { SelectedEngineVersion: 'Athena engine version 3' },
        BytesScannedCutoffPerQuery: cutoff,
        PublishCloudWatchMetricsEnabled: true,
        ResultConfiguration: {
          EncryptionConfiguration: {
            EncryptionOption: 'SSE_KMS',
            KmsKey: { 'Fn::GetAtt': [logicalId(stack.lake.storage.key), 'Arn'] },
          },
          ExpectedBucketOwner: { Ref: 'AWS::AccountId' },
        },
      });
      const results = config.ResultConfiguration as { OutputLocation: unknown };
      expect(render(results.OutputLocation)).toBe(
        `s3://\${${logicalId(stack.lake.storage.bucket('athenaResults'))}}/${kind}/`,
      );
      expect(props.State).toBe('ENABLED');
      expect(ATHENA_ENGINE_VERSION).toBe('Athena engine version 3');
    },
  );

  it('keeps saved queries and history on destroy unless the stage allows destruction', () => {
    expect(workgroup(prod.template, 'medallion-prod-analysts').RecursiveDeleteOption).toBe(false);
    expect(workgroup(dev.template, 'medallion-dev-analysts').RecursiveDeleteOption).toBe(true);
  });

  it('rejects a scan cutoff below Athena’s 10 MB minimum', () => {
    expect(() => new DataLake(new Stack(testApp(), 'Low'), 'Lake', { analystsScanCutoffBytes: 1_000_000 })).toThrow(
      /at least 10 MB/,
    );
  });
});

describe('named queries', () => {
  const sqlFiles = readdirSync(join(REPO_ROOT, 'queries')).filter((f) => f.endsWith('.sql'));

  it('deploys every queries/*.sql file: to the analysts workgroup, or to platform when it reads quarantine', () => {
    const queries = Object.values(dev.template.findResources('AWS::Athena::NamedQuery'));
    expect(queries.map((q) => q.Properties.Name).sort()).toEqual(sqlFiles.map((f) => f.replace(/\.sql$/, '')).sort());
    const { workgroups } = dev.stack.lake.query;
    for (const q of queries) {
      const readsQuarantine = (q.Properties.QueryString as string).includes('medallion_dev_quarantine.');
      expect(q.Properties.WorkGroup).toEqual({
        Ref: logicalId(readsQuarantine ? workgroups.platform : workgroups.analysts),
      });
      expect(q.Properties.Database).toBe('medallion_dev_silver');
      expect(q.Properties.Description.length).toBeGreaterThan(0);
    }
  });

  it('routes by what the SQL reads, not by what its comments or literals mention', () => {
    const query = (sql: string) => ({ name: 'q', description: 'q', sql });
    expect(workgroupFor(query('SELECT * FROM silver.transactions -- not quarantine.transactions'))).toBe('analysts');
    expect(workgroupFor(query("SELECT 'quarantine.transactions' FROM gold.account_monthly_balance"))).toBe('analysts');
    expect(workgroupFor(query('SELECT * FROM QUARANTINE.transactions'))).toBe('platform');
  });

  it('rewrites silver./gold./quarantine. to the stage’s databases, and nothing else', () => {
    const queriesDir = join(dir, 'rewrite');
    mkdirSync(queriesDir);
    writeFileSync(
      join(queriesDir, 'example.sql'),
      [
        '-- Example: joins every zone',
        'SELECT t.amount, q.reasons, g.closing_balance, \'silver.not_a_table\' AS label, "gold".x AS quoted',
        'FROM silver.transactions t',
        'JOIN GOLD.account_monthly_balance g ON g.account_id = t.account_id',
        'LEFT JOIN quarantine.transactions q ON q.source_key = t.source_key',
      ].join('\n'),
    );
    const stack = new Stack(testApp(), 'Rewrite');
    new DataLake(stack, 'Lake', { namePrefix: 'acme-test', queriesDir });
    const [query] = Object.values(Template.fromStack(stack).findResources('AWS::Athena::NamedQuery'));
    expect(query?.Properties).toMatchObject({
      Name: 'example',
      Description: 'Example: joins every zone',
      Database: 'acme_test_silver',
      WorkGroup: { Ref: expect.stringMatching(/Platform/) },
    });
    const sql = query?.Properties.QueryString as string;
    expect(sql).toContain('FROM acme_test_silver.transactions t');
    expect(sql).toContain('JOIN acme_test_gold.account_monthly_balance g');
    expect(sql).toContain('LEFT JOIN acme_test_quarantine.transactions q');
    expect(sql).toContain("'silver.not_a_table'");
    expect(sql).toContain('"gold".x');
  });

  it('deploys none, and synthesizes, when the directory is empty or missing', () => {
    const empty = join(dir, 'empty');
    mkdirSync(empty);
    expect(readAnalystQueries(empty)).toEqual([]);
    expect(readAnalystQueries(join(dir, 'missing'))).toEqual([]);
    const stack = new Stack(testApp(), 'NoQueries');
    new DataLake(stack, 'Lake', { queriesDir: empty });
    Template.fromStack(stack).resourceCountIs('AWS::Athena::NamedQuery', 0);
  });
});
