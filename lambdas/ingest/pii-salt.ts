/** The salt of PII `hash` columns: a Secrets Manager secret the infrastructure creates and names in the environment. */
import { GetSecretValueCommand, type SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import type { ContractRegistry } from '../../engine/contract/index.ts';
import { ConfigError } from './config.ts';

/**
 * The salt for this deployment's contracts. Without a secret the salt is empty, which is only allowed when
 * no contract hashes anything: unsalted hashes of e-mail addresses or phone numbers are reversible.
 */
export async function resolvePiiSalt(
  contracts: ContractRegistry,
  secretArn: string | undefined,
  client: () => SecretsManagerClient,
): Promise<string> {
  if (!secretArn) {
    const hashing = contracts.contracts.filter((c) => c.columns.some((col) => col.pii === 'hash')).map((c) => c.name);
    if (hashing.length > 0) {
      throw new ConfigError(
        `${hashing.join(', ')} hash PII columns but PII_SALT_SECRET_ARN is not set: refusing to hash without a secret salt`,
      );
    }
    return '';
  }
  const { SecretString: salt } = await client().send(new GetSecretValueCommand({ SecretId: secretArn }));
  if (!salt) throw new ConfigError(`secret ${secretArn} has no string value to salt PII hashes with`);
  return salt;
}

/** Runs `load` once it succeeds and keeps the result (warm invocations); a failure is retried on the next call. */
export function onceResolved<T>(load: () => Promise<T>): () => Promise<T> {
  let pending: Promise<T> | undefined;
  return () => {
    pending ??= load().catch((e: unknown) => {
      pending = undefined;
      throw e;
    });
    return pending;
  };
}
