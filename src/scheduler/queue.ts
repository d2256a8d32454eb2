/**
 * The scheduling queue's active part (upstream activeQ with the PrioritySort plugin): pods by
 * priority, highest first, then by creation time, then in the order they were first added. A
 * binary heap, so that taking the next pod costs log(n) instead of a walk over every waiting pod
 * (10,000 pods of a new Deployment wait here at once). Removal is lazy: a removed or replaced
 * entry stays in the heap, marked stale, until it reaches the top or the heap is rebuilt (when
 * stale entries outnumber live ones).
 */

export interface Queued {
  key: string;
  priority: number;
  /** creationTimestamp (RFC 3339: compares as a string). */
  created: string;
}

interface Entry extends Queued {
  seq: number;
}

/** Whether `a` goes before `b`. */
function before(a: Entry, b: Entry): boolean {
  if (a.priority !== b.priority) return a.priority > b.priority;
  if (a.created !== b.created) return a.created < b.created;
  return a.seq < b.seq;
}

export class ActiveQueue {
  #heap: Entry[] = [];
  #live = new Map<string, Entry>();
  #seq = 0;

  get size(): number {
    return this.#live.size;
  }

  /** Entries held, stale ones included (bounded: at most about twice the waiting pods). */
  get held(): number {
    return this.#heap.length;
  }

  has(key: string): boolean {
    return this.#live.has(key);
  }

  /** Adds the pod, or updates its place if it is already waiting (keeping its turn among equals). */
  add(q: Queued): void {
    const old = this.#live.get(q.key);
    if (old && old.priority === q.priority && old.created === q.created) return;
    const e: Entry = { key: q.key, priority: q.priority, created: q.created, seq: old ? old.seq : this.#seq++ };
    this.#live.set(q.key, e);
    this.#push(e);
    if (old) this.#compact();
  }

  delete(key: string): boolean {
    if (!this.#live.delete(key)) return false;
    this.#compact();
    return true;
  }

  /** The next pod to schedule, taken out of the queue. */
  pop(): Queued | undefined {
    const heap = this.#heap;
    while (heap.length) {
      const top = heap[0]!;
      const last = heap.pop()!;
      if (heap.length) {
        heap[0] = last;
        this.#down(0);
      }
      if (this.#live.get(top.key) === top) {
        this.#live.delete(top.key);
        return { key: top.key, priority: top.priority, created: top.created };
      }
    }
    return undefined;
  }

  #push(e: Entry): void {
    const heap = this.#heap;
    heap.push(e);
    let i = heap.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!before(heap[i]!, heap[parent]!)) break;
      [heap[i], heap[parent]] = [heap[parent]!, heap[i]!];
      i = parent;
    }
  }

  #down(i: number): void {
    const heap = this.#heap;
    const n = heap.length;
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let best = i;
      if (l < n && before(heap[l]!, heap[best]!)) best = l;
      if (r < n && before(heap[r]!, heap[best]!)) best = r;
      if (best === i) return;
      [heap[i], heap[best]] = [heap[best]!, heap[i]!];
      i = best;
    }
  }

  /** Rebuilds the heap once stale entries outnumber live ones. */
  #compact(): void {
    if (this.#heap.length > 64 && this.#heap.length > 2 * this.#live.size) this.#rebuild();
  }

  #rebuild(): void {
    this.#heap = [...this.#live.values()];
    for (let i = (this.#heap.length >> 1) - 1; i >= 0; i--) this.#down(i);
  }
}
