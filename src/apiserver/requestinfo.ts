/**
 * Turns a request's method and path into a RequestInfo, as upstream's RequestInfoFactory does:
 * resource requests under /api/v1 and /apis/<group>/<version> (namespace, resource, name,
 * subresource, verb), everything else a non-resource request. Pure function, no I/O.
 */
import { flag } from './params.ts';

export interface RequestInfo {
  isResourceRequest: boolean;
  path: string;
  /** get list watch create update patch delete deletecollection; for non-resource: lower-case method. */
  verb: string;
  apiPrefix: string; // 'api' | 'apis'
  apiGroup: string;
  apiVersion: string;
  namespace: string;
  resource: string;
  subresource: string;
  name: string;
  /** Path segments after the subresource (e.g. proxy paths). */
  parts: string[];
}

const specialVerbs = new Set(['proxy', 'watch']);

export function parseRequestInfo(method: string, path: string, query: URLSearchParams): RequestInfo {
  const info: RequestInfo = {
    isResourceRequest: false,
    path,
    verb: method.toLowerCase(),
    apiPrefix: '',
    apiGroup: '',
    apiVersion: '',
    namespace: '',
    resource: '',
    subresource: '',
    name: '',
    parts: [],
  };
  const segs = path.split('/').filter((s, i) => i > 0 || s !== '');
  if (segs.length && segs[segs.length - 1] === '') segs.pop();
  let parts = segs.map(decodeURIComponentSafe);
  if (parts.length < 1 || (parts[0] !== 'api' && parts[0] !== 'apis')) return info;
  info.apiPrefix = parts[0]!;
  parts = parts.slice(1);
  if (info.apiPrefix === 'apis') {
    if (parts.length < 2) return info; // /apis, /apis/<group>: discovery
    info.apiGroup = parts[0]!;
    parts = parts.slice(1);
  }
  if (parts.length < 1) return info; // /api
  info.apiVersion = parts[0]!;
  parts = parts.slice(1);
  if (parts.length < 1) return info; // /api/v1, /apis/g/v: discovery
  info.isResourceRequest = true;

  if (specialVerbs.has(parts[0]!)) {
    if (parts.length < 2) {
      info.isResourceRequest = false;
      return info;
    }
    info.verb = parts[0]!;
    parts = parts.slice(1);
  } else {
    info.verb = verbForMethod(method);
  }

  if (parts[0] === 'namespaces') {
    if (parts.length > 1) {
      info.namespace = parts[1]!;
      // /namespaces/{name}/{subresource} is the namespace resource itself, except for lists of children.
      if (parts.length > 2 && parts[2] !== 'finalize' && parts[2] !== 'status') {
        parts = parts.slice(2);
      }
    }
  }
  info.parts = parts;
  if (parts.length >= 3) info.subresource = parts[2]!;
  if (parts.length >= 2) info.name = parts[1]!;
  if (parts.length >= 1) info.resource = parts[0]!;
  if (info.resource === 'namespaces' && parts[0] === 'namespaces') {
    // the namespace object itself: /api/v1/namespaces/{name}[/status|/finalize]
    info.namespace = '';
    if (parts.length >= 2) info.name = parts[1]!;
  }

  if (!info.name && info.verb === 'get') {
    // `watch` as upstream's parameter codec reads a bool: anything but 0 or false (`watch=True`).
    info.verb = flag(query, 'watch') ? 'watch' : 'list';
  }
  if (!info.name && info.verb === 'delete') info.verb = 'deletecollection';
  return info;
}

function verbForMethod(method: string): string {
  switch (method) {
    case 'POST':
      return 'create';
    case 'GET':
    case 'HEAD':
      return 'get';
    case 'PUT':
      return 'update';
    case 'PATCH':
      return 'patch';
    case 'DELETE':
      return 'delete';
    default:
      return method.toLowerCase();
  }
}

function decodeURIComponentSafe(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}
