/** Scheduled compaction (DataLake `compaction` prop): opt-in, an EventBridge schedule → one function, least privilege, nag-clean. */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Duration } from 'aws-cdk-lib';
import { Match } from 'aws-cdk-lib/assertions';
import * as events from 'aws-cdk-lib/aws-events';
import { afterAll, describe, it } from '@jest/globals';
import { expect } from '../support/expect.ts';
import type { StorageZone } from '../../lib/storage/zones.ts';
import {
  allowedPairs,
  logicalId,
  removeSynthOutputs,
  roleStatements,
  skipBuiltinTemplateValidation,
  synthLake,
} from '../support/cdk/synth.ts';

skipBuiltinTemplateValidation();
afterAll(removeSynthOutputs);

const pairs = (actions: string[], resources: string[]) => actions.flatMap((a) => resources.map((r) => `${a} on ${r}`));

describe('scheduled compaction', () => {
  it('is off by default: no compaction function, no schedule', () => {
    const { stack, template } = synthLake();
    expect(stack.lake.compaction).toBeUndefined();
    const variables = Object.values(template.findResources('AWS::Lambda::Function')).map(
      (f) => (f.Properties.Environment?.Variables ?? {}) as Record<string, unknown>,
    );
    expect(variables.some((v) => 'COMPACTION_DATASETS' in v)).toBe(false);
    template.resourcePropertiesCountIs('AWS::Events::Rule', { ScheduleExpression: Match.anyValue() }, 0);
  });

  it('compaction: {} schedules the function on the 3rd of each month, 02:00 UTC, one run at a time, with an errors alarm', () => {
    const { stack, template } = synthLake({ overrides: { lake: { compaction: {} } } });
    const compaction = stack.lake.compaction;
    if (!compaction) throw new Error('no compaction construct');
    const fnId = logicalId(compaction.function);
    template.hasResourceProperties('AWS::Events::Rule', {
      ScheduleExpression: 'cron(0 2 3 * ? *)',
      State: 'ENABLED',
      Targets: [Match.objectLike({ Arn: { 'Fn::GetAtt': [fnId, 'Arn'] }, RetryPolicy: { MaximumRetryAttempts: 2 } })],
    });
    template.hasResourceProperties('AWS::Lambda::Permission', {
      Action: 'lambda:InvokeFunction',
      FunctionName: { 'Fn::GetAtt': [fnId, 'Arn'] },
      Principal: 'events.amazonaws.com',
    });
    template.hasResourceProperties('AWS::Lambda::Function', {
      ReservedConcurrentExecutions: 1,
      Timeout: 900,
      Environment: {
        Variables: Match.objectLike({
          COMPACTION_DATASETS: 'transactions',
          CONTRACTS_DIR: '/var/task/contracts',
          SILVER_BUCKET: { Ref: logicalId(stack.lake.storage.bucket('silver')) },
        }),
      },
    });
    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      AlarmName: Match.stringLikeRegexp('-compaction-errors$'),
    });
  });

  it('takes a schedule and a target size', () => {
    const { template } = synthLake({
      overrides: {
        lake: { compaction: { schedule: events.Schedule.rate(Duration.days(1)), targetBytes: 256_000_000 } },
      },
    });
    template.hasResourceProperties('AWS::Events::Rule', { ScheduleExpression: 'rate(1 day)' });
    template.hasResourceProperties('AWS::Lambda::Function', {
      Environment: { Variables: Match.objectLike({ COMPACTION_TARGET_BYTES: '256000000' }) },
    });
    expect(() => synthLake({ overrides: { lake: { compaction: { datasets: ['orders'] } } } })).toThrow(
      /compaction datasets not in the silver catalog: orders/,
    );
  });

  it('holds exactly: the datasets’ table files, manifests and compaction records (read/write/delete), their lease, their intent records (read); nothing of bronze, quarantine, gold or the catalog', () => {
    const { stack, template } = synthLake({ overrides: { lake: { compaction: {} } } });
    const role = stack.lake.compaction?.function.role;
    if (!role) throw new Error('no role');
    const arn = (zone: StorageZone) => `\${${logicalId(stack.lake.storage.bucket(zone))}.Arn}`;
    const key = `\${${logicalId(stack.lake.storage.key)}.Arn}`;
    const silver = arn('silver');
    const readWrite = [
      `${silver}/_maintenance/compacted/transactions/*`,
      `${silver}/_maintenance/compactions/transactions/*`,
      `${silver}/_maintenance/leases/transactions.json`,
      `${silver}/_manifests/transactions/*`,
      `${silver}/transactions/*`,
    ];
    const granted = allowedPairs(roleStatements(template, logicalId(role))).filter((p) => !/^(logs|xray):/.test(p));
    expect(granted).toEqual(
      [
        ...pairs(['s3:GetBucketLocation', 's3:ListBucket'], [silver]),
        // Redundant beside the whole-bucket listing (each grant adds its own), harmless.
        ...[...readWrite.slice(0, 4), `${silver}/_pending/transactions/*`].map(
          (p) => `s3:ListBucket on ${silver} if s3:prefix StringLike ${p.slice(silver.length + 1)}`,
        ),
        ...pairs(['s3:GetObject', 's3:GetObjectVersion'], [...readWrite, `${silver}/_pending/transactions/*`]),
        ...pairs(['s3:PutObject', 's3:DeleteObject', 's3:AbortMultipartUpload'], readWrite),
        ...pairs(['kms:Decrypt', 'kms:GenerateDataKey'], [key]),
      ].sort(),
    );
  });

  it('is cdk-nag clean (AwsSolutions, PCI DSS 3.2.1)', () => {
    const { app } = synthLake({ overrides: { lake: { compaction: {} } } });
    const dir = app.synth().directory;
    const report = JSON.parse(readFileSync(join(dir, 'validation-report.json'), 'utf8')) as {
      pluginReports: { violations?: unknown[] }[];
    };
    expect(report.pluginReports.length).toBeGreaterThan(0);
    const violations = report.pluginReports.flatMap((r) => r.violations ?? []);
    expect(violations).toEqual([]);
  });
});
