import * as lambda from 'aws-cdk-lib/aws-lambda';

/**
 * The one Node.js line of the lake: the Lambda runtime of every function. The esbuild target of every bundle
 * is derived from it, so the two cannot drift apart; CI runs the tests on the same major (`.node-version`,
 * `scripts/ci-node.sh`), and test/cdk/node-runtime.test.ts checks that all of them agree.
 */
export const LAMBDA_NODE_RUNTIME: lambda.Runtime = lambda.Runtime.NODEJS_24_X;

/** The Node.js major of `LAMBDA_NODE_RUNTIME` (24). */
export const NODE_MAJOR: number = nodeMajorOfRuntime(LAMBDA_NODE_RUNTIME.name);

/** The esbuild `target` of every bundle: `node<NODE_MAJOR>`. */
export const ESBUILD_TARGET = `node${NODE_MAJOR}`;

/** The Node.js major of a Lambda runtime name (`nodejs24.x` → 24); throws for a non-Node.js runtime. */
export function nodeMajorOfRuntime(runtimeName: string): number {
  const match = /^nodejs(\d+)\.x$/.exec(runtimeName);
  if (!match) throw new Error(`"${runtimeName}" is not a Node.js Lambda runtime (nodejs<major>.x)`);
  return Number(match[1]);
}

/** The Node.js major an esbuild target names (`node24`, `node24.11` → 24); throws for any other target. */
export function nodeMajorOfEsbuildTarget(target: string): number {
  const match = /^node(\d+)(?:\.\d+)*$/.exec(target);
  if (!match) throw new Error(`esbuild target "${target}" does not name one Node.js version (node<major>)`);
  return Number(match[1]);
}
