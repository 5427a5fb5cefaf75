/** `lake dlq`: the ingest dead-letter queue of the deployed lake — how full it is, and moving messages back. */
import type { Command } from 'commander';
import { UserError } from '../errors.ts';
import type { Io } from '../io.ts';
import {
  addAwsOptions,
  addJsonOption,
  awsMode,
  positiveInteger,
  type AwsMode,
  type AwsOptions,
  type JsonOptions,
} from '../options.ts';

interface DlqOptions extends AwsOptions, JsonOptions {
  max?: number;
}

function requireAws(options: DlqOptions): AwsMode {
  const aws = awsMode(options);
  if (!aws) {
    throw new UserError(
      'the dead-letter queue belongs to the deployed lake',
      'add --aws --stack NAME. (The local lake has no queue: failures are reported at once, and `lake replay` retries them.)',
    );
  }
  return aws;
}

export function registerDlq(program: Command, io: Io): void {
  const dlq = program
    .command('dlq')
    .summary('the ingest dead-letter queue (AWS): status, redrive')
    .description(
      'Bronze objects whose ingestion failed repeatedly wait in the dead-letter queue. After fixing the cause, move them back to the ingest queue with `redrive`.',
    );

  const status = dlq
    .command('status')
    .description('how many messages wait in the dead-letter queue and the ingest queue');
  addAwsOptions(status);
  addJsonOption(status, 'the queue depths');
  status.action(async (options: DlqOptions) =>
    (await import('../aws/dlq.ts')).dlqStatus(requireAws(options), { json: options.json }, io),
  );

  const redrive = dlq
    .command('redrive')
    .description(
      'move messages from the dead-letter queue back to the ingest queue (receive, send, then delete: none is lost)',
    )
    .option('--max <n>', 'move at most this many messages', positiveInteger('--max'));
  addAwsOptions(redrive);
  addJsonOption(redrive, 'how many were moved');
  redrive.action(async (options: DlqOptions) => {
    await (await import('../aws/dlq.ts')).redriveDlq(requireAws(options), { max: options.max, json: options.json }, io);
  });
}
