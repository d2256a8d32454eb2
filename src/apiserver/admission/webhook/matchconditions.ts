/**
 * A webhook's matchConditions: CEL expressions over `object`, `oldObject` and `request` (the
 * AdmissionRequest without uid and objects), as upstream's admission/plugin/webhook/matchconditions
 * and admission/plugin/cel (condition.go, activation.go):
 * - the conditions are evaluated in order; any that is `false` skips the webhook (even when
 *   others failed); a result that is not `false` counts as a match.
 * - an expression that fails to compile (`compilation error: …`) or to evaluate (`expression
 *   '<expr>' resulted in error: …`) is an error; with failurePolicy Ignore the webhook is skipped,
 *   with Fail the request is refused (upstream: Forbidden with the errors, one or `[a, b]`).
 * Objects are handed to CEL as upstream's unstructured data: maps, lists, strings, booleans,
 * null, integers as CEL `int` and other numbers as `double`.
 *
 * Evaluated with @bufbuild/cel, loaded on the first webhook that has conditions (it costs about
 * half a second to load), with its strings extension. Not covered: the `authorizer` variable
 * (an expression using it fails to compile, with an error saying so), Kubernetes' other CEL
 * libraries (lists, regex beyond `matches`, quantity, url, ...), static type checking (upstream
 * refuses a non-bool expression when the configuration is written) and the runtime cost budget.
 */
import type { MatchCondition } from '../../../api/index.ts';
import { aggregate } from './errors.ts';
import { firstScopeProblem, type ExprNode } from '../celscope.ts';

type CelModule = typeof import('@bufbuild/cel');
type Program = (bindings: Record<string, unknown>) => unknown;

let loading: Promise<{ cel: CelModule; env: unknown }> | undefined;

function loadCel(): Promise<{ cel: CelModule; env: unknown }> {
  loading ??= (async () => {
    const cel = await import('@bufbuild/cel');
    const ext = await import('@bufbuild/cel/ext');
    const dyn = cel.CelScalar.DYN;
    const env = cel.celEnv({ variables: { object: dyn, oldObject: dyn, request: dyn }, funcs: ext.strings });
    return { cel, env };
  })();
  return loading;
}

/** The variables a match condition may use. */
export const conditionVariables: ReadonlySet<string> = new Set(['object', 'oldObject', 'request']);
/** Identifiers CEL itself resolves (type names used as values, e.g. `type(x) == string`). */
const builtinIdents = new Set(['int', 'uint', 'double', 'bool', 'string', 'bytes', 'list', 'map', 'null_type', 'type', 'dyn']);

export interface CompiledCondition {
  name: string;
  expression: string;
  program?: Program;
  /** Why it did not compile (`compilation error: …`). */
  error?: string;
}

/** The first identifier `expr` uses that is not a declared variable, with its node. */
function undeclared(node: ExprNode | undefined): ExprNode | undefined {
  return firstScopeProblem<ExprNode>(node, {
    ident: (name, n, bound) => (bound.has(name) || conditionVariables.has(name) || builtinIdents.has(name) ? undefined : n),
  });
}

/** `<input>:line:column` of a node, from the parser's offsets. */
function position(expression: string, offset: number | undefined): string {
  if (offset === undefined) return '<input>';
  const before = expression.slice(0, offset);
  const line = before.split('\n').length;
  const column = offset - (before.lastIndexOf('\n') + 1) + 1;
  return `<input>:${line}:${column}`;
}

/** Compiles each condition; a bad expression keeps its error and fails only when evaluated. */
export async function compileConditions(conditions: readonly MatchCondition[]): Promise<CompiledCondition[]> {
  const { cel, env } = await loadCel();
  return conditions.map(({ name, expression }) => {
    try {
      const parsed = cel.parse(expression);
      const bad = undeclared(parsed.expr as ExprNode);
      if (bad) {
        const ident = bad.exprKind!.value!['name'] as string;
        const at = position(expression, bad.id === undefined ? undefined : parsed.sourceInfo?.positions[String(bad.id)]);
        let msg = `ERROR: ${at}: undeclared reference to '${ident}' (in container '')`;
        if (ident === 'authorizer') msg += `: the authorizer variable is not available to webhook matchConditions in Bosun`;
        return { name, expression, error: `compilation error: ${msg}` };
      }
      const program = cel.plan(env as Parameters<CelModule['plan']>[0], parsed) as unknown as Program;
      return { name, expression, program };
    } catch (err) {
      return { name, expression, error: `compilation error: ERROR: ${err instanceof Error ? err.message : String(err)}` };
    }
  });
}

/** JSON data as CEL values: integers become `int` (bigint); everything else stays as it is. */
export function toCel(v: unknown): unknown {
  if (typeof v === 'number') return Number.isSafeInteger(v) ? BigInt(v) : v;
  if (v === null || typeof v !== 'object') return v;
  if (Array.isArray(v)) return v.map(toCel);
  const out: Record<string, unknown> = {};
  for (const k of Object.keys(v)) {
    const x = (v as Record<string, unknown>)[k];
    if (x !== undefined) out[k] = toCel(x);
  }
  return out;
}

export interface ConditionInput {
  object: unknown;
  oldObject: unknown;
  request: unknown;
}

export type MatchResult = { matches: boolean; failedCondition?: string; error?: undefined } | { matches?: undefined; error: string };

/** cel-go's wording for a missing map key, which @bufbuild/cel words as a missing field. */
const celMessage = (m: string) => m.replace(/^field not found: /, 'no such key: ');

/**
 * Upstream matcher.Match over compiled conditions; `input` is already in CEL form (`toCel`).
 * `ignoreFailures` is failurePolicy Ignore. Never throws.
 */
export function evaluateConditions(compiled: readonly CompiledCondition[], input: ConditionInput, opts: { ignoreFailures: boolean }): MatchResult {
  const errors: string[] = [];
  const bindings = input as unknown as Record<string, unknown>;
  for (const c of compiled) {
    if (!c.program) {
      errors.push(c.error ?? 'unexpected internal error compiling expression');
      continue;
    }
    let res: unknown;
    try {
      res = c.program(bindings);
    } catch (err) {
      res = err instanceof Error ? err : new Error(String(err));
    }
    if (res instanceof Error) errors.push(`expression '${c.expression}' resulted in error: ${celMessage(res.message)}`);
    else if (res === false) return { matches: false, failedCondition: c.name };
  }
  if (errors.length) return opts.ignoreFailures ? { matches: false } : { error: aggregate(errors) };
  return { matches: true };
}
