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
   * the caller's depth check, 10,000 levels upstream). Paths are built only for repeats.
   */
  value(root: string, out: string[]): void {
    const t = this.text;
    const frames: Frame[] = [];
    // Where the next value sits in the innermost container: a key, or an index.
    let at: string | number | undefined;
    for (;;) {
      // ---- at the start of a value
      this.ws();
      const c = t.charCodeAt(this.pos);
      if (c === 123 || c === 91) {
        this.pos++;
        frames.push({ at, obj: c === 123, i: 0, keys: undefined, set: undefined });
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
          at = f.i;
          break;
        }
        if (d !== 34) {
          this.pos++; // malformed: keep moving
          continue;
        }
        const key = this.string();
        if (seenBefore(f, key)) out.push(pathOf(root, frames, key));
        this.ws();
        if (t.charCodeAt(this.pos) === 58) this.pos++; // :
        at = key;
        break;
      }
    }
  }
}

/** An open container: where it sits in its parent, its kind, the keys seen (objects) or the index (arrays). */
interface Frame {
  at: string | number | undefined;
  obj: boolean;
  i: number;
  /** The keys seen so far, while few; past `smallObject` of them, a set. */
  keys: string[] | undefined;
  set: Set<string> | undefined;
}

const smallObject = 16;

/** Whether `key` was seen before in this object (recording it if not). */
function seenBefore(f: Frame, key: string): boolean {
  if (f.set) {
    if (f.set.has(key)) return true;
    f.set.add(key);
    return false;
  }
  const keys = (f.keys ??= []);
  if (keys.includes(key)) return true;
  keys.push(key);
  if (keys.length > smallObject) f.set = new Set(keys);
  return false;
}

/** The path of `key` in the innermost open object ("spec.template.spec.containers[0].image"). */
function pathOf(root: string, frames: readonly Frame[], key: string): string {
  let path = root;
  const step = (at: string | number) => {
    path = typeof at === 'number' ? `${path}[${at}]` : path ? `${path}.${at}` : at;
  };
  for (const f of frames) if (f.at !== undefined) step(f.at);
  step(key);
  return path;
}
