/**
 * x-kubernetes-validations: compiling a structural schema's rules and evaluating them on custom
 * resources, as upstream's apiextensions-apiserver pkg/apiserver/schema/cel (compilation.go,
 * validation.go) at Kubernetes 1.33:
 * - a Validator tree parallel to the schema (properties, items, additionalProperties, allOf),
 *   holding only the branches with rules; each rule is type checked against the node's CEL type
 *   (cel-model.ts) with `self` and `oldSelf` (optional_type(self) under optionalOldSelf), must be
 *   a bool (`cel expression must evaluate to a bool`), messageExpression a string;
 * - evaluation visits present, non-null values; rules using oldSelf run only where an old value
 *   correlates (object properties of granular/atomic maps, map-list items by their keys), unless
 *   optionalOldSelf; a false rule gives `Invalid value: "<schema type>": <message>` (or
 *   Forbidden/Required/Duplicate by `reason`) at the node's path plus `fieldPath`; the message is
 *   the messageExpression's (trimmed; not empty, at most 5 KiB, one line), else `message`, else
 *   `failed rule: <rule>`;
 * - errors: `<err> evaluating rule: <rule>`, `'no such overload': call arguments did not match…`,
 *   the per-call cost limit (`'operation cancelled: actual cost limit exceeded': no further
 *   validation rules will be run due to call cost exceeds limit for rule: …`) and the runtime
 *   budget (`validation failed due to running out of cost budget, no further validation rules
 *   will be run`), both of which stop the evaluation;
 * - ratcheting (CRDValidationRatcheting, on in 1.33): on update, failures of rules without
 *   oldSelf on values equal to their correlated old value become warnings.
 * The runtime cost is an approximation: @bufbuild/cel tracks no cost, so each evaluation is
 * charged its expression's node count plus, for each list element walked, the heaviest loop
 * body's node count (cel-values.ts Meter). The root's path is upstream's nil path, `<nil>`.
 *
 * Loads @bufbuild/cel: cel.ts requires this module only for schemas that have rules.
 */
import { CelScalar, celEnv, isCelError, parse, plan } from '@bufbuild/cel';
import type { JSONSchemaProps, ValidationRule } from '../../api/index.ts';
import type { StatusCause } from '../../api/types.ts';
import { duplicate, fieldError, forbidden, invalidValue, jsonEqual, notSupported, required } from '../../api/validation.ts';
import { formatIssues, T, tryCheckExpression, type CelType, type CheckEnv } from '../../apiserver/admission/policy/celcheck.ts';
import { functions, typeIdents } from '../../apiserver/admission/policy/celdecls.ts';
import { celMessage } from '../../apiserver/admission/policy/engine.ts';
import { libraryFuncs } from '../../apiserver/admission/policy/lib/index.ts';
import { estimateCost, iterationWeight, nodeCount } from './cel-cost.ts';
import { additional, declCelType, escapeFieldName, items, mapIsCorrelatable, maxRequestSizeBytes, schemaDecl, uniqueSelfTypeName, type Decl } from './cel-model.ts';
import { costLimitMessage, Meter, optionalFuncs, Optional, optionalNone, toCelValue } from './cel-values.ts';

/** Upstream's celconfig.PerCallLimit. */
export const perCallLimit = 1_000_000;
/** Upstream's celconfig.RuntimeCELCostBudget (per object). */
export const runtimeCostBudget = 10_000_000;
/** Upstream's StaticEstimatedCostLimit (per expression). */
export const staticEstimatedCostLimit = 10_000_000;
/** Upstream's StaticEstimatedCRDCostLimit (all expressions of a schema). */
export const staticEstimatedCRDCostLimit = 100_000_000;
/** Upstream's celconfig.MaxEvaluatedMessageExpressionSizeBytes. */
export const maxMessageExpressionBytes = 5 * 1024;
/** The reasons a rule may give (upstream's supportedValidationReason, sorted). */
export const supportedReasons = ['FieldValueDuplicate', 'FieldValueForbidden', 'FieldValueInvalid', 'FieldValueRequired'] as const;

const D = CelScalar.DYN;
const env = celEnv({ variables: { self: D, oldSelf: D }, funcs: [...libraryFuncs, ...optionalFuncs] });

type Program = (bindings: Record<string, unknown>) => unknown;

