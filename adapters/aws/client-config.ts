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
