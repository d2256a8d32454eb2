/**
 * Compiles and evaluates a ValidatingAdmissionPolicy's CEL, as upstream's admission/plugin/cel
 * (compile.go, filter.go, composition.go) and policy/validating (plugin.go compilePolicy,
 * validator.go Validate):
 * - variables `object`, `oldObject` (null when absent), `request`, `namespaceObject` (null for
 *   cluster-scoped requests), `params` (only when the policy has a paramKind; null without a
 *   param), `variables`, and `authorizer` / `authorizer.requestResource` (when the plugin has an
 *   authorizer; not in messageExpressions, as upstream's message compiler leaves it out).
 *   Using another identifier is a compile error worded as cel-go's (`compilation failed: ERROR:
 *   <input>:1:1: undeclared reference to 'x' (in container '')` and the source line), as is
 *   `variables.<name>` of a variable not declared before (`undefined field '<name>'`).
 * - `variables` are composited: each is evaluated at most once per evaluation, when first used,
 *   and sees the ones before it; a failing one fails the expressions using it (`composited
 *   variable "x" fails to evaluate: …`, `… fails to compile: …`).
 * - an expression that fails at run time is `expression '<e>' resulted in error: <why>`, with
 *   cel-go's `no such key: <k>` for a missing map key; one that failed to compile is
 *   `compilation error: <why>`.
 * Not covered: static type checking (a validation that is not a bool fails at run time instead
 * of being refused when compiled) and the runtime cost budget.
 *
 * This module loads @bufbuild/cel (about half a second): import it lazily (`loadEngine`).
 */
import { CelScalar, celEnv, celError, isCelError, parse, plan } from '@bufbuild/cel';
import type { UserInfo } from '../../../api/types.ts';
import type { AuditAnnotation, MatchCondition, Validation, Variable } from '../../../api/index.ts';
import { Authorizer, AuthzSession, type AuthorizeFn, type RequestResource } from './lib/authz.ts';
import { functionNamespaces, libraryFuncs } from './lib/index.ts';
import { firstScopeProblem, identName, type ExprNode } from '../celscope.ts';
import { typeNameOf } from './lib/opaque.ts';
import { auditAnnotationResult, matchErrorResult, matchOutcome, validationDecision, type Outcome, type ValidateResult } from './validator.ts';

export { AuthzSession, PendingAuthorization } from './lib/authz.ts';

const D = CelScalar.DYN;
const env = celEnv({
  variables: { object: D, oldObject: D, request: D, params: D, namespaceObject: D, variables: D, authorizer: D },
  funcs: [...libraryFuncs],
});

type Program = (bindings: Record<string, unknown>) => unknown;

export interface CompiledExpression {
  expression: string;
  program?: Program;
  /** `compilation failed: …` when it did not compile. */
  error?: string;
}

/** Which optional variables an expression may use. */
export interface Declarations {
  params: boolean;
  authorizer: boolean;
  /** The `variables.<name>` it may read. */
  variables: ReadonlySet<string>;
}

const alwaysDeclared = new Set(['object', 'oldObject', 'request', 'namespaceObject', 'variables']);
const typeIdents = new Set(['int', 'uint', 'double', 'bool', 'string', 'bytes', 'list', 'map', 'null_type', 'type', 'dyn']);

type Problem = { node: ExprNode; message: string };

/** The first identifier or variables field `node` may not use. */
function check(node: ExprNode | undefined, decls: Declarations): Problem | undefined {
  return firstScopeProblem<Problem>(node, {
    ident(name, n, bound) {
      const ok = bound.has(name) || alwaysDeclared.has(name) || typeIdents.has(name) || (name === 'params' && decls.params) || (name === 'authorizer' && decls.authorizer);
      return ok ? undefined : { node: n, message: `undeclared reference to '${name}' (in container '')` };
    },
    select(operand, field, n, bound) {
      if (identName(operand) !== 'variables' || bound.has('variables')) return 'walk';
      return decls.variables.has(field) ? undefined : { node: n, message: `undefined field '${field}'` };
    },
    skipTarget(target, bound) {
      const ns = identName(target);
      return ns !== undefined && functionNamespaces.has(ns) && !bound.has(ns) && !alwaysDeclared.has(ns);
    },
  });
}

