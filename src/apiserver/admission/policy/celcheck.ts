/**
 * A CEL type checker over @bufbuild/cel's parsed AST, following cel-go's checker (checker.go,
 * types.go, errors.go, format.go of cel-go v0.23, the version Kubernetes 1.33 builds with), which
 * upstream's ValidatingAdmissionPolicy type checking runs:
 * - identifiers resolve in comprehension scopes, then among the declared variables and type
 *   names; qualified names (`a.b`) are tried as identifiers before field selection, and a member
 *   call on a qualified name is first tried as a namespaced function (`sets.contains(…)`);
 * - field selection on a map yields its value type, on a declared object its field's type
 *   (`undefined field 'x'`; an object type nothing describes is `unexpected failed resolution`),
 *   on dyn dyn, and anything else is `type 'T' does not support field selection`;
 * - overloads resolve by unification of type parameters, the first match giving the result type
 *   (dyn when matches disagree); none is `found no matching overload for 'f' applied to '(…)'`;
 *   `&&` and `||` insist on bool operands (`expected type 'bool' but found 'T'`);
 * - list and map literals are homogeneous, as Kubernetes configures cel-go
 *   (HomogeneousAggregateLiterals): `expected type 'A' but found 'B'`;
 * - comprehensions (the expanded macros) range over lists, maps and dyn only.
 * Issues print as cel-go prints them: `ERROR: <input>:L:C: message`, the source line and a caret,
 * sorted by position, at most 100. Positions are cel-go's: @bufbuild/cel's parser places some
 * nodes elsewhere (a call at its name or `.` rather than its `(`, a binary operator after its left
 * operand, a ternary at its condition), so they are moved to the token cel-go reports.
 *
 * @bufbuild/cel (0.6) cannot type check: its `check` types constants and identifiers only,
 * throws on every other expression kind, and is not exported from the package. This checker is
 * Bosun's own. Not covered: struct literals of declared types (none are declared here), the
 * optional syntax (`?.`, `[?`) and two-variable comprehensions (the parser does not know them), and
 * cel-go's AST validators (regex, duration and timestamp literals).
 */
import { parse } from '@bufbuild/cel';

export type CelType =
  | { readonly kind: 'bool' | 'bytes' | 'double' | 'int' | 'string' | 'uint' | 'null' | 'dyn' | 'any' | 'error' | 'timestamp' | 'duration' }
  | { readonly kind: 'list'; readonly elem: CelType }
  | { readonly kind: 'map'; readonly key: CelType; readonly value: CelType }
  | { readonly kind: 'type'; readonly param?: CelType }
  | { readonly kind: 'opaque'; readonly name: string; readonly params: readonly CelType[] }
  | { readonly kind: 'struct'; readonly name: string }
  | { readonly kind: 'param'; readonly name: string };

const simple = <K extends 'bool' | 'bytes' | 'double' | 'int' | 'string' | 'uint' | 'null' | 'dyn' | 'any' | 'error' | 'timestamp' | 'duration'>(kind: K) => ({ kind }) as const;

/** The types without parameters. */
export const T = {
  bool: simple('bool'),
  bytes: simple('bytes'),
  double: simple('double'),
  int: simple('int'),
  string: simple('string'),
  uint: simple('uint'),
  null: simple('null'),
  dyn: simple('dyn'),
  error: simple('error'),
  timestamp: simple('timestamp'),
  duration: simple('duration'),
  list: (elem: CelType): CelType => ({ kind: 'list', elem }),
  map: (key: CelType, value: CelType): CelType => ({ kind: 'map', key, value }),
  type: (param?: CelType): CelType => (param ? { kind: 'type', param } : { kind: 'type' }),
  opaque: (name: string, ...params: CelType[]): CelType => ({ kind: 'opaque', name, params }),
  struct: (name: string): CelType => ({ kind: 'struct', name }),
  param: (name: string): CelType => ({ kind: 'param', name }),
} as const;

/** A type's parameters (list element, map key and value, opaque parameters, a type's type). */
function paramsOf(t: CelType): readonly CelType[] {
  switch (t.kind) {
    case 'list':
      return [t.elem];
    case 'map':
      return [t.key, t.value];
    case 'opaque':
      return t.params;
    case 'type':
      return t.param ? [t.param] : [];
    default:
      return [];
  }
}

