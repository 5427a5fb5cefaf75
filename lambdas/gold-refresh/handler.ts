/**
 * The gold-refresh function's entry point (bundled by the infrastructure): SQS batches of EventBridge
 * "Object Created" events for silver `_manifests/` → one Athena refresh of gold.account_monthly_balance.
 * No DuckDB here: the SQL runs on Athena.
 */
import { AthenaClient } from '@aws-sdk/client-athena';
import { GlueClient } from '@aws-sdk/client-glue';
import { S3Client } from '@aws-sdk/client-s3';
import { Logger } from '@aws-lambda-powertools/logger';
import { Tracer } from '@aws-lambda-powertools/tracer';
import type { Context, SQSBatchResponse, SQSEvent } from 'aws-lambda';
import { refreshGoldAthena } from '../../adapters/aws/athena-gold-refresh.ts';
import { AthenaQueryEngine } from '../../adapters/aws/athena-query-engine.ts';
import { clientConfig, s3ClientConfig, withClientHooks } from '../../adapters/aws/client-config.ts';
import { S3ObjectStore } from '../../adapters/aws/s3-store.ts';
import { readGoldRefreshConfig, type GoldRefreshConfig } from './config.ts';
import { processGoldRefreshBatch, type GoldRefreshDependencies } from './process.ts';
import { DEFAULT_GOLD_TABLE } from '../../datasets/index.ts';

const logger = new Logger();
const tracer = new Tracer();
/** Time kept back from the Lambda deadline: a query still running then is stopped, so no retry races it. */
export const QUERY_DEADLINE_MARGIN_MS = 60_000;

interface Clients {
  config: GoldRefreshConfig;
  store: S3ObjectStore;
  glue: GlueClient;
  athena: AthenaClient;
}

let clients: Clients | undefined;

/** Built on first use and kept for warm invocations. */
function getClients(): Clients {
  if (!clients) {
    const config = readGoldRefreshConfig();
    const s3 = tracer.captureAWSv3Client(withClientHooks(new S3Client(s3ClientConfig())));
    clients = {
      config,
      store: new S3ObjectStore(s3, { silver: config.silverBucket, gold: config.goldBucket }),
      glue: tracer.captureAWSv3Client(withClientHooks(new GlueClient(clientConfig()))),
      athena: tracer.captureAWSv3Client(withClientHooks(new AthenaClient(clientConfig()))),
    };
  }
  return clients;
}

function dependencies(context: Context): GoldRefreshDependencies {
  const { config, store, glue, athena } = getClients();
  return {
    silverBucket: config.silverBucket,
    logger: {
      info: (message, extra) => (extra ? logger.info(message, extra) : logger.info(message)),
      error: (message, extra) => (extra ? logger.error(message, extra) : logger.error(message)),
    },
    refresh: async () => {
      // A query outliving the invocation would keep writing into the prefix a retry empties and reuses: stop it first.
      const timeoutMs = Math.max(1_000, context.getRemainingTimeInMillis() - QUERY_DEADLINE_MARGIN_MS);
      const engine = new AthenaQueryEngine({
        client: athena,
        workGroup: config.workGroup,
        databases: config.databases,
        timeoutMs,
      });
      const result = await refreshGoldAthena({
        table: DEFAULT_GOLD_TABLE,
        engine,
        store,
        glue,
        goldDatabase: config.databases.gold,
        goldBucket: config.goldBucket,
        cleanupGraceMs: config.cleanupGraceMs,
        log: (message) => logger.info(message),
      });
      logger.info('gold refreshed', {
        kind: result.plan.kind,
        refresh_id: result.plan.refreshId,
        resumed: result.resumed,
        pointed: result.pointed,
        removed: result.removed,
      });
    },
  };
}

export async function handler(event: SQSEvent, context: Context): Promise<SQSBatchResponse> {
  logger.addContext(context);
  return processGoldRefreshBatch(event, dependencies(context));
}
