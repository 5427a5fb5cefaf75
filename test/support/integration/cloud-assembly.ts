/** Synthesizes the CDK app the way `cdk deploy` would, and reads the stack templates it produced. */
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { Json } from './intrinsics.ts';
import { PROJECT_ROOT } from './moto-server.ts';

export interface CfnResource {
  Type: string;
  Properties?: Record<string, Json>;
  Metadata?: Record<string, Json>;
  DependsOn?: string | string[];
}

export interface CfnTemplate {
  Resources: Record<string, CfnResource>;
  Outputs?: Record<string, { Value: Json; Export?: { Name: Json } }>;
}

export interface StackArtifact {
  stackName: string;
  /** `aws://<account>/<region>`; `unknown-account` / `unknown-region` for environment-agnostic stacks. */
  environment: string;
  template: CfnTemplate;
  /** Directory of the assembly the stack belongs to (asset paths are relative to it). */
  assemblyDir: string;
}

interface ManifestArtifact {
  type: string;
  environment?: string;
  displayName?: string;
  properties?: { templateFile?: string; directoryName?: string; stackName?: string };
}

/**
 * `cdk synth -c stage=<stage> --output <dir>` with the project's pinned CLI and cdk.json (feature flags,
 * app command). Throws with the CLI's output when synthesis fails (including cdk-nag findings).
 */
export function synthesizeApp(outDir: string, stage: string): { durationMs: number } {
  const started = Date.now();
  rmSync(outDir, { recursive: true, force: true });
  const cli = join(PROJECT_ROOT, 'node_modules', '.bin', 'cdk');
  const run = spawnSync(cli, ['synth', '--quiet', '-c', `stage=${stage}`, '--output', outDir], {
    cwd: PROJECT_ROOT,
    encoding: 'utf8',
    env: { ...process.env, CDK_DISABLE_VERSION_CHECK: '1', CI: process.env.CI ?? '' },
    maxBuffer: 64 * 1024 * 1024,
  });
  if (run.status !== 0) {
    const output = `${run.stdout ?? ''}\n${run.stderr ?? ''}`.trim();
    throw new Error(
      `cdk synth -c stage=${stage} failed (exit ${run.status ?? run.signal}); the integration tier needs the synthesized app:\n${output.slice(-6000)}`,
    );
  }
  return { durationMs: Date.now() - started };
}

/** Every stack in the assembly, including stacks of nested assemblies (CDK Stages). */
export function loadStacks(assemblyDir: string): StackArtifact[] {
  const manifestPath = join(assemblyDir, 'manifest.json');
  if (!existsSync(manifestPath)) throw new Error(`${manifestPath} not found: not a cloud assembly`);
  const manifest = JSON.parse(readFileSync(manifestPath, 'utf8')) as { artifacts?: Record<string, ManifestArtifact> };
  const stacks: StackArtifact[] = [];
  for (const [id, artifact] of Object.entries(manifest.artifacts ?? {})) {
    if (artifact.type === 'aws:cloudformation:stack' && artifact.properties?.templateFile) {
      stacks.push({
        stackName: artifact.properties.stackName ?? artifact.displayName ?? id,
        environment: artifact.environment ?? 'aws://unknown-account/unknown-region',
        template: JSON.parse(readFileSync(join(assemblyDir, artifact.properties.templateFile), 'utf8')) as CfnTemplate,
        assemblyDir,
      });
    } else if (artifact.type === 'cdk:cloud-assembly' && artifact.properties?.directoryName) {
      stacks.push(...loadStacks(join(assemblyDir, artifact.properties.directoryName)));
    }
  }
  if (stacks.length === 0) throw new Error(`no stacks in ${assemblyDir}`);
  return stacks;
}
