/**
 * SDK client settings shared by the Lambda and the tools. The SDK reads `AWS_ENDPOINT_URL` (and
 * `AWS_ENDPOINT_URL_<SERVICE>`) by itself; S3 additionally needs path-style addressing when an endpoint
 * override points at an emulator, because `<bucket>.127.0.0.1` does not resolve.
 */
import type { S3ClientConfig } from '@aws-sdk/client-s3';

type Env = Record<string, string | undefined>;

export function hasEndpointOverride(env: Env = process.env, service = 'S3'): boolean {
  return Boolean(env.AWS_ENDPOINT_URL || env[`AWS_ENDPOINT_URL_${service}`]);
}

export function s3ClientConfig(env: Env = process.env): S3ClientConfig {
  return hasEndpointOverride(env, 'S3') ? { forcePathStyle: true } : {};
}

/**
 * Process-wide hooks run on every AWS SDK client the functions and the CLI construct (`withClientHooks`).
 * Nothing registers one in Lambda or in the CLI; the integration tier registers one that adds a recording
 * middleware, so that each call the bundled functions make can be evaluated against the synthesized IAM
 * policies (test/integration/harness/iam-recorder.ts). A global symbol, because every bundle carries its own
 * copy of this module.
 */
export const CLIENT_HOOKS: unique symbol = Symbol.for('medallion-lake.aws-sdk-client-hooks');
export type ClientHook = (client: object) => void;

export function withClientHooks<C extends object>(client: C): C {
  const hooks = (globalThis as { [CLIENT_HOOKS]?: readonly ClientHook[] })[CLIENT_HOOKS];
  for (const hook of hooks ?? []) hook(client);
  return client;
}
