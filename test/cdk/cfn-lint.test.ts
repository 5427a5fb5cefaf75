/**
 * cfn-lint (PyPI, pinned in scripts/cfn-lint.ts, installed into .venv/ on first use) over the synthesized dev
 * and prod templates (and prod with every option): no error, and no warning that is not triaged in docs/infrastructure.md ("cfn-lint").
 * Without Python on a developer machine this is skipped with a notice; in CI (CI set) that is a failure.
 */
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { cfnLint, ensureCfnLint, type CfnLintFinding } from '../../scripts/cfn-lint.ts';
import { PythonToolUnavailableError } from '../../scripts/python-venv.ts';
import { addMedallionLake } from '../../lib/app.ts';
import { removeSynthOutputs, skipBuiltinTemplateValidation, synthLake, testApp } from '../support/cdk/synth.ts';

skipBuiltinTemplateValidation();

/**
 * Warnings looked at and accepted, by rule, with the template paths they may occur at. Each is explained in
 * docs/infrastructure.md; anything else fails the test.
 */
const TRIAGED_WARNINGS: Record<string, RegExp> = {
  // CDK makes a function DependsOn its role (and the role's policy); the role's GetAtt already orders them.
  W3005: /^Resources\/[A-Za-z0-9]+\/DependsOn\/\d+$/,
};

let skipReason = '';
const templates: Record<string, string> = {};
let findings: CfnLintFinding[] = [];

beforeAll(() => {
  try {
    ensureCfnLint((line) => console.log(`[cfn-lint] ${line}`));
  } catch (error) {
    if (error instanceof PythonToolUnavailableError && error.pythonMissing && !process.env.CI) {
      skipReason = error.message;
      console.warn(
        `\n!! cfn-lint SKIPPED: ${skipReason}\n!! Install Python 3 (with venv) to run it; in CI this is a failure.\n`,
      );
      return;
    }
    throw error;
  }
  // The two stages as `cdk synth` builds them, and prod with every option on (analysts role, Lake Formation).
  const variants: Record<string, Record<string, string>> = {
    dev: { stage: 'dev' },
    prod: { stage: 'prod' },
    'prod with options': {
      stage: 'prod',
      analystPrincipals: 'arn:aws:iam::111122223333:role/Analyst,arn:aws:iam::111122223333:saml-provider/CorporateIdP',
      lakeFormationAdmins: 'arn:aws:iam::111122223333:role/LakeAdmin',
    },
  };
  for (const [name, context] of Object.entries(variants)) {
    const { app, stack } = synthLake({ context });
    templates[name] = join(app.synth().directory, stack.templateFile);
  }
  findings = cfnLint(Object.values(templates));
}, 300_000);
afterAll(removeSynthOutputs);

describe('cfn-lint over the synthesized templates', () => {
  it.each(['dev', 'prod', 'prod with options'])('%s: no errors', (stage) => {
    if (skipReason) return;
    expect(findings.filter((f) => f.file === templates[stage] && f.level === 'Error')).toEqual([]);
  });

  it('warns only where triaged (docs/infrastructure.md)', () => {
    if (skipReason) return;
    const untriaged = findings.filter((f) => f.level !== 'Error' && !TRIAGED_WARNINGS[f.rule]?.test(f.path));
    expect(untriaged).toEqual([]);
  });

  it('really lints: a broken template is reported', () => {
    if (skipReason) return;
    const app = testApp({ stage: 'dev' });
    const stack = addMedallionLake(app);
    // The stage's own template, with one property made invalid.
    (stack.lake.ingestion.queue.node.defaultChild as sqs.CfnQueue).addPropertyOverride(
      'MessageRetentionPeriod',
      99 * 24 * 3600,
    );
    const broken = cfnLint([join(app.synth().directory, stack.templateFile)]);
    expect(broken.filter((f) => f.level === 'Error').map((f) => f.path)).toContainEqual(
      expect.stringContaining('MessageRetentionPeriod'),
    );
  });
});
