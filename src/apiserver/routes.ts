/**
 * Which HTTP methods a resource path answers, as upstream's API installer registers its routes
 * (k8s.io/apiserver pkg/endpoints/installer.go), so that one check before the handlers gives
 * upstream's 404 and 405 for every verb × path shape:
 * - collection `…/{resource}` (cluster-scoped) or `…/namespaces/{ns}/{resource}` (namespaced):
 *   GET list, POST create, DELETE deletecollection;
 * - all namespaces `…/{resource}` of a namespaced resource: GET (list and watch) only;
 * - item `…/{resource}/{name}`: GET, PUT, PATCH, DELETE;
 * - `…/watch/…` collection or item: GET only;
 * - subresources: status, scale and (CSRs) approval GET, PUT, PATCH; binding and eviction POST; a namespace's
 *   finalize PUT; the connect subresources (log, exec, attach, portforward, proxy and the path
 *   after proxy) as streaming/subresources.ts declares them; none under `/watch/`.
 * Each method is there only when the resource serves its verb. A path with no route at all is
 * 404, a path with routes but not for this method is 405, both with upstream's generic Status.
 * Pure functions, no I/O.
 */
import type { ServedResource } from './registry.ts';
import { routeMethodNotAllowed, routeNotFound } from '../api/errors.ts';
import { connectDeclaration } from './streaming/subresources.ts';

/** A resource path's shape, from the segments after `/api/v1` or `/apis/{group}/{version}`. */
export interface RouteShape {
  watch: boolean;
  /** The `namespaces/{ns}/` prefix was present (for a namespaced resource). */
  namespaceScoped: boolean;
  resource: string;
  name: string;
  subresource: string;
  /** More segments than resource/name/subresource (the path after `proxy`). */
  extra: boolean;
}

/** Parses the segments after the group-version; null when there is no resource segment. */
export function routeShape(segments: readonly string[]): RouteShape | null {
  let segs = segments;
  let watch = false;
  if (segs[0] === 'watch' && segs.length > 1) {
    watch = true;
    segs = segs.slice(1);
  }
  let namespaceScoped = false;
  // /namespaces/{ns}/{resource}…, except the namespace's own subresources /namespaces/{name}/status|finalize.
  if (segs[0] === 'namespaces' && segs.length > 2 && !(segs.length === 3 && (segs[2] === 'status' || segs[2] === 'finalize'))) {
    namespaceScoped = true;
    segs = segs.slice(2);
  }
  if (!segs.length || !segs[0]) return null;
  return { watch, namespaceScoped, resource: segs[0], name: segs[1] ?? '', subresource: segs[2] ?? '', extra: segs.length > 3 };
}

/** Methods per subresource, when the resource declares it. */
function subresourceMethods(served: ServedResource, sub: string): readonly string[] | null {
  const d = served.def;
  switch (sub) {
    case 'status':
      return d.subresources?.status ? ['GET', 'PUT', 'PATCH'] : null;
    case 'scale':
      return d.subresources?.scale ? ['GET', 'PUT', 'PATCH'] : null;
    case 'binding':
      return d.subresources?.binding ? ['POST'] : null;
    case 'eviction':
      return d.subresources?.eviction ? ['POST'] : null;
    case 'token':
      return d.subresources?.token ? ['POST'] : null;
    case 'ephemeralcontainers':
      return d.subresources?.ephemeralContainers ? ['GET', 'PUT', 'PATCH'] : null;
    case 'approval':
      return d.subresources?.approval ? ['GET', 'PUT', 'PATCH'] : null;
    case 'finalize':
      return d.group === '' && d.kind === 'Namespace' ? ['PUT'] : null;
    default:
      return connectDeclaration(d.subresources?.connect, sub)?.methods ?? null;
  }
}

/** The methods served on a path of this shape; empty when the path has no route. */
export function allowedMethods(served: ServedResource, shape: RouteShape): readonly string[] {
  const verbs = served.verbs;
  const has = (v: string) => verbs.includes(v);
  if (shape.extra && !connectDeclaration(served.def.subresources?.connect, shape.subresource)?.subpath) return [];
  const namespaced = served.def.namespaced;
  if (!namespaced && shape.namespaceScoped) return [];
  // The all-namespaces path of a namespaced resource: list and watch of the collection only.
  const allNamespaces = namespaced && !shape.namespaceScoped;
  if (allNamespaces && shape.name) return [];
  if (shape.watch) {
    if (shape.subresource) return [];
    return has('watch') ? ['GET'] : [];
  }
  if (shape.subresource) return subresourceMethods(served, shape.subresource) ?? [];
  if (allNamespaces) return has('list') || has('watch') ? ['GET'] : [];
  const out: string[] = [];
  if (shape.name) {
    if (has('get')) out.push('GET');
    if (has('update')) out.push('PUT');
    if (has('patch')) out.push('PATCH');
    if (has('delete')) out.push('DELETE');
  } else {
    if (has('list') || has('watch')) out.push('GET');
    if (has('create')) out.push('POST');
    if (has('deletecollection')) out.push('DELETE');
  }
  return out;
}

/** Throws upstream's 404 or 405 unless `method` is served on the path of this shape. */
export function checkRoute(served: ServedResource, shape: RouteShape, method: string): void {
  const allowed = allowedMethods(served, shape);
  if (!allowed.length) throw routeNotFound();
  if (!allowed.includes(method)) throw routeMethodNotAllowed();
}
