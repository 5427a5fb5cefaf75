/**
 * Creates, in the emulator, the resources of the synthesized stacks that the ingest path touches — from the
 * templates' own properties: bucket settings and notification/EventBridge configuration, the rule and its
 * targets, queue and dead-letter-queue attributes (visibility timeout, redrive policy), the KMS key the
 * buckets encrypt with, and the Glue databases and tables (`TableInput` as synthesized).
 *
 * Names CloudFormation would generate (no `BucketName`, `QueueName` …) become the lower-cased logical id:
 * deterministic, so the function's cached clients stay valid across emulator resets.
 */
import { S3Client } from '@aws-sdk/client-s3';
import { GetQueueAttributesCommand, SQSClient } from '@aws-sdk/client-sqs';
import { GlueClient } from '@aws-sdk/client-glue';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { CfnResource, StackArtifact } from './cloud-assembly.ts';
import { referencedIds, resolve, type Json, type ResolveContext } from './intrinsics.ts';
import { generatedName, makeCreators } from './resource-creators.ts';

export const DEFAULT_ACCOUNT = '123456789012';
export const DEFAULT_REGION = 'us-east-1';

export interface QueueUnderTest {
  logicalId: string;
  url: string;
  arn: string;
  attributes: Record<string, string>;
}

/** The deployed-as-synthesized lake, as the tests need to see it. */
export interface LakeUnderTest {
  endpoint: string;
  accountId: string;
  region: string;
  /** Bucket per zone, as the function's environment names them. */
  buckets: { bronze: string; silver: string; quarantine: string };
  /** How bronze events reach the queue. */
  delivery: 'eventbridge' | 's3-notification';
  queue: QueueUnderTest & { visibilityTimeout: number; maxReceiveCount: number };
  deadLetterQueue: QueueUnderTest;
  eventSource: { batchSize: number; reportBatchItemFailures: boolean; maximumBatchingWindowInSeconds: number };
  glue: { silverDatabase: string; quarantineDatabase: string | undefined };
  fn: {
    logicalId: string;
    /** The bundled asset directory (what is zipped and deployed). */
    assetDir: string;
    /** The `Handler` property (`index.handler`): Lambda gives it to the function as `_HANDLER`. */
    handler: string;
    /** `index.mjs` or `index.js`, from the `Handler` property. */
    entryFile: string;
    exportName: string;
    environment: Record<string, string>;
    memorySize: number;
    timeoutSeconds: number;
    runtime: string;
  };
  /** Every resource of the templates, for assertions on what moto cannot check (policies, SerDe …). */
  resources: Record<string, CfnResource>;
  /** The physical names and attributes given to the created resources (to resolve the templates' policies). */
  resolveContext: ResolveContext;
}

export interface Clients {
  s3: S3Client;
  sqs: SQSClient;
  glue: GlueClient;
}

export function clientsFor(endpoint: string, region: string, accountId: string): Clients {
  const config = { endpoint, region, credentials: { accessKeyId: accountId, secretAccessKey: 'moto' } };
  return {
    s3: new S3Client({ ...config, forcePathStyle: true }),
    sqs: new SQSClient(config),
    glue: new GlueClient(config),
  };
}

type Props = Record<string, Json>;

function str(value: Json | undefined): string | undefined {
  return value === undefined || value === null ? undefined : String(value);
}

function parseEnvironment(environment: string): { account?: string; region?: string } {
  const m = /^aws:\/\/([^/]+)\/(.+)$/.exec(environment);
  return {
    account: m?.[1]?.startsWith('unknown') ? undefined : m?.[1],
    region: m?.[2]?.startsWith('unknown') ? undefined : m?.[2],
  };
}

