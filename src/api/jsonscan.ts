/**
 * JSON checks that run before or beside JSON.parse, in one linear pass and without recursion:
 * - `jsonDepthExceeded`: does the text nest objects/arrays deeper than upstream accepts
 *   (`maxJsonDepth`, Go encoding/json's maxNestingDepth, kept by sigs.k8s.io/json)?
 * - `goJsonSyntaxError`: the message Go's encoding/json scanner gives for a text, so that decode
 *   errors read as upstream's (`invalid character 'o' in literal null (expecting 'u')`,
 *   `unexpected end of JSON input`, `invalid character '[' exceeded max depth`).
 * - `valueDepthError`: the same depth rule applied to an already decoded value (YAML, protobuf).
 * - `goJsonKind`, `quoteChar`: how Go's JSON errors name a value's type and print a character.
 */

/** Go encoding/json `maxNestingDepth`: depth 10,000 is accepted, 10,001 is not. */
export const maxJsonDepth = 10_000;

/** True when `text` opens more than `max` objects/arrays at once (strings are skipped). */
export function jsonDepthExceeded(text: string, max = maxJsonDepth): boolean {
  let depth = 0;
  const n = text.length;
  for (let i = 0; i < n; i++) {
    const c = text.charCodeAt(i);
    if (c === 34) {
      // skip a string
      for (i++; i < n; i++) {
        const d = text.charCodeAt(i);
        if (d === 92) i++;
        else if (d === 34) break;
      }
    } else if (c === 91 || c === 123) {
      if (++depth > max) return true;
    } else if (c === 93 || c === 125) depth--;
  }
  return false;
}

/** Go's quoteChar: how its scanner prints the offending character (strconv's quoting of a rune). */
export function quoteChar(c: string): string {
  const code = c.codePointAt(0) ?? 0;
  if (code === 0x27) return `'\\''`;
  if (code === 0x22) return `'"'`;
  if ((code >= 0x20 && code < 0x7f) || (code >= 0xa1 && code !== 0xad)) return `'${c}'`;
  if (code < 0x20 || code === 0x7f) {
    const named: Record<number, string> = { 0x07: '\\a', 0x08: '\\b', 0x0c: '\\f', 0x0a: '\\n', 0x0d: '\\r', 0x09: '\\t', 0x0b: '\\v' };
    return `'${named[code] ?? `\\x${code.toString(16).padStart(2, '0')}`}'`;
  }
  return `'\\u${code.toString(16).padStart(4, '0')}'`;
}

/** The JSON type name Go's decoder uses in "cannot unmarshal X into ..." errors. */
export function goJsonKind(v: unknown): string {
  if (Array.isArray(v)) return 'array';
  if (typeof v === 'boolean') return 'bool';
  return typeof v === 'object' ? 'object' : typeof v;
}

const isSpace = (c: string): boolean => c === ' ' || c === '\t' || c === '\r' || c === '\n';
const isDigit = (c: string): boolean => c >= '0' && c <= '9';
const isHex = (c: string): boolean => isDigit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');

const literals: Record<string, string> = { t: 'true', f: 'false', n: 'null' };

/**
 * The error Go's encoding/json reports for `text` (checkValid: syntax and depth, in text order),
 * or undefined when the text is valid JSON. Linear, iterative.
 */
