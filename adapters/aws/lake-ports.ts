/**
 * The lake's ports on AWS, each with a client built from the one client configuration (client-config.ts): what
 * the CLI opens on a deployed lake. Code outside adapters/aws and lambdas/ reaches S3 and Athena only through
 * these (eslint.config.js refuses `@aws-sdk/client-s3`, `client-glue`, `client-athena` and `lib-storage` there).
 */
import { AthenaClient } from '@aws-sdk/client-athena';
import { S3Client } from '@aws-sdk/client-s3';
import { AthenaQueryEngine, type AthenaQueryEngineOptions } from './athena-query-engine.ts';
import { clientConfig, s3ClientConfig, withClientHooks, type ClientOptions } from './client-config.ts';
import { S3ObjectStore, type S3ObjectStoreOptions, type ZoneBuckets } from './s3-store.ts';

type Env = Record<string, string | undefined>;

/** The zones' buckets as an ObjectStore; `destroy()` the store when done. */
export function openS3ObjectStore(
  buckets: ZoneBuckets,
  client: ClientOptions = {},
  options: S3ObjectStoreOptions = {},
  env: Env = process.env,
): S3ObjectStore {
  return new S3ObjectStore(withClientHooks(new S3Client(s3ClientConfig(client, env))), buckets, options);
}

/** Athena as a QueryEngine; `close()` stops a query in flight and releases the client. */
export function openAthenaQueryEngine(
  options: Omit<AthenaQueryEngineOptions, 'client'>,
  client: ClientOptions = {},
): AthenaQueryEngine {
  return new AthenaQueryEngine({ ...options, client: withClientHooks(new AthenaClient(clientConfig(client))) });
}