/** cel-go's TypeName: what two types of one kind must share to be the same type. */
function typeName(t: CelType): string {
  switch (t.kind) {
    case 'opaque':
    case 'struct':
    case 'param':
      return t.name;
    default:
      return t.kind;
  }
}

/** cel-go's IsExactType: the same type, parameters included. */
export function isExact(a: CelType, b: CelType): boolean {
  if (a === b) return true;
  if (a.kind !== b.kind || typeName(a) !== typeName(b)) return false;
  const pa = paramsOf(a);
  const pb = paramsOf(b);
  return pa.length === pb.length && pa.every((p, i) => isExact(p, pb[i]!));
}

/** cel-go's FormatCELType: `int`, `list(string)`, `map(string, dyn)`, `type(int)`, object names. */
export function formatType(t: CelType): string {
  switch (t.kind) {
    case 'any':
      return 'any';
    case 'error':
      return '!error!';
    case 'null':
      return 'null';
    case 'param':
    case 'struct':
      return t.name;
    case 'type':
      return t.param ? `type(${formatType(t.param)})` : 'type';
    case 'list':
      return `list(${formatType(t.elem)})`;
    case 'map':
      return `map(${formatType(t.key)}, ${formatType(t.value)})`;
    case 'opaque':
      return t.params.length ? `${t.name}(${t.params.map(formatType).join(', ')})` : t.name;
    default:
      return t.kind;
  }
}

// ---- unification (cel-go checker/types.go and mapping.go) -----------------------------------

