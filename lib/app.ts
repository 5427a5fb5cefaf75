import type { App } from 'aws-cdk-lib';
import { addComplianceChecks } from './compliance/nag.ts';
import { stageFromContext } from './config/stages.ts';
import { MedallionLakeStack, type MedallionLakeStackProps } from './medallion-lake-stack.ts';

/**
 * Adds the stage chosen by `-c stage=dev|prod` to the app, with cdk-nag on. Environment-agnostic unless
 * `-c account=… -c region=…` are given, so `cdk synth` needs no credentials.
 */
export function addMedallionLake(app: App, overrides: Partial<MedallionLakeStackProps> = {}): MedallionLakeStack {
  const stage = stageFromContext((key) => app.node.tryGetContext(key));
  const account = app.node.tryGetContext('account') as string | undefined;
  const region = app.node.tryGetContext('region') as string | undefined;
  const stack = new MedallionLakeStack(app, `MedallionLake-${stage.stageName}`, {
    stage,
    env: account || region ? { account, region } : undefined,
    ...overrides,
  });
  addComplianceChecks(app);
  return stack;
}
