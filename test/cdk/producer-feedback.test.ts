import { App, Stack, type CfnElement } from 'aws-cdk-lib';
import { Match } from 'aws-cdk-lib/assertions';
import * as events from 'aws-cdk-lib/aws-events';
import * as kms from 'aws-cdk-lib/aws-kms';
import type * as sns from 'aws-cdk-lib/aws-sns';
import { loadContracts, type DatasetContract } from '../../engine/contract/index.ts';
import { ProducerFeedback } from '../../lib/governance/producer-feedback.ts';
import { afterAll, describe, expect, it } from '@jest/globals';
import {
  logicalId,
  removeSynthOutputs,
  render,
  skipBuiltinTemplateValidation,
  synthLake,
} from '../support/cdk/synth.ts';

skipBuiltinTemplateValidation();
afterAll(removeSynthOutputs);

/** Every statement of the identity policies attached to a role. */
function roleStatements(template: ReturnType<typeof synthLake>['template'], roleId: string): Record<string, unknown>[] {
  return Object.values(template.findResources('AWS::IAM::Policy'))
    .filter((p) => JSON.stringify(p.Properties.Roles).includes(roleId))
    .flatMap((p) => p.Properties.PolicyDocument.Statement as Record<string, unknown>[]);
}

describe('ingest events', () => {
  it('the ingest function publishes on the default bus: EVENT_BUS_NAME set, events:PutEvents on that bus only', () => {
    const { stack, template } = synthLake();
    const fn = stack.lake.ingestion.function;
    template.hasResourceProperties('AWS::Lambda::Function', {
      Environment: { Variables: Match.objectLike({ EVENT_BUS_NAME: 'default' }) },
    });
    const puts = roleStatements(template, logicalId(fn.role!)).filter((s) =>
      JSON.stringify(s.Action).includes('events:'),
    );
    expect(puts).toHaveLength(1);
    expect(puts[0]?.Action).toBe('events:PutEvents');
    expect(render(puts[0]?.Resource)).toBe(
      'arn:${AWS::Partition}:events:${AWS::Region}:${AWS::AccountId}:event-bus/default',
    );
    // No owner topics unless asked for.
    template.resourceCountIs('AWS::SNS::Topic', 1); // the alarm topic
  });

  it('publishEvents: false leaves the variable and the grant out', () => {
    const { stack, template } = synthLake({ overrides: { lake: { ingestion: { publishEvents: false } } } });
    const variables = Object.values(template.findResources('AWS::Lambda::Function')).map(
      (f) => f.Properties.Environment?.Variables ?? {},
    );
    expect(variables.some((v) => 'EVENT_BUS_NAME' in v)).toBe(false);
    expect(JSON.stringify(roleStatements(template, logicalId(stack.lake.ingestion.function.role!)))).not.toContain(
      'events:PutEvents',
    );
    expect(() =>
      synthLake({ overrides: { lake: { ingestion: { publishEvents: false }, ownerTopics: true } } }),
    ).toThrow(/ownerTopics needs ingest events/);
  });
});

describe('owner topics (ownerTopics)', () => {
  const { stack, template } = synthLake({
    context: { stage: 'prod' },
    overrides: { lake: { ownerTopics: { ownerEmails: { 'payments-data': ['payments@example.com'] } } } },
  });
  const feedback = stack.lake.producerFeedback!;

  it('one encrypted, TLS-only topic per contract owner, named after it', () => {
    expect(feedback.owners).toEqual(['payments-data']);
    const topicId = logicalId(feedback.topic('payments-data') as never);
    template.hasResourceProperties('AWS::SNS::Topic', {
      TopicName: 'medallion-prod-ingest-events-payments-data',
      KmsMasterKeyId: { 'Fn::GetAtt': [logicalId(stack.lake.storage.key), 'Arn'] },
    });
    template.hasResourceProperties('AWS::SNS::TopicPolicy', {
      Topics: [{ Ref: topicId }],
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } }),
          Match.objectLike({ Effect: 'Allow', Principal: { Service: 'events.amazonaws.com' }, Action: 'sns:Publish' }),
        ]),
      },
    });
    template.hasResourceProperties('AWS::SNS::Subscription', {
      Protocol: 'email',
      Endpoint: 'payments@example.com',
      TopicArn: { Ref: topicId },
    });
    expect(() => feedback.topic('nobody')).toThrow(/no contract has owner "nobody"/);
  });

  it('a rule on the default bus routes the owner’s ingest events to its topic', () => {
    template.hasResourceProperties('AWS::Events::Rule', {
      Name: 'medallion-prod-ingest-events-payments-data',
      EventPattern: { source: ['medallion.lake'], detail: { owner: ['payments-data'] } },
      Targets: [Match.objectLike({ Arn: { Ref: logicalId(feedback.topic('payments-data') as never) } })],
    });
    const rule = Object.values(template.findResources('AWS::Events::Rule')).find(
      (r) => r.Properties.Name === 'medallion-prod-ingest-events-payments-data',
    );
    expect(rule?.Properties.EventBusName).toBe('default');
  });

  it('lets EventBridge use the lake key for this account only', () => {
    const key = Object.values(template.findResources('AWS::KMS::Key'))[0];
    const statement = (key?.Properties.KeyPolicy.Statement as Record<string, unknown>[]).find((s) =>
      JSON.stringify(s.Principal).includes('events.amazonaws.com'),
    );
    expect(statement).toMatchObject({
      Action: ['kms:Decrypt', 'kms:GenerateDataKey*'],
      Condition: { StringEquals: { 'aws:SourceAccount': { Ref: 'AWS::AccountId' } } },
    });
  });
});

describe('owner topics over time', () => {
  const transactions = loadContracts().contracts[0]!;
  const withOwners = (...owners: string[]) => owners.map((owner, i) => ({ ...transactions, name: `d${i}`, owner }));
  function feedbackOf(contracts: DatasetContract[]): { stack: Stack; feedback: ProducerFeedback } {
    const stack = new Stack(new App(), 'Feedback');
    const feedback = new ProducerFeedback(stack, 'Feedback', {
      eventBus: events.EventBus.fromEventBusName(stack, 'Bus', 'default'),
      contracts,
      encryptionKey: new kms.Key(stack, 'Key'),
    });
    return { stack, feedback };
  }
  const topicId = ({ stack, feedback }: ReturnType<typeof feedbackOf>, owner: string) =>
    stack.getLogicalId((feedback.topic(owner) as sns.Topic).node.defaultChild as CfnElement);

  it("adding an owner keeps every existing owner's topic where it was (a moved logical id would replace it)", () => {
    const before = feedbackOf(withOwners('payments'));
    const after = feedbackOf(withOwners('payments', 'billing')); // sorts first
    expect(topicId(after, 'payments')).toBe(topicId(before, 'payments'));
    expect(topicId(after, 'billing')).not.toBe(topicId(after, 'payments'));
  });

  it('owners that would share a topic name are refused', () => {
    expect(() => feedbackOf(withOwners('Payments Data', 'payments-data'))).toThrow(/names the same topic as/);
    expect(() => feedbackOf(withOwners('***'))).toThrow(/has no letter or digit/);
  });
});
