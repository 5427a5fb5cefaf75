/** The one client configuration: what the functions' and the CLI's clients are built with. */
import { describe, expect, it } from '@jest/globals';
import {
  CLI_MAX_ATTEMPTS,
  cliClientOptions,
  clientConfig,
  s3ClientConfig,
} from '../../../../adapters/aws/client-config.ts';
import { openS3ObjectStore } from '../../../../adapters/aws/lake-ports.ts';

describe('client configuration', () => {
  it('S3 uses path-style addressing only when an endpoint override points at an emulator', () => {
    expect(s3ClientConfig({}, {})).toEqual({});
    expect(s3ClientConfig({}, { AWS_ENDPOINT_URL: 'http://127.0.0.1:5000' })).toEqual({ forcePathStyle: true });
    expect(s3ClientConfig({}, { AWS_ENDPOINT_URL_S3: 'http://127.0.0.1:5000' })).toEqual({ forcePathStyle: true });
    expect(s3ClientConfig({}, { AWS_ENDPOINT_URL_SQS: 'http://127.0.0.1:5000' })).toEqual({});
  });

  it("a function's clients take the SDK's defaults; the CLI's its region and more attempts", () => {
    expect(clientConfig()).toEqual({});
    expect(cliClientOptions()).toEqual({ region: undefined, maxAttempts: CLI_MAX_ATTEMPTS });
    expect(clientConfig(cliClientOptions('eu-west-1'))).toEqual({ region: 'eu-west-1', maxAttempts: 5 });
  });

  it('the CLI opens its S3 store with that configuration (path-style at an emulator, its region and attempts)', async () => {
    const store = openS3ObjectStore(
      { bronze: 'b' },
      cliClientOptions('eu-west-1'),
      {},
      {
        AWS_ENDPOINT_URL: 'http://127.0.0.1:5000',
      },
    );
    try {
      expect(store.client.config.forcePathStyle).toBe(true);
      expect(await store.client.config.region()).toBe('eu-west-1');
      expect(await store.client.config.maxAttempts()).toBe(CLI_MAX_ATTEMPTS);
    } finally {
      store.destroy();
    }
  });
});
