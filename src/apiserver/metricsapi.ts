/**
 * Resources the API server answers for a component in its process instead of from the store:
 * metrics.k8s.io's nodes and pods, which upstream's metrics-server serves as an aggregated API
 * (rest.Getter and rest.Lister, no Watcher). They are declared to the registry (discovery, the
 * routes' 404/405, OpenAPI paths) and go through authentication, authorization and audit as any
 * resource; then `get` and `list` answer, written here as upstream's handlers write them: one
 * object with its kind and apiVersion, a `<Kind>List` with empty list metadata, a meta.k8s.io
 * Table (the declaration's columns), PartialObjectMetadata, or YAML. A watch is refused as
 * upstream refuses it for a storage without a Watcher (405, `watch is not supported on
 * resources of kind "pods.metrics.k8s.io"`). Errors the provider throws (StatusErrors) are the
 * response.
 */
import type { ResourceDef } from '../api/resource.ts';
import type { KubeObject } from '../api/types.ts';
import { badRequest, methodNotAllowed, notAcceptable } from '../api/errors.ts';
import type { ServedResource } from './registry.ts';
import type { RequestInfo } from './requestinfo.ts';
import type { Request } from './body.ts';
import { negotiate, writeObject, type Response } from './respond.ts';
import { buildTable, partialObjectMetadata, tableOf, type IncludeObject } from './tables.ts';

/** A resource answered by a component in this process (upstream: an aggregated API server's rest.Getter + rest.Lister). */
export interface ProvidedResource {
  /** The declaration (verbs get and list). */
  readonly def: ResourceDef;
  /** The kind's OpenAPI v3 definition name and the definitions it brings (references to built-in types are resolved). */
  readonly openapi?: { name: string; schemas: Record<string, Record<string, unknown>> };
  /** The object (without kind and apiVersion); throws a StatusError (e.g. NotFound). */
  get(namespace: string, name: string): KubeObject | Promise<KubeObject>;
  /**
   * The objects in `namespace` ('' for all namespaces, or a cluster-scoped resource), in the
   * order to answer, filtered by the selectors; throws BadRequest for a selector it cannot take.
   */
  list(namespace: string, selectors: { labelSelector?: string; fieldSelector?: string }): readonly KubeObject[] | Promise<readonly KubeObject[]>;
}

export interface ProvidedRequest {
  req: Request;
  res: Response;
  info: RequestInfo;
  query: URLSearchParams;
  served: ServedResource;
  provided: ProvidedResource;
}

function includeObject(q: URLSearchParams): IncludeObject {
  const v = q.get('includeObject');
  if (v === 'None' || v === 'Object' || v === 'Metadata') return v;
  if (v) throw badRequest(`includeObject: Unsupported value: "${v}"`);
  return 'Metadata';
}

/** Answers a routed, authorized request for a provided resource. */
export async function serveProvided(r: ProvidedRequest): Promise<void> {
  const { info, served, query } = r;
  const def = served.def;
  const format = (list: boolean) => {
    const f = negotiate(r.req.headers['accept'] as string | undefined, { list });
    if (!f) throw notAcceptable('only the following media types are accepted: application/json, application/yaml');
    return f;
  };
  const typed = (obj: KubeObject): KubeObject => ({ kind: def.kind, apiVersion: served.apiVersion, ...obj });
  switch (info.verb) {
    case 'get': {
      const f = format(false);
      const obj = typed(await r.provided.get(info.namespace, info.name));
      if (f.kind === 'table') return writeObject(r.res, 200, buildTable(tableOf(served.table), [obj], {}, { include: includeObject(query), version: f.version, now: Date.now() }));
      if (f.kind === 'partial') return writeObject(r.res, 200, partialObjectMetadata(obj, f.version));
      return writeObject(r.res, 200, obj, f);
    }
    case 'list': {
      const f = format(true);
      const items = await r.provided.list(info.namespace, { labelSelector: query.get('labelSelector') ?? undefined, fieldSelector: query.get('fieldSelector') ?? undefined });
      if (f.kind === 'table') return writeObject(r.res, 200, buildTable(tableOf(served.table), items, {}, { include: includeObject(query), version: f.version, now: Date.now() }));
      if (f.kind === 'partial') return writeObject(r.res, 200, { kind: 'PartialObjectMetadataList', apiVersion: `meta.k8s.io/${f.version}`, metadata: {}, items: items.map((o) => partialObjectMetadata(o, f.version)) });
      return writeObject(r.res, 200, { kind: `${def.kind}List`, apiVersion: served.apiVersion, metadata: {}, items }, f);
    }
    default:
      throw methodNotAllowed(info.verb, { group: def.group, resource: def.plural });
  }
}
