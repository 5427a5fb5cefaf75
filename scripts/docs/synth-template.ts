/** The prod stack's CloudFormation template, synthesized in-process as `cdk synth -c stage=prod` would (bundling skipped). */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { App } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { addMedallionLake } from '../../lib/app.ts';

export interface CfnResource {
  Type: string;
  Properties?: Record<string, unknown>;
}

export function synthProdTemplate(
  repoRoot: string = resolve(import.meta.dirname, '../..'),
): Record<string, CfnResource> {
  const context = (JSON.parse(readFileSync(join(repoRoot, 'cdk.json'), 'utf8')) as { context: Record<string, unknown> })
    .context;
  const outdir = mkdtempSync(join(tmpdir(), 'medallion-docs-'));
  const validation = process.env.CDK_VALIDATION;
  process.env.CDK_VALIDATION = 'false';
  try {
    const app = new App({ outdir, context: { ...context, 'aws:cdk:bundling-stacks': [], stage: 'prod' } });
    const stack = addMedallionLake(app);
    return (Template.fromStack(stack).toJSON() as { Resources: Record<string, CfnResource> }).Resources;
  } finally {
    if (validation === undefined) delete process.env.CDK_VALIDATION;
    else process.env.CDK_VALIDATION = validation;
    rmSync(outdir, { recursive: true, force: true });
  }
}
