/**
 * Label and field selectors, as apimachinery's labels and fields packages parse and match them.
 * Parsing throws a BadRequest StatusError with an upstream-style message. Matchers are plain
 * objects over precomputed requirements: matching allocates nothing.
 */
import { badRequest } from './errors.ts';
import { isLabelValue, isQualifiedName } from './validation.ts';

export type Operator = 'In' | 'NotIn' | 'Exists' | 'DoesNotExist' | 'Equals' | 'DoubleEquals' | 'NotEquals' | 'GreaterThan' | 'LessThan';

export interface Requirement {
  key: string;
  operator: Operator;
  values: readonly string[];
}

export interface LabelSelectorMatcher {
  readonly requirements: readonly Requirement[];
  /** True when the selector has no requirements (matches everything). */
  readonly empty: boolean;
  /** True for a null metav1.LabelSelector: matches nothing. */
  readonly nothing: boolean;
  matches(labels: Record<string, string> | undefined): boolean;
  toString(): string;
}

export interface LabelSelectorRequirement {
  key: string;
  operator: string;
  values?: string[];
}

export interface LabelSelector {
  matchLabels?: Record<string, string>;
  matchExpressions?: LabelSelectorRequirement[];
}

function matchOne(r: Requirement, labels: Record<string, string> | undefined): boolean {
  const has = labels !== undefined && Object.prototype.hasOwnProperty.call(labels, r.key);
  switch (r.operator) {
    case 'In':
    case 'Equals':
    case 'DoubleEquals':
      return has && r.values.includes(labels![r.key]!);
    case 'NotIn':
    case 'NotEquals':
      return !has || !r.values.includes(labels![r.key]!);
    case 'Exists':
      return has;
    case 'DoesNotExist':
      return !has;
    case 'GreaterThan':
    case 'LessThan': {
      if (!has) return false;
      const v = Number(labels![r.key]);
      if (!Number.isInteger(v)) return false;
      const bound = Number(r.values[0]);
      return r.operator === 'GreaterThan' ? v > bound : v < bound;
    }
  }
}

function requirementString(r: Requirement): string {
  switch (r.operator) {
    case 'Exists':
      return r.key;
    case 'DoesNotExist':
      return `!${r.key}`;
    case 'Equals':
      return `${r.key}=${r.values[0]}`;
    case 'DoubleEquals':
      return `${r.key}==${r.values[0]}`;
    case 'NotEquals':
      return `${r.key}!=${r.values[0]}`;
    case 'GreaterThan':
      return `${r.key}>${r.values[0]}`;
    case 'LessThan':
      return `${r.key}<${r.values[0]}`;
    case 'In':
      return `${r.key} in (${[...r.values].sort().join(',')})`;
    case 'NotIn':
      return `${r.key} notin (${[...r.values].sort().join(',')})`;
  }
}

function makeMatcher(reqs: Requirement[], nothing = false): LabelSelectorMatcher {
  // Sorted by key, as upstream's internalSelector keeps them.
  const sorted = [...reqs].sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  return {
    requirements: sorted,
    empty: !nothing && sorted.length === 0,
    nothing,
    matches(labels) {
      if (nothing) return false;
      for (let i = 0; i < sorted.length; i++) if (!matchOne(sorted[i]!, labels)) return false;
      return true;
    },
    toString() {
      return sorted.map(requirementString).join(',');
    },
  };
}

function validateKey(key: string): void {
  const errs = isQualifiedName(key);
  if (errs.length) throw badRequest(`unable to parse requirement: key: Invalid value: ${JSON.stringify(key)}: ${errs.join('; ')}`);
}

function validateValue(v: string): void {
  const errs = isLabelValue(v);
  if (errs.length) throw badRequest(`unable to parse requirement: values[0]: Invalid value: ${JSON.stringify(v)}: ${errs.join('; ')}`);
}

function newRequirement(key: string, operator: Operator, values: string[]): Requirement {
  validateKey(key);
  switch (operator) {
    case 'In':
    case 'NotIn':
      if (values.length === 0) throw badRequest('unable to parse requirement: values: Invalid value: []: for \'in\', \'notin\' operators, values set can\'t be empty');
      break;
    case 'Equals':
    case 'DoubleEquals':
    case 'NotEquals':
      if (values.length !== 1) throw badRequest('unable to parse requirement: values: Invalid value: exact-match compatibility requires one single value');
      break;
    case 'Exists':
    case 'DoesNotExist':
      if (values.length !== 0) throw badRequest('unable to parse requirement: values: Invalid value: values set must be empty for exists and does not exist');
      break;
    case 'GreaterThan':
    case 'LessThan':
      if (values.length !== 1 || !/^-?\d+$/.test(values[0]!)) {
        throw badRequest(`unable to parse requirement: values[0]: Invalid value: ${JSON.stringify(values[0] ?? '')}: for 'Gt', 'Lt' operators, the value must be an integer`);
      }
      return { key, operator, values };
  }
  for (const v of values) validateValue(v);
  return { key, operator, values };
}