export function goJsonSyntaxError(text: string, max = maxJsonDepth): string | undefined {
  const stack: ('key' | 'value' | 'array')[] = [];
  const n = text.length;
  let i = 0;
  const err = (c: string, context: string): string => `invalid character ${quoteChar(c)} ${context}`;
  // Each iteration parses one value then the separators after it.
  let top = false; // a complete top-level value has been read
  for (;;) {
    // ---- begin value
    while (i < n && isSpace(text[i]!)) i++;
    if (top) {
      if (i < n) return err(text[i]!, 'after top-level value');
      return undefined;
    }
    if (i >= n) return 'unexpected end of JSON input';
    let c = text[i]!;
    if (c === '{' || c === '[') {
      stack.push(c === '{' ? 'key' : 'array');
      if (stack.length > max) return err(c, 'exceeded max depth');
      i++;
      while (i < n && isSpace(text[i]!)) i++;
      if (i >= n) return 'unexpected end of JSON input';
      const e = text[i]!;
      if (c === '{') {
        if (e === '}') {
          stack.pop();
          i++;
        } else if (e !== '"') return err(e, 'looking for beginning of object key string');
        else continue; // the key is read as a value below
      } else if (e === ']') {
        stack.pop();
        i++;
      } else continue;
    } else if (c === '"') {
      i++;
      for (;;) {
        if (i >= n) return 'unexpected end of JSON input';
        c = text[i]!;
        if (c === '"') {
          i++;
          break;
        }
        if (c === '\\') {
          i++;
          if (i >= n) return 'unexpected end of JSON input';
          const e = text[i]!;
          if ('"\\/bfnrt'.includes(e)) i++;
          else if (e === 'u') {
            i++;
            for (let k = 0; k < 4; k++, i++) {
              if (i >= n) return 'unexpected end of JSON input';
              if (!isHex(text[i]!)) return err(text[i]!, 'in \\u hexadecimal character escape');
            }
          } else return err(e, 'in string escape code');
          continue;
        }
        if (c < ' ') return err(c, 'in string literal');
        i++;
      }
    } else if (c === '-' || isDigit(c)) {
      if (c === '-') {
        i++;
        if (i >= n) return 'unexpected end of JSON input';
        if (!isDigit(text[i]!)) return err(text[i]!, 'in numeric literal');
      }
      if (text[i] === '0') i++;
      else while (i < n && isDigit(text[i]!)) i++;
      if (text[i] === '.') {
        i++;
        if (i >= n) return 'unexpected end of JSON input';
        if (!isDigit(text[i]!)) return err(text[i]!, 'after decimal point in numeric literal');
        while (i < n && isDigit(text[i]!)) i++;
      }
      if (text[i] === 'e' || text[i] === 'E') {
        i++;
        if (text[i] === '+' || text[i] === '-') i++;
        if (i >= n) return 'unexpected end of JSON input';
        if (!isDigit(text[i]!)) return err(text[i]!, 'in exponent of numeric literal');
        while (i < n && isDigit(text[i]!)) i++;
      }
    } else if (literals[c]) {
      const word = literals[c]!;
      i++;
      for (let k = 1; k < word.length; k++, i++) {
        if (i >= n) return 'unexpected end of JSON input';
        if (text[i] !== word[k]) return err(text[i]!, `in literal ${word} (expecting ${quoteChar(word[k]!)})`);
      }
    } else return err(c, 'looking for beginning of value');
    // ---- end value: separators and closers
    for (;;) {
      while (i < n && isSpace(text[i]!)) i++;
      if (stack.length === 0) {
        top = true;
        break;
      }
      if (i >= n) return 'unexpected end of JSON input';
      c = text[i]!;
      const state = stack[stack.length - 1]!;
      if (state === 'key') {
        if (c !== ':') return err(c, 'after object key');
        stack[stack.length - 1] = 'value';
        i++;
        break;
      }
      if (state === 'value') {
        if (c === ',') {
          stack[stack.length - 1] = 'key';
          i++;
          while (i < n && isSpace(text[i]!)) i++;
          if (i >= n) return 'unexpected end of JSON input';
          if (text[i] !== '"') return err(text[i]!, 'looking for beginning of object key string');
          break;
        }
        if (c === '}') {
          stack.pop();
          i++;
          continue;
        }
        return err(c, 'after object key:value pair');
      }
      if (c === ',') {
        i++;
        break;
      }
      if (c === ']') {
        stack.pop();
        i++;
        continue;
      }
      return err(c, 'after array element');
    }
  }
}

/**
 * For a decoded value: the Go scanner's depth error its JSON form would raise (`invalid
 * character '{' exceeded max depth`, naming the first container past `max` in document order),
 * or undefined. Iterative.
 */
export function valueDepthError(value: unknown, max = maxJsonDepth): string | undefined {
  const stack: [unknown, number][] = [[value, 1]];
  while (stack.length) {
    const [v, depth] = stack.pop()!;
    if (v === null || typeof v !== 'object') continue;
    if (depth > max) return `invalid character ${Array.isArray(v) ? "'['" : "'{'"} exceeded max depth`;
    const children = Array.isArray(v) ? v : Object.values(v as object);
    for (let k = children.length - 1; k >= 0; k--) stack.push([children[k], depth + 1]);
  }
  return undefined;
}
