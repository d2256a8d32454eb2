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

  /**
   * Walks the value at `pos` with an explicit stack (no recursion: nesting is bounded only by
   * the caller's depth check, 10,000 levels upstream).
   */
  value(root: string, out: string[]): void {
    const t = this.text;
    // One frame per open container: its path, whether it is an object, the keys seen, the index.
    const frames: { path: string; obj: boolean; first?: string; seen?: Set<string>; i: number }[] = [];
    let path = root;
    for (;;) {
      // ---- at the start of a value
      this.ws();
      const c = t.charCodeAt(this.pos);
      if (c === 123 || c === 91) {
        this.pos++;
        frames.push({ path, obj: c === 123, i: 0 });
      } else if (c === 34) this.string();
      else this.scalar();
      // ---- find the next value, closing containers on the way
      for (;;) {
        const f = frames[frames.length - 1];
        if (!f) return;
        this.ws();
        const d = t.charCodeAt(this.pos);
        if (d === 125 || d === 93 || Number.isNaN(d)) {
          this.pos++;
          frames.pop();
          if (Number.isNaN(d)) return;
          continue;
        }
        if (d === 44) {
          this.pos++;
          if (!f.obj) f.i++;
          continue;
        }
        if (!f.obj) {
          path = `${f.path}[${f.i}]`;
          break;
        }
        if (d !== 34) {
          this.pos++; // malformed: keep moving
          continue;
        }
        const key = this.string();
        const child = f.path ? `${f.path}.${key}` : key;
        // Most objects have few keys: keep the first one unboxed, build a set from the second on.
        if (f.first === undefined) f.first = key;
        else {
          f.seen ??= new Set([f.first]);
          if (f.seen.has(key)) out.push(child);
          else f.seen.add(key);
        }
        this.ws();
        if (t.charCodeAt(this.pos) === 58) this.pos++; // :
        path = child;
        break;
      }
    }
  }
}
