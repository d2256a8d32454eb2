/**
 * The connect subresources as upstream registers them (rest.Connecter and the pod log getter):
 * the kind discovery names, the verbs it lists, the HTTP methods routed, and whether a path may
 * follow (proxy). Declared once here; discovery and routing derive from it for every resource
 * whose ResourceDef lists the subresource in `subresources.connect`.
 */
import type { ConnectSubresource } from '../../api/resource.ts';

export interface ConnectDeclaration {
  /** The kind discovery names; a function of the resource's kind for proxy (NodeProxyOptions…). */
  kind: (resourceKind: string) => string;
  /** Verbs as upstream's discovery lists them (sorted). */
  verbs: readonly string[];
  /** HTTP methods routed to it. */
  methods: readonly string[];
  /** Whether a path may follow the subresource (`…/proxy/{path}`). */
  subpath: boolean;
}

const streamingMethods = ['GET', 'POST'];

export const connectSubresources: Readonly<Record<ConnectSubresource, ConnectDeclaration>> = {
  attach: { kind: () => 'PodAttachOptions', verbs: ['create', 'get'], methods: streamingMethods, subpath: false },
  exec: { kind: () => 'PodExecOptions', verbs: ['create', 'get'], methods: streamingMethods, subpath: false },
  log: { kind: (k) => k, verbs: ['get'], methods: ['GET'], subpath: false },
  portforward: { kind: () => 'PodPortForwardOptions', verbs: ['create', 'get'], methods: streamingMethods, subpath: false },
  proxy: {
    kind: (k) => `${k}ProxyOptions`,
    verbs: ['create', 'delete', 'get', 'patch', 'update'],
    methods: ['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'HEAD', 'OPTIONS'],
    subpath: true,
  },
};

/** The connect declaration of `sub` when the resource declares it. */
export function connectDeclaration(declared: readonly ConnectSubresource[] | undefined, sub: string): ConnectDeclaration | undefined {
  return declared?.includes(sub as ConnectSubresource) ? connectSubresources[sub as ConnectSubresource] : undefined;
}