/** One compiled rule (upstream's CompilationResult). */
interface CompiledRule {
  readonly rule: ValidationRule;
  readonly program?: Program;
  /** The compile error's detail (`compilation failed: …`, `cel expression must evaluate to a bool`). */
  readonly error?: string;
  readonly usesOldSelf: boolean;
  readonly maxCost: number;
  readonly message?: Program;
  readonly messageError?: string;
  readonly messageMaxCost: number;
  /** The rule's fieldPath, normalized (`spec.x[key]` style, relative). */
  readonly fieldPath?: string;
  /** Runtime charges: per evaluation, and per walked list element. */
  readonly base: number;
  readonly weight: number;
}

/** A node of the Validator tree. */
interface Validator {
  readonly schema: JSONSchemaProps;
  readonly root: boolean;
  readonly rules: readonly CompiledRule[];
  readonly compileError?: string;
  readonly usesOldSelf: boolean;
  readonly properties?: ReadonlyMap<string, Validator>;
  readonly items?: Validator;
  readonly additional?: Validator;
  readonly allOf?: readonly Validator[];
  /** The minimum serialized size of the node's type (for upstream's cardinality estimate). */
  readonly minSize: number;
}

// ---- compiling -------------------------------------------------------------------------------

/** Whether the expression reads `oldSelf` (not a comprehension variable of that name). */
function usesIdent(node: unknown, name: string, bound = false): boolean {
  const n = node as { exprKind?: { case?: string; value?: any } } | undefined;
  const k = n?.exprKind;
  if (!k?.value) return false;
  const v = k.value;
  switch (k.case) {
    case 'identExpr':
      return !bound && v.name === name;
    case 'selectExpr':
      return usesIdent(v.operand, name, bound);
    case 'callExpr':
      return usesIdent(v.target, name, bound) || (v.args as unknown[]).some((a) => usesIdent(a, name, bound));
    case 'listExpr':
      return (v.elements as unknown[]).some((a) => usesIdent(a, name, bound));
    case 'structExpr':
      return (v.entries as { keyKind?: { case?: string; value?: unknown }; value?: unknown }[]).some((e) => (e.keyKind?.case === 'mapKey' && usesIdent(e.keyKind.value, name, bound)) || usesIdent(e.value, name, bound));
    case 'comprehensionExpr': {
      const inner = bound || v.iterVar === name || v.accuVar === name;
      return usesIdent(v.iterRange, name, bound) || usesIdent(v.accuInit, name, bound) || usesIdent(v.loopCondition, name, inner) || usesIdent(v.loopStep, name, inner) || usesIdent(v.result, name, inner);
    }
  }
  return false;
}

interface RuleEnvs {
  plain: CheckEnv;
  optional: CheckEnv;
}

function ruleEnvs(decl: Decl): RuleEnvs {
  const structs = new Map<string, ReadonlyMap<string, CelType>>();
  const self = declCelType(decl, uniqueSelfTypeName(), structs);
  const idents = (old: CelType) => new Map<string, CelType>([...typeIdents, ['self', self], ['oldSelf', old]]);
  const fns = functions();
  return { plain: { idents: idents(self), functions: fns, structs }, optional: { idents: idents(T.opaque('optional_type', self)), functions: fns, structs } };
}

type Checked = { program: Program; ast: unknown; error?: undefined } | { error: string; program?: undefined; ast?: undefined };

/** Type checks and plans one expression; `want` is the output type it must have. */
function compileExpr(expression: string, checkEnv: CheckEnv, want: 'bool' | 'string', prefix: string): Checked {
  const r = tryCheckExpression(expression, checkEnv);
  if (r.internal === undefined) {
    if (r.issues.length) return { error: `${prefix}compilation failed: ${formatIssues(expression, r)}` };
    if (r.outputType.kind !== want) return { error: want === 'bool' ? 'cel expression must evaluate to a bool' : 'messageExpression must evaluate to a string' };
  }
  try {
    const ast = parse(expression);
    return { program: plan(env, ast) as unknown as Program, ast: ast.expr };
  } catch (err) {
    return { error: `${want === 'bool' ? 'program' : 'messageExpression'} instantiation failed: ${err instanceof Error ? err.message : String(err)}` };
  }
}

