/**
 * Resolves CloudFormation intrinsic functions in a synthesized template against the physical names and
 * attributes the harness gave the resources in the emulator.
 */

export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

export interface ResolvedResource {
  /** What `Ref` returns (bucket name, queue URL, database name …). */
  ref: string;
  /** What `Fn::GetAtt` returns, by attribute name. */
  attributes: Record<string, string>;
}

export interface ResolveContext {
  accountId: string;
  region: string;
  stackName: string;
  resources: Map<string, ResolvedResource>;
  /** `Export.Name` → value, for `Fn::ImportValue` across stacks. */
  exports: Map<string, string>;
}

export class UnresolvableError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UnresolvableError';
  }
}

function pseudo(ctx: ResolveContext, name: string): string | undefined {
  switch (name) {
    case 'AWS::AccountId':
      return ctx.accountId;
    case 'AWS::Region':
      return ctx.region;
    case 'AWS::Partition':
      return 'aws';
    case 'AWS::URLSuffix':
      return 'amazonaws.com';
    case 'AWS::StackName':
      return ctx.stackName;
    case 'AWS::NoValue':
      return undefined;
    default:
      return undefined;
  }
}

function ref(ctx: ResolveContext, name: string): string {
  const p = pseudo(ctx, name);
  if (p !== undefined) return p;
  const resource = ctx.resources.get(name);
  if (!resource) throw new UnresolvableError(`Ref ${name}: resource not created in the emulator (yet)`);
  return resource.ref;
}

function getAtt(ctx: ResolveContext, logicalId: string, attribute: string): string {
  const resource = ctx.resources.get(logicalId);
  const value = resource?.attributes[attribute];
  if (value === undefined)
    throw new UnresolvableError(`Fn::GetAtt ${logicalId}.${attribute}: not known in the emulator`);
  return value;
}

function asString(value: Json, what: string): string {
  if (typeof value !== 'string')
    throw new UnresolvableError(`${what} resolved to a non-string: ${JSON.stringify(value)}`);
  return value;
}

function sub(ctx: ResolveContext, template: string, variables: Record<string, Json>): string {
  return template.replace(/\$\{([^}!]+)\}/g, (_m, name: string) => {
    if (name in variables) return asString(resolve(ctx, variables[name] as Json), `Fn::Sub variable ${name}`);
    const dot = name.indexOf('.');
    return dot > 0 && !name.startsWith('AWS::') ? getAtt(ctx, name.slice(0, dot), name.slice(dot + 1)) : ref(ctx, name);
  });
}

/** Resolves every intrinsic in `value`. `Ref: AWS::NoValue` removes the property, as CloudFormation does. */
export function resolve(ctx: ResolveContext, value: Json): Json {
  if (Array.isArray(value)) return value.map((v) => resolve(ctx, v)).filter((v) => v !== NO_VALUE) as Json[];
  if (value === null || typeof value !== 'object') return value;
  const keys = Object.keys(value);
  if (keys.length === 1) {
    const [fn] = keys as [string];
    const arg = value[fn] as Json;
    switch (fn) {
      case 'Ref':
        return asString(arg, 'Ref') === 'AWS::NoValue' ? NO_VALUE : ref(ctx, arg as string);
      case 'Fn::GetAtt': {
        const [id, attr] = Array.isArray(arg) ? (arg as string[]) : String(arg).split(/\.(.*)/);
        return getAtt(ctx, String(id), String(attr));
      }
      case 'Fn::Join': {
        const [separator, parts] = arg as [string, Json[]];
        return (resolve(ctx, parts) as Json[]).map((p) => asString(p, 'Fn::Join part')).join(separator);
      }
      case 'Fn::Sub': {
        const [template, variables] = Array.isArray(arg)
          ? (arg as [string, Record<string, Json>])
          : [arg as string, {}];
        return sub(ctx, template, variables);
      }
      case 'Fn::Select': {
        const [index, list] = arg as [Json, Json];
        return (resolve(ctx, list) as Json[])[Number(resolve(ctx, index))] ?? null;
      }
      case 'Fn::Split': {
        const [separator, text] = arg as [string, Json];
        return asString(resolve(ctx, text), 'Fn::Split input').split(separator);
      }
      case 'Fn::ImportValue': {
        const name = asString(resolve(ctx, arg), 'Fn::ImportValue');
        const exported = ctx.exports.get(name);
        if (exported === undefined) throw new UnresolvableError(`Fn::ImportValue ${name}: no stack exports it`);
        return exported;
      }
      default:
        if (fn.startsWith('Fn::')) throw new UnresolvableError(`${fn} is not supported by the test harness`);
    }
  }
  const out: Record<string, Json> = {};
  for (const [k, v] of Object.entries(value)) {
    const r = resolve(ctx, v);
    if (r !== NO_VALUE) out[k] = r;
  }
  return out;
}

/** Marker for `Ref: AWS::NoValue`; never escapes `resolve`'s containers. */
const NO_VALUE = '\u0000AWS::NoValue' as const;

/** Logical ids a value refers to (to create resources in dependency order). */
export function referencedIds(value: Json, into: Set<string> = new Set()): Set<string> {
  if (Array.isArray(value)) value.forEach((v) => referencedIds(v, into));
  else if (value !== null && typeof value === 'object') {
    for (const [k, v] of Object.entries(value)) {
      if (k === 'Ref' && typeof v === 'string' && !v.startsWith('AWS::')) into.add(v);
      else if (k === 'Fn::GetAtt') into.add(Array.isArray(v) ? String(v[0]) : String(v).split('.')[0]!);
      else if (k === 'Fn::Sub') {
        const template = Array.isArray(v) ? String(v[0]) : String(v);
        for (const m of template.matchAll(/\$\{([^}.!]+)(?:\.[^}]*)?\}/g))
          if (!m[1]!.startsWith('AWS::')) into.add(m[1]!);
        if (Array.isArray(v)) referencedIds(v[1] as Json, into);
      } else referencedIds(v, into);
    }
  }
  return into;
}
