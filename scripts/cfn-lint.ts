/**
 * cfn-lint (PyPI, pinned) over synthesized CloudFormation templates, installed into the project's `.venv/` on
 * first use. The CDK test tier runs it over the dev and prod templates (test/cdk/cfn-lint.test.ts); by hand:
 *
 *   npm run lint:cfn                 synthesizes dev and prod (`cdk synth`) and lints both; exit 1 on any error
 *   npm run lint:cfn -- a.json b.json   lints the given templates
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ensurePythonTool, PROJECT_ROOT } from './python-venv.ts';

/** Pinned: a new cfn-lint brings new rules; bump it on purpose and triage what it finds (docs/infrastructure.md). */
export const CFN_LINT_REQUIREMENT = 'cfn-lint==1.58.0';

export interface CfnLintFinding {
  /** Rule id: `E…` errors, `W…` warnings, `I…` informational. */
  readonly rule: string;
  readonly level: 'Error' | 'Warning' | 'Informational';
  readonly message: string;
  readonly file: string;
  /** Path of the finding in the template, e.g. `Resources/X/DependsOn/0`. */
  readonly path: string;
}

interface RawFinding {
  Rule: { Id: string };
  Level: string;
  Message: string;
  Filename: string;
  Location: { Path?: (string | number)[] };
}

/** Installs cfn-lint when missing; returns the path of its executable. */
export function ensureCfnLint(log: (line: string) => void = () => {}): string {
  return ensurePythonTool(CFN_LINT_REQUIREMENT, 'cfn-lint', log).path;
}

/** Lints templates and returns every finding (none: an empty list). Throws when cfn-lint itself fails. */
export function cfnLint(templates: readonly string[], options: { regions?: readonly string[] } = {}): CfnLintFinding[] {
  const bin = ensureCfnLint();
  const args = [
    '--format',
    'json',
    ...(options.regions?.length ? ['--regions', ...options.regions] : []),
    '--',
    ...templates,
  ];
  const run = spawnSync(bin, args, { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
  // Exit codes are a bit mask of the levels found (2 errors, 4 warnings, 8 informational); 1 is a crash.
  if (run.status === null || run.status === 1 || run.status > 14) {
    throw new Error(`cfn-lint failed (${run.status ?? run.signal}): ${(run.stderr || run.stdout).trim().slice(-2000)}`);
  }
  const raw = JSON.parse(run.stdout.trim() || '[]') as RawFinding[];
  return raw.map((f) => ({
    rule: f.Rule.Id,
    level: f.Level as CfnLintFinding['level'],
    message: f.Message,
    file: f.Filename,
    path: (f.Location.Path ?? []).join('/'),
  }));
}

function main(argv: string[]): number {
  let templates = argv;
  let scratch: string | undefined;
  if (templates.length === 0) {
    scratch = mkdtempSync(join(tmpdir(), 'medallion-cfn-lint-'));
    templates = [];
    for (const stage of ['dev', 'prod']) {
      const out = join(scratch, stage);
      const synth = spawnSync('npx', ['cdk', 'synth', '--quiet', '-c', `stage=${stage}`, '-o', out], {
        cwd: PROJECT_ROOT,
        encoding: 'utf8',
        stdio: ['ignore', 'pipe', 'inherit'],
      });
      if (synth.status !== 0) throw new Error(`cdk synth -c stage=${stage} failed`);
      templates.push(
        ...readdirSync(out)
          .filter((f) => f.endsWith('.template.json'))
          .map((f) => join(out, f)),
      );
    }
  }
  try {
    const findings = cfnLint(templates);
    for (const f of findings) console.log(`${f.level.padEnd(13)} ${f.rule} ${f.file} ${f.path}: ${f.message}`);
    const errors = findings.filter((f) => f.level === 'Error').length;
    console.log(
      `cfn-lint (${CFN_LINT_REQUIREMENT}): ${templates.length} templates, ${errors} errors, ${findings.length - errors} other findings`,
    );
    return errors > 0 ? 1 : 0;
  } finally {
    if (scratch) rmSync(scratch, { recursive: true, force: true });
  }
}

if (process.argv[1] && import.meta.filename === process.argv[1]) process.exitCode = main(process.argv.slice(2));