function compileRule(rule: ValidationRule, node: JSONSchemaProps, decl: Decl, envs: () => RuleEnvs): CompiledRule {
  const empty = { rule, usesOldSelf: false, maxCost: 0, messageMaxCost: 0, base: 0, weight: 1 };
  if (!rule.rule?.trim()) return empty;
  const e = envs();
  const checkEnv = rule.optionalOldSelf ? e.optional : e.plain;
  const c = compileExpr(rule.rule, checkEnv, 'bool', '');
  if (c.error !== undefined) return { ...empty, error: c.error };
  const out: { -readonly [K in keyof CompiledRule]: CompiledRule[K] } = {
    rule,
    program: c.program,
    usesOldSelf: usesIdent(c.ast, 'oldSelf'),
    maxCost: estimateCost(c.ast, decl),
    messageMaxCost: 0,
    base: nodeCount(c.ast),
    weight: iterationWeight(c.ast),
  };
  if (rule.messageExpression) {
    const m = compileExpr(rule.messageExpression, checkEnv, 'string', 'messageExpression ');
    if (m.error !== undefined) out.messageError = m.error;
    else {
      out.message = m.program;
      out.messageMaxCost = estimateCost(m.ast, decl);
    }
  }
  if (rule.fieldPath) {
    const p = validFieldPath(rule.fieldPath, node);
    if (p.path !== undefined) out.fieldPath = p.path;
  }
  return out;
}

/** Upstream's validator(): the Validator for `nodeSchema` with the rules of `validationSchema` (they differ inside allOf). */
function compileNode(validation: JSONSchemaProps, node: JSONSchemaProps, root: boolean, decl: Decl | undefined): Validator | undefined {
  const xv = validation['x-kubernetes-validations'] ?? [];
  let rules: CompiledRule[] = [];
  let compileError: string | undefined;
  if (xv.length) {
    if (!decl) compileError = 'failed to convert to declType for CEL validation rules';
    else {
      let envs: RuleEnvs | undefined;
      rules = xv.map((r) => compileRule(r, node, decl, () => (envs ??= ruleEnvs(decl))));
    }
  }
  const vi = items(validation);
  const ni = items(node);
  const itemsV = vi && ni ? compileNode(vi, ni, ni['x-kubernetes-embedded-resource'] === true, decl?.elem) : undefined;
  let properties: Map<string, Validator> | undefined;
  for (const [k, vp] of Object.entries(validation.properties ?? {})) {
    const np = node.properties?.[k];
    if (!np) continue;
    let fd: Decl | undefined;
    if (escapeFieldName(k) !== undefined) {
      fd = decl?.fields?.get(escapeFieldName(k)!);
      if (!fd) continue;
    } else {
      fd = schemaDecl(np, np['x-kubernetes-embedded-resource'] === true);
      if (!fd) continue;
    }
    const p = compileNode(vp, np, np['x-kubernetes-embedded-resource'] === true, fd);
    if (p) (properties ??= new Map()).set(k, p);
  }
  const va = additional(validation);
  const na = additional(node);
  const additionalV = va && na ? compileNode(va, na, na['x-kubernetes-embedded-resource'] === true, decl?.elem) : undefined;
  const allOf = (validation.allOf ?? []).map((a) => compileNode(a, node, root, decl)).filter((v): v is Validator => v !== undefined);
  if (!rules.length && compileError === undefined && !itemsV && !properties && !additionalV && !allOf.length) return undefined;
  return {
    schema: node,
    root,
    rules,
    ...(compileError !== undefined && { compileError }),
    usesOldSelf: rules.some((r) => r.usesOldSelf),
    ...(properties && { properties }),
    ...(itemsV && { items: itemsV }),
    ...(additionalV && { additional: additionalV }),
    ...(allOf.length && { allOf }),
    minSize: decl?.minSize ?? 1,
  };
}

/** Upstream's hasXValidations. */
function hasRules(s: JSONSchemaProps | undefined): boolean {
  if (!s) return false;
  if (s['x-kubernetes-validations']?.length) return true;
  if (hasRules(items(s)) || hasRules(additional(s))) return true;
  for (const p of Object.values(s.properties ?? {})) if (hasRules(p)) return true;
  return false;
}

/** The Validator of a custom resource's schema; undefined when it has no rules. */
export function compileValidator(schema: JSONSchemaProps): Validator | undefined {
  if (!hasRules(schema)) return undefined;
  return compileNode(schema, schema, true, schemaDecl(schema, true));
}

export type { Validator };

// ---- fieldPath (upstream's ValidFieldPath) ---------------------------------------------------

const goEscapes: Record<string, string> = { a: '\x07', b: '\b', f: '\f', n: '\n', r: '\r', t: '\t', v: '\v', "'": "'", '\\': '\\' };

/** Splits a JSON path into `.`, `[`, `]` and the text between (single-quoted strings kept whole). */
function tokens(path: string): string[] {
  const out: string[] = [];
  let i = 0;
  while (i < path.length) {
    if (path[i] === "'") {
      let j = i + 1;
      while (j < path.length && !(path[j] === "'" && path[j - 1] !== '\\')) j++;
      out.push(path.slice(i, j + 1));
      i = j + 1;
      continue;
    }
    if ('.[]'.includes(path[i]!)) {
      out.push(path[i]!);
      i++;
      continue;
    }
    let j = i;
    while (j < path.length && !'.[]'.includes(path[j]!)) j++;
    out.push(path.slice(i, j));
    i = j;
  }
  return out;
}

