/**
 * Duplicate object keys in a JSON text, which JSON.parse silently resolves (the last one wins,
 * as Go's decoder does too). Upstream's strict decoder reports each repeat as
 * `duplicate field "<path>"`; fieldValidation turns them into an error (Strict) or warnings (Warn).
 *
 * `duplicateJsonFields` scans the text once, without building values, and returns the paths of
 * repeated keys in document order ("spec.paused", "spec.template.spec.containers[0].image").
 * The text must already be known to be valid JSON (it is parsed first); on malformed input the
 * result is unspecified but the scan terminates.
 */

export function duplicateJsonFields(text: string): string[] {
  // Fast exit: without any object there is nothing to repeat.
  if (text.indexOf('{') < 0) return [];
  const out: string[] = [];
  const s = new Scanner(text);
  s.value('', out);
  return out;
}

class Scanner {
  readonly text: string;
  pos = 0;

  constructor(text: string) {
    this.text = text;
  }

  ws(): void {
    const t = this.text;
    let p = this.pos;
    for (;;) {
      const c = t.charCodeAt(p);
      if (c === 32 || c === 10 || c === 13 || c === 9) p++;
      else break;
    }
    this.pos = p;
  }

  /** Reads a string starting at the opening quote; returns its decoded value. */
  string(): string {
    const t = this.text;
    const start = ++this.pos;
    let p = start;
    let escaped = false;
    while (p < t.length) {
      const c = t.charCodeAt(p);
      if (c === 34) break; // "
      if (c === 92) {
        escaped = true;
        p += 2;
      } else p++;
    }
    this.pos = p + 1;
    const raw = t.slice(start, p);
    if (!escaped) return raw;
    try {
      return JSON.parse(`"${raw}"`) as string;
    } catch {
      return raw;
    }
  }

  /** Skips a scalar (number, true, false, null). */
  scalar(): void {
    const t = this.text;
    let p = this.pos;
    while (p < t.length) {
      const c = t.charCodeAt(p);
      if (c === 44 || c === 125 || c === 93 || c === 32 || c === 10 || c === 13 || c === 9) break; // , } ] ws
      p++;
    }
    this.pos = p === this.pos ? p + 1 : p;
  }

  value(path: string, out: string[]): void {
    this.ws();
    const c = this.text.charCodeAt(this.pos);
    if (c === 123) this.object(path, out);
    else if (c === 91) this.array(path, out);
    else if (c === 34) this.string();
    else this.scalar();
  }

  object(path: string, out: string[]): void {
    this.pos++; // {
    let seen: Set<string> | undefined;
    let first: string | undefined;
    for (;;) {
      this.ws();
      const c = this.text.charCodeAt(this.pos);
      if (c === 125 || Number.isNaN(c)) {
        this.pos++;
        return;
      }
      if (c === 44) {
        this.pos++;
        continue;
      }
      if (c !== 34) {
        this.pos++; // malformed: keep moving
        continue;
      }
      const key = this.string();
      const child = path ? `${path}.${key}` : key;
      // Most objects have few keys: keep the first one unboxed, build a set from the second on.
      if (first === undefined) first = key;
      else {
        if (!seen) seen = new Set([first]);
        if (seen.has(key)) out.push(child);
        else seen.add(key);
      }
      this.ws();
      if (this.text.charCodeAt(this.pos) === 58) this.pos++; // :
      this.value(child, out);
    }
  }

  array(path: string, out: string[]): void {
    this.pos++; // [
    let i = 0;
    for (;;) {
      this.ws();
      const c = this.text.charCodeAt(this.pos);
      if (c === 93 || Number.isNaN(c)) {
        this.pos++;
        return;
      }
      if (c === 44) {
        this.pos++;
        i++;
        continue;
      }
      this.value(`${path}[${i}]`, out);
    }
  }
}
