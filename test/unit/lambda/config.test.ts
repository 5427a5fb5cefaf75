import { describe, expect, it } from '@jest/globals';
import { ConfigError, readConfig } from '../../../lambdas/ingest/config.ts';

const complete = {
  CONTRACTS_DIR: '/var/task/contracts',
  BRONZE_BUCKET: 'bronze',
  SILVER_BUCKET: 'silver',
  QUARANTINE_BUCKET: 'quarantine',
  GLUE_SILVER_DATABASE: 'lake_silver',
  GLUE_QUARANTINE_DATABASE: 'lake_quarantine',
  WORK_DIR: '/tmp',
  DUCKDB_MEMORY_LIMIT: '256MB',
  PII_SALT_SECRET_ARN: 'arn:aws:secretsmanager:eu-west-1:111122223333:secret:pii-salt',
  MAX_UNCOMPRESSED_BYTES: '2576980377',
  INGEST_THREADS: '2',
  EVENT_BUS_NAME: 'default',
};

describe('readConfig', () => {
  it('reads the variables the infrastructure sets', () => {
    expect(readConfig(complete)).toEqual({
      contractsDir: '/var/task/contracts',
      bronzeBucket: 'bronze',
      silverBucket: 'silver',
      quarantineBucket: 'quarantine',
      glueSilverDatabase: 'lake_silver',
      glueQuarantineDatabase: 'lake_quarantine',
      workDir: '/tmp',
      duckdbMemoryLimit: '256MB',
      piiSaltSecretArn: 'arn:aws:secretsmanager:eu-west-1:111122223333:secret:pii-salt',
      maxUncompressedBytes: 2576980377,
      threads: 2,
      eventBusName: 'default',
    });
  });

  it('refuses a decompression cap that is not a positive integer', () => {
    expect(() => readConfig({ ...complete, MAX_UNCOMPRESSED_BYTES: '2GB' })).toThrow(
      new ConfigError('MAX_UNCOMPRESSED_BYTES must be a positive integer (got "2GB")'),
    );
  });

  it('names every missing variable at once', () => {
    const { SILVER_BUCKET: _s, GLUE_SILVER_DATABASE: _g, ...partial } = complete;
    expect(() => readConfig(partial)).toThrow(
      new ConfigError('missing environment variables: SILVER_BUCKET, GLUE_SILVER_DATABASE'),
    );
  });

  it('defaults the optional ones', () => {
    const {
      WORK_DIR: _w,
      DUCKDB_MEMORY_LIMIT: _d,
      GLUE_QUARANTINE_DATABASE: _q,
      PII_SALT_SECRET_ARN: _p,
      MAX_UNCOMPRESSED_BYTES: _m,
      INGEST_THREADS: _t,
      ...required
    } = complete;
    expect(readConfig(required)).toMatchObject({
      workDir: expect.any(String),
      duckdbMemoryLimit: undefined,
      glueQuarantineDatabase: undefined,
      piiSaltSecretArn: undefined,
      maxUncompressedBytes: undefined,
      threads: undefined,
    });
  });
});
