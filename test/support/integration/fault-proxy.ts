/**
 * A pass-through HTTP proxy in front of moto that answers chosen requests with an AWS error instead —
 * for failures moto cannot produce (S3 503 SlowDown, throttling). Only the function is pointed at it.
 */
import { createServer, request, type IncomingMessage, type Server } from 'node:http';

export interface InjectedFault {
  status: number;
  /** Body of the error response (S3 speaks XML). */
  body: string;
  contentType?: string;
}

export type FaultRule = (req: IncomingMessage) => InjectedFault | undefined;

export interface FaultProxy {
  endpoint: string;
  /** Requests answered with a fault so far. */
  faulted: { method: string; url: string }[];
  setRule(rule: FaultRule | undefined): void;
  close(): Promise<void>;
}

export const s3SlowDown: InjectedFault = {
  status: 503,
  contentType: 'application/xml',
  body: '<?xml version="1.0" encoding="UTF-8"?><Error><Code>SlowDown</Code><Message>Please reduce your request rate.</Message><RequestId>fault-proxy</RequestId></Error>',
};

export async function startFaultProxy(target: string): Promise<FaultProxy> {
  const upstream = new URL(target);
  let rule: FaultRule | undefined;
  const faulted: { method: string; url: string }[] = [];
  const server: Server = createServer((req, res) => {
    const fault = rule?.(req);
    if (fault) {
      faulted.push({ method: req.method ?? '', url: req.url ?? '' });
      req.resume();
      res.writeHead(fault.status, {
        'Content-Type': fault.contentType ?? 'application/json',
        'x-amz-request-id': 'fault-proxy',
      });
      res.end(fault.body);
      return;
    }
    const forward = request(
      {
        host: upstream.hostname,
        port: upstream.port,
        method: req.method,
        path: req.url,
        headers: { ...req.headers, host: upstream.host },
      },
      (upstreamRes) => {
        res.writeHead(upstreamRes.statusCode ?? 502, upstreamRes.headers);
        upstreamRes.pipe(res);
      },
    );
    forward.on('error', (e) => {
      res.writeHead(502);
      res.end(String(e));
    });
    req.pipe(forward);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  if (typeof address !== 'object' || !address) throw new Error('fault proxy has no address');
  return {
    endpoint: `http://127.0.0.1:${address.port}`,
    faulted,
    setRule: (r) => (rule = r),
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}
