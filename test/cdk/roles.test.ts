/**
 * Every IAM role of each stage is accounted for, including the ones CDK adds on its own (the dev auto-delete
 * custom resource's), with everything it may do: identity policies, managed policies, and grants to it in
 * bucket policies.
 */
import type { Template } from 'aws-cdk-lib/assertions';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { MedallionLakeStack } from '../../lib/medallion-lake-stack.ts';
import { ZONES } from '../../lib/storage/zones.ts';
import {
  bucketPolicyStatements,
  logicalId,
  removeSynthOutputs,
  roleStatements,
  skipBuiltinTemplateValidation,
  synthLake,
} from '../support/cdk/synth.ts';

skipBuiltinTemplateValidation();

type Synth = { stack: MedallionLakeStack; template: Template };
let dev: Synth;
let prod: Synth;

beforeAll(() => {
  dev = synthLake({ context: { stage: 'dev' } });
  prod = synthLake({ context: { stage: 'prod', analystPrincipals: 'arn:aws:iam::111122223333:role/Analyst' } });
});
afterAll(removeSynthOutputs);

const AUTO_DELETE_ROLE = /^CustomS3AutoDeleteObjectsCustomResourceProviderRole[0-9A-F]{8}$/;

function roles(t: Template): Record<string, { Properties: Record<string, unknown> }> {
  return t.findResources('AWS::IAM::Role') as Record<string, { Properties: Record<string, unknown> }>;
}

/** Statements of every bucket policy that name this role as principal, as `action on resource` pairs. */
function bucketGrantsTo(s: Synth, roleId: string): string[] {
  return ZONES.flatMap((z) => bucketPolicyStatements(s.template, logicalId(s.stack.lake.storage.bucket(z.zone))))
    .filter((st) => st.effect === 'Allow' && st.principal === `\${${roleId}.Arn}`)
    .flatMap((st) => st.actions.flatMap((a) => st.resources.map((r) => `${a} on ${r}`)))
    .sort();
}

describe('the roles of each stage', () => {
  it('prod: the ingest, gold-refresh, fan-out state machine and analysts roles, nothing else', () => {
    const { lake, analystsRole } = prod.stack;
    const expected = [
      lake.ingestion.function.role,
      lake.goldRefresh?.function.role,
      lake.fanOut?.stateMachine.role,
      analystsRole,
    ].map((r) => logicalId(r as NonNullable<typeof r>));
    expect(Object.keys(roles(prod.template)).sort()).toEqual(expected.sort());
  });

  it('dev: the ingest, gold-refresh and fan-out roles and the auto-delete custom resource’s role (allowDestroy), nothing else', () => {
    const { lake } = dev.stack;
    const ids = Object.keys(roles(dev.template));
    const ours = [lake.ingestion.function.role, lake.goldRefresh?.function.role, lake.fanOut?.stateMachine.role].map(
      (r) => logicalId(r as NonNullable<typeof r>),
    );
    expect(ids.filter((id) => !ours.includes(id))).toEqual([expect.stringMatching(AUTO_DELETE_ROLE)]);
  });
});

describe('the dev auto-delete custom resource role', () => {
  const roleId = () => Object.keys(roles(dev.template)).find((id) => AUTO_DELETE_ROLE.test(id)) as string;

  it('is assumed by Lambda only and holds only the basic execution (logs) managed policy, no inline policy', () => {
    const role = roles(dev.template)[roleId()]?.Properties as Record<string, unknown>;
    expect(role.AssumeRolePolicyDocument).toEqual({
      Version: '2012-10-17',
      Statement: [{ Action: 'sts:AssumeRole', Effect: 'Allow', Principal: { Service: 'lambda.amazonaws.com' } }],
    });
    expect(role.ManagedPolicyArns).toEqual([
      { 'Fn::Sub': 'arn:${AWS::Partition}:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole' },
    ]);
    expect(role.Policies).toBeUndefined();
    expect(roleStatements(dev.template, roleId())).toEqual([]);
  });

  it('may empty and delete every lake bucket (and only that) through their bucket policies', () => {
    const { storage } = dev.stack.lake;
    const expected = ZONES.flatMap((z) => {
      const arn = `\${${logicalId(storage.bucket(z.zone))}.Arn}`;
      return ['s3:DeleteObject*', 's3:GetBucket*', 's3:List*', 's3:PutBucketPolicy'].flatMap((a) => [
        `${a} on ${arn}`,
        `${a} on ${arn}/*`,
      ]);
    });
    expect(bucketGrantsTo(dev, roleId())).toEqual(expected.sort());
  });

  it('does not exist where data is retained (prod): nothing can empty a prod bucket on stack deletion', () => {
    expect(Object.keys(roles(prod.template)).filter((id) => AUTO_DELETE_ROLE.test(id))).toEqual([]);
    prod.template.resourceCountIs('Custom::S3AutoDeleteObjects', 0);
  });
});
