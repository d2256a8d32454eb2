/**
 * Test helpers for the operator kit's unit tests: an in-memory lister-watcher (one resource,
 * objects by key, every change pushed to open watches) — a fake only for pure units, as
 * STYLE.md allows; the kit is tested against real servers in test/e2e/operator.test.ts.
 */
import type { KubeList, KubeObject } from '../api/types.ts';
import type { ListerWatcher, WatchEvent, WatchStream } from '../client/index.ts';

export class MemoryLW {
  #objs = new Map<string, KubeObject>();
  #rv = 1;
  #streams = new Set<{ push(ev: WatchEvent<KubeObject>): void }>();
  /** Every change, for watches that start from an older resourceVersion. */
  #log: WatchEvent<KubeObject>[] = [];

  get lw(): ListerWatcher {
    return {
      list: async () => ({ apiVersion: 'v1', kind: 'List', metadata: { resourceVersion: String(this.#rv) }, items: [...this.#objs.values()].map((o) => structuredClone(o)) }) as unknown as KubeList<never>,
      watch: async (_res, opts) => this.#open(opts?.signal, Number(opts?.resourceVersion ?? 0)) as unknown as WatchStream<never>,
    };
  }

  #open(signal?: AbortSignal, fromRv = 0): WatchStream<KubeObject> {
    const queue: WatchEvent<KubeObject>[] = this.#log.filter((ev) => Number(ev.object.metadata?.resourceVersion) > fromRv);
    let wake: (() => void) | null = null;
    let closed = false;
    const entry = {
      push: (ev: WatchEvent<KubeObject>) => {
        queue.push(ev);
        wake?.();
      },
    };
    this.#streams.add(entry);
    const close = () => {
      closed = true;
      this.#streams.delete(entry);
      wake?.();
    };
    signal?.addEventListener('abort', close, { once: true });
    return {
      close,
      async *[Symbol.asyncIterator]() {
        while (!closed) {
          if (queue.length) {
            yield queue.shift()!;
            continue;
          }
          await new Promise<void>((r) => (wake = r));
          wake = null;
        }
      },
    };
  }

  /** Creates or replaces an object (bumping its resourceVersion and, with `spec`, generation). */
  put(obj: KubeObject): KubeObject {
    const key = obj.metadata.namespace ? `${obj.metadata.namespace}/${obj.metadata.name}` : obj.metadata.name!;
    const old = this.#objs.get(key);
    const o = structuredClone(obj);
    o.metadata.resourceVersion = String(++this.#rv);
    o.metadata.generation ??= old?.metadata.generation ?? 1;
    o.metadata.uid ??= old?.metadata.uid ?? `uid-${key}`;
    this.#objs.set(key, o);
    this.#emit({ type: old ? 'MODIFIED' : 'ADDED', object: structuredClone(o) });
    return o;
  }

  remove(key: string): void {
    const old = this.#objs.get(key);
    if (!old) return;
    this.#objs.delete(key);
    const o = { ...structuredClone(old), metadata: { ...old.metadata, resourceVersion: String(++this.#rv) } };
    this.#emit({ type: 'DELETED', object: o });
  }

  #emit(ev: WatchEvent<KubeObject>): void {
    this.#log.push(ev);
    for (const s of this.#streams) s.push(structuredClone(ev));
  }
}

/** Resolves once `fn` returns true (polling every 5 ms), failing after `ms`. */
export async function eventually(what: string, fn: () => boolean, ms = 2000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!fn()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}
