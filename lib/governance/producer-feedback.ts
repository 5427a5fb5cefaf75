import { Aws } from 'aws-cdk-lib';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as kms from 'aws-cdk-lib/aws-kms';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as subscriptions from 'aws-cdk-lib/aws-sns-subscriptions';
import { Construct } from 'constructs';
import { LAKE_EVENT_SOURCE, type DatasetContract } from '../../engine/contract/index.ts';

export interface ProducerFeedbackProps {
  /** The bus the ingest function publishes on. */
  readonly eventBus: events.IEventBus;
  /** The lake's contracts: one topic per distinct `owner`. */
  readonly contracts: readonly DatasetContract[];
  /** Encrypts the owner topics (EventBridge is allowed to use it for this account's rules only). */
  readonly encryptionKey: kms.IKey;
  /** Prefix of topic and rule names. @default 'medallion' */
  readonly namePrefix?: string;
  /**
   * E-mail addresses per owner, subscribed to that owner's topic.
   * @default - none: subscribe with `topic(owner).addSubscription(...)` or outside the stack
   */
  readonly ownerEmails?: Readonly<Record<string, readonly string[]>>;
}

/**
 * Routes each dataset's ingest events (`medallion.lake` `Ingest Completed` / `Ingest Rejected`) to an SNS topic
 * of the dataset's owner (the contract's `owner`): one encrypted, TLS-only topic and one EventBridge rule
 * (matching `detail.owner`) per owner.
 */
export class ProducerFeedback extends Construct {
  private readonly topics = new Map<string, sns.Topic>();
  readonly rules: events.Rule[] = [];

  constructor(scope: Construct, id: string, props: ProducerFeedbackProps) {
    super(scope, id);
    const prefix = props.namePrefix ?? 'medallion';
    const owners = [...new Set(props.contracts.map((c) => c.owner))].sort();
    if (owners.length === 0) return;
    // EventBridge publishes to the encrypted topics itself, so it needs the key; for this account's rules only.
    props.encryptionKey.addToResourcePolicy(
      new iam.PolicyStatement({
        principals: [new iam.ServicePrincipal('events.amazonaws.com')],
        actions: ['kms:Decrypt', 'kms:GenerateDataKey*'],
        resources: ['*'],
        conditions: { StringEquals: { 'aws:SourceAccount': Aws.ACCOUNT_ID } },
      }),
    );
    const slugs = new Map<string, string>();
    for (const owner of owners) {
      const slug = ownerSlug(owner);
      const clash = slugs.get(slug);
      if (!slug || clash !== undefined) {
        throw new Error(
          `contract owner "${owner}" ${slug ? `names the same topic as "${clash}" (${slug})` : 'has no letter or digit'}: owner topics are named after the owner`,
        );
      }
      slugs.set(slug, owner);
    }
    // Construct ids from the owner's name, not its position: adding an owner must not move another's topic.
    for (const [slug, owner] of slugs) {
      const topic = new sns.Topic(this, `OwnerTopic-${slug}`, {
        topicName: `${prefix}-ingest-events-${slug}`,
        displayName: `${prefix} ingest events for ${owner}`,
        masterKey: props.encryptionKey,
        enforceSSL: true,
      });
      for (const email of props.ownerEmails?.[owner] ?? [])
        topic.addSubscription(new subscriptions.EmailSubscription(email));
      const rule = new events.Rule(this, `OwnerRule-${slug}`, {
        ruleName: `${prefix}-ingest-events-${slug}`,
        description: `Ingest events of the datasets owned by ${owner}`,
        eventBus: props.eventBus,
        eventPattern: { source: [LAKE_EVENT_SOURCE], detail: { owner: [owner] } },
      });
      rule.addTarget(new targets.SnsTopic(topic));
      this.topics.set(owner, topic);
      this.rules.push(rule);
    }
  }

  /** The topic of an owner's ingest events. */
  topic(owner: string): sns.ITopic {
    const topic = this.topics.get(owner);
    if (!topic)
      throw new Error(`no contract has owner "${owner}" (owners: ${[...this.topics.keys()].join(', ') || 'none'})`);
    return topic;
  }

  get owners(): string[] {
    return [...this.topics.keys()];
  }
}

/** The part of topic and rule names that stands for an owner. */
function ownerSlug(owner: string): string {
  return owner
    .toLowerCase()
    .replace(/[^a-z0-9-]+/g, '-')
    .replace(/^-+|-+$/g, '');
}