/** The normalized path (`a.b[key]`) of a rule's fieldPath within `schema`, or why it is invalid. */
export function validFieldPath(jsonPath: string, schema: JSONSchemaProps, opts: { allowArrayNotation?: boolean } = {}): { path: string; schema: JSONSchemaProps; error?: undefined } | { error: string; path?: undefined } {
  let path = '';
  let s: JSONSchemaProps | undefined = schema;
  const append = (name: string, named: boolean): string | undefined => {
    if (!named) {
      path += `[${name}]`;
      s = additional(s!);
      return undefined;
    }
    path += path ? `.${name}` : name;
    const p: JSONSchemaProps | undefined = s!.properties?.[name];
    if (!p) return 'does not refer to a valid field';
    s = p;
    return undefined;
  };
  const named = (): boolean | undefined => (s?.properties ? true : s && additional(s) ? false : undefined);
  const toks = tokens(jsonPath);
  for (let i = 0; i < toks.length; i++) {
    const tok = toks[i]!;
    if (tok === '[') {
      if (opts.allowArrayNotation === false) return { error: 'array notation is not allowed' };
      const q = toks[++i];
      if (q === undefined) return { error: 'unexpected end of JSON path' };
      if (q.length < 2 || !q.startsWith("'") || !q.endsWith("'")) return { error: `expected single quoted string but got ${q}` };
      let bad: string | undefined;
      const unescaped = q.slice(1, -1).replace(/\\./g, (m) => {
        const r = goEscapes[m[1]!];
        if (r === undefined) bad ??= `invalid escape char ${m}`;
        return r ?? '';
      });
      if (bad) return { error: `invalid string literal: ${bad}` };
      const n = named();
      if (n === undefined) return { error: 'does not refer to a valid field' };
      const err = append(unescaped, n);
      if (err) return { error: err };
      const close = toks[++i];
      if (close === undefined) return { error: 'unexpected end of JSON path' };
      if (close !== ']') return { error: `expected ] but got ${close}` };
    } else if (tok === '.') {
      const name = toks[++i];
      if (name === undefined) return { error: 'unexpected end of JSON path' };
      const n = named();
      if (n === undefined) return { error: 'does not refer to a valid field' };
      const err = append(name, n);
      if (err) return { error: err };
    } else return { error: `expected [ or . but got: ${tok}` };
  }
  return { path, schema: s ?? {} };
}

// ---- evaluating ------------------------------------------------------------------------------

const nilPath = '<nil>';
const child = (p: string, name: string) => (p === nilPath ? name : `${p}.${name}`);
const keyed = (p: string, key: string | number) => `${p === nilPath ? '' : p}[${key}]`;

export interface ValidateOptions {
  /** Ratcheted failures (upstream adds them as warnings), each `field: message`. */
  warnings?: string[];
  /** The runtime budget (default upstream's 10,000,000). */
  budget?: number;
  /** The per-call limit (default upstream's 1,000,000). */
  perCallLimit?: number;
}

interface Run {
  budget: number;
  readonly meter: Meter;
  readonly perCall: number;
  readonly errors: StatusCause[];
  readonly warnings: string[] | undefined;
}

/** Go's %q for strings. */
function goQuote(s: string): string {
  return JSON.stringify(s).replace(/\\u00([0-7][0-9a-f])/g, (_, h: string) => ({ '07': '\\a', '0b': '\\v' })[h] ?? `\\x${h}`);
}

const ruleErrorString = (r: ValidationRule) => (r.message ? r.message.trim() : r.rule.trim());
const ruleMessageOrDefault = (r: ValidationRule) => (r.message ? r.message.trim() : `failed rule: ${ruleErrorString(r)}`);

function fieldErrorForReason(path: string, type: string, detail: string, reason: string | undefined): StatusCause {
  switch (reason) {
    case 'FieldValueForbidden':
      return forbidden(path, detail);
    case 'FieldValueRequired':
      return required(path, detail);
    case 'FieldValueDuplicate':
      return duplicate(path, type);
  }
  return invalidValue(path, type, detail);
}

/** Runs a program on the meter; a thrown error becomes an error value. */
function runProgram(p: Program, bindings: Record<string, unknown>, run: Run, weight: number): unknown {
  const m = run.meter;
  m.cost = 0;
  m.limit = run.perCall;
  m.weight = weight;
  try {
    return p(bindings);
  } catch (err) {
    return err instanceof Error ? err : new Error(String(err));
  }
}