/** cel-go's issue text: `ERROR: <input>:L:C: msg`, the source line, and a caret under the column. */
function issue(expression: string, offset: number | undefined, message: string): string {
  if (offset === undefined) return `ERROR: <input>:-1:0: ${message}`;
  const before = expression.slice(0, offset);
  const line = before.split('\n').length;
  const col = offset - (before.lastIndexOf('\n') + 1);
  const text = expression.split('\n')[line - 1] ?? '';
  return `ERROR: <input>:${line}:${col + 1}: ${message}\n | ${text}\n | ${'.'.repeat(col)}^`;
}

/** Compiles one expression; never throws. */
export function compileExpression(expression: string, decls: Declarations): CompiledExpression {
  let parsed: ReturnType<typeof parse>;
  try {
    parsed = parse(expression);
  } catch (err) {
    const msg = err instanceof Error ? err.message : String(err);
    const m = /^<input>:(\d+):(\d+): (.*)$/s.exec(msg);
    if (!m) return { expression, error: `compilation failed: ERROR: <input>: Syntax error: ${msg}` };
    const lines = expression.split('\n');
    let offset = 0;
    for (let i = 0; i < Number(m[1]) - 1; i++) offset += (lines[i]?.length ?? 0) + 1;
    return { expression, error: `compilation failed: ${issue(expression, offset + Number(m[2]) - 1, `Syntax error: ${m[3]}`)}` };
  }
  const bad = check(parsed.expr as ExprNode, decls);
  if (bad) {
    const pos = bad.node.id === undefined ? undefined : parsed.sourceInfo?.positions[String(bad.node.id)];
    return { expression, error: `compilation failed: ${issue(expression, pos, bad.message)}` };
  }
  try {
    return { expression, program: plan(env, parsed) as unknown as Program };
  } catch (err) {
    return { expression, error: `program instantiation failed: ${err instanceof Error ? err.message : String(err)}` };
  }
}

/** cel-go's wording for errors @bufbuild/cel words otherwise. */
export const celMessage = (m: string): string => m.replace(/^field not found: /, 'no such key: ');

/** Runs a program; a thrown error becomes an error result. */
function run(p: Program, bindings: Record<string, unknown>): unknown {
  try {
    return p(bindings);
  } catch (err) {
    return celError(err);
  }
}

/** An expression's outcome with upstream's error wording. */
function outcome(c: CompiledExpression, bindings: Record<string, unknown>): Outcome {
  if (!c.program) return { error: `compilation error: ${c.error ?? 'unexpected internal error compiling expression'}` };
  const r = run(c.program, bindings);
  if (isCelError(r)) return { error: `expression '${c.expression}' resulted in error: ${celMessage(r.message)}` };
  return { value: r, type: typeNameOf(r) };
}

const mapBrand = Symbol.for('@bufbuild/cel/map');

