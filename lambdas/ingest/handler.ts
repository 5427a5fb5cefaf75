/**
 * The ingest function's entry point (bundled by the infrastructure): S3 "object created" events, via SQS or
 * invoked directly by S3 or EventBridge → the engine with S3 storage and the Glue catalog.
 *
 * SQS batches answer with partial batch failures: a message whose object could not be ingested (S3/Glue
 * throttling, 5xx, timeouts, an engine bug, an unparsable message) is reported alone and comes back after
 * the visibility timeout, until the queue moves it to the DLQ. Bad *data* never fails a message: the
 * engine quarantines it and the message succeeds.
 */
import { EventBridgeClient } from '@aws-sdk/client-eventbridge';
import { GlueClient } from '@aws-sdk/client-glue';
import { S3Client } from '@aws-sdk/client-s3';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { SFNClient } from '@aws-sdk/client-sfn';
import { loadContracts } from '../../engine/contract/index.ts';
import { ingestObject } from '../../engine/index.ts';
import { clientConfig, s3ClientConfig, withClientHooks } from '../../adapters/aws/client-config.ts';
import { EventBridgePublisher } from '../../adapters/aws/eventbridge-publisher.ts';
import { GlueCatalog } from '../../adapters/aws/glue-catalog.ts';
import { S3ObjectStore } from '../../adapters/aws/s3-store.ts';
import { startFanOut } from '../fan-out/start.ts';
import { readConfig } from './config.ts';
import { onceResolved, resolvePiiSalt } from './pii-salt.ts';
import { sweepAbandonedScratch, type IngestDependencies } from './ingest-object.ts';
import { createIngestHandler } from './process.ts';
import { logger, tracer } from './telemetry.ts';

let dependencies: IngestDependencies | undefined;

/** Built on first use and kept for warm invocations (clients, contracts, the Glue table cache, the PII salt). */
function getDependencies(): IngestDependencies {
  if (!dependencies) {
    const config = readConfig();
    const swept = sweepAbandonedScratch(config.workDir);
    if (swept.length > 0)
      logger.warn('removed scratch directories an earlier runtime left', {
        work_dir: config.workDir,
        directories: swept,
      });
    const s3 = tracer.captureAWSv3Client(withClientHooks(new S3Client(s3ClientConfig())));
    const glue = tracer.captureAWSv3Client(withClientHooks(new GlueClient(clientConfig())));
    const contracts = loadContracts(config.contractsDir);
    dependencies = {
      config,
      store: new S3ObjectStore(s3, {
        bronze: config.bronzeBucket,
        silver: config.silverBucket,
        quarantine: config.quarantineBucket,
      }),
      catalog: new GlueCatalog(glue, { database: config.glueSilverDatabase, bucket: config.silverBucket }),
      contracts,
      ingest: ingestObject,
      ...(config.fanOutStateMachineArn ? { startFanOut: fanOutStarter(config.fanOutStateMachineArn) } : {}),
      ...(config.eventBusName
        ? {
            events: new EventBridgePublisher(
              tracer.captureAWSv3Client(withClientHooks(new EventBridgeClient(clientConfig()))),
              config.eventBusName,
            ),
          }
        : {}),
      piiSalt: onceResolved(() =>
        resolvePiiSalt(contracts, config.piiSaltSecretArn, () =>
          tracer.captureAWSv3Client(withClientHooks(new SecretsManagerClient(clientConfig()))),
        ),
      ),
    };
    logger.info('ingest function initialised', { config, datasets: dependencies.contracts.names() });
  }
  return dependencies;
}

function fanOutStarter(stateMachineArn: string): NonNullable<IngestDependencies['startFanOut']> {
  const sfn = tracer.captureAWSv3Client(withClientHooks(new SFNClient(clientConfig())));
  return (source) => startFanOut(sfn, stateMachineArn, source);
}

export const handler = createIngestHandler(getDependencies);
