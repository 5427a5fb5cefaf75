import { App, Stack, type CfnElement } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import type { IConstruct } from 'constructs';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { addMedallionLake } from '../../../lib/app.ts';
import type { MedallionLakeStack, MedallionLakeStackProps } from '../../../lib/medallion-lake-stack.ts';

export const REPO_ROOT = resolve(import.meta.dirname, '../../..');

/** The feature flags of cdk.json, so tests synthesize exactly what `cdk synth` does. */
export const CDK_JSON_CONTEXT: Record<string, unknown> = JSON.parse(
  readFileSync(join(REPO_ROOT, 'cdk.json'), 'utf8'),
).context;

const outdirs: string[] = [];

/**
 * Turns off CDK's built-in CloudFormation template validation (a WASM engine costing seconds per synth) for
 * the calling test file. cdk-nag still runs; app.test.ts keeps both, exactly as `cdk synth` does.
 */
export function skipBuiltinTemplateValidation(): void {
  process.env.CDK_VALIDATION = 'false';
}

export interface SynthOptions {
  readonly context?: Record<string, unknown>;
  /** Run esbuild and copy DuckDB (slow); otherwise bundling is skipped. @default false */
  readonly bundle?: boolean;
  readonly overrides?: Partial<MedallionLakeStackProps>;
}

/** A fresh app with cdk.json's context, writing to its own temporary directory (see `removeSynthOutputs`). */
export function testApp(context: Record<string, unknown> = {}, bundle = false): App {
  const outdir = mkdtempSync(join(tmpdir(), 'medallion-cdk-test-'));
  outdirs.push(outdir);
  return new App({
    outdir,
    context: { ...CDK_JSON_CONTEXT, ...(bundle ? {} : { 'aws:cdk:bundling-stacks': [] }), ...context },
  });
}

/** The stage's stack, as `bin/medallion-lake.ts` builds it (cdk-nag included), and its template. */
export function synthLake(options: SynthOptions = {}): { app: App; stack: MedallionLakeStack; template: Template } {
  const app = testApp(options.context, options.bundle);
  const stack = addMedallionLake(app, options.overrides);
  return { app, stack, template: Template.fromStack(stack) };
}

export function removeSynthOutputs(): void {
  for (const dir of outdirs.splice(0)) rmSync(dir, { recursive: true, force: true });
}

/** The CloudFormation logical id of a construct's resource. */
export function logicalId(construct: IConstruct): string {
  const element = (construct.node.defaultChild ?? construct) as CfnElement;
  return Stack.of(construct).resolve(element.logicalId) as string;
}

/**
 * Renders CloudFormation intrinsics as text, so policy resources can be compared as strings:
 * `{Fn::GetAtt: [X, Arn]}` → `${X.Arn}`, `{Ref: X}` → `${X}`, `Fn::Join` → the concatenation.
 */
export function render(value: unknown): string {
  if (typeof value === 'string' || typeof value === 'number') return String(value);
  if (Array.isArray(value)) return value.map(render).join(',');
  if (value && typeof value === 'object') {
    const v = value as Record<string, unknown>;
    if ('Ref' in v) return `\${${String(v.Ref)}}`;
    if ('Fn::GetAtt' in v) return `\${${(v['Fn::GetAtt'] as string[]).join('.')}}`;
    if ('Fn::Join' in v) {
      const [separator, parts] = v['Fn::Join'] as [string, unknown[]];
      return parts.map(render).join(separator);
    }
  }
  return JSON.stringify(value);
}

export interface Statement {
  readonly effect: 'Allow' | 'Deny';
  readonly actions: string[];
  readonly resources: string[];
  readonly principal?: string;
  readonly conditions?: Record<string, Record<string, unknown>>;
  readonly sid?: string;
}

const list = (value: unknown): unknown[] => (value === undefined ? [] : Array.isArray(value) ? value : [value]);

function statement(raw: Record<string, unknown>): Statement {
  const principal = raw.Principal as Record<string, unknown> | undefined;
  return {
    effect: raw.Effect as 'Allow' | 'Deny',
    actions: list(raw.Action).map(String),
    resources: list(raw.Resource).map(render),
    principal: principal ? render(principal.AWS ?? principal.Service ?? principal) : undefined,
    conditions: raw.Condition as Record<string, Record<string, unknown>> | undefined,
    sid: raw.Sid as string | undefined,
  };
}

/** Every statement of the identity policies attached to a role. */
export function roleStatements(template: Template, roleLogicalId: string): Statement[] {
  const policies = Object.values(template.findResources('AWS::IAM::Policy')).filter((p) =>
    list(p.Properties.Roles).some((r) => render(r) === `\${${roleLogicalId}}`),
  );
  return policies.flatMap((p) =>
    list(p.Properties.PolicyDocument.Statement).map((s) => statement(s as Record<string, unknown>)),
  );
}

/** Every statement of a bucket's policy. */
export function bucketPolicyStatements(template: Template, bucketLogicalId: string): Statement[] {
  const policy = Object.values(template.findResources('AWS::S3::BucketPolicy')).find(
    (p) => render(p.Properties.Bucket) === `\${${bucketLogicalId}}`,
  );
  if (!policy) throw new Error(`no bucket policy for ${bucketLogicalId}`);
  return list(policy.Properties.PolicyDocument.Statement).map((s) => statement(s as Record<string, unknown>));
}

/** A statement's conditions as text: `s3:prefix StringLike a/*|b/*`, several joined with ` and `. */
export function conditionText(conditions: Statement['conditions']): string {
  return Object.entries(conditions ?? {})
    .flatMap(([operator, keys]) =>
      Object.entries(keys).map(([key, values]) => `${key} ${operator} ${list(values).map(render).join('|')}`),
    )
    .join(' and ');
}

/**
 * `action on resource` (plus ` if <conditions>` when the statement has any) for every allowed pair: compares
 * permissions independent of how statements are merged.
 */
export function allowedPairs(statements: readonly Statement[]): string[] {
  return statements
    .filter((s) => s.effect === 'Allow')
    .flatMap((s) =>
      s.actions.flatMap((a) =>
        s.resources.map((r) => `${a} on ${r}${s.conditions ? ` if ${conditionText(s.conditions)}` : ''}`),
      ),
    )
    .sort();
}
