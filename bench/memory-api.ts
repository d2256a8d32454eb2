/**
 * A tiny in-memory API for the scheduler benchmark (upstream's scheduler_perf also runs the
 * scheduler against an in-process API): a client Transport serving list and watch of any
 * resource kept here, create (incl. pods/binding), status merge patches and deletes — just what
 * the scheduler's informers and writes use. Not a general API server: no validation, no
 * admission, no defaulting.
 */
import type { KubeObject } from '../src/api/types.ts';
import type { QueryParams, Transport, TransportRequest, TransportResponse, WatchEvent, WatchStream } from '../src/client/index.ts';

type Listener = (ev: WatchEvent) => void;

const enc = new TextEncoder();
const json = (status: number, body: unknown): TransportResponse => ({ status, headers: { 'content-type': 'application/json' }, body: enc.encode(JSON.stringify(body)) });

/** /api/v1/namespaces/ns/pods/name/binding → { collection: '/api/v1/pods', ns, name, sub }. */
function parse(path: string): { collection: string; ns: string; name: string; sub: string } {
  const m = /^(\/apis?\/(?:[^/]+\/)?v[^/]+)(?:\/namespaces\/([^/]+))?\/([^/]+)(?:\/([^/]+))?(?:\/([^/]+))?$/.exec(path);
  if (!m) return { collection: path, ns: '', name: '', sub: '' };
  return { collection: `${m[1]}/${m[3]}`, ns: m[2] ?? '', name: m[4] ?? '', sub: m[5] ?? '' };
}

export class MemoryApi implements Transport {
  #rv = 1;
  #objects = new Map<string, Map<string, KubeObject>>();
  #listeners = new Map<string, Set<Listener>>();
  /** Pods bound by the scheduler, with the time of binding. */
  readonly bound = new Map<string, number>();

  #coll(c: string): Map<string, KubeObject> {
    let m = this.#objects.get(c);
    if (!m) this.#objects.set(c, (m = new Map()));
    return m;
  }

  #emit(collection: string, type: 'ADDED' | 'MODIFIED' | 'DELETED', object: KubeObject): void {
    for (const l of this.#listeners.get(collection) ?? []) l({ type, object });
  }

  /** Adds an object directly (bench set-up). */
  put(collection: string, obj: KubeObject): KubeObject {
    const key = `${obj.metadata.namespace ?? ''}/${obj.metadata.name}`;
    const existed = this.#coll(collection).has(key);
    const stored = { ...obj, metadata: { ...obj.metadata, resourceVersion: String(++this.#rv), uid: obj.metadata.uid ?? `uid-${this.#rv}` } };
    this.#coll(collection).set(key, stored);
    this.#emit(collection, existed ? 'MODIFIED' : 'ADDED', stored);
    return stored;
  }

  remove(collection: string, ns: string, name: string): KubeObject | undefined {
    const key = `${ns}/${name}`;
    const cur = this.#coll(collection).get(key);
    if (!cur) return undefined;
    this.#coll(collection).delete(key);
    const gone = { ...cur, metadata: { ...cur.metadata, resourceVersion: String(++this.#rv) } };
    this.#emit(collection, 'DELETED', gone);
    return gone;
  }

  async request(req: TransportRequest): Promise<TransportResponse> {
    const { collection, ns, name, sub } = parse(req.path);
    const body = req.body ? (JSON.parse(typeof req.body === 'string' ? req.body : new TextDecoder().decode(req.body)) as KubeObject) : undefined;
    const key = `${ns}/${name}`;
    const cur = this.#coll(collection).get(key);
    switch (req.method) {
      case 'GET': {
        if (name) return cur ? json(200, cur) : json(404, { kind: 'Status', apiVersion: 'v1', status: 'Failure', reason: 'NotFound', code: 404, message: `${name} not found` });
        const items = [...this.#coll(collection).values()].filter((o) => !ns || o.metadata.namespace === ns);
        return json(200, { kind: 'List', apiVersion: 'v1', metadata: { resourceVersion: String(this.#rv) }, items });
      }
      case 'POST': {
        if (sub === 'binding' && cur) {
          const target = (body?.['target'] as { name: string }).name;
          this.bound.set(key, performance.now());
          this.put(collection, { ...cur, spec: { ...(cur['spec'] as object), nodeName: target } });
          return json(201, { kind: 'Status', apiVersion: 'v1', status: 'Success', code: 201 });
        }
        if (!body) return json(400, {});
        const created = this.put(collection, { ...body, metadata: { ...body.metadata, name: body.metadata.name ?? `gen-${this.#rv}`, namespace: ns || body.metadata.namespace } });
        return json(201, created);
      }
      case 'PATCH': {
        if (!cur) return json(404, { kind: 'Status', apiVersion: 'v1', status: 'Failure', reason: 'NotFound', code: 404, message: 'not found' });
        const patch = (body ?? {}) as Record<string, unknown>;
        const next: KubeObject = { ...cur };
        for (const [k, v] of Object.entries(patch)) {
          if (k === 'metadata') continue;
          next[k] = { ...((cur[k] as object | undefined) ?? {}), ...(v as object) };
        }
        return json(200, this.put(collection, next));
      }
      case 'DELETE': {
        const gone = this.remove(collection, ns, name);
        return gone ? json(200, gone) : json(404, { kind: 'Status', apiVersion: 'v1', status: 'Failure', reason: 'NotFound', code: 404, message: 'not found' });
      }
      default:
        return json(405, {});
    }
  }

  async watch(path: string, _query: QueryParams, opts: { signal?: AbortSignal } = {}): Promise<WatchStream> {
    const { collection } = parse(path);
    const queue: WatchEvent[] = [];
    let wake: (() => void) | null = null;
    let closed = false;
    const listener: Listener = (ev) => {
      queue.push(ev);
      wake?.();
    };
    let set = this.#listeners.get(collection);
    if (!set) this.#listeners.set(collection, (set = new Set()));
    set.add(listener);
    const close = () => {
      closed = true;
      set!.delete(listener);
      wake?.();
    };
    opts.signal?.addEventListener('abort', close, { once: true });
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

  async close(): Promise<void> {}
}
