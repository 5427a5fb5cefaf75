/** The ingest function's PII salt, read with the real Secrets Manager client from the emulator. */
import { CreateSecretCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { randomUUID } from 'node:crypto';
import { describe, expect, it } from '@jest/globals';
import { inject } from '../support/provided.ts';
import { ContractRegistry, parseContract } from '../../engine/contract/index.ts';
import { resolvePiiSalt } from '../../lambdas/ingest/pii-salt.ts';
import { skipReason } from '../support/integration/lake-fixture.ts';

const customers = parseContract(
  {
    name: 'customers',
    version: '1',
    columns: [
      { name: 'id', type: 'string', required: true },
      { name: 'email', type: 'string', pii: 'hash' },
    ],
  },
  'customers.json',
);

(skipReason ? describe.skip : describe)('PII salt from Secrets Manager (moto)', () => {
  const client = () =>
    new SecretsManagerClient({
      endpoint: inject('motoEndpoint'),
      region: 'eu-west-1',
      credentials: { accessKeyId: '123456789012', secretAccessKey: 'moto' },
    });

  it('reads the secret the infrastructure names', async () => {
    const { ARN } = await client().send(
      new CreateSecretCommand({ Name: `pii-salt-${randomUUID()}`, SecretString: 'a-long-random-salt' }),
    );
    expect(await resolvePiiSalt(new ContractRegistry([customers]), ARN, client)).toBe('a-long-random-salt');
  });

  it('fails (so the message is retried, never hashed unsalted) when the secret does not exist', async () => {
    await expect(
      resolvePiiSalt(
        new ContractRegistry([customers]),
        'arn:aws:secretsmanager:eu-west-1:123456789012:secret:missing-AbCdEf',
        client,
      ),
    ).rejects.toThrow(/can't find the specified secret|ResourceNotFound/i);
  });
});
