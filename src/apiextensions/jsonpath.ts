/**
 * The JSONPath subset CRDs use in additionalPrinterColumns and selectableFields, evaluated as
 * client-go's jsonpath does for `{<path>}` with missing keys allowed: `.a.b`, `['a.b']`, `[n]`
 * (negative from the end), `[*]` and `.*`, `[start:end]`, and filters `[?(@.type=="Ready")]`
 * with == != < <= > >= against a string, number or boolean literal (or bare `[?(@.x)]`, true
 * when present). A path that does not parse is reported once, at compile time.
 */

type Step =
  | { t: 'field'; name: string }
  | { t: 'index'; index: number }
  | { t: 'slice'; start?: number; end?: number }
  | { t: 'all' }
  | { t: 'filter'; path: Step[]; op?: string; value?: unknown };

export interface JsonPath {
  readonly source: string;
  /** Every value the path selects, in document order (empty when nothing matches). */
  find(obj: unknown): unknown[];
}

/** Compiles a path (without braces); throws Error with upstream's wording when it does not parse. */
export function compileJsonPath(source: string): JsonPath {
  const steps = parse(source.trim());
  return { source, find: (obj) => evaluate(steps, [obj]) };
}

function parse(src: string): Step[] {
  const steps: Step[] = [];
  let i = 0;
  const fail = (): never => {
    throw new Error(`unrecognized column definition ${JSON.stringify(src)}`);
  };
  if (src.startsWith('$')) i = 1;
  while (i < src.length) {
    const c = src[i]!;
    if (c === '.') {
      i++;
      if (src[i] === '*') {
        steps.push({ t: 'all' });
        i++;
        continue;
      }
      const m = /^[A-Za-z0-9_\-$/]+/.exec(src.slice(i));
      if (!m) {
        if (i >= src.length && steps.length === 0) return steps; // "." alone: the object itself
        fail();
      }
      steps.push({ t: 'field', name: m![0] });
      i += m![0].length;
    } else if (c === '[') {
      const close = matchingBracket(src, i);
      if (close < 0) fail();
      const inner = src.slice(i + 1, close).trim();
      i = close + 1;
      if (inner === '*') steps.push({ t: 'all' });
      else if (/^-?\d+$/.test(inner)) steps.push({ t: 'index', index: Number(inner) });
      else if (/^(-?\d*):(-?\d*)$/.test(inner)) {
        const [a, b] = inner.split(':');
        steps.push({ t: 'slice', start: a ? Number(a) : undefined, end: b ? Number(b) : undefined });
      } else if (/^'[^']*'$/.test(inner) || /^"[^"]*"$/.test(inner)) steps.push({ t: 'field', name: inner.slice(1, -1) });
      else if (inner.startsWith('?(') && inner.endsWith(')')) steps.push(parseFilter(inner.slice(2, -1).trim(), fail));
      else fail();
    } else fail();
  }
  return steps;
}

function matchingBracket(src: string, open: number): number {
  let quote = '';
  let depth = 0;
  for (let i = open; i < src.length; i++) {
    const c = src[i]!;
    if (quote) {
      if (c === quote) quote = '';
    } else if (c === '"' || c === "'") quote = c;
    else if (c === '[') depth++;
    else if (c === ']' && --depth === 0) return i;
  }
  return -1;
}

function parseFilter(expr: string, fail: () => never): Step {
  const m = /^@((?:\.[A-Za-z0-9_\-$/]+|\[[^\]]+\])*)\s*(?:(==|!=|<=|>=|<|>)\s*(.+))?$/.exec(expr);
  if (!m) fail();
  const path = m![1] ? parse(m![1]) : [];
  if (!m![2]) return { t: 'filter', path };
  const lit = m![3]!.trim();
  let value: unknown;
  if (/^".*"$/.test(lit) || /^'.*'$/.test(lit)) value = lit.slice(1, -1);
  else if (lit === 'true' || lit === 'false') value = lit === 'true';
  else if (lit !== '' && !Number.isNaN(Number(lit))) value = Number(lit);
  else fail();
  return { t: 'filter', path, op: m![2], value };
}

function evaluate(steps: readonly Step[], input: unknown[]): unknown[] {
  let cur = input;
  for (const s of steps) {
    const next: unknown[] = [];
    for (const v of cur) {
      if (v === null || typeof v !== 'object') continue;
      switch (s.t) {
        case 'field':
          if (!Array.isArray(v) && Object.hasOwn(v, s.name)) next.push((v as Record<string, unknown>)[s.name]);
          break;
        case 'index':
          if (Array.isArray(v)) {
            const i = s.index < 0 ? v.length + s.index : s.index;
            if (i >= 0 && i < v.length) next.push(v[i]);
          }
          break;
        case 'slice':
          if (Array.isArray(v)) next.push(...v.slice(s.start, s.end));
          break;
        case 'all':
          next.push(...(Array.isArray(v) ? v : Object.keys(v).sort().map((k) => (v as Record<string, unknown>)[k])));
          break;
        case 'filter': {
          const items = Array.isArray(v) ? v : [v];
          for (const item of items) if (matches(s, item)) next.push(item);
          break;
        }
      }
    }
    cur = next;
  }
  return cur;
}

function matches(s: Extract<Step, { t: 'filter' }>, item: unknown): boolean {
  const found = evaluate(s.path, [item]);
  if (!s.op) return found.length > 0;
  if (!found.length) return false;
  const a = found[0];
  const b = s.value;
  switch (s.op) {
    case '==':
      return a === b;
    case '!=':
      return a !== b;
    default: {
      if (typeof a !== typeof b || (typeof a !== 'number' && typeof a !== 'string')) return false;
      const x = a as number | string;
      const y = b as number | string;
      return s.op === '<' ? x < y : s.op === '<=' ? x <= y : s.op === '>' ? x > y : x >= y;
    }
  }
}
