import type { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { describe, expect, it } from '@jest/globals';
import { ContractRegistry, loadContracts, parseContract } from '../../../engine/contract/index.ts';
import { ConfigError } from '../../../lambdas/ingest/config.ts';
import { onceResolved, resolvePiiSalt } from '../../../lambdas/ingest/pii-salt.ts';

const hashing = parseContract(
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
const noClient = (): SecretsManagerClient => {
  throw new Error('no secret should be read');
};

describe('resolvePiiSalt', () => {
  it('needs no secret when no contract hashes PII', async () => {
    expect(await resolvePiiSalt(loadContracts(), undefined, noClient)).toBe('');
  });

  it('refuses to hash without a secret salt, naming the contracts that hash', async () => {
    await expect(resolvePiiSalt(new ContractRegistry([hashing]), undefined, noClient)).rejects.toThrow(
      new ConfigError(
        'customers hash PII columns but PII_SALT_SECRET_ARN is not set: refusing to hash without a secret salt',
      ),
    );
  });
});

describe('onceResolved', () => {
  it('keeps a success and retries after a failure', async () => {
    let calls = 0;
    const get = onceResolved(async () => {
      calls++;
      if (calls === 1) throw new Error('throttled');
      return `salt-${calls}`;
    });
    await expect(get()).rejects.toThrow('throttled');
    expect(await get()).toBe('salt-2');
    expect(await get()).toBe('salt-2');
    expect(calls).toBe(2);
  });
});
