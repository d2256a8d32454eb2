/**
 * Resource discovery for controllers that act on every kind (namespace deletion, garbage
 * collection): the API server's resource lists at each group's preferred version, with scope and
 * verbs. Results are cached for a short time; subresources are left out.
 */
import type { RestClient, ResourceDescriptor } from '../client/index.ts';

export interface DiscoveredResource extends ResourceDescriptor {
  verbs: readonly string[];
}

interface ApiResource {
  name: string;
  kind: string;
  namespaced: boolean;
  verbs: string[];
}

async function getJson<T>(client: RestClient, path: string): Promise<T> {
  const res = await client.request({ method: 'GET', path, accept: 'application/json' });
  if (res.status !== 200) throw new Error(`discovery ${path}: HTTP ${res.status}`);
  return JSON.parse(Buffer.from(res.body).toString('utf8')) as T;
}

export class Discovery {
  #client: RestClient;
  #ttlMs: number;
  #cached: { at: number; list: DiscoveredResource[] } | null = null;

  constructor(client: RestClient, ttlMs = 10_000) {
    this.#client = client;
    this.#ttlMs = ttlMs;
  }

  /** Every resource at its group's preferred version. */
  async resources(): Promise<DiscoveredResource[]> {
    if (this.#cached && Date.now() - this.#cached.at < this.#ttlMs) return this.#cached.list;
    const gvs: { group: string; version: string }[] = [];
    const core = await getJson<{ versions: string[] }>(this.#client, '/api');
    for (const v of core.versions) gvs.push({ group: '', version: v });
    const groups = await getJson<{ groups: { name: string; preferredVersion?: { version: string }; versions: { version: string }[] }[] }>(this.#client, '/apis');
    for (const g of groups.groups) gvs.push({ group: g.name, version: g.preferredVersion?.version ?? g.versions[0]!.version });
    const list: DiscoveredResource[] = [];
    await Promise.all(
      gvs.map(async ({ group, version }) => {
        const path = group ? `/apis/${group}/${version}` : `/api/${version}`;
        const rl = await getJson<{ resources: ApiResource[] }>(this.#client, path);
        for (const r of rl.resources) {
          if (r.name.includes('/')) continue;
          list.push({ group, version, resource: r.name, kind: r.kind, namespaced: r.namespaced, verbs: r.verbs });
        }
      }),
    );
    this.#cached = { at: Date.now(), list };
    return list;
  }
}