/** The `variables` map of one activation: each variable evaluated when first read, then kept. */
class CompositedVariables {
  readonly #compiled: ReadonlyMap<string, CompiledExpression>;
  readonly #activation: Record<string, unknown>;
  readonly #values = new Map<string, unknown>();
  constructor(compiled: ReadonlyMap<string, CompiledExpression>, activation: Record<string, unknown>) {
    this.#compiled = compiled;
    this.#activation = activation;
  }
  get size(): number {
    return this.#compiled.size;
  }
  get(name: unknown): unknown {
    if (typeof name !== 'string') return undefined;
    if (this.#values.has(name)) return this.#values.get(name);
    const c = this.#compiled.get(name);
    if (!c) return undefined;
    let v: unknown;
    if (!c.program) v = celError(`composited variable ${JSON.stringify(name)} fails to compile: ${c.error}`);
    else {
      v = run(c.program, this.#activation);
      if (isCelError(v)) v = celError(`composited variable ${JSON.stringify(name)} fails to evaluate: ${celMessage(v.message)}`);
    }
    this.#values.set(name, v);
    return v;
  }
  has(name: unknown): boolean {
    return typeof name === 'string' && this.#compiled.has(name);
  }
  *entries(): IterableIterator<[string, unknown]> {
    for (const k of this.#compiled.keys()) yield [k, this.get(k)];
  }
  keys(): IterableIterator<string> {
    return this.#compiled.keys();
  }
  *values(): IterableIterator<unknown> {
    for (const k of this.#compiled.keys()) yield this.get(k);
  }
  forEach(cb: (v: unknown, k: string, m: this) => void, thisArg?: unknown): void {
    for (const [k, v] of this.entries()) cb.call(thisArg, v, k, this);
  }
  [Symbol.iterator](): IterableIterator<[string, unknown]> {
    return this.entries();
  }
}
Object.defineProperty(CompositedVariables.prototype, mapBrand, { value: {} });

/** The parts of a ValidatingAdmissionPolicy spec that hold CEL. */
export interface PolicyCel {
  validations?: readonly Validation[];
  auditAnnotations?: readonly AuditAnnotation[];
  matchConditions?: readonly MatchCondition[];
  variables?: readonly Variable[];
}

/** The values one evaluation sees, already in CEL form (see `toCel`). */
export interface EvaluationInput {
  object: unknown;
  oldObject: unknown;
  request: unknown;
  params: unknown;
  namespaceObject: unknown;
  /** The `authorizer` value (`newAuthorizer`), when the plugin has one. */
  authorizer?: unknown;
}

/** A compiled policy. */
export interface PolicyEngine {
  /** Compile errors of every expression, in spec order (for logs and tests). */
  readonly compileErrors: readonly string[];
  /**
   * Upstream Validate for one binding and param: matchConditions, validations (messages asked
   * for failures only) and audit annotations. Synchronous; an authorizer check that is not
   * decided yet makes the results depend on it: when the session has pending checks afterwards,
   * settle them and evaluate again.
   */
  evaluate(input: EvaluationInput): ValidateResult;
}

/** Compiles a policy's expressions, as upstream's compilePolicy. `ignore` is failurePolicy Ignore. */
export function compilePolicy(spec: PolicyCel, opts: { params: boolean; authorizer: boolean; ignore: boolean }): PolicyEngine {
  const variables = new Map<string, CompiledExpression>();
  const seen = new Set<string>();
  for (const v of spec.variables ?? []) {
    variables.set(v.name, compileExpression(v.expression, { params: opts.params, authorizer: opts.authorizer, variables: new Set(seen) }));
    seen.add(v.name);
  }
  const full: Declarations = { params: opts.params, authorizer: opts.authorizer, variables: seen };
  const noAuthz: Declarations = { ...full, authorizer: false };
  const validations = (spec.validations ?? []).map((v) => ({ spec: v, compiled: compileExpression(v.expression, full), message: v.messageExpression ? compileExpression(v.messageExpression, noAuthz) : undefined }));
  const conditions = (spec.matchConditions ?? []).map((c) => compileExpression(c.expression, full));
  const audits = (spec.auditAnnotations ?? []).map((a) => ({ spec: a, compiled: compileExpression(a.valueExpression, full) }));
  const compileErrors = [...variables.values(), ...conditions, ...validations.flatMap((v) => [v.compiled, ...(v.message ? [v.message] : [])]), ...audits.map((a) => a.compiled)]
    .filter((c) => c.error !== undefined)
    .map((c) => c.error!);
  const ignore = opts.ignore;

  const activation = (input: EvaluationInput, withAuthorizer: boolean): Record<string, unknown> => {
    const act: Record<string, unknown> = { object: input.object, oldObject: input.oldObject, request: input.request, params: input.params, namespaceObject: input.namespaceObject };
    if (withAuthorizer && input.authorizer !== undefined) act['authorizer'] = input.authorizer;
    act['variables'] = new CompositedVariables(variables, act);
    return act;
  };

  return {
    compileErrors,
    evaluate(input) {
      const act = activation(input, true);
      if (conditions.length) {
        const outcomes: Outcome[] = [];
        for (const c of conditions) {
          const o = outcome(c, act);
          outcomes.push(o);
          if (o.value === false) break;
        }
        const m = matchOutcome(outcomes, { ignore });
        if (m.error !== undefined) return matchErrorResult(m.error, { ignore });
        if (!m.matches) return { decisions: [], auditAnnotations: [] };
      }
      // Messages and audit annotations see no authorizer, as upstream binds them.
      let plain: Record<string, unknown> | undefined;
      const plainAct = () => (plain ??= activation(input, false));
      const decisions = validations.map((v) =>
        validationDecision(v.spec, outcome(v.compiled, act), { ignore, message: () => (v.message ? outcome(v.message, plainAct()) : undefined) }),
      );
      const auditAnnotations = audits.map((a) => auditAnnotationResult(a.spec, outcome(a.compiled, plainAct()), { ignore }));
      return { decisions, auditAnnotations };
    },
  };
}

/** The `authorizer` value for a request's user; `requestResource` describes the request's resource. */
export function newAuthorizer(session: AuthzSession, opts: { user: UserInfo; requestResource?: RequestResource }): unknown {
  return new Authorizer(session, opts);
}

/** A session for one admission request's authorization checks. */
export function newAuthzSession(authorize: AuthorizeFn): AuthzSession {
  return new AuthzSession(authorize);
}
