/** `lake`: the command line of the Medallion Lake. */
import { readFileSync } from 'node:fs';
import { Command, CommanderError } from 'commander';
import { registerDemo } from './commands/demo.ts';
import { registerCompact } from './commands/compact.ts';
import { registerDlq } from './commands/dlq.ts';
import { registerFanOut } from './commands/fanout.ts';
import { registerErase } from './commands/erase.ts';
import { registerIngest } from './commands/ingest.ts';
import { registerQuarantine } from './commands/quarantine.ts';
import { registerQuery } from './commands/query.ts';
import { registerReplay } from './commands/replay.ts';
import { registerStatus } from './commands/status.ts';
import { registerUnlock } from './commands/unlock.ts';
import { registerWatch } from './commands/watch.ts';
import { ExitCode, explain } from './errors.ts';
import { installInterruptHandling } from './interrupt.ts';
import { processIo, type Io } from './io.ts';

const VERSION = (JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string })
  .version;

const EXAMPLES = `
Examples:
  $ npx lake demo                                   a local lake with four months of transactions, in seconds
  $ npx lake ingest ./landing --dataset transactions
  $ npx lake query --file month_end_balances --param from_month=2024-02
  $ npx lake query --sql "SELECT count(*) FROM silver.transactions"
  $ npx lake status
  $ npx lake quarantine --reason INVALID_AMOUNT
  $ npx lake watch ./landing
  $ npx lake erase --dataset transactions --where "account_id = 'ACC001'" --dry-run
  $ npx lake compact --dataset transactions --partition year=2024/month=01
  $ npx lake query --aws --stack MedallionLake-dev --sql "SELECT …"

Exit codes: 0 done (bad rows are quarantined, not errors) · 1 failed, work may be incomplete ·
            2 usage error (bad arguments, unknown dataset, no lake, SQL error) · 130 interrupted
Docs: docs/cli.md`;

export function buildProgram(io: Io): Command {
  const program = new Command('lake')
    .description(
      'Medallion Lake: ingest, query and operate the data lake — on this machine with DuckDB, or the deployed one on AWS.',
    )
    .version(VERSION, '-V, --version')
    .helpOption('-h, --help', 'show help')
    .helpCommand('help [command]', 'show help for a command')
    .showHelpAfterError(io.errStyle.dim('(add --help for usage)'))
    .configureHelp({ showGlobalOptions: true })
    .configureOutput({
      writeOut: (text) => io.print(text),
      writeErr: (text) => io.note(text),
      outputError: (text, write) => write(io.errStyle.red(text)),
    })
    .exitOverride()
    .addHelpText('after', EXAMPLES);
  registerDemo(program, io);
  registerIngest(program, io);
  registerQuery(program, io);
  registerStatus(program, io);
  registerQuarantine(program, io);
  registerReplay(program, io);
  registerWatch(program, io);
  registerDlq(program, io);
  registerFanOut(program, io);
  registerErase(program, io);
  registerCompact(program, io);
  registerUnlock(program, io);
  return program;
}

export async function main(argv: readonly string[], io: Io = processIo()): Promise<number> {
  const program = buildProgram(io);
  if (argv.length <= 2) {
    program.outputHelp(); // `lake` alone asks what there is: not a mistake
    return ExitCode.OK;
  }
  try {
    await program.parseAsync(argv as string[]);
    return ExitCode.OK;
  } catch (error) {
    if (error instanceof CommanderError) {
      // Help and version are successes; everything else commander reports is a usage error (already printed).
      return error.exitCode === 0 ? ExitCode.OK : ExitCode.USAGE;
    }
    const explained = explain(error);
    io.note(`${io.errStyle.red(`error: ${explained.message}`)}\n`);
    if (explained.hint) io.note(`${io.errStyle.dim(`hint: ${explained.hint}`)}\n`);
    if (explained.showStack || process.env.LAKE_DEBUG) {
      io.note(`${io.errStyle.dim((error as Error).stack ?? '')}\n`);
      if (explained.showStack)
        io.note(`${io.errStyle.dim('This looks like a bug; please report it with the output above.')}\n`);
    }
    return explained.exitCode;
  }
}

/** The process entry (cli/lake.mjs): runs the command line, then makes sure the process ends. */
export async function run(): Promise<void> {
  // `lake … | head` closes the pipe early: that is the reader's choice, not a failure.
  process.stdout.on('error', (e: NodeJS.ErrnoException) => {
    if (e.code === 'EPIPE') process.exit(ExitCode.OK);
    throw e;
  });
  const io = processIo();
  installInterruptHandling(io.note);
  const code = await main(process.argv, io);
  process.exitCode = code;
  // Let stdout drain; if a stray handle would keep the process alive, end it anyway.
  setTimeout(() => process.exit(code), 2000).unref();
}