// ---- the label selector lexer/parser --------------------------------------------------------

type Tok =
  | { t: 'id'; v: string }
  | { t: 'op'; v: string }
  | { t: '('; v: string }
  | { t: ')'; v: string }
  | { t: ','; v: string }
  | { t: '!'; v: string }
  | { t: 'end'; v: string };

const special = new Set(['!', '=', '>', '<', '(', ')', ',', ' ', '\t', '\n', '\r']);

function lex(s: string): Tok[] {
  const out: Tok[] = [];
  let i = 0;
  while (i < s.length) {
    const c = s[i]!;
    if (c === ' ' || c === '\t' || c === '\n' || c === '\r') {
      i++;
      continue;
    }
    if (c === '(' || c === ')' || c === ',') {
      out.push({ t: c, v: c } as Tok);
      i++;
      continue;
    }
    if (c === '!') {
      if (s[i + 1] === '=') {
        out.push({ t: 'op', v: '!=' });
        i += 2;
      } else {
        out.push({ t: '!', v: '!' });
        i++;
      }
      continue;
    }
    if (c === '=') {
      if (s[i + 1] === '=') {
        out.push({ t: 'op', v: '==' });
        i += 2;
      } else {
        out.push({ t: 'op', v: '=' });
        i++;
      }
      continue;
    }
    if (c === '>' || c === '<') {
      out.push({ t: 'op', v: c });
      i++;
      continue;
    }
    let j = i;
    while (j < s.length && !special.has(s[j]!)) j++;
    const word = s.slice(i, j);
    out.push({ t: 'id', v: word });
    i = j;
  }
  out.push({ t: 'end', v: '' });
  return out;
}

/** Parses a label selector string ("a=b,c in (d,e),!f"). Empty string: matches everything. */
export function parseLabelSelector(s: string): LabelSelectorMatcher {
  const toks = lex(s);
  let p = 0;
  const reqs: Requirement[] = [];
  const peek = () => toks[p]!;
  const next = () => toks[p++]!;
  const fail = (found: Tok, expected: string): never => {
    throw badRequest(`unable to parse requirement: found '${found.v}', expected: ${expected}`);
  };
  if (peek().t === 'end') return makeMatcher([]);
  for (;;) {
    let tok = next();
    if (tok.t === '!') {
      const key = next();
      if (key.t !== 'id') fail(key, 'identifier after \'!\'');
      reqs.push(newRequirement(key.v, 'DoesNotExist', []));
    } else if (tok.t === 'id') {
      const key = tok.v;
      const after = peek();
      if (after.t === 'end' || after.t === ',') {
        reqs.push(newRequirement(key, 'Exists', []));
      } else if (after.t === 'op') {
        next();
        const opMap: Record<string, Operator> = { '=': 'Equals', '==': 'DoubleEquals', '!=': 'NotEquals', '>': 'GreaterThan', '<': 'LessThan' };
        const op = opMap[after.v]!;
        const val = peek();
        let value = '';
        if (val.t === 'id') {
          next();
          value = val.v;
        } else if (!(val.t === 'end' || val.t === ',')) fail(val, 'identifier');
        reqs.push(newRequirement(key, op, [value]));
      } else if (after.t === 'id' && (after.v === 'in' || after.v === 'notin')) {
        next();
        const open = next();
        if (open.t !== '(') fail(open, "'('");
        const values: string[] = [];
        for (;;) {
          const v = next();
          if (v.t === ')') {
            if (values.length === 0) values.push('');
            break;
          }
          if (v.t === 'id') {
            values.push(v.v);
            const sep = next();
            if (sep.t === ')') break;
            if (sep.t !== ',') fail(sep, "',' or ')'");
            continue;
          }
          if (v.t === ',') {
            values.push('');
            continue;
          }
          fail(v, "',', ')' or identifier");
        }
        reqs.push(newRequirement(key, after.v === 'in' ? 'In' : 'NotIn', [...new Set(values)]));
      } else {
        fail(after, "in, notin, =, ==, !=, gt, lt");
      }
    } else {
      fail(tok, "identifier or '!'");
    }
    tok = next();
    if (tok.t === 'end') break;
    if (tok.t !== ',') fail(tok, "','");
  }
  return makeMatcher(reqs);
}