/** Type parameter substitutions; copied before a trial so that a failed one leaves no trace. */
class Mapping {
  readonly #m: Map<string, CelType>;
  constructor(m: Map<string, CelType> = new Map()) {
    this.#m = m;
  }
  copy(): Mapping {
    return new Mapping(new Map(this.#m));
  }
  find(t: CelType): CelType | undefined {
    return t.kind === 'param' ? this.#m.get(t.name) : undefined;
  }
  add(t: CelType, sub: CelType): void {
    if (t.kind === 'param') this.#m.set(t.name, sub);
  }
}

const isDyn = (t: CelType) => t.kind === 'dyn' || t.kind === 'any';
const isDynOrError = (t: CelType) => isDyn(t) || t.kind === 'error';
const isOptional = (t: CelType) => t.kind === 'opaque' && t.name === 'optional_type';

/** A type the legacy checker let null be assigned to. */
const isNullable = (t: CelType) => t.kind === 'opaque' || t.kind === 'struct' || t.kind === 'any' || t.kind === 'duration' || t.kind === 'timestamp' || t.kind === 'null' || t.kind === 'dyn';

/** Whether `a` is equal to or less specific than `b` (dyn and type parameters are least specific). */
function isEqualOrLessSpecific(a: CelType, b: CelType): boolean {
  if (isDyn(a) || a.kind === 'param') return true;
  if (isDyn(b) || b.kind === 'param') return false;
  if (a.kind !== b.kind) return false;
  switch (a.kind) {
    case 'opaque': {
      const pb = paramsOf(b);
      return typeName(a) === typeName(b) && a.params.length === pb.length && a.params.every((p, i) => isEqualOrLessSpecific(p, pb[i]!));
    }
    case 'list':
    case 'map': {
      const pa = paramsOf(a);
      const pb = paramsOf(b);
      return pa.every((p, i) => isEqualOrLessSpecific(p, pb[i]!));
    }
    case 'type':
      return true;
    default:
      return isExact(a, b);
  }
}

const mostGeneral = (a: CelType, b: CelType) => (isEqualOrLessSpecific(a, b) ? a : b);

/** The occurs check: `t` appears nowhere in `within` (through substitutions). */
function notReferencedIn(m: Mapping, t: CelType, within: CelType): boolean {
  if (isExact(t, within)) return false;
  if (within.kind === 'param') {
    const sub = m.find(within);
    return sub === undefined ? true : notReferencedIn(m, t, sub);
  }
  return paramsOf(within).every((p) => notReferencedIn(m, t, p));
}

/** Whether `t2` (a type parameter), or its substitution, can stand for `t1`; and whether it had one. */
function validSubstitution(m: Mapping, t1: CelType, t2: CelType): [valid: boolean, hasSub: boolean] {
  if (t1.kind === t2.kind && isExact(t1, t2)) return [true, true];
  const sub = m.find(t2);
  if (sub !== undefined) {
    if (t1.kind === sub.kind && isExact(t1, sub)) return [true, true];
    if (assignable(m, t1, sub)) {
      const general = mostGeneral(t1, sub);
      if (notReferencedIn(m, t2, general)) m.add(t2, general);
      return [true, true];
    }
    return [false, true];
  }
  if (notReferencedIn(m, t2, t1)) {
    m.add(t2, t1);
    return [true, false];
  }
  return [false, false];
}

/** cel-go's internalIsAssignable: `t1` (a value's type) may be used where `t2` is wanted, or the reverse. */
function assignable(m: Mapping, t1: CelType, t2: CelType): boolean {
  if (t2.kind === 'param') {
    const [valid, hasSub] = validSubstitution(m, t1, t2);
    if (valid) return true;
    if (hasSub) return false;
  }
  if (t1.kind === 'param') return validSubstitution(m, t2, t1)[0];
  if (isDynOrError(t1) || isDynOrError(t2)) return true;
  if (t1.kind === 'null') return isNullable(t2);
  if (t2.kind === 'null') return isNullable(t1);
  switch (t1.kind) {
    case 'bool':
    case 'bytes':
    case 'double':
    case 'int':
    case 'string':
    case 'uint':
    case 'duration':
    case 'timestamp':
    case 'struct':
      return t1.kind === t2.kind && typeName(t1) === typeName(t2);
    case 'type':
      return t2.kind === 'type';
    case 'opaque':
    case 'list':
    case 'map': {
      if (t1.kind !== t2.kind || typeName(t1) !== typeName(t2)) return false;
      return assignableList(m, paramsOf(t1), paramsOf(t2));
    }
    default:
      return false;
  }
}

function assignableList(m: Mapping, a: readonly CelType[], b: readonly CelType[]): boolean {
  return a.length === b.length && a.every((t, i) => assignable(m, t, b[i]!));
}

/** Replaces bound type parameters; unbound ones become dyn when `toDyn`. */
function substitute(m: Mapping, t: CelType, toDyn: boolean): CelType {
  const sub = m.find(t);
  if (sub !== undefined) return substitute(m, sub, toDyn);
  switch (t.kind) {
    case 'param':
      return toDyn ? T.dyn : t;
    case 'list':
      return T.list(substitute(m, t.elem, toDyn));
    case 'map':
      return T.map(substitute(m, t.key, toDyn), substitute(m, t.value, toDyn));
    case 'opaque':
      return { kind: 'opaque', name: t.name, params: t.params.map((p) => substitute(m, p, toDyn)) };
    case 'type':
      return t.param ? T.type(substitute(m, t.param, toDyn)) : t;
    default:
      return t;
  }
}

/** Replaces the named type parameters by the types given. */
function instantiate(t: CelType, subs: ReadonlyMap<string, CelType>): CelType {
  switch (t.kind) {
    case 'param':
      return subs.get(t.name) ?? t;
    case 'list':
      return T.list(instantiate(t.elem, subs));
    case 'map':
      return T.map(instantiate(t.key, subs), instantiate(t.value, subs));
    case 'opaque':
      return { kind: 'opaque', name: t.name, params: t.params.map((p) => instantiate(p, subs)) };
    case 'type':
      return t.param ? T.type(instantiate(t.param, subs)) : t;
    default:
      return t;
  }
}

// ---- the environment -------------------------------------------------------------------------

/** One overload: a global function or a member (receiver first in `args`). */
export interface Overload {
  readonly member: boolean;
  readonly args: readonly CelType[];
  readonly result: CelType;
  /** The names of the type parameters its types use. */
  readonly typeParams: readonly string[];
}

export interface FunctionDecl {
  readonly name: string;
  readonly overloads: readonly Overload[];
}

/** What an expression is checked against. */
export interface CheckEnv {
  /** Variables (and type names) by name. */
  readonly idents: ReadonlyMap<string, CelType>;
  readonly functions: ReadonlyMap<string, FunctionDecl>;
  /** The fields of each declared object type, by type name (cel-go's type provider). */
  readonly structs: ReadonlyMap<string, ReadonlyMap<string, CelType>>;
}

/** One problem, at an offset (UTF-16) of the expression. */
export interface Issue {
  readonly offset: number;
  readonly message: string;
}

export interface CheckResult {
  /** Sorted by position, as cel-go reports them. */
  readonly issues: readonly Issue[];
  /** The expression's type (dyn after errors), type parameters bound or made dyn. */
  readonly outputType: CelType;
}

/** cel-go's maxErrorsToReport. */
export const maxIssues = 100;

// ---- the AST as @bufbuild/cel builds it --------------------------------------------------------

interface Node {
  id: bigint;
  exprKind: { case: string | undefined; value?: any };
}

const identRe = /[A-Za-z0-9_]/;

/** The qualified name an identifier or a chain of field selections spells (not a presence test). */
function qualifiedName(e: Node): string | undefined {
  const k = e.exprKind;
  if (k.case === 'identExpr') return k.value.name as string;
  if (k.case === 'selectExpr' && !k.value.testOnly) {
    const q = qualifiedName(k.value.operand as Node);
    return q === undefined ? undefined : `${q}.${k.value.field as string}`;
  }
  return undefined;
}

const binaryOps = new Set(['_+_', '_-_', '_*_', '_/_', '_%_', '_==_', '_!=_', '_<_', '_<=_', '_>_', '_>=_', '@in', '_[_]']);

class Checker {
  readonly #env: CheckEnv;
  readonly #src: string;
  readonly #positions: Record<string, number>;
  readonly #types = new Map<bigint, CelType>();
  /** Comprehension scopes, innermost last. */
  readonly #scopes: Map<string, CelType>[] = [];
  /** cel-go's location of the nodes a macro expansion made (they share the macro call's position). */
  readonly #macroAt = new Map<number, number>();
  #m = new Mapping();
  #vars = 0;
  readonly issues: Issue[] = [];
  #reported = 0;

  constructor(env: CheckEnv, src: string, positions: Record<string, number>) {
    this.#env = env;
    this.#src = src;
    this.#positions = positions;
  }

  // ---- positions ----

  #skipSpace(i: number): number {
    const s = this.#src;
    for (;;) {
      while (i < s.length && /\s/.test(s[i]!)) i++;
      if (s.startsWith('//', i)) {
        while (i < s.length && s[i] !== '\n') i++;
        continue;
      }
      return i;
    }
  }

  /** From a name's start (or the `.` before it), the `(` of its call; `from` when there is none. */
  #openParen(from: number): number {
    const s = this.#src;
    let i = from;
    if (s[i] === '.') i = this.#skipSpace(i + 1);
    while (i < s.length && identRe.test(s[i]!)) i++;
    i = this.#skipSpace(i);
    return s[i] === '(' ? i : from;
  }

