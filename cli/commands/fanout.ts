/** `lake fanout`: the fan-out executions of the deployed lake (objects too large for one invocation) — list, redrive. */
import type { Command } from 'commander';
import { UserError } from '../errors.ts';
import type { Io } from '../io.ts';
import { addAwsOptions, addJsonOption, awsMode, type AwsMode, type AwsOptions, type JsonOptions } from '../options.ts';

interface FanOutOptions extends AwsOptions, JsonOptions {
  all?: boolean;
  restart?: boolean;
}

function requireAws(options: FanOutOptions): AwsMode {
  const aws = awsMode(options);
  if (!aws)
    throw new UserError(
      'fan-out executions belong to the deployed lake',
      'add --aws --stack NAME. (The local lake runs chunks in parallel in one process: `lake ingest --threads`.)',
    );
  return aws;
}

export function registerFanOut(program: Command, io: Io): void {
  const fanout = program
    .command('fanout')
    .summary('fan-out executions of large objects (AWS): list, redrive')
    .description(
      'Objects over the fan-out threshold are ingested by a Step Functions execution (plan, chunks in parallel, commit). List the ones that failed and redrive them once the cause is fixed.',
    );

  const list = fanout
    .command('list')
    .description('failed, timed-out and aborted executions, with the object and the error')
    .option('--all', 'every execution, running and succeeded ones too');
  addAwsOptions(list);
  addJsonOption(list, 'the executions');
  list.action(async (options: FanOutOptions) => {
    await (
      await import('../aws/fanout.ts')
    ).listFanOuts(requireAws(options), { all: options.all, json: options.json }, io);
  });

  const redrive = fanout
    .command('redrive')
    .argument('<execution>', 'the execution name (fan-out-<source id>), as `lake fanout list` shows it')
    .description(
      're-run the failed steps of a failed execution (every step rewrites the same keys: nothing is doubled)',
    )
    .option('--restart', 'start the same input again as a new execution (for executions that cannot be redriven)');
  addAwsOptions(redrive);
  addJsonOption(redrive, 'the execution ARN');
  redrive.action(async (name: string, options: FanOutOptions) => {
    await (
      await import('../aws/fanout.ts')
    ).redriveFanOut(requireAws(options), name, { restart: options.restart, json: options.json }, io);
  });
}