/** A metav1.LabelSelector: null/undefined matches nothing, {} matches everything. */
export function labelSelectorFromObject(sel: LabelSelector | null | undefined): LabelSelectorMatcher {
  if (sel === null || sel === undefined) return makeMatcher([], true);
  const reqs: Requirement[] = [];
  for (const [k, v] of Object.entries(sel.matchLabels ?? {})) reqs.push(newRequirement(k, 'Equals', [v]));
  for (const e of sel.matchExpressions ?? []) {
    switch (e.operator) {
      case 'In':
        reqs.push(newRequirement(e.key, 'In', e.values ?? []));
        break;
      case 'NotIn':
        reqs.push(newRequirement(e.key, 'NotIn', e.values ?? []));
        break;
      case 'Exists':
        reqs.push(newRequirement(e.key, 'Exists', []));
        break;
      case 'DoesNotExist':
        reqs.push(newRequirement(e.key, 'DoesNotExist', []));
        break;
      default:
        throw badRequest(`${JSON.stringify(e.operator)} is not a valid label selector operator`);
    }
  }
  return makeMatcher(reqs);
}

/** The canonical string of a metav1.LabelSelector (what kubectl shows for selectors). */
export function labelSelectorToString(sel: LabelSelector | null | undefined): string {
  if (!sel) return '';
  return labelSelectorFromObject(sel).toString();
}

// ---- field selectors ----------------------------------------------------------------------

export interface FieldRequirement {
  field: string;
  operator: '=' | '==' | '!=';
  value: string;
}

export interface FieldSelectorMatcher {
  readonly requirements: readonly FieldRequirement[];
  readonly empty: boolean;
  fields(): string[];
  matches(get: (field: string) => string | undefined): boolean;
  /** The value a field must equal, when the selector pins it (for index lookups). */
  requiresExactMatch(field: string): string | undefined;
  toString(): string;
}

function splitTerms(s: string): string[] {
  const out: string[] = [];
  let cur = '';
  for (let i = 0; i < s.length; i++) {
    const c = s[i]!;
    if (c === '\\' && i + 1 < s.length) {
      cur += c + s[i + 1];
      i++;
    } else if (c === ',') {
      out.push(cur);
      cur = '';
    } else cur += c;
  }
  out.push(cur);
  return out;
}

function unescape(v: string): string {
  let out = '';
  for (let i = 0; i < v.length; i++) {
    const c = v[i]!;
    if (c === '\\') {
      const n = v[i + 1];
      if (n === '\\' || n === ',' || n === '=' || n === '!') {
        out += n;
        i++;
        continue;
      }
      throw badRequest(`invalid field selector: invalid escape sequence: \\${n ?? ''}`);
    }
    if (c === '=' || c === ',') throw badRequest(`invalid field selector: unescaped ${c} in value`);
    out += c;
  }
  return out;
}

function escapeValue(v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/,/g, '\\,').replace(/=/g, '\\=');
}

/** Parses "a=b,c!=d" with upstream's escaping (\, \= \\). */
export function parseFieldSelector(s: string): FieldSelectorMatcher {
  const reqs: FieldRequirement[] = [];
  if (s.trim() !== '') {
    for (const term of splitTerms(s)) {
      if (term === '') continue;
      let idx = -1;
      let op: FieldRequirement['operator'] = '=';
      for (let i = 0; i < term.length; i++) {
        if (term[i] === '\\') {
          i++;
          continue;
        }
        if (term.startsWith('!=', i)) {
          idx = i;
          op = '!=';
          break;
        }
        if (term.startsWith('==', i)) {
          idx = i;
          op = '==';
          break;
        }
        if (term[i] === '=') {
          idx = i;
          op = '=';
          break;
        }
      }
      if (idx < 0) throw badRequest(`invalid selector: '${s}'; can't understand '${term}'`);
      const field = term.slice(0, idx).trim();
      const value = unescape(term.slice(idx + op.length));
      if (!field) throw badRequest(`invalid selector: '${s}'; can't understand '${term}'`);
      reqs.push({ field, operator: op, value });
    }
  }
  return {
    requirements: reqs,
    empty: reqs.length === 0,
    fields: () => reqs.map((r) => r.field),
    matches(get) {
      for (let i = 0; i < reqs.length; i++) {
        const r = reqs[i]!;
        const v = get(r.field) ?? '';
        if (r.operator === '!=' ? v === r.value : v !== r.value) return false;
      }
      return true;
    },
    requiresExactMatch(field) {
      for (const r of reqs) if (r.field === field && r.operator !== '!=') return r.value;
      return undefined;
    },
    toString() {
      return reqs.map((r) => `${r.field}${r.operator}${escapeValue(r.value)}`).join(',');
    },
  };
}
