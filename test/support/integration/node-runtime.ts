/**
 * The tier imports the bundled functions into the test process (and into children started with the same
 * `process.execPath`), so that process stands in for the Lambda runtime: it must be the Node.js major the
 * functions declare (`Runtime: nodejs<major>.x`). In CI a mismatch fails the tier; on a developer machine it is
 * a loud warning.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { nodeMajorOfRuntime } from '../../../lib/functions/runtime.ts';
import type { StackArtifact } from './cloud-assembly.ts';

export interface BundledNodeFunction {
  stackName: string;
  logicalId: string;
  runtime: string;
}

/** The functions of the assembly whose code is an ESM bundle the tests import (`index.mjs` in their asset). */
export function bundledNodeFunctions(stacks: readonly StackArtifact[]): BundledNodeFunction[] {
  return stacks.flatMap((stack) =>
    Object.entries(stack.template.Resources)
      .filter(([, r]) => r.Type === 'AWS::Lambda::Function' && /^nodejs/.test(String(r.Properties?.Runtime ?? '')))
      .filter(([, r]) => {
        const assetPath = r.Metadata?.['aws:asset:path'];
        return typeof assetPath === 'string' && existsSync(join(stack.assemblyDir, assetPath, 'index.mjs'));
      })
      .map(([logicalId, r]) => ({ stackName: stack.stackName, logicalId, runtime: String(r.Properties?.Runtime) })),
  );
}

/** Why this process must not stand in for the functions' runtime, or undefined when its major is theirs. */
export function nodeMajorMismatch(
  functions: readonly BundledNodeFunction[],
  nodeVersion: string = process.versions.node,
): string | undefined {
  const running = Number(nodeVersion.split('.')[0]);
  const wrong = functions.filter((f) => nodeMajorOfRuntime(f.runtime) !== running);
  if (wrong.length === 0) return undefined;
  const declared = [...new Set(wrong.map((f) => nodeMajorOfRuntime(f.runtime)))].join(' / ');
  return (
    `the bundled functions run here on Node.js ${nodeVersion} (${process.execPath}), but they declare ` +
    `${wrong.map((f) => `${f.stackName}/${f.logicalId}: ${f.runtime}`).join(', ')}. ` +
    `Run the tests on Node.js ${declared}: .ci/run puts it first on PATH (scripts/ci-node.sh); on a laptop, \`nvm use\` (.nvmrc) or PATH="$(scripts/ci-node.sh):$PATH".`
  );
}

/** Throws in CI when this process is not on the Node.js major of `runtime` (the declared runtime of the bundle about to be imported). */
export function assertRunsOnDeclaredNode(runtime: string, what: string): void {
  const mismatch = nodeMajorMismatch([{ stackName: what, logicalId: 'Function', runtime }]);
  if (mismatch && process.env.CI) throw new Error(`integration tier (CI): ${mismatch}`);
}
