/** Classifies AWS SDK v3 errors: which are worth retrying, which mean "not there". */

interface SdkErrorShape {
  name?: string;
  code?: string;
  Code?: string;
  $fault?: 'client' | 'server';
  $retryable?: { throttling?: boolean };
  $metadata?: { httpStatusCode?: number };
  cause?: unknown;
}

const THROTTLING_CODES = new Set([
  'Throttling',
  'ThrottlingException',
  'ThrottledException',
  'TooManyRequestsException',
  'RequestThrottled',
  'RequestThrottledException',
  'RequestLimitExceeded',
  'SlowDown',
  'ProvisionedThroughputExceededException',
  'BandwidthLimitExceeded',
  'EC2ThrottledException',
  'PriorRequestNotComplete',
]);

/** Service-side or contention errors that succeed when tried again. */
const TRANSIENT_CODES = new Set([
  'InternalError',
  'InternalFailure',
  'InternalServiceException',
  'InternalServerError',
  'ServiceUnavailable',
  'ServiceUnavailableException',
  'OperationTimeoutException',
  'RequestTimeout',
  'RequestTimeoutException',
  'ConcurrentModificationException',
  'TimeoutError',
]);

/** Network-level failures surfaced by Node (connection reset, DNS, socket timeouts). */
const NETWORK_CODES = new Set([
  'ECONNRESET',
  'ECONNREFUSED',
  'EPIPE',
  'ETIMEDOUT',
  'ENOTFOUND',
  'EAI_AGAIN',
  'ECONNABORTED',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'UND_ERR_SOCKET',
]);

const NOT_FOUND_CODES = new Set(['NoSuchKey', 'NotFound', 'NoSuchVersion']);

function shape(error: unknown): SdkErrorShape {
  return typeof error === 'object' && error !== null ? (error as SdkErrorShape) : {};
}

/** The AWS error code (`NoSuchKey`, `ThrottlingException` …), or the Node error code, or the error's name. */
export function awsErrorCode(error: unknown): string {
  const e = shape(error);
  return e.Code ?? e.code ?? e.name ?? 'UnknownError';
}

export function httpStatusOf(error: unknown): number | undefined {
  return shape(error).$metadata?.httpStatusCode;
}

export function isThrottlingError(error: unknown): boolean {
  const e = shape(error);
  return THROTTLING_CODES.has(awsErrorCode(error)) || e.$retryable?.throttling === true || httpStatusOf(error) === 429;
}

/**
 * True when trying again later can succeed: throttling, 5xx, timeouts, dropped connections and
 * optimistic-concurrency conflicts. Follows `cause` chains, so wrapped errors classify like their origin.
 */
export function isTransientError(error: unknown): boolean {
  for (
    let current: unknown = error, depth = 0;
    current !== undefined && depth < 5;
    current = shape(current).cause, depth++
  ) {
    const e = shape(current);
    const code = awsErrorCode(current);
    if (isThrottlingError(current)) return true;
    if (TRANSIENT_CODES.has(code) || NETWORK_CODES.has(code)) return true;
    if (e.$fault === 'server') return true;
    const status = httpStatusOf(current);
    if (status !== undefined && status >= 500) return true;
    if (e.$retryable !== undefined) return true;
  }
  return false;
}

/** The object (or version) does not exist. A missing bucket is a configuration error, not this. */
export function isNotFoundError(error: unknown): boolean {
  const code = awsErrorCode(error);
  if (code === 'NoSuchBucket') return false;
  return NOT_FOUND_CODES.has(code) || httpStatusOf(error) === 404;
}

/** A human-readable one-liner: `ThrottlingException (HTTP 400): Rate exceeded`. */
export function describeAwsError(error: unknown): string {
  const status = httpStatusOf(error);
  const message = error instanceof Error ? error.message : String(error);
  return `${awsErrorCode(error)}${status ? ` (HTTP ${status})` : ''}: ${message}`;
}
