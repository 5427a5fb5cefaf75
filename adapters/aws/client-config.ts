/**
 * The one client configuration of the lake: every AWS SDK client the functions and the CLI construct takes its
 * settings from here. Credentials and region come from the usual chain (profile, SSO, env, the Lambda role).
 * The SDK reads `AWS_ENDPOINT_URL` (and `AWS_ENDPOINT_URL_<SERVICE>`) by itself; S3 additionally needs
 * path-style addressing when an endpoint override points at an emulator, because `<bucket>.127.0.0.1` does not
 * resolve.
 */
import type { S3ClientConfig } from '@aws-sdk/client-s3';

type Env = Record<string, string | undefined>;

export interface ClientOptions {
  /** @default the SDK's chain (AWS_REGION, the profile) */
  region?: string;
  /** Attempts per call, the first included. @default the SDK's (3) */
  maxAttempts?: number;
}

/** Attempts per call of the CLI's clients: a person waits, a Lambda retries through its queue instead. */
export const CLI_MAX_ATTEMPTS = 5;

/** The options of every client the CLI builds: the region asked for (else the chain's), the CLI's attempts. */
export function cliClientOptions(region?: string): ClientOptions {
  return { region, maxAttempts: CLI_MAX_ATTEMPTS };
}

export function hasEndpointOverride(env: Env = process.env, service = 'S3'): boolean {
  return Boolean(env.AWS_ENDPOINT_URL || env[`AWS_ENDPOINT_URL_${service}`]);
}

/** Settings for any client (Glue, Athena, SQS, CloudFormation, Secrets Manager). */
export function clientConfig(options: ClientOptions = {}): { region?: string; maxAttempts?: number } {
  return {
    ...(options.region ? { region: options.region } : {}),
    ...(options.maxAttempts ? { maxAttempts: options.maxAttempts } : {}),
  };
}

/** Settings for an S3 client: `clientConfig`, path-style when an endpoint override is set. */
export function s3ClientConfig(options: ClientOptions = {}, env: Env = process.env): S3ClientConfig {
  return { ...clientConfig(options), ...(hasEndpointOverride(env, 'S3') ? { forcePathStyle: true } : {}) };
}

/**
 * Process-wide hooks run on every AWS SDK client the functions and the CLI construct (`withClientHooks`).
 * Nothing registers one in Lambda or in the CLI; the integration tier registers one that adds a recording
 * middleware, so that each call the bundled functions make can be evaluated against the synthesized IAM
 * policies (test/support/integration/iam-recorder.ts). A global symbol, because every bundle carries its own
 * copy of this module.
 */
export const CLIENT_HOOKS: unique symbol = Symbol.for('medallion-lake.aws-sdk-client-hooks');
export type ClientHook = (client: object) => void;

export function withClientHooks<C extends object>(client: C): C {
  const hooks = (globalThis as { [CLIENT_HOOKS]?: readonly ClientHook[] })[CLIENT_HOOKS];
  for (const hook of hooks ?? []) hook(client);
  return client;
}
