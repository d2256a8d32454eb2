/**
 * API discovery, derived from the registry: the legacy documents (/api, /apis, /apis/<group>,
 * per group-version APIResourceLists) and aggregated discovery (apidiscovery.k8s.io v2 and
 * v2beta1) that kubectl asks for first. Documents are computed once per registry change.
 *
 * Group-versions served by other API servers through the aggregator (remote APIServices,
 * src/aggregator) come in as a `RemoteDiscovery`: merged into /apis, /apis/<group> and the
 * aggregated documents as kube-aggregator's handler_apis.go and handler_discovery.go merge them
 * (a remote group goes before the first local group of lower priority; a group both serve lists
 * the local versions first). Their per-version APIResourceLists are the backends' own (proxied).
 * Without remote groups the output is exactly the registry's.
 */
import { createHash } from 'node:crypto';
import type { ResourceRegistry, ServedResource } from './registry.ts';
import { connectSubresources } from './streaming/subresources.ts';

export interface DiscoveryDocs {
  apiVersions(serverAddress: string): unknown;
  apiGroupList(): unknown;
  apiGroup(group: string): unknown | undefined;
  resourceList(group: string, version: string): unknown | undefined;
  aggregated(legacy: boolean, version: 'v2' | 'v2beta1'): { body: string; etag: string };
}

/** One remote group-version as the aggregated discovery shows it. */
export interface RemoteVersion {
  version: string;
  /** apidiscovery APIResourceDiscovery entries, as the backend answered them. */
  resources: readonly unknown[];
  /** 'Stale' when the backend's document could not be fetched (last one kept, or none). */
  freshness: 'Current' | 'Stale';
}

/** A group served (wholly or in part) by remote APIServices, versions in priority order. */
export interface RemoteGroup {
  group: string;
  /** The highest groupPriorityMinimum of its APIServices. */
  priority: number;
  versions: readonly RemoteVersion[];
}

/** Remote group-versions for discovery; `generation` moves whenever `groups()` would answer differently. */
export interface RemoteDiscovery {
  readonly generation: number;
  groups(): readonly RemoteGroup[];
  /** A local group's priority (upstream's built-in table); remote groups are placed by it. */
  localPriority(group: string): number;
}

const subresourceVerbs = ['get', 'patch', 'update'];

