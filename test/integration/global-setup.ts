/**
 * Integration tier setup, once per run: the moto emulator (installed into .venv/ when missing, started on
 * a free 127.0.0.1 port) and the CDK app synthesized as `cdk synth -c stage=dev` would. Tests receive the
 * endpoint and the assembly directory through `inject()` (test/support/provided.ts); the stop is
 * test/integration/global-teardown.ts.
 *
 * In CI (`CI` set) any failure here fails the run with its reason. On a developer machine without Python,
 * the tier is skipped with a loud notice instead.
 *
 * The tier imports the bundled functions into this Node.js (the test workers and the children it starts run on
 * `process.execPath`), so its major must be the one the functions declare: in CI a mismatch fails the run here,
 * on a developer machine it is a loud warning.
 */
import { mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { loadStacks, synthesizeApp } from '../support/integration/cloud-assembly.ts';
import {
  EmulatorUnavailableError,
  ensureMotoInstalled,
  PROJECT_ROOT,
  startMoto,
  type RunningMoto,
} from '../support/integration/moto-server.ts';
import { bundledNodeFunctions, nodeMajorMismatch } from '../support/integration/node-runtime.ts';
import ensureCliBuilt from '../support/build-cli.ts';
import { provide } from '../support/provided.ts';
import { setTeardown } from '../support/integration/teardown.ts';

const STAGE = 'dev';

function log(line: string): void {
  console.log(`[integration] ${line}`);
}

function loudNotice(reason: string): void {
  const bar = '!'.repeat(100);
  console.warn(
    `\n${bar}\n!! INTEGRATION TIER SKIPPED: ${reason}\n!! Install Python 3 (with venv) to run it; in CI (CI set) this is a failure, not a skip.\n${bar}\n`,
  );
}

function loudWarning(reason: string): void {
  const bar = '!'.repeat(100);
  console.warn(
    `\n${bar}\n!! INTEGRATION TIER ON ANOTHER NODE.JS THAN THE FUNCTIONS': ${reason}\n!! The tier runs anyway here; in CI (CI set) this is a failure.\n${bar}\n`,
  );
}

export default async function setup(): Promise<void> {
  ensureCliBuilt(); // cli-aws.test.ts spawns `lake`
  const ci = Boolean(process.env.CI);
  let moto: RunningMoto | undefined;
  try {
    const installMs = ensureMotoInstalled(log);
    if (installMs > 0) log(`moto installed in ${(installMs / 1000).toFixed(1)} s`);
    const t0 = Date.now();
    moto = await startMoto();
    log(`moto_server ready at ${moto.endpoint} in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  } catch (error) {
    if (error instanceof EmulatorUnavailableError && error.pythonMissing && !ci) {
      loudNotice(error.message);
      provide('motoEndpoint', '');
      provide('assemblyDir', '');
      provide('integrationSkipReason', error.message);
      return;
    }
    throw new Error(
      `integration tier: the AWS emulator (moto) is unavailable${ci ? ' in CI, where this tier must run' : ''}: ${(error as Error).message}`,
      { cause: error },
    );
  }

  // A private output directory per run: other runs (and `cdk synth` by hand) may use cdk.out concurrently.
  let assemblyDir = process.env.MEDALLION_IT_ASSEMBLY ?? '';
  let ownAssembly = false;
  if (assemblyDir) log(`using the pre-synthesized assembly ${assemblyDir} (MEDALLION_IT_ASSEMBLY)`);
  else {
    const base = join(PROJECT_ROOT, '.cache', 'integration');
    mkdirSync(base, { recursive: true });
    assemblyDir = join(base, `cdk.out-${process.pid}`);
    ownAssembly = true;
    try {
      const { durationMs } = synthesizeApp(assemblyDir, STAGE);
      log(`cdk synth -c stage=${STAGE} in ${(durationMs / 1000).toFixed(1)} s → ${assemblyDir}`);
    } catch (error) {
      await moto.stop();
      rmSync(assemblyDir, { recursive: true, force: true });
      throw error;
    }
  }

  const bundled = bundledNodeFunctions(loadStacks(assemblyDir));
  const mismatch =
    bundled.length === 0 ? 'no bundled Node.js function (index.mjs asset) in the assembly' : nodeMajorMismatch(bundled);
  if (mismatch && ci) {
    await moto.stop();
    if (ownAssembly) rmSync(assemblyDir, { recursive: true, force: true });
    throw new Error(`integration tier (CI): ${mismatch}`);
  }
  if (mismatch) loudWarning(mismatch);
  else
    log(
      `Node.js ${process.versions.node} runs the bundles, as declared: ${bundled.map((f) => `${f.logicalId} ${f.runtime}`).join(', ')}`,
    );

  provide('motoEndpoint', moto.endpoint);
  provide('assemblyDir', assemblyDir);
  provide('integrationSkipReason', '');
  const running = moto;
  setTeardown(async () => {
    await running.stop();
    if (ownAssembly && !process.env.MEDALLION_IT_KEEP_ASSEMBLY) rmSync(assemblyDir, { recursive: true, force: true });
  });
}
