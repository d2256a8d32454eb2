/**
 * The static cost of a rule, after cel-go's checker/cost.go with Kubernetes' library cost
 * estimator (apiserver/pkg/cel/library/cost.go) and the schema's size bounds (upstream's
 * sizeEstimator in schema/cel/compilation.go): identifiers and field selections cost 1,
 * constants 0, most calls 1, list literals 10 and map literals 30; string functions cost a tenth
 * of the string's bytes (regex matching that times a quarter of the pattern's length); list
 * functions and `in` their list's length; `sets.*` the product of both lengths; a comprehension
 * its range's maximum size times its loop condition and step. Sizes come from maxItems,
 * maxProperties and maxLength, else from how many of the smallest value fit in a request.
 *
 * An estimate of the worst case, as upstream's, but simplified: it follows the maxima only, and
 * where upstream's per-function cost tables are finer (e.g. string concatenation, conversions)
 * it charges a tenth of the size or 1. The upstream limits and messages (cel.ts) decide with it.
 */
import { maxRequestSizeBytes, type Decl } from './cel-model.ts';

/** A parsed expression node (cel.expr.Expr as @bufbuild/cel builds it, read loosely). */
interface Node {
  exprKind: { case: string | undefined; value?: any };
}

interface Est {
  cost: number;
  decl?: Decl | undefined;
  /** The value's size (string bytes, list or map entries) when no Decl says it. */
  size?: number;
}

const stringFactor = 0.1;
const regexFactor = 0.25;

const sizeOf = (e: Est): number => (e.decl ? (e.decl.kind === 'object' ? 1 : e.decl.maxElements || (e.decl.kind === 'simple' ? 1 : 0)) : (e.size ?? maxRequestSizeBytes));
const strCost = (e: Est) => Math.ceil(sizeOf(e) * stringFactor);

const stringFns = new Set(['contains', 'startsWith', 'endsWith', 'lowerAscii', 'upperAscii', 'trim', 'replace', 'split', 'substring', 'charAt', 'indexOf', 'lastIndexOf', 'join', 'url', 'isURL', 'ip', 'isIP', 'cidr', 'isCIDR', 'quantity', 'isQuantity', 'string', 'bytes', 'int', 'double', 'timestamp', 'duration', 'format', 'semver', 'isSemver', 'validate']);
const listFns = new Set(['isSorted', 'sum', 'max', 'min', 'indexOf', 'lastIndexOf']);

class Estimator {
  readonly #scopes: Map<string, Est>[] = [];
  readonly #idents: ReadonlyMap<string, Est>;
  constructor(idents: ReadonlyMap<string, Est>) {
    this.#idents = idents;
  }

