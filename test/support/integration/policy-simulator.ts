/**
 * Evaluates authorization requests with `@cloud-copilot/iam-simulate` against the policies of the synthesized
 * template, resolved to the physical names the harness gave the resources: the principal's identity policies
 * (`AWS::IAM::Policy` / `AWS::IAM::ManagedPolicy` attached to its role, and the role's inline `Policies`), and
 * the resource's own policy — the bucket policy for S3, the key policy for KMS, the queue policy for SQS.
 *
 * The principal is a session of the role (`arn:aws:sts::<account>:assumed-role/<role>/<session>`), as Lambda's
 * credentials are. Every request also carries what AWS adds by itself and the simulator does not infer:
 * `aws:PrincipalArn`, `aws:PrincipalAccount`, `aws:PrincipalType`, `aws:SecureTransport` (`true`: the SDK's
 * endpoints are HTTPS in Lambda; the emulator is plain HTTP only because the harness points `AWS_ENDPOINT_URL`
 * at it), and for S3 `s3:TlsVersion` 1.3, `s3:authType` and `s3:signatureversion`. A request may override any.
 */
import {
  getDenialReasons,
  getGrantReasons,
  runSimulation,
  type EvaluationResult,
  type Simulation,
  type SimulationIdentityPolicy,
} from '@cloud-copilot/iam-simulate';
import type { CfnResource, CfnTemplate } from './cloud-assembly.ts';
import type { AthenaEnvironment, AuthorizationRequest, RequestEnvironment } from './iam-requests.ts';
import { resolve, type Json, type ResolveContext, type ResolvedResource } from './intrinsics.ts';
import { generatedName } from './resource-creators.ts';

export interface Principal {
  /** The role's logical id in the template. */
  logicalId: string;
  roleArn: string;
  /** The ARN requests are made as: a session of the role. */
  sessionArn: string;
  identityPolicies: SimulationIdentityPolicy[];
}

export interface Decision {
  request: AuthorizationRequest;
  principal: string;
  result: EvaluationResult;
  /** The deciding statements, e.g. `resource policy statement DenyKmsKeyOtherThanLakeKey`, `identity LakeIngestionRoleDefaultPolicy#4`. */
  reasons: string[];
  /**
   * Request context keys the simulator dropped as not applicable to the action. 0.1.173 drops
   * `kms:EncryptionContext:<key>` (it matches templated keys only after a `/`): a policy *conditioned* on it cannot
   * be evaluated (its `runUnsafeSimulation`, which keeps the full context, fails on any simulation with a resource
   * policy — it loads the policy without the name its analysis reads).
   */
  ignoredContextKeys: string[];
}

type PolicyDocument = { Version?: string; Statement: Json[] };

const list = <T>(value: T | T[] | undefined): T[] =>
  value === undefined ? [] : Array.isArray(value) ? value : [value];

