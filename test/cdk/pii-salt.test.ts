import { Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { DataLake } from '../../lib/data-lake.ts';
import { logicalId, removeSynthOutputs, synthLake, testApp } from '../support/cdk/synth.ts';

function lakeWith(contracts: Record<string, object[]>): { lake: DataLake; template: Template; dir: string } {
  const dir = mkdtempSync(join(tmpdir(), 'medallion-pii-'));
  for (const [name, columns] of Object.entries(contracts))
    writeFileSync(join(dir, `${name}.json`), JSON.stringify({ name, version: '1', columns }));
  const stack = new Stack(testApp(), 'Pii');
  const lake = new DataLake(stack, 'Lake', { contractsDir: dir, queriesDir: join(dir, 'none') });
  return { lake, template: Template.fromStack(stack), dir };
}

describe('the PII salt', () => {
  let hashing: ReturnType<typeof lakeWith>;
  let plain: ReturnType<typeof lakeWith>;
  beforeAll(() => {
    hashing = lakeWith({
      customers: [
        { name: 'id', type: 'string', required: true },
        { name: 'email', type: 'string', pii: 'hash' },
      ],
    });
    plain = lakeWith({
      payments: [
        { name: 'id', type: 'string', required: true },
        { name: 'email', type: 'string', pii: 'drop' },
      ],
    });
  });
  afterAll(() => [hashing, plain].forEach((l) => rmSync(l.dir, { recursive: true, force: true })));

  it('is a generated secret, encrypted with the lake key and never deleted, when a contract hashes PII', () => {
    const secret = hashing.lake.ingestion.piiSalt;
    expect(secret).toBeDefined();
    hashing.template.resourceCountIs('AWS::SecretsManager::Secret', 1);
    hashing.template.hasResource('AWS::SecretsManager::Secret', {
      DeletionPolicy: 'Retain',
      UpdateReplacePolicy: 'Retain',
      Properties: {
        // A fixed name: a re-created stack fails on the retained secret instead of hashing with a new salt.
        Name: Match.stringLikeRegexp('-pii-salt$'),
        KmsKeyId: { 'Fn::GetAtt': [logicalId(hashing.lake.storage.key), 'Arn'] },
        GenerateSecretString: Match.objectLike({ PasswordLength: 48, ExcludePunctuation: true }),
      },
    });
    hashing.template.resourceCountIs('AWS::SecretsManager::RotationSchedule', 0);
  });

  it('is named to the ingest function, which may read it and nothing else in Secrets Manager', () => {
    const secretRef = { Ref: logicalId(hashing.lake.ingestion.piiSalt as never) };
    hashing.template.hasResourceProperties('AWS::Lambda::Function', {
      Environment: { Variables: Match.objectLike({ PII_SALT_SECRET_ARN: secretRef }) },
    });
    const policies = Object.values(hashing.template.findResources('AWS::IAM::Policy')) as Array<{
      Properties: { PolicyDocument: { Statement: Array<{ Action: unknown; Resource: unknown }> } };
    }>;
    const secretStatements = policies
      .flatMap((p) => p.Properties.PolicyDocument.Statement)
      .filter((s) => [s.Action].flat().some((a) => String(a).startsWith('secretsmanager:')));
    expect(secretStatements).toEqual([
      {
        Action: ['secretsmanager:DescribeSecret', 'secretsmanager:GetSecretValue'],
        Effect: 'Allow',
        Resource: secretRef,
      },
    ]);
  });

  it('does not exist when no contract hashes PII', () => {
    expect(plain.lake.ingestion.piiSalt).toBeUndefined();
    plain.template.resourceCountIs('AWS::SecretsManager::Secret', 0);
    plain.template.hasResourceProperties('AWS::Lambda::Function', {
      Environment: { Variables: Match.objectLike({ PII_SALT_SECRET_ARN: Match.absent() }) },
    });
  });
});

describe('the PII salt under cdk-nag', () => {
  it('synthesizes the whole app with a hashing contract and no unacknowledged finding (the salt must not rotate)', () => {
    const dir = mkdtempSync(join(tmpdir(), 'medallion-pii-nag-'));
    try {
      copyFileSync(join(import.meta.dirname, '../../contracts/transactions.json'), join(dir, 'transactions.json'));
      const customers = {
        name: 'customers',
        version: '1',
        columns: [
          { name: 'id', type: 'string', required: true },
          { name: 'email', type: 'string', pii: 'hash' },
        ],
      };
      writeFileSync(join(dir, 'customers.json'), JSON.stringify(customers));
      const { app, stack } = synthLake({ overrides: { lake: { contractsDir: dir } } });
      expect(stack.lake.ingestion.piiSalt).toBeDefined();
      const report = JSON.parse(readFileSync(join(app.synth().directory, 'validation-report.json'), 'utf8')) as {
        pluginReports: { violations?: unknown[] }[];
      };
      expect(report.pluginReports.flatMap((r) => r.violations ?? [])).toEqual([]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
      removeSynthOutputs();
    }
  });
});