const errorText = (v: unknown): string | undefined => (isCelError(v) || v instanceof Error ? celMessage((v as Error).message) : undefined);

/** Evaluates the node's own rules; false when the evaluation must stop. */
function validateExpressions(v: Validator, path: string, obj: unknown, old: unknown, ratchet: () => boolean, run: Run): boolean {
  const type = v.schema.type ?? '';
  if (v.compileError !== undefined) {
    run.errors.push(invalidValue(path, type, `rule compiler initialization error: ${v.compileError}`));
    return true;
  }
  if (!v.rules.length) return true;
  if (run.budget <= 0) {
    run.errors.push(invalidValue(path, type, 'validation failed due to running out of cost budget, no further validation rules will be run'));
    run.budget = -1;
    return false;
  }
  const meter = run.meter;
  const self = toCelValue(obj, v.schema, meter, v.root);
  const hasOld = old !== undefined && old !== null;
  const oldSelf = v.usesOldSelf && hasOld ? toCelValue(old, v.schema, meter, v.root) : undefined;
  const bindings: Record<string, unknown> = oldSelf === undefined ? { self } : { self, oldSelf };
  let optionalBindings: Record<string, unknown> | undefined;
  for (const c of v.rules) {
    const rule = c.rule;
    if (c.error !== undefined) {
      run.errors.push(invalidValue(path, type, `rule compile error: ${c.error}`));
      continue;
    }
    if (!c.program) continue;
    if (c.usesOldSelf && !hasOld && !rule.optionalOldSelf) continue;
    const act = rule.optionalOldSelf ? (optionalBindings ??= { self, oldSelf: oldSelf === undefined ? optionalNone : new Optional(true, oldSelf) }) : bindings;
    const result = runProgram(c.program, act, run, c.weight);
    const cost = meter.cost + c.base;
    const err = errorText(result);
    if (err !== undefined && err.startsWith(costLimitMessage)) {
      run.errors.push(invalidValue(path, type, `'${costLimitMessage}': no further validation rules will be run due to call cost exceeds limit for rule: ${ruleErrorString(rule)}`));
      run.budget = -1;
      return false;
    }
    if (cost > run.budget) {
      run.errors.push(invalidValue(path, type, 'validation failed due to running out of cost budget, no further validation rules will be run'));
      run.budget = -1;
      return false;
    }
    run.budget -= cost;
    if (err !== undefined) {
      if (err.startsWith('found no matching overload') || err.startsWith('no such overload') || err.startsWith('unbound function')) {
        run.errors.push(invalidValue(path, type, `'no such overload': call arguments did not match a supported operator, function or macro signature for rule: ${ruleErrorString(rule)}`));
      } else run.errors.push(invalidValue(path, type, `${err} evaluating rule: ${ruleErrorString(rule)}`));
      continue;
    }
    if (result === true) continue;
    const at = c.fieldPath ? child(path, c.fieldPath) : path;
    const add = (e: StatusCause) => {
      if (!c.usesOldSelf && hasOld && ratchet()) run.warnings?.push(`${e.field}: ${e.message}`);
      else run.errors.push(e);
    };
    let detail: string | undefined;
    if (c.message) {
      const m = runProgram(c.message, bindings, run, 1);
      const mcost = meter.cost;
      const merr = errorText(m);
      if (merr !== undefined && merr.startsWith(costLimitMessage)) {
        add(invalidValue(at, type, `no further validation rules will be run due to call cost exceeds limit for messageExpression: ${goQuote(rule.messageExpression ?? '')}`));
        run.budget = -1;
        return false;
      }
      if (mcost > run.budget) {
        add(invalidValue(at, type, 'messageExpression evaluation failed due to running out of cost budget, no further validation rules will be run'));
        run.budget = -1;
        return false;
      }
      run.budget -= mcost;
      if (typeof m === 'string') {
        const t = m.trim();
        if (t && Buffer.byteLength(t) <= maxMessageExpressionBytes && !t.includes('\n')) detail = t;
      }
    }
    add(fieldErrorForReason(at, type, detail ?? ruleMessageOrDefault(rule), rule.reason));
  }
  return true;
}