export async function provisionLake(endpoint: string, stacks: readonly StackArtifact[]): Promise<LakeUnderTest> {
  const env = parseEnvironment(stacks[0]!.environment);
  const accountId = env.account ?? DEFAULT_ACCOUNT;
  const region = env.region ?? DEFAULT_REGION;
  const clients = clientsFor(endpoint, region, accountId);
  const resources: Record<string, CfnResource> = {};
  const stackOf = new Map<string, StackArtifact>();
  for (const stack of stacks) {
    for (const [id, resource] of Object.entries(stack.template.Resources)) {
      if (resources[id]) throw new Error(`logical id ${id} appears in two stacks; the harness assumes unique ids`);
      resources[id] = resource;
      stackOf.set(id, stack);
    }
  }
  const ctx: ResolveContext = {
    accountId,
    region,
    stackName: stacks[0]!.stackName,
    resources: new Map(),
    exports: new Map(),
  };

  const ingestFunctionId = Object.keys(resources).find((id) => {
    const r = resources[id]!;
    const vars = (r.Properties?.Environment as { Variables?: Record<string, Json> } | undefined)?.Variables;
    return r.Type === 'AWS::Lambda::Function' && vars?.BRONZE_BUCKET !== undefined && vars?.SILVER_BUCKET !== undefined;
  });
  if (!ingestFunctionId)
    throw new Error(
      'no AWS::Lambda::Function with BRONZE_BUCKET and SILVER_BUCKET in its environment: is the ingest function in the app?',
    );

  const creators = makeCreators(clients, endpoint, region, accountId);
  const toCreate = Object.keys(resources).filter((id) => creators[resources[id]!.Type] !== undefined);
  for (const id of topologicalOrder(toCreate, resources)) {
    const resource = resources[id]!;
    const props = (resolve(ctx, (resource.Properties ?? {}) as Json) ?? {}) as Props;
    ctx.resources.set(id, await creators[resource.Type]!(id, props, ctx));
  }
  for (const stack of stacks) {
    for (const output of Object.values(stack.template.Outputs ?? {})) {
      if (output.Export) {
        try {
          ctx.exports.set(String(resolve(ctx, output.Export.Name)), String(resolve(ctx, output.Value)));
        } catch {
          // outputs of resources the harness does not create
        }
      }
    }
  }

  // The function itself is not created (moto cannot run it); the harness invokes its bundle.
  const fnResource = resources[ingestFunctionId]!;
  const fnProps = fnResource.Properties ?? {};
  const fnName = str(fnProps.FunctionName as Json) ?? generatedName(ingestFunctionId, 64, false);
  ctx.resources.set(ingestFunctionId, {
    ref: fnName,
    attributes: { Arn: `arn:aws:lambda:${region}:${accountId}:function:${fnName}` },
  });
  const environment = resolve(ctx, ((fnProps.Environment as Props | undefined)?.Variables ?? {}) as Json) as Record<
    string,
    string
  >;
  const assetPath = str(fnResource.Metadata?.['aws:asset:path']);
  if (!assetPath)
    throw new Error(`${ingestFunctionId} has no aws:asset:path metadata: the harness needs the bundled asset`);
  const assetDir = join(stackOf.get(ingestFunctionId)!.assemblyDir, assetPath);
  const [module, exportName] = String(fnProps.Handler ?? 'index.handler').split(/\.(?=[^.]+$)/) as [string, string];
  const entryFile = ['.mjs', '.js', '.cjs'].map((ext) => `${module}${ext}`).find((f) => existsSync(join(assetDir, f)));
  if (!entryFile) throw new Error(`bundle ${assetDir} has no ${module}.mjs/.js for handler ${String(fnProps.Handler)}`);

  const mapping = Object.entries(resources).find(
    ([, r]) => r.Type === 'AWS::Lambda::EventSourceMapping' && resolvesTo(r.Properties?.FunctionName, ingestFunctionId),
  );
  if (!mapping) throw new Error(`no AWS::Lambda::EventSourceMapping feeds ${ingestFunctionId}`);
  const mappingProps = mapping[1].Properties ?? {};
  const queueId = referencedIds(mappingProps.EventSourceArn as Json)
    .values()
    .next().value as string | undefined;
  const queueResource = queueId ? ctx.resources.get(queueId) : undefined;
  if (!queueId || !queueResource)
    throw new Error(`the event source of ${ingestFunctionId} is not a queue the harness created`);
  const queueAttributes = await queueAttributesOf(clients, queueResource.ref);
  const redrive = JSON.parse(queueAttributes.RedrivePolicy ?? 'null') as {
    deadLetterTargetArn: string;
    maxReceiveCount: number | string;
  } | null;
  if (!redrive) throw new Error(`queue ${queueId} has no redrive policy: poison messages would never reach a DLQ`);
  const dlqEntry = [...ctx.resources.entries()].find(([, r]) => r.attributes.Arn === redrive.deadLetterTargetArn);
  if (!dlqEntry) throw new Error(`dead-letter queue ${redrive.deadLetterTargetArn} was not created`);

  const bronze = environment.BRONZE_BUCKET!;
  const bronzeId = [...ctx.resources.entries()].find(
    ([id, r]) => r.ref === bronze && resources[id]?.Type === 'AWS::S3::Bucket',
  )?.[0];
  const bronzeNotifications = (bronzeId ? resources[bronzeId]?.Properties?.NotificationConfiguration : undefined) as
    Props | undefined;
  const eventBridge = (bronzeNotifications?.EventBridgeConfiguration as Props | undefined)?.EventBridgeEnabled === true;

  return {
    endpoint,
    accountId,
    region,
    buckets: { bronze, silver: environment.SILVER_BUCKET!, quarantine: environment.QUARANTINE_BUCKET! },
    delivery: eventBridge ? 'eventbridge' : 's3-notification',
    queue: {
      logicalId: queueId,
      url: queueResource.ref,
      arn: queueResource.attributes.Arn!,
      attributes: queueAttributes,
      visibilityTimeout: Number(queueAttributes.VisibilityTimeout),
      maxReceiveCount: Number(redrive.maxReceiveCount),
    },
    deadLetterQueue: {
      logicalId: dlqEntry[0],
      url: dlqEntry[1].ref,
      arn: dlqEntry[1].attributes.Arn!,
      attributes: await queueAttributesOf(clients, dlqEntry[1].ref),
    },
    eventSource: {
      batchSize: Number(mappingProps.BatchSize ?? 10),
      reportBatchItemFailures: ((mappingProps.FunctionResponseTypes as string[] | undefined) ?? []).includes(
        'ReportBatchItemFailures',
      ),
      maximumBatchingWindowInSeconds: Number(mappingProps.MaximumBatchingWindowInSeconds ?? 0),
    },
    glue: {
      silverDatabase: environment.GLUE_SILVER_DATABASE!,
      quarantineDatabase: environment.GLUE_QUARANTINE_DATABASE,
    },
    fn: {
      logicalId: ingestFunctionId,
      assetDir,
      handler: `${module}.${exportName}`,
      entryFile,
      exportName,
      environment,
      memorySize: Number(fnProps.MemorySize ?? 128),
      timeoutSeconds: Number(fnProps.Timeout ?? 3),
      runtime: String(fnProps.Runtime ?? ''),
    },
    resources,
    resolveContext: ctx,
  };
}

function resolvesTo(value: Json | undefined, logicalId: string): boolean {
  return value !== undefined && referencedIds(value).has(logicalId);
}

async function queueAttributesOf(clients: Clients, url: string): Promise<Record<string, string>> {
  const response = await clients.sqs.send(new GetQueueAttributesCommand({ QueueUrl: url, AttributeNames: ['All'] }));
  return response.Attributes ?? {};
}

/** Creation order: every resource after the resources its properties refer to. */
function topologicalOrder(ids: readonly string[], resources: Record<string, CfnResource>): string[] {
  const wanted = new Set(ids);
  const order: string[] = [];
  const state = new Map<string, 'visiting' | 'done'>();
  const visit = (id: string, path: string[]): void => {
    if (state.get(id) === 'done') return;
    if (state.get(id) === 'visiting') throw new Error(`reference cycle: ${[...path, id].join(' → ')}`);
    state.set(id, 'visiting');
    for (const dep of referencedIds((resources[id]!.Properties ?? {}) as Json))
      if (wanted.has(dep)) visit(dep, [...path, id]);
    state.set(id, 'done');
    order.push(id);
  };
  ids.forEach((id) => visit(id, []));
  return order;
}
