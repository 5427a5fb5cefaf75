/**
 * The house rules of eslint.config.js fire: each snippet is linted as if it were a file of the named room, with
 * the project's own configuration, and must be refused (or accepted) for the stated reason.
 */
import { fileURLToPath } from 'node:url';
import { ESLint } from 'eslint';
import { describe, expect, it } from '@jest/globals';

const repoRoot = fileURLToPath(new URL('../../../', import.meta.url));
const eslint = new ESLint({ cwd: repoRoot });

async function importErrors(filePath: string, code: string): Promise<string[]> {
  const [result] = await eslint.lintText(`${code}\nexport {};\n`, { filePath });
  return (result?.messages ?? [])
    .filter((m) => m.ruleId === '@typescript-eslint/no-restricted-imports' || m.ruleId === 'no-restricted-syntax')
    .map((m) => m.message);
}

describe('import boundaries (eslint.config.js)', () => {
  it.each([
    ['adapters/aws/x.ts', "import { manifestKey } from '../../engine/layout.ts';"],
    ['lambdas/ingest/x.ts', "import { ingestObject } from '../../engine/ingest.ts';"],
    ['cli/local/x.ts', "import type { Manifest } from '../../engine/manifest.ts';"],
    ['bench/x.ts', "import { openDuckDb } from '../engine/duckdb.ts';"],
    ['scripts/x.ts', "import { loadContracts } from '../engine/contract/load.ts';"],
    ['test/e2e/x.test.ts', "import { planGoldRefresh } from '../../engine/gold/plan.ts';"],
    ['cli/actions/x.ts', "export const m = await import('../../engine/gold/query-file.ts');"],
  ])('refuses a deep engine import from %s', async (file, code) => {
    expect(await importErrors(file, code)).toEqual([expect.stringContaining('Import the engine through')]);
  });

  it.each([
    ['adapters/aws/x.ts', "import { ingestObject } from '../../engine/index.ts';"],
    ['lambdas/gold-refresh/x.ts', "import { MANIFESTS_PREFIX } from '../../engine/contract/index.ts';"],
    ['cli/x.ts', "import { GOLD_TABLES } from '../engine/gold/index.ts';"],
    ['test/unit/engine/x.test.ts', "import { openDuckDb } from '../../../engine/duckdb.ts';"],
    ['test/unit/gold/x.test.ts', "import { planGoldRefresh } from '../../../engine/gold/plan.ts';"],
  ])('accepts the faces (and engine-internal unit tests) from %s', async (file, code) => {
    expect(await importErrors(file, code)).toEqual([]);
  });

  it.each([
    ["import { S3Client } from '@aws-sdk/client-s3';", 'AWS SDK'],
    ["import { Stack } from 'aws-cdk-lib';", 'CDK'],
    ["import * as s3 from 'aws-cdk-lib/aws-s3';", 'CDK'],
    ["import type { S3Event } from 'aws-lambda';", 'Lambda'],
    ["import { S3ObjectStore } from '../adapters/aws/s3-store.ts';", 'nothing around it'],
  ])('keeps the engine cloud-free: %s', async (code, reason) => {
    expect(await importErrors('engine/x.ts', code)).toEqual([expect.stringContaining(reason)]);
  });

  it('keeps function code out of the CLI', async () => {
    expect(await importErrors('cli/aws/x.ts', "import { handler } from '../../lambdas/ingest/handler.ts';")).toEqual([
      expect.stringContaining('does not import function code'),
    ]);
  });

  it.each([
    ['cli/aws/x.ts', "import { HeadObjectCommand, type S3Client } from '@aws-sdk/client-s3';"],
    ['cli/aws/x.ts', "import type { S3Client } from '@aws-sdk/client-s3';"],
    ['cli/aws/x.ts', "import { Upload } from '@aws-sdk/lib-storage';"],
    ['cli/x.ts', "import { GetTableCommand } from '@aws-sdk/client-glue';"],
    ['cli/actions/x.ts', "import { AthenaClient } from '@aws-sdk/client-athena';"],
    ['cli/aws/x.ts', "export const s3 = await import('@aws-sdk/client-s3');"],
    ['lib/storage/x.ts', "import { S3Client } from '@aws-sdk/client-s3';"],
    ['scripts/x.ts', "import { S3Client } from '@aws-sdk/client-s3';"],
    ['adapters/local/x.ts', "import { S3Client } from '@aws-sdk/client-s3';"],
  ])('keeps the S3, Glue and Athena SDKs behind the ports: %s %s', async (file, code) => {
    expect(await importErrors(file, code)).toEqual([expect.stringContaining('reached through the ports')]);
  });

  it('finds no file under cli/ that imports the S3, Glue or Athena SDK', async () => {
    const results = await eslint.lintFiles(['cli/**/*.ts']);
    expect(results.length).toBeGreaterThan(10);
    const offenders = results.flatMap((r) =>
      r.messages
        .filter((m) => m.message.includes('reached through the ports'))
        .map((m) => `${r.filePath.slice(repoRoot.length)}:${m.line}`),
    );
    expect(offenders).toEqual([]);
  });

  it.each([
    ['adapters/aws/x.ts', "import { GetTableCommand } from '@aws-sdk/client-glue';"],
    ['lambdas/ingest/x.ts', "import { S3Client } from '@aws-sdk/client-s3';"],
    ['test/integration/x.test.ts', "import { HeadObjectCommand } from '@aws-sdk/client-s3';"],
    ['test/support/integration/x.ts', "import { AthenaClient } from '@aws-sdk/client-athena';"],
    ['cli/aws/x.ts', "import { SendMessageBatchCommand } from '@aws-sdk/client-sqs';"],
  ])(
    'lets the adapters, functions and tests import those SDKs, and the CLI the control plane: %s',
    async (file, code) => {
      expect(await importErrors(file, code)).toEqual([]);
    },
  );

  it.each([
    "import { S3ObjectStore } from '../../adapters/aws/s3-store.ts';",
    "import { readConfig } from '../../lambdas/ingest/config.ts';",
    "import { main } from '../cli/main.ts';",
    "import { ingestObject } from '../engine/index.ts';",
  ])('keeps runtime code out of lib/: %s', async (code) => {
    expect(await importErrors('lib/storage/x.ts', code)).toHaveLength(1);
  });

  it('keeps the AGPL policy simulator under test/', async () => {
    const code = "import { runSimulation } from '@cloud-copilot/iam-simulate';";
    for (const file of ['lib/x.ts', 'cli/x.ts', 'adapters/aws/x.ts', 'engine/x.ts']) {
      expect(await importErrors(file, code)).toEqual([expect.stringContaining('AGPL test tooling')]);
    }
    expect(await importErrors('test/support/integration/x.ts', code)).toEqual([]);
  });

  it('lets lib/ import the DuckDB-free faces, and engine/index.ts for types only', async () => {
    const code = [
      "import { loadContracts } from '../engine/contract/index.ts';",
      "import { GOLD_VIEWS } from '../engine/gold/index.ts';",
      "import type { IngestOptions } from '../engine/index.ts';",
    ].join('\n');
    expect(await importErrors('lib/x.ts', code)).toEqual([]);
  });
});