/** The old item of a map list that has the same keys as `item`. */
function mapListLookup(schema: JSONSchemaProps, old: unknown): ((item: unknown) => unknown) | undefined {
  if (schema['x-kubernetes-list-type'] !== 'map' || !Array.isArray(old) || !old.length) return undefined;
  const keys = schema['x-kubernetes-list-map-keys'] ?? [];
  const keyOf = (x: unknown) => (typeof x === 'object' && x !== null ? JSON.stringify(keys.map((k) => (x as Record<string, unknown>)[k] ?? null)) : undefined);
  let index: Map<string, unknown> | undefined;
  return (item) => {
    if (!index) {
      index = new Map();
      for (const o of old) {
        const k = keyOf(o);
        if (k !== undefined && !index.has(k)) index.set(k, o);
      }
    }
    const k = keyOf(item);
    return k === undefined ? undefined : index.get(k);
  };
}

/** Upstream's Validator.validate: this node's rules, allOf, then the values below. False stops. */
function validateNode(v: Validator, path: string, obj: unknown, old: unknown, ratchet: () => boolean, run: Run): boolean {
  if (obj === null || obj === undefined) return true;
  if (!validateExpressions(v, path, obj, old, ratchet, run)) return false;
  for (const a of v.allOf ?? []) if (!validateNode(a, path, obj, old, ratchet, run)) return false;
  const equalTo = (x: unknown, o: unknown) => {
    let memo: boolean | undefined;
    return () => (memo ??= jsonEqual(x, o));
  };
  if (Array.isArray(obj)) {
    if (!v.items) return true;
    const lookup = mapListLookup(v.schema, old);
    for (let i = 0; i < obj.length; i++) {
      const o = lookup ? lookup(obj[i]) : undefined;
      if (!validateNode(v.items, keyed(path, i), obj[i], o, o === undefined ? ratchet : equalTo(obj[i], o), run)) return false;
    }
    return true;
  }
  if (typeof obj === 'object') {
    const m = obj as Record<string, unknown>;
    const om = old !== null && typeof old === 'object' && !Array.isArray(old) && mapIsCorrelatable(v.schema['x-kubernetes-map-type']) ? (old as Record<string, unknown>) : undefined;
    if (v.additional) {
      for (const k in m) {
        const o = om?.[k];
        if (!validateNode(v.additional, keyed(path, k), m[k], o, o === undefined ? ratchet : equalTo(m[k], o), run)) return false;
      }
    }
    if (v.properties) {
      for (const k in m) {
        const p = v.properties.get(k);
        if (!p) continue;
        const o = om?.[k];
        if (!validateNode(p, child(path, k), m[k], o, o === undefined ? ratchet : equalTo(m[k], o), run)) return false;
      }
    }
  }
  return true;
}

/** Evaluates a Validator on a whole custom resource; `old` is the stored object on update. */
export function validateWith(v: Validator, obj: unknown, old: unknown, opts: ValidateOptions = {}): StatusCause[] {
  const run: Run = { budget: opts.budget ?? runtimeCostBudget, meter: new Meter(), perCall: opts.perCallLimit ?? perCallLimit, errors: [], warnings: opts.warnings };
  const o = old ?? undefined;
  validateNode(v, nilPath, obj, o, o === undefined ? () => false : () => jsonEqual(obj, o), run);
  return run.errors;
}

// ---- CRD validation --------------------------------------------------------------------------

/** Go's %#v of the internal apiextensions.ValidationRule (upstream prints the rule so). */
function ruleGoString(r: ValidationRule): string {
  const ptr = (v: unknown, t: string) => (v === undefined ? `(*${t})(nil)` : `(*${t})(0xc000000000)`);
  return `apiextensions.ValidationRule{Rule:${goQuote(r.rule ?? '')}, Message:${goQuote(r.message ?? '')}, MessageExpression:${goQuote(r.messageExpression ?? '')}, Reason:${ptr(r.reason, 'apiextensions.FieldValueErrorReason')}, FieldPath:${goQuote(r.fieldPath ?? '')}, OptionalOldSelf:${ptr(r.optionalOldSelf, 'bool')}}`;
}

/** A cost over its limit, as upstream's getCostErrorMessage. */
export function costErrorMessage(name: string, cost: number, limit: number): string {
  const f = cost / limit;
  const factor = f > 100 ? 'more than 100x' : f < 1.5 ? `${f.toFixed(6)}x` : `${f.toFixed(1)}x`;
  return `${name} exceeds budget by factor of ${factor} (try simplifying the rule, or adding maxItems, maxProperties, and maxLength where arrays, maps, and strings are declared)`;
}

const hasNewlines = (s: string) => /[\n\r]/.test(s);

/** Upstream's extractMaxElements; undefined is unbounded. */
function maxElementsOf(s: JSONSchemaProps): number | undefined {
  if (s.type === 'object') return s.additionalProperties !== undefined && s.additionalProperties !== false ? (s.maxProperties !== undefined ? Math.max(0, s.maxProperties) : undefined) : 1;
  if (s.type === 'array') return s.maxItems !== undefined ? Math.max(0, s.maxItems) : undefined;
  return 1;
}

