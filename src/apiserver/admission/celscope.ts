/**
 * The walk both CEL users of admission make over a parsed expression (cel.expr.Expr, read
 * loosely) to find the first name it may not use, as cel-go's checker reports it first: variables
 * bound by comprehensions are in scope inside them; everything else is the caller's rule
 * (ValidatingAdmissionPolicy's declarations, webhook matchConditions' variables).
 */

/** A parsed expression node. */
export interface ExprNode {
  id?: bigint;
  exprKind?: { case?: string; value?: Record<string, unknown> };
}

export interface ScopeRules<P> {
  /** The problem with an identifier, or undefined when it is declared. `bound`: comprehension variables in scope. */
  ident(name: string, node: ExprNode, bound: ReadonlySet<string>): P | undefined;
  /** For `operand.field`: a problem, `undefined` (fine), or 'walk' to check the operand as usual. */
  select?(operand: ExprNode, field: string, node: ExprNode, bound: ReadonlySet<string>): P | undefined | 'walk';
  /** Whether a call's target is a function namespace (e.g. `strings.quote`), not a value to check. */
  skipTarget?(target: ExprNode, bound: ReadonlySet<string>): boolean;
}

/** The identifier an expression is, if it is one. */
export function identName(n: unknown): string | undefined {
  const k = (n as ExprNode | undefined)?.exprKind;
  return k?.case === 'identExpr' ? (k.value!['name'] as string) : undefined;
}

/** The first problem in `node`, in cel-go's order. */
export function firstScopeProblem<P>(node: ExprNode | undefined, rules: ScopeRules<P>, bound: ReadonlySet<string> = new Set()): P | undefined {
  const kind = node?.exprKind;
  if (!node || !kind?.value) return undefined;
  const v = kind.value;
  const walk = (n: unknown, b = bound) => firstScopeProblem(n as ExprNode | undefined, rules, b);
  switch (kind.case) {
    case 'identExpr':
      return rules.ident(v['name'] as string, node, bound);
    case 'selectExpr': {
      const r = rules.select ? rules.select(v['operand'] as ExprNode, v['field'] as string, node, bound) : 'walk';
      return r === 'walk' ? walk(v['operand']) : r;
    }
    case 'callExpr': {
      const target = v['target'] as ExprNode | undefined;
      const skip = target !== undefined && rules.skipTarget?.(target, bound) === true;
      return (skip ? undefined : walk(target)) ?? (v['args'] as unknown[]).map((a) => walk(a)).find(Boolean);
    }
    case 'listExpr':
      return (v['elements'] as unknown[]).map((e) => walk(e)).find(Boolean);
    case 'structExpr':
      for (const e of v['entries'] as { keyKind?: { case?: string; value?: unknown }; value?: unknown }[]) {
        const found = (e.keyKind?.case === 'mapKey' ? walk(e.keyKind.value) : undefined) ?? walk(e.value);
        if (found) return found;
      }
      return undefined;
    case 'comprehensionExpr': {
      const inner = new Set(bound);
      for (const k of ['iterVar', 'iterVar2', 'accuVar']) if (v[k]) inner.add(v[k] as string);
      return walk(v['iterRange']) ?? walk(v['accuInit']) ?? walk(v['loopCondition'], inner) ?? walk(v['loopStep'], inner) ?? walk(v['result'], inner);
    }
    default:
      return undefined;
  }
}