  #lookup(name: string): Est | undefined {
    for (let i = this.#scopes.length - 1; i >= 0; i--) {
      const e = this.#scopes[i]!.get(name);
      if (e) return e;
    }
    return this.#idents.get(name);
  }

  est(n: Node | undefined): Est {
    if (!n) return { cost: 0 };
    const v = n.exprKind.value ?? {};
    switch (n.exprKind.case) {
      case 'constExpr': {
        const c = v.constantKind;
        return { cost: 0, size: c?.case === 'stringValue' ? Buffer.byteLength(c.value as string) : c?.case === 'bytesValue' ? (c.value as Uint8Array).length : 1 };
      }
      case 'identExpr': {
        const found = this.#lookup(v.name as string);
        return { cost: 1, decl: found?.decl, size: found?.size };
      }
      case 'selectExpr': {
        const op = this.est(v.operand as Node);
        const d = op.decl;
        const decl = d?.kind === 'object' ? d.fields?.get(v.field as string) : d?.kind === 'map' ? d.elem : undefined;
        return v.testOnly ? { cost: op.cost + 1 } : { cost: op.cost + 1, decl };
      }
      case 'listExpr': {
        const els = ((v.elements ?? []) as Node[]).map((x) => this.est(x));
        return { cost: 10 + els.reduce((a, b) => a + b.cost, 0), size: els.length };
      }
      case 'structExpr': {
        let cost = v.messageName ? 40 : 30;
        for (const e of (v.entries ?? []) as { keyKind?: { value?: unknown }; value: Node }[]) {
          const k = e.keyKind?.value;
          cost += (k && typeof k === 'object' ? this.est(k as Node).cost : 0) + this.est(e.value).cost;
        }
        return { cost, size: (v.entries ?? []).length };
      }
      case 'comprehensionExpr': {
        const range = this.est(v.iterRange as Node);
        const init = this.est(v.accuInit as Node);
        const d = range.decl;
        const iter: Est = d?.kind === 'list' ? { cost: 0, decl: d.elem } : d?.kind === 'map' ? { cost: 0, size: maxRequestSizeBytes } : { cost: 0 };
        this.#scopes.push(new Map([[v.accuVar as string, { cost: 0 }]]));
        this.#scopes.push(new Map([[v.iterVar as string, iter]]));
        const loop = this.est(v.loopCondition as Node).cost + this.est(v.loopStep as Node).cost;
        this.#scopes.pop();
        const result = this.est(v.result as Node);
        this.#scopes.pop();
        return { cost: range.cost + init.cost + result.cost + sizeOf(range) * loop, decl: result.decl, size: result.size };
      }
      case 'callExpr':
        return this.#call(v.function as string, v.target as Node | undefined, (v.args ?? []) as Node[]);
    }
    return { cost: 1 };
  }

  #call(fn: string, targetNode: Node | undefined, argNodes: Node[]): Est {
    const target = targetNode ? this.est(targetNode) : undefined;
    const args = argNodes.map((a) => this.est(a));
    const sum = (target?.cost ?? 0) + args.reduce((a, b) => a + b.cost, 0);
    const recv = target ?? args[0];
    switch (fn) {
      case '_&&_':
      case '_||_':
        return { cost: sum };
      case '_?_:_':
        return { cost: args[0]!.cost + Math.max(args[1]!.cost, args[2]!.cost), decl: args[1]!.decl };
      case '_[_]': {
        const d = args[0]!.decl;
        return { cost: sum + 1, decl: d && (d.kind === 'list' || d.kind === 'map') ? d.elem : undefined };
      }
      case 'value':
      case 'orValue':
        return { cost: sum + 1, decl: target?.decl };
      case 'matches':
      case 'find':
      case 'findAll': {
        const str = target ?? args[0]!;
        const re = target ? args[0]! : args[1]!;
        return { cost: sum + 1 + strCost(str) * Math.ceil(sizeOf(re) * regexFactor) };
      }
      case '_==_':
      case '_!=_':
      case '_+_':
      case '@in': {
        const subject = fn === '@in' ? args[1]! : args[0]!;
        const d = subject.decl;
        const stringy = d ? d.kind === 'simple' : subject.size !== undefined && fn !== '@in';
        if (fn === '@in' || d?.kind === 'list' || d?.kind === 'map') return { cost: sum + 1 + (d?.kind === 'map' && fn === '@in' ? 0 : sizeOf(subject)) };
        return { cost: sum + 1 + (stringy ? strCost(subject) : 0) };
      }
      case 'sets.contains':
      case 'sets.equivalent':
      case 'sets.intersects':
        return { cost: sum + 1 + sizeOf(args[0]!) * sizeOf(args[1]!) };
    }
    if (recv && recv.decl?.kind === 'list' && listFns.has(fn)) return { cost: sum + 1 + sizeOf(recv) };
    if (recv && stringFns.has(fn)) return { cost: sum + 1 + strCost(recv), size: fn === 'split' ? sizeOf(recv) : undefined };
    return { cost: sum + 1 };
  }
}

/** The rule's estimated maximum cost with `self` (and `oldSelf`) of the given shape. */
export function estimateCost(expr: unknown, self: Decl): number {
  const e: Est = { cost: 0, decl: self };
  return new Estimator(new Map([['self', e], ['oldSelf', e]])).est(expr as Node).cost;
}

/** The cost one walked list element stands for at run time: the heaviest loop body's node count. */
export function iterationWeight(expr: unknown): number {
  let weight = 1;
  const walk = (n: Node | undefined): void => {
    if (!n) return;
    const v = n.exprKind.value ?? {};
    if (n.exprKind.case === 'comprehensionExpr') weight = Math.max(weight, nodeCount(v.loopCondition) + nodeCount(v.loopStep));
    for (const c of children(n)) walk(c);
  };
  walk(expr as Node);
  return weight;
}

/** A node's sub-expressions. */
function children(n: Node): Node[] {
  const v = n.exprKind.value ?? {};
  const out: Node[] = [];
  for (const k of ['operand', 'target', 'iterRange', 'accuInit', 'loopCondition', 'loopStep', 'result']) if (v[k]) out.push(v[k] as Node);
  for (const a of (v.args ?? v.elements ?? []) as Node[]) out.push(a);
  for (const e of (v.entries ?? []) as { keyKind?: { value?: Node }; value: Node }[]) {
    if (e.keyKind?.value && typeof e.keyKind.value === 'object') out.push(e.keyKind.value);
    out.push(e.value);
  }
  return out;
}

/** The number of nodes in an expression (its base runtime cost). */
export function nodeCount(expr: unknown): number {
  if (!expr) return 0;
  let c = 1;
  for (const k of children(expr as Node)) c += nodeCount(k);
  return c;
}