interface SchemaWalk {
  schemaErrors: StatusCause[];
  celErrors: StatusCause[];
  costs: { path: string; cost: number }[];
}

/** Checks one schema node and those below it, as upstream's ValidateCustomResourceDefinitionOpenAPISchema does for rules. */
function checkSchema(
  s: JSONSchemaProps,
  path: string,
  ctx: { decl: Decl | undefined | null; inScope: boolean; cardinality: number | undefined; forbidOldSelf: string | undefined; root: boolean; cel: boolean },
  w: SchemaWalk,
): number {
  const before = w.schemaErrors.length;
  const childCtx = (c: JSONSchemaProps, decl: Decl | undefined | null, forbid: string | undefined) => {
    const me = maxElementsOf(s);
    return {
      decl,
      inScope: ctx.inScope || !!c['x-kubernetes-validations']?.length,
      cardinality: ctx.cardinality === undefined || me === undefined ? undefined : ctx.cardinality * me,
      forbidOldSelf: forbid,
      root: false,
      cel: ctx.cel,
    };
  };
  // decl: undefined = not computed yet (computed from the node when needed), null = not exposed.
  const nodeDecl = (): Decl | undefined => (ctx.decl === undefined ? schemaDecl(s, ctx.root || s['x-kubernetes-embedded-resource'] === true) : (ctx.decl ?? undefined));
  let declMemo: Decl | undefined | null;
  const decl = () => (declMemo === undefined ? (declMemo = nodeDecl() ?? null) : declMemo) ?? undefined;
  const ap = additional(s);
  if (ap) checkSchema(ap, `${path}.additionalProperties`, childCtx(ap, ctx.inScope ? (decl()?.kind === 'map' ? decl()!.elem : undefined) : undefined, ctx.forbidOldSelf), w);
  for (const [k, p] of Object.entries(s.properties ?? {})) {
    const forbid = ctx.forbidOldSelf ?? (mapIsCorrelatable(s['x-kubernetes-map-type']) ? undefined : path);
    const f = escapeFieldName(k);
    const pd = ctx.inScope && f !== undefined ? (decl()?.fields?.get(f) ?? undefined) : undefined;
    checkSchema(p, `${path}.properties[${k}]`, childCtx(p, pd, forbid), w);
  }
  const it = items(s);
  if (s.items) {
    const forbid = ctx.forbidOldSelf ?? (s['x-kubernetes-list-type'] !== 'map' ? path : undefined);
    if (it) checkSchema(it, `${path}.items`, childCtx(it, ctx.inScope ? (decl()?.kind === 'list' ? decl()!.elem : undefined) : undefined, forbid), w);
    else (s.items as JSONSchemaProps[]).forEach((x, i) => checkSchema(x, `${path}.items[${i}]`, { ...childCtx(x, undefined, forbid), cel: false }, w));
  }
  for (const [key, list] of [['allOf', s.allOf], ['anyOf', s.anyOf], ['oneOf', s.oneOf]] as const) {
    (list ?? []).forEach((x, i) => checkSchema(x, `${path}.${key}[${i}]`, { decl: null, inScope: false, cardinality: undefined, forbidOldSelf: ctx.forbidOldSelf, root: false, cel: false }, w));
  }
  if (s.not) checkSchema(s.not, `${path}.not`, { decl: null, inScope: false, cardinality: undefined, forbidOldSelf: ctx.forbidOldSelf, root: false, cel: false }, w);

  const rules = s['x-kubernetes-validations'] ?? [];
  if (!rules.length) return w.schemaErrors.length - before;
  rules.forEach((r, i) => {
    const at = `${path}.x-kubernetes-validations[${i}]`;
    const rule = (r.rule ?? '').trim();
    const msg = (r.message ?? '').trim();
    if (!rule) w.schemaErrors.push(required(`${at}.rule`, 'rule is not specified'));
    else if (r.message && !msg) w.schemaErrors.push(invalidValue(`${at}.message`, r.message, 'message must be non-empty if specified'));
    else if (hasNewlines(msg)) w.schemaErrors.push(invalidValue(`${at}.message`, r.message, 'message must not contain line breaks'));
    else if (hasNewlines(rule) && !msg) w.schemaErrors.push(required(`${at}.message`, 'message must be specified if rule contains line breaks'));
    if (r.messageExpression !== undefined && r.messageExpression.length > 0 && !r.messageExpression.trim()) w.schemaErrors.push(required(`${at}.messageExpression`, 'messageExpression must be non-empty if specified'));
    if (r.reason !== undefined && !(supportedReasons as readonly string[]).includes(r.reason)) w.schemaErrors.push(notSupported(`${at}.reason`, r.reason, supportedReasons));
    if (r.fieldPath !== undefined && r.fieldPath.length > 0 && !r.fieldPath.trim()) w.schemaErrors.push(invalidValue(`${at}.fieldPath`, r.fieldPath, 'fieldPath must be non-empty if specified'));
    if (r.fieldPath !== undefined && hasNewlines(r.fieldPath)) w.schemaErrors.push(invalidValue(`${at}.fieldPath`, r.fieldPath, 'fieldPath must not contain line breaks'));
    if (r.fieldPath && validFieldPath(r.fieldPath, s).error !== undefined) w.schemaErrors.push(invalidValue(`${at}.fieldPath`, r.fieldPath, 'fieldPath must be a valid path'));
  });
  if (w.schemaErrors.length > before || !ctx.cel) return w.schemaErrors.length - before;
  const d = decl();
  if (!d) {
    w.celErrors.push(fieldError('InternalError', `${path}.x-kubernetes-validations`, 'Internal error: internal error: failed to construct type information for x-kubernetes-validations rules: unable to convert structural schema to CEL declarations'));
    return 0;
  }
  let envs: RuleEnvs | undefined;
  const cardinality = ctx.cardinality ?? Math.floor(maxRequestSizeBytes / (d.minSize + 1));
  rules.forEach((r, i) => {
    const at = `${path}.x-kubernetes-validations[${i}]`;
    const c = compileRule(r, s, d, () => (envs ??= ruleEnvs(d)));
    const cost = c.maxCost * cardinality;
    if (cost > staticEstimatedCostLimit) w.celErrors.push(forbidden(`${at}.rule`, costErrorMessage('estimated rule cost', cost, staticEstimatedCostLimit)));
    w.costs.push({ path: `${at}.rule`, cost });
    if (c.error !== undefined) w.celErrors.push(fieldError('FieldValueInvalid', `${at}.rule`, `Invalid value: ${ruleGoString(r)}: ${c.error}`));
    if (c.messageError !== undefined) w.celErrors.push(fieldError('FieldValueInvalid', `${at}.messageExpression`, `Invalid value: ${ruleGoString(r)}: ${c.messageError}`));
    else if (c.message) {
      if (c.messageMaxCost > staticEstimatedCostLimit) w.celErrors.push(forbidden(`${at}.messageExpression`, costErrorMessage('estimated messageExpression cost', c.messageMaxCost, staticEstimatedCostLimit)));
      w.costs.push({ path: `${at}.messageExpression`, cost: c.messageMaxCost });
    }
    if (c.usesOldSelf) {
      if (ctx.forbidOldSelf !== undefined) w.celErrors.push(invalidValue(`${at}.rule`, r.rule, `oldSelf cannot be used on the uncorrelatable portion of the schema within ${ctx.forbidOldSelf}`));
    } else if (r.optionalOldSelf !== undefined && c.error === undefined) {
      w.celErrors.push(invalidValue(`${at}.optionalOldSelf`, r.optionalOldSelf, 'may not be set if oldSelf is not used in rule'));
    }
  });
  return 0;
}