/** Names for the resources the harness does not create in the emulator, the way it names those it does. */
function fallbackResource(id: string, resource: CfnResource, ctx: ResolveContext): ResolvedResource | undefined {
  const { accountId: account, region } = ctx;
  const props = resource.Properties ?? {};
  const prop = (value: Json | undefined): string | undefined => {
    if (value === undefined || value === null) return undefined;
    try {
      return String(resolve(ctx, value));
    } catch {
      return undefined;
    }
  };
  switch (resource.Type) {
    case 'AWS::IAM::Role': {
      const name = prop(props.RoleName) ?? generatedName(id, 64, false);
      return {
        ref: name,
        attributes: { Arn: `arn:aws:iam::${account}:role/${name}`, RoleId: `AROA${id.toUpperCase()}` },
      };
    }
    case 'AWS::S3::Bucket': {
      const name = prop(props.BucketName) ?? generatedName(id, 63, true);
      return {
        ref: name,
        attributes: {
          Arn: `arn:aws:s3:::${name}`,
          DomainName: `${name}.s3.amazonaws.com`,
          RegionalDomainName: `${name}.s3.${region}.amazonaws.com`,
        },
      };
    }
    case 'AWS::KMS::Key': {
      const keyId = generatedName(id, 64, true);
      return { ref: keyId, attributes: { Arn: `arn:aws:kms:${region}:${account}:key/${keyId}`, KeyId: keyId } };
    }
    case 'AWS::Logs::LogGroup': {
      const name = prop(props.LogGroupName) ?? generatedName(id, 512, false);
      return { ref: name, attributes: { Arn: `arn:aws:logs:${region}:${account}:log-group:${name}:*` } };
    }
    case 'AWS::SQS::Queue': {
      const fifo = props.FifoQueue === true;
      const name = prop(props.QueueName) ?? `${generatedName(id, fifo ? 75 : 80, false)}${fifo ? '.fifo' : ''}`;
      return {
        ref: `https://sqs.${region}.amazonaws.com/${account}/${name}`,
        attributes: { Arn: `arn:aws:sqs:${region}:${account}:${name}`, QueueName: name },
      };
    }
    case 'AWS::SNS::Topic': {
      const name = prop(props.TopicName) ?? generatedName(id, 256, false);
      const arn = `arn:aws:sns:${region}:${account}:${name}`;
      return { ref: arn, attributes: { TopicArn: arn, TopicName: name } };
    }
    case 'AWS::Glue::Database':
      return { ref: prop((props.DatabaseInput as { Name?: Json } | undefined)?.Name) ?? id, attributes: {} };
    case 'AWS::Glue::Table':
      return { ref: prop((props.TableInput as { Name?: Json } | undefined)?.Name) ?? id, attributes: {} };
    case 'AWS::Athena::WorkGroup':
      return { ref: prop(props.Name) ?? id, attributes: {} };
    case 'AWS::Lambda::Function': {
      const name = prop(props.FunctionName) ?? generatedName(id, 64, false);
      return { ref: name, attributes: { Arn: `arn:aws:lambda:${region}:${account}:function:${name}` } };
    }
    case 'AWS::SecretsManager::Secret': {
      const arn = `arn:aws:secretsmanager:${region}:${account}:secret:${generatedName(id, 64, false)}-AbCdEf`;
      return { ref: arn, attributes: { Id: arn } };
    }
    case 'AWS::CloudWatch::Alarm': {
      const name = prop(props.AlarmName) ?? generatedName(id, 255, false);
      return { ref: name, attributes: { Arn: `arn:aws:cloudwatch:${region}:${account}:alarm:${name}` } };
    }
    default:
      return undefined;
  }
}

/** The policies of one or more templates (one account and region), resolved against `base` plus fallback names. */
export class TemplatePolicies {
  readonly ctx: ResolveContext;
  private readonly resources: Record<string, CfnResource> = {};

  constructor(
    templates: readonly CfnTemplate[],
    base: Pick<ResolveContext, 'accountId' | 'region' | 'stackName'> & Partial<ResolveContext>,
  ) {
    for (const template of templates) Object.assign(this.resources, template.Resources);
    this.ctx = {
      accountId: base.accountId,
      region: base.region,
      stackName: base.stackName,
      resources: new Map(base.resources ?? []),
      exports: new Map(base.exports ?? []),
    };
    // Names first (they may refer to each other's names), in two passes so that one reference deep resolves.
    for (let pass = 0; pass < 2; pass++) {
      for (const [id, resource] of Object.entries(this.resources)) {
        if (this.ctx.resources.has(id) && pass === 0) continue;
        if (base.resources?.has(id)) continue;
        const fallback = fallbackResource(id, resource, this.ctx);
        if (fallback) this.ctx.resources.set(id, fallback);
      }
    }
  }

  get accountId(): string {
    return this.ctx.accountId;
  }

  get region(): string {
    return this.ctx.region;
  }

  private resolved(value: Json): Json {
    return resolve(this.ctx, value);
  }

  private ofType(type: string): [string, CfnResource][] {
    return Object.entries(this.resources).filter(([, r]) => r.Type === type);
  }

  private refersTo(value: Json | undefined, logicalId: string): boolean {
    return list(value as Json | Json[] | undefined).some(
      (v) => v !== null && typeof v === 'object' && !Array.isArray(v) && v.Ref === logicalId,
    );
  }