  /** The smallest position in a subtree: where its source text starts (after any `(`). */
  #leftmost(e: Node): number {
    let min = this.#positions[String(e.id)] ?? Number.MAX_SAFE_INTEGER;
    const v = e.exprKind.value ?? {};
    for (const k of ['operand', 'target', 'iterRange']) if (v[k]) min = Math.min(min, this.#leftmost(v[k] as Node));
    for (const a of (v['args'] ?? []) as Node[]) min = Math.min(min, this.#leftmost(a));
    return min;
  }

  /** cel-go's location of a node. */
  #loc(e: Node): number {
    const pos = this.#positions[String(e.id)] ?? 0;
    const macro = this.#macroAt.get(pos);
    if (macro !== undefined) return macro;
    const k = e.exprKind;
    if (k.case === 'callExpr') {
      const fn = k.value.function as string;
      if (k.value.target) return this.#openParen(pos);
      if (binaryOps.has(fn)) return this.#skipSpace(pos);
      if (fn === '_?_:_') {
        // The `?`: before the second operand, past any opening parentheses.
        let i = this.#leftmost(k.value.args[1] as Node) - 1;
        while (i > 0 && (/\s/.test(this.#src[i]!) || this.#src[i] === '(')) i--;
        return this.#src[i] === '?' ? i : pos;
      }
      if (/^[A-Za-z_]/.test(fn)) return this.#openParen(pos);
      return pos;
    }
    if (k.case === 'selectExpr' && k.value.testOnly) return this.#openParen(pos);
    return pos;
  }

  #error(e: Node, message: string): void {
    this.#reported++;
    if (this.#reported > maxIssues) return;
    this.issues.push({ offset: this.#loc(e), message });
  }

  get truncated(): number {
    return Math.max(0, this.#reported - maxIssues);
  }

  // ---- types ----

  #set(e: Node, t: CelType): void {
    this.#types.set(e.id, t);
  }

  typeOf(e: Node): CelType {
    return this.#types.get(e.id) ?? T.error;
  }

  #newVar(): CelType {
    return T.param(`_var${this.#vars++}`);
  }

  #isAssignable(t1: CelType, t2: CelType): boolean {
    const m = this.#m.copy();
    if (!assignable(m, t1, t2)) return false;
    this.#m = m;
    return true;
  }

  #isAssignableList(a: readonly CelType[], b: readonly CelType[]): boolean {
    const m = this.#m.copy();
    if (!assignableList(m, a, b)) return false;
    this.#m = m;
    return true;
  }

  substitute(t: CelType, toDyn: boolean): CelType {
    return substitute(this.#m, t, toDyn);
  }

  #lookupIdent(name: string): CelType | undefined {
    for (let i = this.#scopes.length - 1; i >= 0; i--) {
      const t = this.#scopes[i]!.get(name);
      if (t !== undefined) return t;
    }
    return this.#env.idents.get(name);
  }

  // ---- the walk ----

  check(e: Node): void {
    const k = e.exprKind;
    switch (k.case) {
      case 'constExpr':
        return this.#set(e, constType(k.value?.constantKind?.case));
      case 'identExpr':
        return this.#checkIdent(e);
      case 'selectExpr':
        return this.#checkSelect(e);
      case 'callExpr':
        return this.#checkCall(e);
      case 'listExpr':
        return this.#checkList(e);
      case 'structExpr':
        return this.#checkStruct(e);
      case 'comprehensionExpr':
        return this.#checkComprehension(e);
      default:
        this.#error(e, `unexpected unspecified type: ${String(k.case)}`);
        this.#set(e, T.error);
    }
  }

  #checkIdent(e: Node): void {
    const name = e.exprKind.value.name as string;
    const t = this.#lookupIdent(name);
    if (t !== undefined) return this.#set(e, t);
    this.#set(e, T.error);
    this.#error(e, `undeclared reference to '${name}' (in container '')`);
  }

  #checkSelect(e: Node): void {
    const sel = e.exprKind.value;
    if (!sel.testOnly) {
      const q = qualifiedName(e);
      const t = q === undefined ? undefined : this.#lookupIdent(q);
      if (t !== undefined) return this.#set(e, t);
    }
    let result = this.#checkSelectField(e, sel.operand as Node, sel.field as string);
    if (sel.testOnly) result = T.bool;
    this.#set(e, this.substitute(result, false));
  }