/** Upstream's TotalCost: how many of the most expensive expressions are named. */
const mostExpensiveCount = 4;

/** CRD validation's part for rules under `fldPath` (`spec.versions[0].schema.openAPIV3Schema`). */
export function schemaErrors(schema: JSONSchemaProps, fldPath: string): StatusCause[] {
  const w: SchemaWalk = { schemaErrors: [], celErrors: [], costs: [] };
  const inScope = !!schema['x-kubernetes-validations']?.length;
  checkSchema(schema, fldPath, { decl: undefined, inScope, cardinality: 1, forbidOldSelf: undefined, root: true, cel: true }, w);
  const out = [...w.schemaErrors, ...w.celErrors];
  const total = w.costs.reduce((a, c) => a + c.cost, 0);
  if (total > staticEstimatedCRDCostLimit) {
    const top = [...w.costs].sort((a, b) => b.cost - a.cost).slice(0, mostExpensiveCount);
    for (const t of top) out.push(forbidden(t.path, 'contributed to estimated rule cost total exceeding cost limit for entire OpenAPIv3 schema'));
    out.push(forbidden(fldPath, costErrorMessage('x-kubernetes-validations estimated rule cost total for entire OpenAPIv3 schema', total, staticEstimatedCRDCostLimit)));
  }
  return out;
}
