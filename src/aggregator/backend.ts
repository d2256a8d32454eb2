/**
 * What the aggregator asks a backend itself, as kube-aggregator does: the availability
 * controller's discovery check (GET /apis/<group>/<version> as system:kube-aggregator in
 * system:masters, 5 s, any 2xx passes) and the discovery manager's fetch of the backend's
 * aggregated document (GET /apis with the apidiscovery v2 Accept), falling back to the
 * group-version's legacy APIResourceList converted to aggregated form.
 */
import https from 'node:https';
import type { IncomingMessage } from 'node:http';
import { backendRequestTimeoutMs, dialError, identityHeaders, requestOptions, type ProxyTarget } from './proxy.ts';

const aggregatorUser = { username: 'system:kube-aggregator', groups: ['system:masters'] };

/** Largest discovery document read from a backend. */
export const maxDiscoveryBytes = 16 * 1024 * 1024;

const acceptV2 = 'application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList,application/json';

function urlOf(target: ProxyTarget, path: string): string {
  return `https://${target.host.includes(':') ? `[${target.host}]` : target.host}:${target.port}${path}`;
}

/** One GET; resolves with status, content type and body, rejects with Go-worded errors. */
export function get(target: ProxyTarget, path: string, headers: Record<string, string | string[]>): Promise<{ status: number; contentType: string; body: Buffer }> {
  return new Promise((resolve, reject) => {
    const req = https.request(requestOptions(target, 'GET', path, headers));
    const timer = setTimeout(() => req.destroy(Object.assign(new Error(`timed out waiting for ${urlOf(target, path)}`), { code: 'BOSUN_TIMEOUT' })), backendRequestTimeoutMs);
    req.on('error', (err: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      reject(new Error(err.code === 'BOSUN_TIMEOUT' ? err.message : `Get "${urlOf(target, path)}": ${dialError(err, target)}`));
    });
    req.on('response', (res: IncomingMessage) => {
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (c: Buffer) => {
        size += c.length;
        if (size > maxDiscoveryBytes) req.destroy(new Error(`response from ${urlOf(target, path)} is larger than ${maxDiscoveryBytes} bytes`));
        else chunks.push(c);
      });
      res.on('end', () => {
        clearTimeout(timer);
        resolve({ status: res.statusCode ?? 0, contentType: String(res.headers['content-type'] ?? ''), body: Buffer.concat(chunks) });
      });
      res.on('error', (e) => {
        clearTimeout(timer);
        reject(e);
      });
    });
    req.end();
  });
}

/** The discovery check: undefined when it passed, else upstream's FailedDiscoveryCheck message. */
export async function discoveryCheck(target: ProxyTarget, group: string, version: string): Promise<string | undefined> {
  const path = group ? `/apis/${group}/${version}` : `/api/${version}`;
  try {
    const r = await get(target, path, { ...identityHeaders(aggregatorUser), accept: 'application/json' });
    if (r.status < 200 || r.status >= 300) return `failing or missing response from ${urlOf(target, path)}: bad status from ${urlOf(target, path)}: ${r.status}`;
    return undefined;
  } catch (err) {
    const msg = (err as Error).message;
    return msg.startsWith('timed out') ? msg : `failing or missing response from ${urlOf(target, path)}: ${msg}`;
  }
}

/** A group-version's aggregated discovery entry's resources, from the backend. Rejects on failure. */
export async function fetchResources(target: ProxyTarget, group: string, version: string): Promise<unknown[]> {
  const r = await get(target, '/apis', { ...identityHeaders(aggregatorUser), accept: acceptV2 });
  if (r.status === 200 && /as=APIGroupDiscoveryList/.test(r.contentType.replace(/\s+/g, ''))) {
    const list = JSON.parse(r.body.toString('utf8')) as { items?: { metadata?: { name?: string }; versions?: { version: string; resources?: unknown[] }[] }[] };
    const g = list.items?.find((i) => (i.metadata?.name ?? '') === group);
    const v = g?.versions?.find((x) => x.version === version);
    return v?.resources ?? [];
  }
  if (r.status === 503) throw new Error(`service returned non-success response code: ${r.status}`);
  const legacy = await get(target, `/apis/${group}/${version}`, { ...identityHeaders({ username: aggregatorUser.username, groups: [] }), accept: 'application/json' });
  if (legacy.status !== 200) throw new Error(`failed to download legacy discovery for /apis/${group}/${version}: ${legacy.body.toString('utf8')}`);
  const list = JSON.parse(legacy.body.toString('utf8')) as { resources?: LegacyResource[] };
  return legacyToAggregated(list.resources ?? []);
}

export interface LegacyResource {
  name: string;
  singularName?: string;
  namespaced?: boolean;
  group?: string;
  version?: string;
  kind: string;
  verbs?: string[];
  shortNames?: string[];
  categories?: string[];
}

/** Upstream's ConvertGroupVersionIntoToDiscovery: `parent/sub` entries become the parent's subresources. */
export function legacyToAggregated(resources: readonly LegacyResource[]): unknown[] {
  const out = new Map<string, Record<string, unknown>>();
  for (const r of resources) {
    if (r.name.includes('/')) continue;
    const e: Record<string, unknown> = {
      resource: r.name,
      responseKind: { group: r.group ?? '', version: r.version ?? '', kind: r.kind },
      scope: r.namespaced ? 'Namespaced' : 'Cluster',
      singularResource: r.singularName ?? '',
      verbs: r.verbs ?? [],
    };
    if (r.shortNames?.length) e['shortNames'] = r.shortNames;
    if (r.categories?.length) e['categories'] = r.categories;
    out.set(r.name, e);
  }
  for (const r of resources) {
    const slash = r.name.indexOf('/');
    if (slash < 0) continue;
    const parent = out.get(r.name.slice(0, slash));
    if (!parent) continue;
    const subs = ((parent['subresources'] as unknown[] | undefined) ??= []);
    subs.push({ subresource: r.name.slice(slash + 1), responseKind: { group: r.group ?? '', version: r.version ?? '', kind: r.kind }, verbs: r.verbs ?? [] });
  }
  return [...out.values()];
}
