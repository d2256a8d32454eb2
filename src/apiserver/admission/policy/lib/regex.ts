/**
 * The Kubernetes CEL regex library, as upstream's apiserver/pkg/cel/library/regex.go:
 * `<string>.find(<regex>)` (the first match, or '' when none) and `<string>.findAll(<regex>)` /
 * `findAll(<regex>, <limit>)` (every match, at most `limit` when it is not negative). A pattern
 * that is not valid RE2 is an error `Illegal regex: error parsing regexp: …`, as Go's words.
 *
 * The pattern is checked with the RE2 engine @bufbuild/cel uses for `matches` and then run as a
 * JavaScript RegExp, translated from RE2 syntax (named groups `(?P<n>…)`, leading flag groups
 * `(?i)`, `(?s)`, `(?m)`, `\A`, `\z`, `\pL`, POSIX classes `[[:alpha:]]`, `\Q…\E`). Both engines
 * pick the leftmost-first match, so results agree for the patterns policies use; RE2 features
 * JavaScript lacks (`(?U)`, a bare flag group such as `(?i)` after the start) are errors.
 */
import { CelScalar, celMethod, isCelError, parse, plan, celEnv, type CelFunc } from '@bufbuild/cel';

/** Compiled patterns kept, at most (cleared when full). */
export const regexCacheSize = 256;

const posix: Record<string, string> = {
  alnum: '0-9A-Za-z',
  alpha: 'A-Za-z',
  ascii: '\\x00-\\x7F',
  blank: '\\t ',
  cntrl: '\\x00-\\x1F\\x7F',
  digit: '0-9',
  graph: '!-~',
  lower: 'a-z',
  print: ' -~',
  punct: '!-\\/:-@\\[-`{-~',
  space: '\\t\\n\\v\\f\\r ',
  upper: 'A-Z',
  word: '0-9A-Za-z_',
  xdigit: '0-9A-Fa-f',
};

const escapeLiteral = (s: string) => s.replace(/[\\^$.*+?()[\]{}|/-]/g, '\\$&');

/** The RegExp source and flags for an RE2 pattern; throws when JavaScript cannot express it. */
export function translate(pattern: string): { source: string; flags: string } {
  let flags = '';
  let i = 0;
  const lead = /^\(\?([imsU]+)\)/.exec(pattern);
  if (lead) {
    if (lead[1]!.includes('U')) throw new Error('the ungreedy flag (?U) is not supported');
    for (const f of new Set(lead[1])) flags += f;
    i = lead[0].length;
  }
  let out = '';
  let inClass = false;
  while (i < pattern.length) {
    const c = pattern[i]!;
    if (c === '\\') {
      const n = pattern[i + 1] ?? '';
      if (n === 'Q') {
        const end = pattern.indexOf('\\E', i + 2);
        const lit = pattern.slice(i + 2, end < 0 ? undefined : end);
        out += escapeLiteral(lit);
        i = end < 0 ? pattern.length : end + 2;
        continue;
      }
      if (!inClass && n === 'A') out += '(?<![\\s\\S])';
      else if (!inClass && n === 'z') out += '(?![\\s\\S])';
      else if (n === 'C') out += inClass ? '\\s\\S' : '[\\s\\S]';
      else if ((n === 'p' || n === 'P') && pattern[i + 2] !== '{') {
        out += `\\${n}{${pattern[i + 2] ?? ''}}`;
        i += 3;
        continue;
      } else out += c + n;
      i += 2;
      continue;
    }
    if (inClass) {
      if (c === '[' && pattern[i + 1] === ':') {
        const end = pattern.indexOf(':]', i + 2);
        const name = end < 0 ? undefined : pattern.slice(i + 2, end);
        if (name !== undefined && name in posix) {
          out += posix[name];
          i = end + 2;
          continue;
        }
      }
      if (c === ']') inClass = false;
      out += c === '[' ? '\\[' : c;
      i++;
      continue;
    }
    if (c === '[') {
      inClass = true;
      out += c;
      if (pattern[i + 1] === '^') {
        out += '^';
        i++;
      }
      if (pattern[i + 1] === ']') {
        out += '\\]';
        i++;
      }
      i++;
      continue;
    }
    if (c === '(' && pattern.startsWith('(?P<', i)) {
      out += '(?<';
      i += 4;
      continue;
    }
    out += c;
    i++;
  }
  return { source: out, flags };
}

let validator: ((b: { p: string }) => unknown) | undefined;

/** Go's error for a pattern RE2 refuses, or undefined when it is valid. */
function re2Error(pattern: string): string | undefined {
  validator ??= plan(celEnv({ variables: { p: CelScalar.STRING } }), parse("''.matches(p)")) as (b: { p: string }) => unknown;
  const r = validator({ p: pattern });
  return isCelError(r) ? r.message : undefined;
}

const cache = new Map<string, RegExp | Error>();

/** The pattern as a global RegExp; throws `Illegal regex: …` for a bad one. */
export function compileRegex(pattern: string): RegExp {
  let re = cache.get(pattern);
  if (re === undefined) {
    const bad = re2Error(pattern);
    if (bad !== undefined) re = new Error(`Illegal regex: ${bad}`);
    else {
      try {
        const t = translate(pattern);
        try {
          re = new RegExp(t.source, `${t.flags}gu`);
        } catch {
          re = new RegExp(t.source, `${t.flags}g`);
        }
      } catch (err) {
        re = new Error(`Illegal regex: ${(err as Error).message}`);
      }
    }
    if (cache.size >= regexCacheSize) cache.clear();
    cache.set(pattern, re);
  }
  if (re instanceof Error) throw re;
  return re;
}

function findAll(s: string, pattern: string, limit: bigint): string[] {
  const re = compileRegex(pattern);
  const out: string[] = [];
  if (limit === 0n) return out;
  re.lastIndex = 0;
  for (const m of s.matchAll(re)) {
    out.push(m[0]);
    if (limit > 0n && BigInt(out.length) >= limit) break;
  }
  return out;
}

export const regexFuncs: CelFunc[] = [
  celMethod('find', CelScalar.STRING, [CelScalar.STRING], CelScalar.STRING, function (this: string, pattern: string) {
    const re = compileRegex(pattern);
    re.lastIndex = 0;
    const m = re.exec(this);
    return m ? m[0] : '';
  }),
  celMethod('findAll', CelScalar.STRING, [CelScalar.STRING], CelScalar.DYN, function (this: string, pattern: string) {
    return findAll(this, pattern, -1n) as never;
  }),
  celMethod('findAll', CelScalar.STRING, [CelScalar.STRING, CelScalar.INT], CelScalar.DYN, function (this: string, pattern: string, limit: bigint) {
    return findAll(this, pattern, limit) as never;
  }),
];