  #checkSelectField(e: Node, operand: Node, field: string): CelType {
    this.check(operand);
    let target = this.substitute(this.typeOf(operand), false);
    const opt = isOptional(target);
    if (opt) target = (target as { params: readonly CelType[] }).params[0]!;
    let result: CelType = T.error;
    switch (target.kind) {
      case 'map':
        result = target.value;
        break;
      case 'struct': {
        const fields = this.#env.structs.get(target.name);
        if (!fields) this.#error(e, `unexpected failed resolution of '${target.name}'`);
        else {
          const f = fields.get(field);
          if (f === undefined) this.#error(e, `undefined field '${field}'`);
          else result = f;
        }
        break;
      }
      case 'param':
        this.#isAssignable(T.dyn, target);
        result = T.dyn;
        break;
      default:
        if (!isDynOrError(target)) this.#error(e, `type '${formatType(target)}' does not support field selection`);
        result = T.dyn;
    }
    return opt ? T.opaque('optional_type', result) : result;
  }

  #checkCall(e: Node): void {
    const call = e.exprKind.value;
    const fn = call.function as string;
    const args = (call.args ?? []) as Node[];
    for (const a of args) this.check(a);
    const target = call.target as Node | undefined;
    if (!target) {
      const decl = this.#env.functions.get(fn);
      if (!decl) {
        this.#error(e, `undeclared reference to '${fn}' (in container '')`);
        return this.#set(e, T.error);
      }
      return this.#resolve(e, decl, undefined, args);
    }
    const q = qualifiedName(target);
    if (q !== undefined) {
      const decl = this.#env.functions.get(`${q}.${fn}`);
      if (decl) return this.#resolve(e, decl, undefined, args);
    }
    this.check(target);
    const decl = this.#env.functions.get(fn);
    if (decl) return this.#resolve(e, decl, target, args);
    this.#set(e, T.error);
    this.#error(e, `undeclared reference to '${fn}' (in container '')`);
  }

  #resolve(e: Node, fn: FunctionDecl, target: Node | undefined, args: readonly Node[]): void {
    const argTypes = [...(target ? [this.typeOf(target)] : []), ...args.map((a) => this.typeOf(a))];
    let result: CelType | undefined;
    for (const o of fn.overloads) {
      if ((target === undefined) === o.member) continue;
      if (fn.name === '_&&_' || fn.name === '_||_') {
        let failed = false;
        argTypes.forEach((t, i) => {
          if (!this.#isAssignable(t, T.bool)) {
            this.#error(args[i]!, `expected type 'bool' but found '${formatType(t)}'`);
            failed = true;
          }
        });
        return this.#set(e, failed ? T.error : T.bool);
      }
      let params = o.args;
      let res = o.result;
      if (o.typeParams.length) {
        const subs = new Map(o.typeParams.map((p) => [p, this.#newVar()]));
        params = params.map((p) => instantiate(p, subs));
        res = instantiate(res, subs);
      }
      if (!this.#isAssignableList(argTypes, params)) continue;
      const r = this.substitute(res, false);
      if (result === undefined) result = r;
      else if (!isDyn(result) && !isExact(r, result)) result = T.dyn;
    }
    if (result === undefined) {
      const shown = argTypes.map((t) => formatType(this.substitute(t, true)));
      const sig = target ? `${shown[0]}.(${shown.slice(1).join(', ')})` : `(${shown.join(', ')})`;
      this.#error(e, `found no matching overload for '${fn.name}' applied to '${sig}'`);
      return this.#set(e, T.error);
    }
    this.#set(e, result);
  }

  #join(e: Node, prev: CelType | undefined, cur: CelType): CelType {
    if (prev === undefined) return cur;
    if (this.#isAssignable(prev, cur)) return mostGeneral(prev, cur);
    this.#error(e, `expected type '${formatType(prev)}' but found '${formatType(cur)}'`);
    return T.error;
  }

  #checkList(e: Node): void {
    let elem: CelType | undefined;
    for (const x of (e.exprKind.value.elements ?? []) as Node[]) {
      this.check(x);
      elem = this.#join(x, elem, this.typeOf(x));
    }
    this.#set(e, T.list(elem ?? this.#newVar()));
  }

  #checkStruct(e: Node): void {
    const v = e.exprKind.value;
    if (v.messageName) {
      // Objects of declared types cannot be built here: no type name is an identifier.
      this.#error(e, `undeclared reference to '${v.messageName as string}' (in container '')`);
      return this.#set(e, T.error);
    }
    let key: CelType | undefined;
    let value: CelType | undefined;
    for (const entry of (v.entries ?? []) as { keyKind?: { case?: string; value?: Node }; value: Node }[]) {
      const k = entry.keyKind?.value;
      if (k && entry.keyKind?.case === 'mapKey') {
        this.check(k);
        key = this.#join(k, key, this.typeOf(k));
      }
      this.check(entry.value);
      value = this.#join(entry.value, value, this.typeOf(entry.value));
    }
    if (key === undefined || value === undefined) this.#set(e, T.map(this.#newVar(), this.#newVar()));
    else this.#set(e, T.map(key, value));
  }

  #checkComprehension(e: Node): void {
    const c = e.exprKind.value;
    // The nodes the macro made share its position; cel-go places them at the call's `(`.
    const pos = this.#positions[String(e.id)] ?? 0;
    if (!this.#macroAt.has(pos)) this.#macroAt.set(pos, this.#openParen(pos));
    const range = c.iterRange as Node;
    this.check(range);
    this.check(c.accuInit as Node);
    const rangeType = this.substitute(this.typeOf(range), false);
    const accuType = this.typeOf(c.accuInit as Node);
    this.#scopes.push(new Map([[c.accuVar as string, accuType]]));
    let varType: CelType;
    switch (rangeType.kind) {
      case 'list':
        varType = rangeType.elem;
        break;
      case 'map':
        varType = rangeType.key;
        break;
      case 'dyn':
      case 'any':
      case 'error':
      case 'param':
        this.#isAssignable(T.dyn, rangeType);
        varType = T.dyn;
        break;
      default:
        this.#error(range, `expression of type '${formatType(rangeType)}' cannot be range of a comprehension (must be list, map, or dynamic)`);
        varType = T.error;
    }
    this.#scopes.push(new Map([[c.iterVar as string, varType]]));
    const cond = c.loopCondition as Node;
    this.check(cond);
    this.#assertType(cond, T.bool);
    const step = c.loopStep as Node;
    this.check(step);
    this.#assertType(step, accuType);
    this.#scopes.pop();
    this.check(c.result as Node);
    this.#scopes.pop();
    this.#set(e, this.substitute(this.typeOf(c.result as Node), false));
  }

  #assertType(e: Node, t: CelType): void {
    const got = this.typeOf(e);
    if (!this.#isAssignable(t, got)) this.#error(e, `expected type '${formatType(t)}' but found '${formatType(got)}'`);
  }
}