function subresources(e: ServedResource): { name: string; kind: { group: string; version: string; kind: string }; verbs: string[] }[] {
  const out = [];
  const sr = e.def.subresources;
  if (sr?.scale) out.push({ name: 'scale', kind: { group: 'autoscaling', version: 'v1', kind: 'Scale' }, verbs: subresourceVerbs });
  if (sr?.status) out.push({ name: 'status', kind: { group: e.def.group, version: e.version, kind: e.def.kind }, verbs: subresourceVerbs });
  if (sr?.binding) out.push({ name: 'binding', kind: { group: '', version: 'v1', kind: 'Binding' }, verbs: ['create'] });
  if (sr?.eviction) out.push({ name: 'eviction', kind: { group: 'policy', version: 'v1', kind: 'Eviction' }, verbs: ['create'] });
  if (sr?.token) out.push({ name: 'token', kind: { group: 'authentication.k8s.io', version: 'v1', kind: 'TokenRequest' }, verbs: ['create'] });
  if (sr?.approval) out.push({ name: 'approval', kind: { group: e.def.group, version: e.version, kind: e.def.kind }, verbs: subresourceVerbs });
  if (sr?.ephemeralContainers) out.push({ name: 'ephemeralcontainers', kind: { group: e.def.group, version: e.version, kind: e.def.kind }, verbs: subresourceVerbs });
  for (const name of sr?.connect ?? []) {
    const c = connectSubresources[name];
    out.push({ name, kind: { group: e.def.group, version: e.version, kind: c.kind(e.def.kind) }, verbs: [...c.verbs] });
  }
  // Upstream's installer registers (and lists) a resource's paths in sorted order.
  return out.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

function storageVersionHash(e: ServedResource): string {
  return createHash('sha256').update(`${e.def.group}/${e.def.version}/${e.def.kind}`).digest('base64').slice(0, 11);
}

export function buildDiscovery(registry: ResourceRegistry, remote?: RemoteDiscovery): DiscoveryDocs {
  const aggCache = new Map<string, { body: string; etag: string }>();
  let aggGeneration = -1;

  function remoteGroup(group: string): RemoteGroup | undefined {
    return remote?.groups().find((g) => g.group === group);
  }

  function groupDoc(group: string) {
    const g = registry.groups().find((x) => x.group === group);
    const r = group ? remoteGroup(group) : undefined;
    if (!g && !r) return undefined;
    const versions = g ? [...g.versions] : [];
    for (const v of r?.versions ?? []) if (!versions.includes(v.version)) versions.push(v.version);
    const preferred = g?.preferred ?? r!.versions[0]!.version;
    return {
      name: group,
      versions: versions.map((v) => ({ groupVersion: `${group}/${v}`, version: v })),
      preferredVersion: { groupVersion: `${group}/${preferred}`, version: preferred },
    };
  }

  /** Local groups (core excluded) with the remote-only ones placed by priority, as names. */
  function groupNames(): string[] {
    const local = registry.groups().filter((g) => g.group !== '').map((g) => g.group);
    const remotes = (remote?.groups() ?? []).filter((r) => !local.includes(r.group));
    if (!remotes.length) return local;
    const out = [...local];
    const sorted = [...remotes].sort((a, b) => b.priority - a.priority || (a.group < b.group ? -1 : a.group > b.group ? 1 : 0));
    for (const r of sorted) {
      const at = out.findIndex((name) => !remotes.some((x) => x.group === name) && remote!.localPriority(name) < r.priority);
      if (at < 0) out.push(r.group);
      else out.splice(at, 0, r.group);
    }
    return out;
  }

  function orderedVersions(group: string): string[] {
    const g = registry.groups().find((x) => x.group === group);
    if (!g) return [];
    return [g.preferred, ...g.versions.filter((v) => v !== g.preferred)];
  }

  function aggregatedGroup(group: string) {
    const r = group ? remoteGroup(group) : undefined;
    const local = orderedVersions(group);
    const remoteVersions = (r?.versions ?? []).filter((v) => !local.includes(v.version)).map((v) => ({ version: v.version, resources: v.resources, freshness: v.freshness }));
    return {
      metadata: group ? { name: group, creationTimestamp: null } : { creationTimestamp: null },
      versions: [...localAggregatedVersions(group, local), ...remoteVersions],
    };
  }

  function localAggregatedVersions(group: string, versions: string[]) {
    return versions.map((version) => ({
        version,
        resources: registry.resourcesOf(group, version).map((e) => {
          const r: Record<string, unknown> = {
            resource: e.def.plural,
            responseKind: { group: e.def.group, version: e.version, kind: e.def.kind },
            scope: e.def.namespaced ? 'Namespaced' : 'Cluster',
            singularResource: e.def.singular,
            verbs: [...e.verbs].sort(),
          };
          if (e.def.shortNames?.length) r['shortNames'] = e.def.shortNames;
          if (e.def.categories?.length) r['categories'] = e.def.categories;
          const subs = subresources(e);
          if (subs.length) r['subresources'] = subs.map((s) => ({ subresource: s.name, responseKind: s.kind, verbs: s.verbs }));
          return r;
        }),
        freshness: 'Current',
      }));
  }

  return {
    apiVersions(serverAddress) {
      return { kind: 'APIVersions', versions: ['v1'], serverAddressByClientCIDRs: [{ clientCIDR: '0.0.0.0/0', serverAddress }] };
    },
    apiGroupList() {
      return {
        kind: 'APIGroupList',
        apiVersion: 'v1',
        groups: groupNames().map((g) => groupDoc(g)),
      };
    },
    apiGroup(group) {
      const d = groupDoc(group);
      return d && group ? { kind: 'APIGroup', apiVersion: 'v1', ...d } : undefined;
    },
    resourceList(group, version) {
      if (!registry.hasGroupVersion(group, version)) return undefined;
      const resources: unknown[] = [];
      for (const e of registry.resourcesOf(group, version)) {
        const r: Record<string, unknown> = {
          name: e.def.plural,
          singularName: e.def.singular,
          namespaced: e.def.namespaced,
          kind: e.def.kind,
          verbs: [...e.verbs].sort(),
        };
        if (e.def.shortNames?.length) r['shortNames'] = e.def.shortNames;
        if (e.def.categories?.length) r['categories'] = e.def.categories;
        // Upstream sets it for stored resources only (rest.StorageVersionProvider).
        if (!e.provided) r['storageVersionHash'] = storageVersionHash(e);
        resources.push(r);
        for (const s of subresources(e)) {
          // Go's APIResource field order: group and version (omitempty) sit between namespaced and kind.
          const sr: Record<string, unknown> = { name: `${e.def.plural}/${s.name}`, singularName: '', namespaced: e.def.namespaced };
          if (s.kind.group !== e.def.group) {
            if (s.kind.group) sr['group'] = s.kind.group;
            sr['version'] = s.kind.version;
          }
          sr['kind'] = s.kind.kind;
          sr['verbs'] = s.verbs;
          resources.push(sr);
        }
      }
      return { kind: 'APIResourceList', apiVersion: 'v1', groupVersion: group ? `${group}/${version}` : version, resources };
    },
    aggregated(legacy, version) {
      if (remote && remote.generation !== aggGeneration) {
        aggGeneration = remote.generation;
        aggCache.clear();
      }
      const key = `${legacy}/${version}`;
      let hit = aggCache.get(key);
      if (!hit) {
        const items = legacy ? [aggregatedGroup('')] : groupNames().map((g) => aggregatedGroup(g));
        const body = JSON.stringify({ kind: 'APIGroupDiscoveryList', apiVersion: `apidiscovery.k8s.io/${version}`, metadata: {}, items });
        hit = { body, etag: `"${createHash('sha256').update(body).digest('hex').slice(0, 32)}"` };
        aggCache.set(key, hit);
      }
      return hit;
    },
  };
}

/** Which aggregated discovery version the Accept header asks for, if any. */
export function wantsAggregated(accept: string | undefined): 'v2' | 'v2beta1' | null {
  if (!accept) return null;
  for (const part of accept.split(',')) {
    const p = part.replace(/\s+/g, '');
    if (!p.includes('g=apidiscovery.k8s.io') || !p.includes('as=APIGroupDiscoveryList')) continue;
    if (p.includes('v=v2beta1')) return 'v2beta1';
    if (p.includes('v=v2')) return 'v2';
  }
  return null;
}
