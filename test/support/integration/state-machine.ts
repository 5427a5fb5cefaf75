/**
 * Plays Step Functions for the synthesized fan-out state machine: reads its Amazon States Language
 * definition from the template and runs it — Task (the bundled function, invoked in this process, with its
 * Retry policy), Choice (BooleanEquals), Map (ItemsPath, ItemSelector, ItemProcessor), Succeed — resolving
 * `.$` parameters and result paths as Step Functions does. Only what the definition uses is supported; anything
 * else throws, so a change to the definition cannot silently run differently here.
 */
import type { CfnTemplate } from './cloud-assembly.ts';

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
type JsonObject = { [key: string]: Json };

interface State {
  Type: string;
  Next?: string;
  End?: boolean;
  Resource?: string;
  Parameters?: JsonObject;
  ResultPath?: string | null;
  Retry?: Array<{ ErrorEquals: string[]; MaxAttempts?: number }>;
  Choices?: Array<{ Variable: string; BooleanEquals?: boolean; Next: string }>;
  Default?: string;
  ItemsPath?: string;
  ItemSelector?: JsonObject;
  ItemProcessor?: { StartAt: string; States: Record<string, State> };
  MaxConcurrency?: number;
}

export interface StateMachineDefinition {
  StartAt: string;
  States: Record<string, State>;
}

/** Invokes the function behind a Task state; a thrown error is the task's error. */
export type TaskInvoker = (payload: Json) => Promise<Json>;

export interface ExecutionTrace {
  /** Every task invocation in order: its state name, payload and whether it failed. */
  tasks: Array<{ state: string; payload: Json; failed: boolean }>;
}

/** The definition of the template's only state machine, its function references rendered as `function-arn`. */
export function stateMachineDefinition(template: CfnTemplate): StateMachineDefinition {
  const machines = Object.values(template.Resources).filter((r) => r.Type === 'AWS::StepFunctions::StateMachine');
  if (machines.length !== 1) throw new Error(`expected one state machine in the template, found ${machines.length}`);
  const text = render(machines[0]!.Properties?.DefinitionString as Json);
  return JSON.parse(text) as StateMachineDefinition;
}

function render(value: Json): string {
  if (typeof value === 'string') return value;
  if (value && typeof value === 'object' && !Array.isArray(value)) {
    if ('Fn::Join' in value) {
      const [separator, parts] = value['Fn::Join'] as [string, Json[]];
      return parts.map(render).join(separator);
    }
    if ('Fn::GetAtt' in value || 'Ref' in value) return 'function-arn';
  }
  throw new Error(`cannot render ${JSON.stringify(value)} in a state machine definition`);
}

/** `$.a.b` against the input, `$$.Map.Item.Value…` against the context object. */
function select(path: string, input: Json, context: JsonObject): Json {
  const [root, ...rest] = path.startsWith('$$.')
    ? [context, ...path.slice(3).split('.')]
    : path === '$'
      ? [input]
      : [input, ...path.slice(2).split('.')];
  let value: Json | undefined = root;
  for (const part of rest) {
    if (value === null || typeof value !== 'object' || Array.isArray(value) || !(part in value))
      throw new Error(`States.Runtime: path ${path} not found`);
    value = value[part];
  }
  return value as Json;
}

function resolveParameters(template: JsonObject, input: Json, context: JsonObject): JsonObject {
  const out: JsonObject = {};
  for (const [key, value] of Object.entries(template)) {
    if (key.endsWith('.$')) out[key.slice(0, -2)] = select(value as string, input, context);
    else
      out[key] =
        value && typeof value === 'object' && !Array.isArray(value) ? resolveParameters(value, input, context) : value;
  }
  return out;
}

function applyResult(input: Json, resultPath: string | null | undefined, result: Json): Json {
  if (resultPath === null) return input;
  if (resultPath === undefined || resultPath === '$') return result;
  if (!/^\$\.[A-Za-z_]+$/.test(resultPath)) throw new Error(`unsupported ResultPath ${resultPath}`);
  return { ...(input as JsonObject), [resultPath.slice(2)]: result };
}

/** Runs the definition on `input`; throws (States.TaskFailed) when a task fails after its retries. */
export async function runStateMachine(
  definition: StateMachineDefinition,
  input: Json,
  invoke: TaskInvoker,
  trace: ExecutionTrace = { tasks: [] },
): Promise<Json> {
  const run = async (
    states: Record<string, State>,
    startAt: string,
    value: Json,
    context: JsonObject,
  ): Promise<Json> => {
    let name: string | undefined = startAt;
    let current = value;
    while (name) {
      const state: State | undefined = states[name];
      if (!state) throw new Error(`no state ${name}`);
      switch (state.Type) {
        case 'Task': {
          if (state.Resource !== 'function-arn')
            throw new Error(`task ${name} calls ${state.Resource}, not the function`);
          const payload = resolveParameters(state.Parameters ?? {}, current, context);
          // As Step Functions: the first retrier naming the error (its Lambda error type, the error's name) or
          // States.ALL applies, each retrier counting its own retries (no waits here).
          const retriers = state.Retry ?? [];
          const retried = retriers.map(() => 0);
          let result: Json | undefined;
          for (;;) {
            try {
              result = await invoke(payload);
              trace.tasks.push({ state: name, payload, failed: false });
              break;
            } catch (error) {
              trace.tasks.push({ state: name, payload, failed: true });
              // The name, not instanceof: the function may throw from another realm.
              const type = String((error as { name?: unknown } | null)?.name ?? 'Error');
              const i = retriers.findIndex((r) => r.ErrorEquals.includes(type) || r.ErrorEquals.includes('States.ALL'));
              if (i < 0 || retried[i]! >= (retriers[i]!.MaxAttempts ?? 3)) throw error;
              retried[i]!++;
            }
          }
          current = applyResult(current, state.ResultPath, result);
          break;
        }
        case 'Choice': {
          const match: { Next: string } | undefined = (state.Choices ?? []).find((c) => {
            if (c.BooleanEquals === undefined) throw new Error(`choice of ${name} is not BooleanEquals`);
            return select(c.Variable, current, context) === c.BooleanEquals;
          });
          name = match?.Next ?? state.Default;
          continue;
        }
        case 'Map': {
          const items = select(state.ItemsPath ?? '$', current, context);
          if (!Array.isArray(items) || !state.ItemProcessor) throw new Error(`map ${name} has no items or processor`);
          const processor = state.ItemProcessor;
          // Items one after another (MaxConcurrency only bounds how many run at once).
          const results: Json[] = [];
          for (const [index, item] of items.entries()) {
            const itemContext: JsonObject = { ...context, Map: { Item: { Index: index, Value: item } } };
            const itemInput = state.ItemSelector ? resolveParameters(state.ItemSelector, current, itemContext) : item;
            results.push(await run(processor.States, processor.StartAt, itemInput, itemContext));
          }
          current = applyResult(current, state.ResultPath, results);
          break;
        }
        case 'Succeed':
          return current;
        default:
          throw new Error(`state type ${state.Type} (${name}) is not supported here`);
      }
      name = state.End ? undefined : state.Next;
    }
    return current;
  };
  return run(definition.States, definition.StartAt, input, {});
}