function constType(c: string | undefined): CelType {
  switch (c) {
    case 'boolValue':
      return T.bool;
    case 'bytesValue':
      return T.bytes;
    case 'doubleValue':
      return T.double;
    case 'int64Value':
      return T.int;
    case 'uint64Value':
      return T.uint;
    case 'nullValue':
      return T.null;
    case 'stringValue':
      return T.string;
    case 'durationValue':
      return T.duration;
    case 'timestampValue':
      return T.timestamp;
    default:
      return T.error;
  }
}

/** A parse error as an issue: @bufbuild/cel's message (`<input>:L:C: …`) at its position. */
function parseIssue(expression: string, err: unknown): Issue {
  const msg = err instanceof Error ? err.message : String(err);
  const m = /^<input>:(\d+):(\d+): (.*)$/s.exec(msg);
  if (!m) return { offset: 0, message: `Syntax error: ${msg}` };
  const lines = expression.split('\n');
  let offset = 0;
  for (let i = 0; i < Number(m[1]) - 1; i++) offset += (lines[i]?.length ?? 0) + 1;
  return { offset: offset + Number(m[2]) - 1, message: `Syntax error: ${m[3]}` };
}

/** Parses and checks one expression; never throws. */
export function checkExpression(expression: string, env: CheckEnv): CheckResult & { truncated: number } {
  let parsed: ReturnType<typeof parse>;
  try {
    parsed = parse(expression);
  } catch (err) {
    return { issues: [parseIssue(expression, err)], outputType: T.dyn, truncated: 0 };
  }
  const positions = (parsed.sourceInfo?.positions ?? {}) as Record<string, number>;
  const c = new Checker(env, expression, positions);
  const root = parsed.expr as unknown as Node;
  c.check(root);
  const issues = [...c.issues].sort((a, b) => a.offset - b.offset);
  return { issues, outputType: c.substitute(c.typeOf(root), true), truncated: c.truncated };
}

