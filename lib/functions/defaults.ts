/** What every function of the lake is, whatever it does: one Node.js line, a `handler` export, active tracing. */
import * as lambda from 'aws-cdk-lib/aws-lambda';
import type * as nodejs from 'aws-cdk-lib/aws-lambda-nodejs';
import { join } from 'node:path';
import { LAMBDA_NODE_RUNTIME } from './runtime.ts';

/** The `NodejsFunction` props every lake function shares, for a project (its root holds package-lock.json). */
export function lakeFunctionDefaults(
  projectRoot: string,
): Pick<nodejs.NodejsFunctionProps, 'handler' | 'runtime' | 'tracing' | 'projectRoot' | 'depsLockFilePath'> {
  return {
    handler: 'handler',
    runtime: LAMBDA_NODE_RUNTIME,
    tracing: lambda.Tracing.ACTIVE,
    projectRoot,
    depsLockFilePath: join(projectRoot, 'package-lock.json'),
  };
}