  /** A role of the template as a principal: its session ARN and every identity policy attached to it. */
  role(logicalId: string, session = 'simulated'): Principal {
    const role = this.resources[logicalId];
    if (role?.Type !== 'AWS::IAM::Role') throw new Error(`${logicalId} is not an AWS::IAM::Role of the template`);
    const roleArn = this.ctx.resources.get(logicalId)!.attributes.Arn!;
    const roleName = this.ctx.resources.get(logicalId)!.ref;
    const policies: SimulationIdentityPolicy[] = [];
    for (const inline of list(role.Properties?.Policies as Json[] | undefined) as {
      PolicyName: Json;
      PolicyDocument: Json;
    }[]) {
      policies.push({
        name: `${logicalId}/${String(this.resolved(inline.PolicyName))}`,
        policy: this.resolved(inline.PolicyDocument),
      });
    }
    for (const [id, policy] of [...this.ofType('AWS::IAM::Policy'), ...this.ofType('AWS::IAM::ManagedPolicy')]) {
      if (this.refersTo(policy.Properties?.Roles, logicalId))
        policies.push({ name: id, policy: this.resolved(policy.Properties!.PolicyDocument as Json) });
    }
    for (const arn of list(role.Properties?.ManagedPolicyArns as Json[] | undefined)) {
      const managed = this.ofType('AWS::IAM::ManagedPolicy').find(([id]) => this.refersTo(arn, id));
      if (!managed)
        throw new Error(
          `${logicalId} has a managed policy that is not in the template (${JSON.stringify(arn)}): it cannot be evaluated`,
        );
      if (!policies.some((p) => p.name === managed[0]))
        policies.push({ name: managed[0], policy: this.resolved(managed[1].Properties!.PolicyDocument as Json) });
    }
    return {
      logicalId,
      roleArn,
      sessionArn: `arn:aws:sts::${this.ctx.accountId}:assumed-role/${roleName}/${session}`,
      identityPolicies: policies,
    };
  }

  /** The role a Lambda function of the template runs as. */
  functionRole(functionLogicalId: string): Principal {
    const fn = this.resources[functionLogicalId];
    const role = fn?.Properties?.Role as { 'Fn::GetAtt'?: [string, string] } | undefined;
    if (fn?.Type !== 'AWS::Lambda::Function' || !role?.['Fn::GetAtt'])
      throw new Error(`${functionLogicalId} is not a function with a role of the template`);
    return this.role(role['Fn::GetAtt'][0], functionLogicalId);
  }

  /** The function whose environment has all these variables. */
  functionWithEnvironment(...variables: string[]): string {
    const found = Object.entries(this.resources).filter(([, r]) => {
      const vars = (r.Properties?.Environment as { Variables?: Record<string, Json> } | undefined)?.Variables ?? {};
      return r.Type === 'AWS::Lambda::Function' && variables.every((v) => v in vars);
    });
    if (found.length !== 1)
      throw new Error(`expected one function with ${variables.join(', ')} in its environment, found ${found.length}`);
    return found[0]![0];
  }

  /** A role whose trust policy names this principal (e.g. the analysts role and its SSO principal). */
  roleTrusting(principalArn: string): string {
    const found = this.ofType('AWS::IAM::Role').filter(([, r]) =>
      JSON.stringify(this.resolved(r.Properties?.AssumeRolePolicyDocument as Json)).includes(`"${principalArn}"`),
    );
    if (found.length !== 1) throw new Error(`expected one role trusting ${principalArn}, found ${found.length}`);
    return found[0]![0];
  }

  bucketName(logicalId: string): string {
    return this.ctx.resources.get(logicalId)!.ref;
  }

  /** The logical id of the bucket a function's environment variable names (`BRONZE_BUCKET` …). */
  bucketOf(functionLogicalId: string, variable: string): string {
    const value = (this.resources[functionLogicalId]?.Properties?.Environment as { Variables: Record<string, Json> })
      .Variables[variable];
    const id = (value as { Ref?: string } | undefined)?.Ref;
    if (!id || this.resources[id]?.Type !== 'AWS::S3::Bucket')
      throw new Error(`${functionLogicalId}.${variable} is not a Ref to a bucket`);
    return id;
  }

