/**
 * Records every AWS API call the code under test makes through its SDK v3 clients: a `build`-step middleware
 * (after serialization, before signing and retries, so once per command) added to each client the functions
 * and the CLI construct, through the process-wide hook of `adapters/aws/client-config.ts` (`withClientHooks`).
 * The bundles carry their own copy of the SDK and of that module; the hook list lives under a global symbol,
 * so registering here reaches the clients a bundle builds in this process.
 *
 * A call is attributed to the caller whose scope it runs in (`recorder.as('ingest', () => handler(…))`, an
 * AsyncLocalStorage); a call outside any scope is recorded as `unattributed`, which the evaluation refuses.
 * What is kept: service and operation (`S3` / `PutObject`), the command's input without its body, the HTTP
 * request as the SDK built it (method, protocol, host, path, query and the `x-amz-*` headers — the
 * encryption headers S3's condition keys are named after), the output's plain fields, or the error.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import { CLIENT_HOOKS, type ClientHook } from '../../../adapters/aws/client-config.ts';

export interface RecordedRequest {
  method: string;
  protocol: string;
  hostname: string;
  path: string;
  query: Record<string, string>;
  /** The `x-amz-*` headers (lower-cased), without the signature and security token. */
  headers: Record<string, string>;
}

export interface RecordedCall {
  /** The scope the call ran in (`Recorder.as`). */
  caller: string;
  /** `S3`, `Glue`, `Athena`, `SecretsManager`, `SQS`, `CloudFormation` (the client's name without `Client`). */
  service: string;
  /** `GetObject`, `BatchCreatePartition` … (the command's name without `Command`). */
  operation: string;
  input: Record<string, unknown>;
  request: RecordedRequest;
  /** The output's fields (no body streams), when the call succeeded. */
  output?: Record<string, unknown>;
  /** `name: message` when the call failed (it was still made, so it is still authorized). */
  error?: string;
}

/** The slice of the SDK's middleware types this recorder needs (the bundles have their own SDK copies). */
interface BuildArgs {
  input: Record<string, unknown>;
  request: unknown;
}
interface HandlerOutput {
  output: Record<string, unknown>;
  response: unknown;
}
type BuildHandler = (args: BuildArgs) => Promise<HandlerOutput>;
interface HandlerContext {
  clientName?: string;
  commandName?: string;
}
type BuildMiddleware = (next: BuildHandler, context: HandlerContext) => BuildHandler;
interface SdkClient {
  middlewareStack: {
    add(
      middleware: BuildMiddleware,
      options: { step: 'build'; name: string; priority?: 'low' | 'normal' | 'high' },
    ): void;
  };
}
interface HttpRequestShape {
  method?: string;
  protocol?: string;
  hostname?: string;
  path?: string;
  query?: Record<string, string | string[] | null>;
  headers?: Record<string, string>;
}

const isSdkClient = (client: object): client is SdkClient =>
  'middlewareStack' in client &&
  typeof (client as { middlewareStack?: { add?: unknown } }).middlewareStack?.add === 'function';

type HookRegistry = { [CLIENT_HOOKS]?: ClientHook[] };

/** Plain data only: bodies and streams are dropped, so a record can be kept, compared and printed. */
function plain(value: unknown, depth = 0): unknown {
  if (
    value === null ||
    value === undefined ||
    typeof value === 'string' ||
    typeof value === 'number' ||
    typeof value === 'boolean'
  )
    return value;
  if (value instanceof Date) return value.toISOString();
  if (
    depth > 6 ||
    typeof value !== 'object' ||
    value instanceof Uint8Array ||
    typeof (value as { pipe?: unknown }).pipe === 'function'
  )
    return undefined;
  if (Array.isArray(value)) return value.map((v) => plain(v, depth + 1));
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) {
    if (k === 'Body' || k === '$metadata') continue;
    const p = plain(v, depth + 1);
    if (p !== undefined) out[k] = p;
  }
  return out;
}

function recordedRequest(request: unknown): RecordedRequest {
  const r = (request ?? {}) as HttpRequestShape;
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(r.headers ?? {})) {
    const lower = name.toLowerCase();
    if (
      lower.startsWith('x-amz-') &&
      lower !== 'x-amz-security-token' &&
      lower !== 'x-amz-date' &&
      !lower.startsWith('x-amz-content-sha256')
    )
      headers[lower] = value;
  }
  const query: Record<string, string> = {};
  for (const [name, value] of Object.entries(r.query ?? {}))
    query[name] = Array.isArray(value) ? value.join(',') : (value ?? '');
  return {
    method: r.method ?? '',
    protocol: r.protocol ?? '',
    hostname: r.hostname ?? '',
    path: r.path ?? '',
    query,
    headers,
  };
}

export class Recorder {
  readonly calls: RecordedCall[] = [];
  /**
   * Runs after a call succeeded, before the caller sees the response: a test stands in here for what the
   * emulator cannot do (e.g. the output of an Athena UNLOAD, as moto runs no SQL).
   */
  afterCall: ((call: RecordedCall) => Promise<void>) | undefined;

  private readonly defaultCaller: string;

  /** @param defaultCaller the caller of calls made outside any `as(…)` scope (a CLI process records as one caller). */
  constructor(defaultCaller = 'unattributed') {
    this.defaultCaller = defaultCaller;
  }
  private readonly scope = new AsyncLocalStorage<string>();
  private readonly hook: ClientHook = (client) => {
    if (!isSdkClient(client))
      throw new Error('iam-recorder: withClientHooks was given something that is not an AWS SDK v3 client');
    client.middlewareStack.add((next, context) => (args) => this.observe(next, context, args), {
      step: 'build',
      name: 'iamRecorder',
      priority: 'low',
    });
  };

  /** Registers the hook: every SDK client constructed through `withClientHooks` from now on is recorded. */
  install(): this {
    const registry = globalThis as HookRegistry;
    (registry[CLIENT_HOOKS] ??= []).push(this.hook);
    return this;
  }

  uninstall(): void {
    const hooks = (globalThis as HookRegistry)[CLIENT_HOOKS];
    if (hooks?.includes(this.hook)) hooks.splice(hooks.indexOf(this.hook), 1);
  }

  /** Runs `work` with its SDK calls attributed to `caller`. */
  as<T>(caller: string, work: () => Promise<T>): Promise<T> {
    return this.scope.run(caller, work);
  }

  /** The calls of one caller. */
  of(caller: string): RecordedCall[] {
    return this.calls.filter((c) => c.caller === caller);
  }

  private async observe(next: BuildHandler, context: HandlerContext, args: BuildArgs): Promise<HandlerOutput> {
    const call: RecordedCall = {
      caller: this.scope.getStore() ?? this.defaultCaller,
      service: (context.clientName ?? 'unknown').replace(/Client$/, ''),
      operation: (context.commandName ?? 'unknown').replace(/Command$/, ''),
      input: plain(args.input) as Record<string, unknown>,
      request: recordedRequest(args.request),
    };
    this.calls.push(call);
    try {
      const result = await next(args);
      call.output = plain(result.output) as Record<string, unknown>;
      await this.afterCall?.(call);
      return result;
    } catch (error) {
      call.error = `${(error as Error).name}: ${(error as Error).message}`;
      throw error;
    }
  }
}
