/** Exponential backoff with full jitter (the AWS Architecture Blog's recommendation for contended retries). */

export interface BackoffPolicy {
  /** Total attempts, including the first. @default 6 */
  attempts?: number;
  /** Delay cap for the first retry, in ms; doubles per attempt. @default 100 */
  baseDelayMs?: number;
  /** Upper bound of any single delay, in ms. @default 5000 */
  maxDelayMs?: number;
  /** Injected for tests. */
  sleep?: (ms: number) => Promise<void>;
  random?: () => number;
}

export const defaultSleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Delay before retry number `retry` (1-based): uniform in [0, min(maxDelay, base × 2^(retry-1))]. */
export function backoffDelay(retry: number, policy: BackoffPolicy = {}): number {
  const base = policy.baseDelayMs ?? 100;
  const cap = policy.maxDelayMs ?? 5_000;
  const ceiling = Math.min(cap, base * 2 ** (retry - 1));
  return Math.floor((policy.random ?? Math.random)() * ceiling);
}

/**
 * Runs `attempt` until it succeeds, throws a non-retryable error, or attempts run out (then the last error
 * is rethrown). `attempt` receives the 1-based attempt number.
 */
export async function withBackoff<T>(
  attempt: (attemptNumber: number) => Promise<T>,
  isRetryable: (error: unknown) => boolean,
  policy: BackoffPolicy = {},
): Promise<T> {
  const attempts = policy.attempts ?? 6;
  const sleep = policy.sleep ?? defaultSleep;
  for (let n = 1; ; n++) {
    try {
      return await attempt(n);
    } catch (error) {
      if (n >= attempts || !isRetryable(error)) throw error;
      await sleep(backoffDelay(n, policy));
    }
  }
}