  /** The lake key: the KMS key the buckets encrypt with. */
  keyArn(logicalId = this.ofType('AWS::KMS::Key')[0]?.[0]): string {
    if (!logicalId) throw new Error('no AWS::KMS::Key in the template');
    return this.ctx.resources.get(logicalId)!.attributes.Arn!;
  }

  /** The KMS key a bucket's default encryption uses (undefined when not SSE-KMS), as the template configures it. */
  bucketDefaultKey(bucketName: string): string | undefined {
    const entry = this.ofType('AWS::S3::Bucket').find(([id]) => this.ctx.resources.get(id)?.ref === bucketName);
    if (!entry) throw new Error(`bucket ${bucketName} is not in the template`);
    const rules = ((entry[1].Properties?.BucketEncryption as { ServerSideEncryptionConfiguration?: Json[] } | undefined)
      ?.ServerSideEncryptionConfiguration ?? []) as {
      ServerSideEncryptionByDefault?: { SSEAlgorithm?: string; KMSMasterKeyID?: Json };
    }[];
    const sse = rules[0]?.ServerSideEncryptionByDefault;
    if (!sse?.SSEAlgorithm?.startsWith('aws:kms')) return undefined;
    if (sse.KMSMasterKeyID === undefined) return `arn:aws:kms:${this.region}:${this.accountId}:alias/aws/s3`;
    return String(this.resolved(sse.KMSMasterKeyID));
  }

  /** The names of the template's Athena workgroups. */
  athenaWorkgroupNames(): string[] {
    return this.ofType('AWS::Athena::WorkGroup').map(([id]) => this.ctx.resources.get(id)!.ref);
  }

  /** Where a workgroup writes its results and with which encryption; where a Glue table's files are. */
  athenaEnvironment(objects: AthenaEnvironment['objects']): AthenaEnvironment {
    return {
      workgroup: (name) => {
        const found = this.ofType('AWS::Athena::WorkGroup').find(([id]) => this.ctx.resources.get(id)?.ref === name);
        if (!found) return undefined;
        const config = this.resolved(
          ((found[1].Properties?.WorkGroupConfiguration ?? {}) as { ResultConfiguration?: Json }).ResultConfiguration ??
            {},
        ) as {
          OutputLocation?: string;
          EncryptionConfiguration?: { EncryptionOption?: string; KmsKey?: string };
        };
        if (!config.OutputLocation) throw new Error(`workgroup ${name} has no result location in the template`);
        return {
          outputLocation: config.OutputLocation,
          encryption: config.EncryptionConfiguration?.EncryptionOption,
          kmsKey: config.EncryptionConfiguration?.KmsKey,
        };
      },
      tableLocation: (database, table) => {
        for (const [, t] of this.ofType('AWS::Glue::Table')) {
          const input = t.Properties?.TableInput as
            { Name?: Json; StorageDescriptor?: { Location?: Json } } | undefined;
          if (
            this.resolved(t.Properties!.DatabaseName as Json) === database &&
            this.resolved(input?.Name ?? null) === table &&
            input?.StorageDescriptor?.Location
          ) {
            return String(this.resolved(input.StorageDescriptor.Location));
          }
        }
        return undefined;
      },
      objects,
    };
  }

  /** The environment `authorizationRequests` needs, with Athena's part when `objects` is given. */
  requestEnvironment(objects?: AthenaEnvironment['objects']): RequestEnvironment {
    return {
      accountId: this.accountId,
      region: this.region,
      bucketDefaultKey: (b) => this.bucketDefaultKey(b),
      ...(objects ? { athena: this.athenaEnvironment(objects) } : {}),
    };
  }

