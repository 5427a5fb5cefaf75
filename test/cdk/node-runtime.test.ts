/**
 * One Node.js line: the bundles are built (esbuild `target`) for the major their functions run on (Lambda
 * `Runtime`), and the repository's Node.js pins (CI, version managers, engines, types) name that major too.
 */
import { App, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import type * as NodejsModule from 'aws-cdk-lib/aws-lambda-nodejs';
import type { Construct } from 'constructs';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, it, jest } from '@jest/globals';
import { expect } from '../support/expect.ts';
import {
  ESBUILD_TARGET,
  LAMBDA_NODE_RUNTIME,
  NODE_MAJOR,
  nodeMajorOfEsbuildTarget,
  nodeMajorOfRuntime,
} from '../../lib/functions/runtime.ts';

/** Every NodejsFunction the lake's constructs create, with the bundling options they pass to esbuild. */
const created: Array<{ fn: Construct; target: string | undefined }> = [];

// Registered before anything imports the module: the lake's constructs (imported below, dynamically) get the recording class.
jest.unstable_mockModule('aws-cdk-lib/aws-lambda-nodejs', () => {
  const original = jest.requireActual<typeof NodejsModule>('aws-cdk-lib/aws-lambda-nodejs');
  class RecordingNodejsFunction extends original.NodejsFunction {
    constructor(scope: Construct, id: string, props?: NodejsModule.NodejsFunctionProps) {
      super(scope, id, props);
      created.push({ fn: this, target: props?.bundling?.target });
    }
  }
  return { ...original, NodejsFunction: RecordingNodejsFunction };
});
const nodejs = await import('aws-cdk-lib/aws-lambda-nodejs');
const { esmBundling } = await import('../../lib/functions/bundling.ts');
const { logicalId, removeSynthOutputs, REPO_ROOT, skipBuiltinTemplateValidation, synthLake } =
  await import('../support/cdk/synth.ts');

skipBuiltinTemplateValidation();
afterAll(removeSynthOutputs);

interface Mismatch {
  path: string;
  runtime: string;
  target: string;
}

/**
 * The functions of `stack` whose bundle targets another Node.js major than their synthesized `Runtime`. Without
 * an explicit target CDK derives one from the runtime, so only an explicit target can drift.
 */
function drift(
  stack: Stack,
  template: Template = Template.fromStack(stack),
): { checked: string[]; mismatches: Mismatch[] } {
  const resources = template.toJSON().Resources as Record<string, { Properties?: { Runtime?: string } }>;
  const ours = created.filter((c) => Stack.of(c.fn) === stack);
  const mismatches: Mismatch[] = [];
  for (const { fn, target } of ours) {
    const runtime = resources[logicalId(fn)]?.Properties?.Runtime;
    if (runtime === undefined) throw new Error(`${fn.node.path}: no Runtime in the template`);
    if (target !== undefined && nodeMajorOfEsbuildTarget(target) !== nodeMajorOfRuntime(runtime))
      mismatches.push({ path: fn.node.path, runtime, target });
  }
  return { checked: ours.map((c) => c.fn.node.path), mismatches };
}

describe('bundle target and Lambda runtime', () => {
  it.each(['dev', 'prod'])('%s: every function bundle is built for the Node.js major its function runs on', (stage) => {
    const { stack, template } = synthLake({ context: { stage } });
    const { checked, mismatches } = drift(stack, template);
    expect(checked.map((p) => p.split('/').slice(-2, -1)[0])).toEqual(
      expect.arrayContaining(['Ingestion', 'GoldRefresh']),
    );
    expect(mismatches, 'esbuild target and Lambda Runtime name different Node.js majors').toEqual([]);
    for (const path of checked)
      expect(created.find((c) => c.fn.node.path === path)?.target, `${path}: bundling.target`).toBe(ESBUILD_TARGET);
  });

  it('the synthesized functions run on the one runtime, nodejs24.x, and their bundles target node24', () => {
    const { stack, template } = synthLake();
    const functions = template.findResources('AWS::Lambda::Function');
    const ours = created.filter((c) => Stack.of(c.fn) === stack).map((c) => logicalId(c.fn));
    expect(ours.length).toBeGreaterThanOrEqual(2);
    for (const id of ours) expect(functions[id]?.Properties.Runtime, id).toBe(LAMBDA_NODE_RUNTIME.name);
    expect({ runtime: LAMBDA_NODE_RUNTIME.name, target: ESBUILD_TARGET }).toEqual({
      runtime: `nodejs${NODE_MAJOR}.x`,
      target: `node${NODE_MAJOR}`,
    });
    expect(NODE_MAJOR).toBe(24);
  });

  it('catches a function whose runtime moved without its bundle target', () => {
    const app = new App({ context: { 'aws:cdk:bundling-stacks': [] } });
    const stack = new Stack(app, 'Drift');
    new nodejs.NodejsFunction(stack, 'Fn', {
      entry: join(REPO_ROOT, 'lambdas/gold-refresh/handler.ts'),
      handler: 'handler',
      runtime: lambda.Runtime.NODEJS_22_X,
      projectRoot: REPO_ROOT,
      depsLockFilePath: join(REPO_ROOT, 'package-lock.json'),
      bundling: esmBundling(),
    });
    expect(drift(stack).mismatches).toEqual([{ path: 'Drift/Fn', runtime: 'nodejs22.x', target: ESBUILD_TARGET }]);
  });
});

describe('the repository pins the same Node.js major', () => {
  const read = (file: string): string => readFileSync(join(REPO_ROOT, file), 'utf8');
  const pkg = JSON.parse(read('package.json')) as {
    engines: { node: string };
    devDependencies: Record<string, string>;
  };

  it('.node-version and .nvmrc (version managers) name it', () => {
    expect(read('.node-version').trim()).toBe(String(NODE_MAJOR));
    expect(read('.nvmrc').trim()).toBe(String(NODE_MAJOR));
  });

  it('CI runs the tests on it (scripts/ci-node.sh)', () => {
    const pinned = /^NODE_VERSION=(\d+)\.\d+\.\d+$/m.exec(read('scripts/ci-node.sh'));
    expect(pinned, 'NODE_VERSION=<x.y.z> in scripts/ci-node.sh').not.toBeNull();
    expect(Number(pinned![1])).toBe(NODE_MAJOR);
  });

  it('package.json engines starts at it, and @types/node describes it', () => {
    expect(pkg.engines.node).toMatch(new RegExp(`^>=${NODE_MAJOR}(\\.\\d+)*$`));
    expect(pkg.devDependencies['@types/node']).toMatch(new RegExp(`^${NODE_MAJOR}\\.`));
  });
});
