/**
 * Minimal AWS JSON-1.1 calls to the emulator for services the project has no SDK client for (KMS,
 * EventBridge): the harness needs only a handful of calls, not two more dependencies. moto routes by the
 * credential scope in the Authorization header and does not check the signature.
 */

const SIGNING_NAMES: Record<string, { targetPrefix: string; scope: string }> = {
  kms: { targetPrefix: 'TrentService', scope: 'kms' },
  events: { targetPrefix: 'AWSEvents', scope: 'events' },
};

export async function awsJsonCall<T = Record<string, unknown>>(
  endpoint: string,
  region: string,
  accountId: string,
  service: keyof typeof SIGNING_NAMES,
  action: string,
  body: Record<string, unknown>,
): Promise<T> {
  const { targetPrefix, scope } = SIGNING_NAMES[service]!;
  const date = new Date().toISOString().slice(0, 10).replace(/-/g, '');
  const response = await fetch(`${endpoint}/`, {
    method: 'POST',
    headers: {
      'Content-Type': 'application/x-amz-json-1.1',
      'X-Amz-Target': `${targetPrefix}.${action}`,
      Authorization: `AWS4-HMAC-SHA256 Credential=${accountId}/${date}/${region}/${scope}/aws4_request, SignedHeaders=host, Signature=0`,
    },
    body: JSON.stringify(body),
  });
  const text = await response.text();
  if (!response.ok) throw new Error(`${service}.${action} failed: HTTP ${response.status} ${text}`);
  return (text ? JSON.parse(text) : {}) as T;
}
