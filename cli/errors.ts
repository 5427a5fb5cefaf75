/**
 * What can go wrong, and what the process says and returns then. User mistakes get a message and a hint,
 * never a stack trace; only failures that may have lost work exit 1.
 */

export const ExitCode = {
  OK: 0,
  /** Infrastructure failure or a bug: work may not have been done. */
  FAILURE: 1,
  /** The command was used wrongly: bad arguments, unknown dataset, no lake, SQL the engine rejected. */
  USAGE: 2,
  /** Stopped with Ctrl-C. */
  INTERRUPTED: 130,
} as const;

/** A mistake the user can fix. `hint` says how. */
export class UserError extends Error {
  constructor(
    message: string,
    readonly hint?: string,
  ) {
    super(message);
    this.name = 'UserError';
  }
}

/** A failure the user can do nothing about right now (I/O, engine crash, AWS): exit 1. */
export class CommandFailed extends Error {
  constructor(
    message: string,
    readonly hint?: string,
  ) {
    super(message);
    this.name = 'CommandFailed';
  }
}

export interface ExplainedError {
  message: string;
  hint?: string;
  exitCode: number;
  /** Show the stack trace (bugs only, or when debugging). */
  showStack: boolean;
}

const AWS_CREDENTIAL_ERRORS = new Set([
  'CredentialsProviderError',
  'ExpiredTokenException',
  'ExpiredToken',
  'InvalidClientTokenId',
  'UnrecognizedClientException',
]);

/** Turns any error into what the user should read. */
export function explain(error: unknown): ExplainedError {
  if (!(error instanceof Error)) return { message: String(error), exitCode: ExitCode.FAILURE, showStack: false };
  switch (error.name) {
    case 'UserError':
      return { message: error.message, hint: (error as UserError).hint, exitCode: ExitCode.USAGE, showStack: false };
    case 'CommandFailed':
      return {
        message: error.message,
        hint: (error as CommandFailed).hint,
        exitCode: ExitCode.FAILURE,
        showStack: false,
      };
    case 'QueryError':
      return { message: `the query failed: ${error.message}`, exitCode: ExitCode.USAGE, showStack: false };
    case 'QueryParamError':
      return { message: error.message, exitCode: ExitCode.USAGE, showStack: false };
    case 'ContractError':
      return {
        message: `invalid dataset contract: ${error.message}`,
        hint: 'fix the contract file (README: "Adding a dataset")',
        exitCode: ExitCode.USAGE,
        showStack: false,
      };
  }
  if (AWS_CREDENTIAL_ERRORS.has(error.name)) {
    return {
      message: `AWS credentials: ${error.message}`,
      hint: 'configure credentials (AWS_PROFILE, aws sso login, or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY)',
      exitCode: ExitCode.USAGE,
      showStack: false,
    };
  }
  const code = (error as NodeJS.ErrnoException).code;
  if (code === 'EACCES' || code === 'EPERM')
    return {
      message: error.message,
      hint: 'check the permissions of the lake directory',
      exitCode: ExitCode.FAILURE,
      showStack: false,
    };
  if (code === 'ENOSPC')
    return { message: error.message, hint: 'the disk is full', exitCode: ExitCode.FAILURE, showStack: false };
  const awsStatus = (error as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
  if (awsStatus !== undefined)
    return { message: `AWS ${error.name}: ${error.message}`, exitCode: ExitCode.FAILURE, showStack: false };
  return { message: error.message, exitCode: ExitCode.FAILURE, showStack: true };
}
