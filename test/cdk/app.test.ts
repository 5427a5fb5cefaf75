import { Stack, Validations, type App } from 'aws-cdk-lib';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, it } from '@jest/globals';
import { expect } from '../support/expect.ts';
import { addComplianceChecks } from '../../lib/compliance/nag.ts';
import { STAGES } from '../../lib/config/stages.ts';
import { ESM_REQUIRE_BANNER } from '../../lib/functions/bundling.ts';
import type { MedallionLakeStack } from '../../lib/medallion-lake-stack.ts';
import { logicalId, removeSynthOutputs, REPO_ROOT, synthLake, testApp } from '../support/cdk/synth.ts';

const LAMBDA_UNZIPPED_LIMIT = 250 * 1024 * 1024;

/** Finding kinds this app acknowledges on purpose; a new kind must be reasoned about, not just acknowledged. */
const ACKNOWLEDGED_RULES = [
  'AwsSolutions-IAM5',
  'AwsSolutions-SQS3',
  'PCI.DSS.321-IAMNoInlinePolicy',
  'PCI.DSS.321-LambdaInsideVPC',
  'PCI.DSS.321-S3BucketReplicationEnabled',
  'PCI.DSS.321-S3BucketVersioningEnabled',
  'PCI.DSS.321-S3DefaultEncryptionKMS',
];

interface Synthesized {
  app: App;
  stack: MedallionLakeStack;
  assemblyDir: string;
}

function synthWholeApp(stage: string): Synthesized {
  // Asset metadata on, as the CDK CLI sets it, to find the function's asset directory.
  const { app, stack } = synthLake({ context: { stage, 'aws:cdk:enable-asset-metadata': true }, bundle: true });
  return { app, stack, assemblyDir: app.synth().directory };
}

function acknowledgments(app: App): Array<{ id: string; reason: string; path: string }> {
  return app.node
    .findAll()
    .flatMap((c) =>
      c.node.metadata
        .filter((m) => m.type === Validations.ACKNOWLEDGED_RULES_METADATA_KEY)
        .flatMap((m) =>
          Object.entries(m.data as Record<string, string>).map(([id, reason]) => ({ id, reason, path: c.node.path })),
        ),
    );
}

function directorySize(dir: string): number {
  return readdirSync(dir, { withFileTypes: true }).reduce((sum, entry) => {
    const path = join(dir, entry.name);
    return sum + (entry.isDirectory() ? directorySize(path) : statSync(path).size);
  }, 0);
}

let dev: Synthesized;
let prod: Synthesized;

beforeAll(() => {
  dev = synthWholeApp('dev');
  prod = synthWholeApp('prod');
});
afterAll(removeSynthOutputs);

