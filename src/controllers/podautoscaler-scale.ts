/**
 * The HorizontalPodAutoscaler's view of its target: the `scale` subresource of whatever resource
 * the scaleTargetRef names, as upstream's controller reaches it through a RESTMapper and the
 * scale client. The apiVersion's group and the kind are resolved through discovery (so a custom
 * resource with a scale subresource works as a Deployment does), never through a fixed table;
 * the Scale is read and written as autoscaling/v1.
 *
 * Errors carry upstream's wording: "unexpected GroupVersion string: …" for a bad apiVersion,
 * `no matches for kind "X" in group "g"` for an unknown kind, and the API server's own error
 * (`deployments.apps "web" not found`) for a missing target.
 */
import type { Scale } from '../api/index.ts';
import type { ResourceDescriptor, RestClient } from '../client/index.ts';
import type { Discovery } from './discovery.ts';

/** Upstream's schema.ParseGroupVersion: '' and '/' are empty, `v1` is core, `g/v` is a group. */
export function parseGroupVersion(gv: string | undefined): { group: string; version: string } {
  const s = gv ?? '';
  if (s === '' || s === '/') return { group: '', version: '' };
  const slashes = s.split('/').length - 1;
  if (slashes === 0) return { group: '', version: s };
  if (slashes === 1) {
    const i = s.indexOf('/');
    return { group: s.slice(0, i), version: s.slice(i + 1) };
  }
  throw new Error(`unexpected GroupVersion string: ${s}`);
}

/** Reads and writes targets' scale subresources. */
export interface ScaleClient {
  /** The resources (one per served version, preferred first) for a group and kind; throws when none. */
  mappings(group: string, kind: string): Promise<ResourceDescriptor[]>;
  get(res: ResourceDescriptor, namespace: string, name: string): Promise<Scale>;
  /** Writes spec.replicas; the Scale's resourceVersion guards against a concurrent change. */
  update(res: ResourceDescriptor, namespace: string, scale: Scale): Promise<Scale>;
}

/** The scale client over the API server, resolving kinds through `discovery`. */
export class RestScaleClient implements ScaleClient {
  #client: RestClient;
  #discovery: Discovery;

  constructor(client: RestClient, discovery: Discovery) {
    this.#client = client;
    this.#discovery = discovery;
  }

  async mappings(group: string, kind: string): Promise<ResourceDescriptor[]> {
    const found = (await this.#discovery.resources()).filter((r) => r.group === group && r.kind === kind);
    if (!found.length) throw new Error(`no matches for kind ${JSON.stringify(kind)} in group ${JSON.stringify(group)}`);
    return found.map((r) => ({ group: r.group, version: r.version, resource: r.resource, kind: r.kind, namespaced: r.namespaced }));
  }

  get(res: ResourceDescriptor, namespace: string, name: string): Promise<Scale> {
    return this.#client.get<Scale>(res, name, { namespace: res.namespaced ? namespace : undefined, subresource: 'scale' });
  }

  update(res: ResourceDescriptor, namespace: string, scale: Scale): Promise<Scale> {
    return this.#client.update<Scale>(res, scale, { namespace: res.namespaced ? namespace : undefined, subresource: 'scale' });
  }
}

/**
 * Upstream's scaleForResourceMappings: the first mapping whose scale can be read wins; when none
 * can, the first mapping's error.
 */
export async function scaleForMappings(scales: ScaleClient, namespace: string, name: string, mappings: readonly ResourceDescriptor[]): Promise<{ scale: Scale; res: ResourceDescriptor }> {
  let first: unknown;
  for (const [i, res] of mappings.entries()) {
    try {
      return { scale: await scales.get(res, namespace, name), res };
    } catch (err) {
      if (i === 0) first = err;
    }
  }
  throw first ?? new Error('unrecognized resource');
}