  /** The resource-based policy that applies to a request's resource, if its service has one in the template. */
  resourcePolicy(resourceArn: string): { name: string; policy: PolicyDocument } | undefined {
    if (resourceArn.startsWith('arn:aws:s3:::')) {
      const bucket = resourceArn.slice('arn:aws:s3:::'.length).split('/')[0]!;
      const found = this.ofType('AWS::S3::BucketPolicy').find(
        ([, p]) => this.resolved(p.Properties!.Bucket as Json) === bucket,
      );
      return found
        ? { name: found[0], policy: this.resolved(found[1].Properties!.PolicyDocument as Json) as PolicyDocument }
        : undefined;
    }
    if (resourceArn.startsWith('arn:aws:kms:')) {
      const found = this.ofType('AWS::KMS::Key').find(
        ([id]) => this.ctx.resources.get(id)?.attributes.Arn === resourceArn,
      );
      return found
        ? { name: found[0], policy: this.resolved(found[1].Properties!.KeyPolicy as Json) as PolicyDocument }
        : undefined;
    }
    if (resourceArn.startsWith('arn:aws:sqs:')) {
      const queueId = this.ofType('AWS::SQS::Queue').find(
        ([id]) => this.ctx.resources.get(id)?.attributes.Arn === resourceArn,
      )?.[0];
      const found = queueId
        ? this.ofType('AWS::SQS::QueuePolicy').find(([, p]) => this.refersTo(p.Properties?.Queues, queueId))
        : undefined;
      return found
        ? { name: found[0], policy: this.resolved(found[1].Properties!.PolicyDocument as Json) as PolicyDocument }
        : undefined;
    }
    return undefined;
  }

  /** Evaluates one request made by `principal` with the simulator. */
  async evaluate(principal: Principal, request: AuthorizationRequest): Promise<Decision> {
    const resourcePolicy = this.resourcePolicy(request.resource);
    const service = request.action.split(':')[0];
    const context: Record<string, string | string[]> = {
      'aws:PrincipalArn': principal.roleArn,
      'aws:PrincipalAccount': this.accountId,
      'aws:PrincipalType': 'AssumedRole',
      'aws:SecureTransport': 'true',
      ...(service === 's3'
        ? { 's3:TlsVersion': '1.3', 's3:authType': 'REST-HEADER', 's3:signatureversion': 'AWS4-HMAC-SHA256' }
        : {}),
      ...request.context,
    };
    const simulation: Simulation = {
      request: {
        principal: principal.sessionArn,
        action: request.action,
        resource: { resource: request.resource, accountId: this.accountId },
        contextVariables: context,
      },
      identityPolicies: principal.identityPolicies,
      serviceControlPolicies: [],
      resourceControlPolicies: [],
      ...(resourcePolicy ? { resourcePolicy: resourcePolicy.policy } : {}),
    };
    const response = await runSimulation(simulation, {});
    if (response.resultType === 'error')
      throw new Error(
        `the simulator refused ${request.action} on ${request.resource}: ${JSON.stringify(response.errors)}`,
      );
    const result = response.resultType === 'single' ? response.result : response.results[0];
    if (!result) throw new Error(`the simulator returned no result for ${request.action} on ${request.resource}`);
    const ignoredContextKeys = result.ignoredContextKeys ?? [];
    const policyName = (type: string, id?: string) =>
      type === 'resource' ? (resourcePolicy?.name ?? 'resource policy') : `${type} ${id ?? ''}`.trim();
    const reasons =
      response.overallResult === 'Allowed'
        ? getGrantReasons(result.analysis).map(
            (g) =>
              `allowed by ${policyName(g.policyType, 'policyIdentifier' in g ? g.policyIdentifier : undefined)} #${g.statementIndex}${g.statementId ? ` (${g.statementId})` : ''}`,
          )
        : getDenialReasons(result.analysis).map((d) =>
            d.denialType === 'Explicit'
              ? `explicitly denied by ${policyName(d.policyType, d.policyIdentifier)} #${d.statementIndex}${d.statementId ? ` (${d.statementId})` : ''}`
              : `no statement of the ${d.policyType === 'resource' ? (resourcePolicy?.name ?? 'resource policy') : `${d.policyType} policies`} allows it`,
          );
    return { request, principal: principal.logicalId, result: response.overallResult, reasons, ignoredContextKeys };
  }
}

/** One line per decision, for failure messages. */
export function describeDecision(d: Decision): string {
  const context = Object.entries(d.request.context)
    .map(([k, v]) => `${k}=${Array.isArray(v) ? v.join('|') : v}`)
    .join(' ');
  return `${d.principal}: ${d.request.action} on ${d.request.resource}${context ? ` [${context}]` : ''} → ${d.result} (${d.reasons.join('; ') || 'no reason given'}) — ${d.request.origin}`;
}
