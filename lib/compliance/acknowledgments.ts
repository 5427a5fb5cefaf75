import { Stack, Validations, type CfnElement } from 'aws-cdk-lib';
import type * as iam from 'aws-cdk-lib/aws-iam';
import type * as s3 from 'aws-cdk-lib/aws-s3';
import { Construct, type IConstruct } from 'constructs';

/**
 * Acknowledges cdk-nag findings (`AwsSolutions-IAM5[…]`, `PCI.DSS.321-…`) on a construct and everything under
 * it. Every acknowledgment carries its reason.
 */
export function acknowledge(scope: IConstruct, findings: Record<string, string>): void {
  Validations.of(scope).acknowledge(...Object.entries(findings).map(([id, reason]) => ({ id: qualified(id), reason })));
}

/** cdk-nag 3 reports findings under the pack's name: `AwsSolutions::AwsSolutions-IAM5`, `PCI.DSS.321::PCI.DSS.321-…`. */
function qualified(findingId: string): string {
  const pack = findingId.slice(0, findingId.indexOf('-'));
  return `${pack}::${findingId}`;
}

/** PCI DSS 3.2.1 IAMNoInlinePolicy fires on every `grant*`, because CDK renders grants as an AWS::IAM::Policy. */
export function acknowledgeInlinePolicies(scope: IConstruct): void {
  acknowledge(scope, {
    'PCI.DSS.321-IAMNoInlinePolicy':
      'CDK grant methods render least-privilege statements as an AWS::IAM::Policy attached to exactly one role defined in this stack; no policy is attached to users or groups, and every statement is asserted in tests.',
  });
}

/**
 * A grant on a bucket's objects needs an object ARN pattern (S3 object ARNs cannot be listed in a policy):
 * acknowledges exactly that finding, on the grantee's policy, when the grantee is a construct of this app.
 */
export function acknowledgeObjectPattern(grantee: iam.IGrantable, bucket: s3.IBucket, keyPattern: string): void {
  const principal = grantee.grantPrincipal;
  const cfnBucket = bucket.node.defaultChild;
  if (!Construct.isConstruct(principal) || !cfnBucket) return;
  const logicalId = Stack.of(bucket).resolve((cfnBucket as CfnElement).logicalId) as string;
  acknowledge(principal, {
    [`AwsSolutions-IAM5[Resource::<${logicalId}.Arn>/${keyPattern}]`]: `Object-level actions on the objects "${keyPattern}" of one lake bucket, with explicit actions only; S3 object ARNs can only be scoped by key pattern.`,
  });
}
