/**
 * Values a tier's globalSetup hands to its test files (vitest's provide/inject). jest runs globalSetup in the
 * parent process before it starts any worker, so the environment is the channel: set once, inherited by all.
 */
export interface ProvidedContext {
  /** moto's base URL, or '' when the tier is skipped. */
  motoEndpoint: string;
  /** Directory of the synthesized cloud assembly. */
  assemblyDir: string;
  /** Why the tier is skipped ('' when it runs). */
  integrationSkipReason: string;
}

const variable = (key: keyof ProvidedContext): string => `MEDALLION_TEST_PROVIDED_${key}`;

export function provide<K extends keyof ProvidedContext>(key: K, value: ProvidedContext[K]): void {
  process.env[variable(key)] = value;
}

export function inject<K extends keyof ProvidedContext>(key: K): ProvidedContext[K] {
  const value = process.env[variable(key)];
  if (value === undefined)
    throw new Error(
      `test/support/provided.ts: '${key}' was not provided — run this file through its tier (jest --selectProjects), whose globalSetup provides it`,
    );
  return value;
}
