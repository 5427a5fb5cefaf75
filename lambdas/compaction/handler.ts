/** The scheduled compaction function's entry point (bundled by lib/maintenance/lake-compaction.ts). */
import { S3Client } from '@aws-sdk/client-s3';
import { Logger } from '@aws-lambda-powertools/logger';
import type { Context } from 'aws-lambda';
import { loadContracts } from '../../engine/contract/index.ts';
import { s3ClientConfig, withClientHooks } from '../../adapters/aws/client-config.ts';
import { S3ObjectStore } from '../../adapters/aws/s3-store.ts';
import { COMPACTION_ENV } from '../../wiring/names.ts';
import { runScheduledCompaction, type ScheduledCompactionResult } from './process.ts';

const E = COMPACTION_ENV;
const logger = new Logger();

function required(name: string): string {
  const value = process.env[name]?.trim();
  if (!value) throw new Error(`missing environment variable ${name}`);
  return value;
}

export async function handler(_event: unknown, context: Context): Promise<ScheduledCompactionResult[]> {
  const target = process.env[E.targetBytes]?.trim();
  if (target && !/^\d+$/.test(target))
    throw new Error(`${E.targetBytes} must be a whole number of bytes (got ${target})`);
  const s3 = withClientHooks(new S3Client(s3ClientConfig()));
  try {
    return await runScheduledCompaction({
      store: new S3ObjectStore(s3, { silver: required(E.silverBucket) }),
      contracts: loadContracts(required(E.contractsDir)),
      datasets: (process.env[E.datasets] ?? '')
        .split(',')
        .map((d) => d.trim())
        .filter(Boolean),
      ...(target ? { targetBytes: Number(target) } : {}),
      workDir: process.env[E.workDir]?.trim() || '/tmp',
      functionName: context.functionName,
      requestId: context.awsRequestId,
      remainingMs: () => context.getRemainingTimeInMillis(),
      logger: {
        info: (message, extra) => logger.info(message, extra ?? {}),
        error: (message, extra) => logger.error(message, extra ?? {}),
      },
    });
  } finally {
    s3.destroy();
  }
}
