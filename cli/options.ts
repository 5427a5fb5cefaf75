/** Options several commands share, spelled and explained the same way everywhere. */
import { Option, type Command } from 'commander';
import { UserError } from './errors.ts';
import { RESULT_FORMATS, type ResultFormat } from './ui/output.ts';

export interface LakeOptions {
  lake?: string;
}

export interface JsonOptions {
  json?: boolean;
}

export interface AwsOptions {
  aws?: boolean;
  stack?: string;
  region?: string;
  outputsFile?: string;
}

export interface AwsMode {
  stack: string;
  region?: string;
  outputsFile?: string;
}

export function addLakeOption(command: Command): Command {
  return command.option('--lake <dir>', 'local lake directory (default: nearest ./.lake, or $LAKE_DIR)');
}

export interface ThreadsOptions {
  threads?: number;
}

/** How many record-aligned chunks of a large file (64 MiB and up) the engine transforms at once. */
export function addThreadsOption(command: Command): Command {
  return command.addOption(
    new Option(
      '--threads <n>',
      'chunks of a large file (64 MiB and up) transformed at once, ~300 MB of memory each (default: every core)',
    )
      .env('LAKE_THREADS')
      .argParser(positiveInteger('--threads')),
  );
}

export function addJsonOption(command: Command, what = 'the result'): Command {
  return command.option('--json', `print ${what} as JSON (for scripts)`);
}

export function addAwsOptions(command: Command): Command {
  return command
    .addOption(new Option('--aws', 'work on the deployed lake in AWS instead of the local one').helpGroup('AWS mode:'))
    .addOption(
      new Option('--stack <name>', 'CloudFormation stack of the deployed lake')
        .env('LAKE_STACK')
        .helpGroup('AWS mode:'),
    )
    .addOption(
      new Option('--region <region>', 'AWS region (default: from your AWS config)')
        .env('AWS_REGION')
        .helpGroup('AWS mode:'),
    )
    .addOption(
      new Option(
        '--outputs-file <file>',
        'read the stack outputs from `cdk deploy --outputs-file` JSON instead of CloudFormation',
      )
        .env('LAKE_OUTPUTS_FILE')
        .helpGroup('AWS mode:'),
    );
}

export function addFormatOption(command: Command): Command {
  return command
    .addOption(new Option('--format <format>', 'output format').choices(RESULT_FORMATS as string[]).default('table'))
    .option('--json', 'same as --format json');
}

export function resultFormat(options: { format?: string; json?: boolean }): ResultFormat {
  return options.json ? 'json' : ((options.format ?? 'table') as ResultFormat);
}

/** `--stack` is required in AWS mode, and AWS-only options make no sense without `--aws`. */
export function awsMode(options: AwsOptions): AwsMode | undefined {
  if (!options.aws) {
    if (options.stack && process.env.LAKE_STACK !== options.stack)
      throw new UserError('--stack only applies in AWS mode', 'add --aws to work on the deployed lake');
    return undefined;
  }
  if (!options.stack)
    throw new UserError('--aws needs the stack name of the deployed lake', 'pass --stack NAME (or set LAKE_STACK)');
  return { stack: options.stack, region: options.region, outputsFile: options.outputsFile };
}

export function positiveInteger(name: string) {
  return (value: string): number => {
    const n = Number(value);
    if (!Number.isInteger(n) || n < 1) throw new UserError(`${name} must be a whole number ≥ 1, got "${value}"`);
    return n;
  };
}

export function nonNegativeInteger(name: string) {
  return (value: string): number => {
    const n = Number(value);
    if (!Number.isInteger(n) || n < 0) throw new UserError(`${name} must be a whole number ≥ 0, got "${value}"`);
    return n;
  };
}

/** `2024-05-01`, `2024-05-01T12:00:00Z`, or a relative `2h` / `3d` / `30m`. */
export function parseSince(value: string, now = new Date()): Date {
  const relative = /^(\d+)\s*(m|min|h|d)$/.exec(value.trim());
  if (relative) {
    const n = Number(relative[1]);
    const unitMs = relative[2] === 'd' ? 86_400_000 : relative[2] === 'h' ? 3_600_000 : 60_000;
    return new Date(now.getTime() - n * unitMs);
  }
  if (/^\d{4}-\d{2}-\d{2}/.test(value)) {
    const d = new Date(/^\d{4}-\d{2}-\d{2}$/.test(value) ? `${value}T00:00:00Z` : value);
    if (!Number.isNaN(d.getTime())) return d;
  }
  throw new UserError(
    `--since: cannot read "${value}" as a date`,
    'use 2024-05-01, 2024-05-01T12:00:00Z, or a relative 30m, 2h, 3d',
  );
}