describe('the whole app with cdk-nag (AwsSolutions, PCI DSS 3.2.1)', () => {
  it.each(['dev', 'prod'])('synthesizes %s with no unacknowledged finding of any severity', (stage) => {
    const { assemblyDir } = stage === 'dev' ? dev : prod;
    const report = JSON.parse(readFileSync(join(assemblyDir, 'validation-report.json'), 'utf8')) as {
      pluginReports: { violations?: unknown[] }[];
    };
    expect(report.pluginReports.flatMap((r) => r.violations ?? [])).toEqual([]);
  });

  it('really runs the checks: an unencrypted, unlogged bucket fails the synth', () => {
    const app = testApp();
    new s3.Bucket(new Stack(app, 'Careless'), 'Bucket');
    addComplianceChecks(app);
    expect(() => app.synth()).toThrow(/AwsSolutions-S1|S3BucketLoggingEnabled/);
  });

  it('gives every acknowledgment a written reason, for expected kinds of finding only', () => {
    const acks = acknowledgments(prod.app);
    expect(acks.length).toBeGreaterThan(0);
    for (const ack of acks) expect(ack.reason.length, `${ack.id} at ${ack.path}`).toBeGreaterThan(40);
    expect([...new Set(acks.map((a) => a.id.replace(/^[^:]+::/, '').replace(/\[.*$/, '')))].sort()).toEqual(
      ACKNOWLEDGED_RULES,
    );
    expect(acks.filter((a) => !/^(AwsSolutions|PCI\.DSS\.321)::/.test(a.id))).toEqual([]);
  });
});

describe('stages', () => {
  it('protects prod from deletion and leaves dev deletable', () => {
    expect(prod.stack.terminationProtection).toBe(true);
    expect(dev.stack.terminationProtection).toBe(false);
    expect(STAGES.prod.allowDestroy).toBe(false);
  });

  it('names stacks after the stage, environment-agnostic unless account/region are given', () => {
    expect([dev.stack.stackName, prod.stack.stackName]).toEqual(['MedallionLake-dev', 'MedallionLake-prod']);
    expect(dev.stack.environment).toBe('aws://unknown-account/unknown-region');
    const { stack } = synthLake({ context: { stage: 'prod', account: '111122223333', region: 'eu-central-1' } });
    expect([stack.account, stack.region]).toEqual(['111122223333', 'eu-central-1']);
  });

  it('defaults to dev and rejects unknown stages', () => {
    expect(synthLake().stack.stackName).toBe('MedallionLake-dev');
    expect(() => synthLake({ context: { stage: 'staging' } })).toThrow(/unknown stage "staging"/);
  });
});

describe('ingest function asset', () => {
  const assetDir = (s: Synthesized): string => {
    const template = JSON.parse(readFileSync(join(s.assemblyDir, s.stack.templateFile), 'utf8'));
    return join(
      s.assemblyDir,
      template.Resources[logicalId(s.stack.lake.ingestion.function)].Metadata['aws:asset:path'] as string,
    );
  };

  it('holds the ESM bundle, the DuckDB packages for linux-x64 and the contracts', () => {
    const dir = assetDir(dev);
    expect(readFileSync(join(dir, 'index.mjs'), 'utf8').startsWith(ESM_REQUIRE_BANNER)).toBe(true);
    for (const path of [
      'node_modules/@duckdb/node-api/package.json',
      'node_modules/@duckdb/node-bindings/duckdb.js',
      'node_modules/@duckdb/node-bindings-linux-x64/libduckdb.so',
      'node_modules/@duckdb/node-bindings-linux-x64/duckdb.node',
      'node_modules/detect-libc/package.json',
      'contracts/transactions.json',
    ]) {
      expect(existsSync(join(dir, path)), path).toBe(true);
    }
    const contracts = readdirSync(join(REPO_ROOT, 'contracts')).filter((f) => f.endsWith('.json'));
    expect(readdirSync(join(dir, 'contracts')).sort()).toEqual(contracts.sort());
  });

  it('stays under the 250 MB unzipped Lambda limit', () => {
    const size = directorySize(assetDir(dev));
    expect(size).toBeLessThan(LAMBDA_UNZIPPED_LIMIT);
    expect(size).toBeGreaterThan(60 * 1024 * 1024); // the DuckDB library is in, not silently missing
  });

  it('loads on its own: the handler imports, and DuckDB runs from the copied binding', () => {
    const script = [
      "const handlerModule = await import('./index.mjs');",
      "const { DuckDBInstance } = await import('@duckdb/node-api');",
      "const connection = await (await DuckDBInstance.create(':memory:')).connect();",
      "const rows = (await connection.runAndReadAll('SELECT 40 + 2 AS answer')).getRows();",
      'console.log(JSON.stringify({ handler: typeof handlerModule.handler, answer: Number(rows[0][0]) }));',
    ].join('\n');
    // The asset lives outside the repository, so nothing can resolve from the repository's node_modules.
    const run = spawnSync(process.execPath, ['--input-type=module', '-e', script], {
      cwd: assetDir(prod),
      encoding: 'utf8',
      timeout: 60_000,
    });
    expect(run.stderr).toBe('');
    expect(JSON.parse(run.stdout)).toEqual({ handler: 'function', answer: 42 });
  });
});

describe('gold-refresh function asset', () => {
  const assetDir = (s: Synthesized): string => {
    const template = JSON.parse(readFileSync(join(s.assemblyDir, s.stack.templateFile), 'utf8'));
    const fn = s.stack.lake.goldRefresh?.function;
    if (!fn) throw new Error('no gold-refresh function');
    return join(s.assemblyDir, template.Resources[logicalId(fn)].Metadata['aws:asset:path'] as string);
  };

  it('is one ESM file with no native module: no node_modules, no DuckDB', () => {
    const dir = assetDir(dev);
    expect(readdirSync(dir).sort()).toEqual(['index.mjs', 'index.mjs.map']);
    const bundle = readFileSync(join(dir, 'index.mjs'), 'utf8');
    expect(bundle.startsWith(ESM_REQUIRE_BANNER)).toBe(true);
    expect(bundle).not.toMatch(/@duckdb|libduckdb/);
  });

  it('loads on its own: the handler imports outside the repository', () => {
    const script = "const m = await import('./index.mjs'); console.log(JSON.stringify({ handler: typeof m.handler }));";
    const run = spawnSync(process.execPath, ['--input-type=module', '-e', script], {
      cwd: assetDir(prod),
      encoding: 'utf8',
      timeout: 60_000,
    });
    expect(run.stderr).toBe('');
    expect(JSON.parse(run.stdout)).toEqual({ handler: 'function' });
  });
});
