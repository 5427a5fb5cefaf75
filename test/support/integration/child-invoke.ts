/** Invokes the bundled handler in a fresh Node process (a cold container) and measures its peak RSS. */
import type { SQSBatchResponse } from 'aws-lambda';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { functionEnvironment } from './lambda-runtime.ts';
import type { LakeFixture } from './lake-fixture.ts';
import { assertRunsOnDeclaredNode } from './node-runtime.ts';

export interface ChildInvocation {
  response?: SQSBatchResponse;
  error?: { name: string; message: string; stack: string };
  durationMs: number;
  /** Peak resident set size of the process, in MB (`process.resourceUsage().maxRSS`). */
  maxRssMb: number;
  /** What the function wrote to stdout/stderr (tail). */
  output: string;
}

export interface ChildLimits {
  /**
   * The largest file the process may write (RLIMIT_FSIZE, set by `prlimit`): a write past it kills the process
   * (SIGXFSZ), so a handler that finishes under it never held a local file that large. @default no limit
   */
  fileSizeBytes?: number;
}

export async function invokeInChild(
  fx: LakeFixture,
  event: unknown,
  envOverrides: Record<string, string> = {},
  limits: ChildLimits = {},
): Promise<ChildInvocation> {
  assertRunsOnDeclaredNode(fx.lake.fn.runtime, fx.lake.fn.logicalId); // the child is this process's Node.js
  const dir = mkdtempSync(join(fx.scratchDir, 'child-'));
  const requestPath = join(dir, 'request.json');
  const resultPath = join(dir, 'result.json');
  writeFileSync(
    requestPath,
    JSON.stringify({
      entryFile: join(fx.lake.fn.assetDir, fx.lake.fn.entryFile),
      exportName: fx.lake.fn.exportName,
      env: functionEnvironment(fx.lake, fx.workDir, envOverrides),
      event,
      timeoutMs: fx.lake.fn.timeoutSeconds * 1000,
    }),
  );
  const node = [process.execPath, join(import.meta.dirname, 'invoke-child.mjs'), requestPath, resultPath];
  const command =
    limits.fileSizeBytes === undefined ? node : ['prlimit', `--fsize=${limits.fileSizeBytes}`, '--', ...node];
  const child = spawn(command[0] as string, command.slice(1), { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  const keep = (d: Buffer): void => void (output = (output + d.toString()).slice(-50_000));
  child.stdout.on('data', keep);
  child.stderr.on('data', keep);
  const [code, signal] = (await once(child, 'exit')) as [number | null, NodeJS.Signals | null];
  if (code !== 0) throw new Error(`handler process exited with ${code ?? signal}: ${output}`);
  return { ...(JSON.parse(readFileSync(resultPath, 'utf8')) as Omit<ChildInvocation, 'output'>), output };
}