/** `checkExpression`, with a failure of the checker itself (a bug, an AST it does not know) as `internal`. */
export function tryCheckExpression(expression: string, env: CheckEnv): (CheckResult & { truncated: number; internal?: undefined }) | { internal: string } {
  try {
    return checkExpression(expression, env);
  } catch (err) {
    return { internal: err instanceof Error ? err.message : String(err) };
  }
}

/** cel-go's code points of UTF-8 width above one byte print as wide dots and carets. */
const wide = (ch: string) => Buffer.byteLength(ch) > 1;

/** cel-go's Issues.String(): each issue as `ERROR: <input>:L:C: message`, its source line and a caret. */
export function formatIssues(expression: string, result: { issues: readonly Issue[]; truncated?: number }): string {
  const lines = expression.split('\n');
  const out = result.issues.map((issue) => {
    const before = expression.slice(0, issue.offset);
    const line = before.split('\n').length;
    const lineStart = before.lastIndexOf('\n') + 1;
    const column = [...expression.slice(lineStart, issue.offset)].length;
    let text = `ERROR: <input>:${line}:${column + 1}: ${issue.message}`;
    const snippet = lines[line - 1];
    if (snippet !== undefined && snippet.length <= 16384) {
      const chars = [...snippet.replace(/\t/g, ' ')];
      const dots = chars.slice(0, column).map((ch) => (wide(ch) ? '\uff0e' : '.')).join('');
      const at = chars[column];
      text += `\n | ${chars.join('')}\n | ${dots}${at !== undefined && wide(at) ? '\uff3e' : '^'}`;
    }
    return text;
  });
  if (result.truncated) out.push(`${result.truncated} more errors were truncated`);
  return out.join('\n');
}
