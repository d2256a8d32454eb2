/**
 * The Node authorizer: what a kubelet may do, as upstream's plugin/pkg/auth/authorizer/node.
 *
 * A user is a node when its name is `system:node:<name>` and its groups include `system:nodes`
 * (upstream's default node identifier); anyone else gets no opinion. For a node:
 * - secrets and configmaps (get/list/watch of one named, namespaced object), persistentvolumeclaims
 *   and persistentvolumes (get; a claim's status update/patch), resourceclaims and
 *   volumeattachments (get), and serviceaccounts (create of the token subresource) are allowed
 *   only for objects reachable from the node in upstream's graph:
 *     node ← pod ← secret | configmap | pvc | serviceaccount | resourceclaim
 *     node ← pod ← pvc ← pv ← secret (the PV's kubelet-visible secrets)
 *     node ← volumeattachment
 *   Mirror pods (annotation kubernetes.io/config.mirror) are bound to the node but lead nowhere.
 * - leases in kube-node-lease and csinodes: only its own (by name; create is left to
 *   NodeRestriction, which sees the name); resourceslices: create (NodeRestriction checks the
 *   slice's node), get/update/patch/delete of a slice whose spec.nodeName is the node, and
 *   list/watch/deletecollection (in selector mode only with the field selector nodeName=<itself>);
 * - everything else is matched against upstream's NodeRules (`nodeRules`), as the statically
 *   defined rules. With `authorizeWithSelectors` (upstream's AuthorizeNodeWithSelectors) nodes
 *   and pods are scoped first: a node reads only its own Node object, gets only pods bound to it
 *   and lists/watches pods only with the field selector `spec.nodeName=<itself>`.
 * Refusals are "no opinion" with upstream's reason (e.g. `no relationship found between node 'n1'
 * and this object`), so an authorizer after this one (RBAC) may still allow.
 *
 * The graph is not kept as upstream's incremental vertex/edge structure: `NodeGraph` indexes the
 * source's pods by node (node → the pods, secrets, configmaps, claims, service accounts they
 * name), rebuilt lazily when `source.version()` changes, so a request is a few map look-ups when
 * nothing changed. Claim → volume → secret links are read per request from the source (the PVC's
 * spec.volumeName names the PV, which must claim the PVC back through spec.claimRef, the edge
 * upstream keeps): a PV bound by claimRef whose claim does not yet name it is not reachable here.
 */
import type {
  PersistentVolume,
  PersistentVolumeClaim,
  Pod,
  PolicyRule,
  VolumeAttachment,
} from '../../api/index.ts';
import type { UserInfo } from '../../api/types.ts';
import { parseFieldSelector } from '../../api/selectors.ts';
import type { AuthorizationAttributes, Authorizer, Decision } from './index.ts';

/** What the Node authorizer reads: the API server's caches. Every method is synchronous and cheap. */
export interface NodeGraphSource {
  /** Changes whenever `pods()` would answer differently (e.g. the pod watch cache's revision). */
  version(): number;
  /** Every pod in the cluster (not cloned; never mutated here). */
  pods(): readonly Pod[];
  persistentVolumeClaim(namespace: string, name: string): PersistentVolumeClaim | undefined;
  persistentVolume(name: string): PersistentVolume | undefined;
  /** Without it, no volume attachment is related to any node. */
  volumeAttachment?(name: string): VolumeAttachment | undefined;
  /** resource.k8s.io ResourceSlices; without it, no slice is related to any node. */
  resourceSlice?(name: string): { spec?: { nodeName?: string } } | undefined;
}

/** Whether any of `rules` allows the request (RBAC's RulesAllow). */
export type RuleMatcher = (rules: readonly PolicyRule[], attrs: AuthorizationAttributes) => boolean;

/** Attributes with the request's raw field selector (list/watch), read in selector mode. */
export type NodeAuthorizationAttributes = AuthorizationAttributes & { fieldSelector?: string };

export interface NodeAuthorizerOptions {
  /** Default: `rulesAllow` below; the integrator may pass RBAC's matcher. */
  ruleAllows?: RuleMatcher;
  /** Default: `nodeRules`. */
  rules?: readonly PolicyRule[];
  /**
   * Upstream's AuthorizeNodeWithSelectors (on by default since 1.32): scope node and pod reads.
   * Needs `fieldSelector` on the attributes for pod list/watch. Default false (the gate off),
   * because Bosun's authorization attributes carry no field selector yet.
   */
  authorizeWithSelectors?: boolean;
}

export const nodeUserPrefix = 'system:node:';
export const nodesGroup = 'system:nodes';
export const nodeLeaseNamespace = 'kube-node-lease';
export const mirrorPodAnnotation = 'kubernetes.io/config.mirror';

/**
 * Upstream's default node identifier: a node is `system:node:<name>` in group `system:nodes`.
 * `nodeName` may be '' (the name after the prefix is empty): a node that cannot be identified.
 */
export function nodeIdentity(user: UserInfo): { isNode: boolean; nodeName: string } {
  if (!user.username.startsWith(nodeUserPrefix) || !user.groups.includes(nodesGroup)) return { isNode: false, nodeName: '' };
  return { isNode: true, nodeName: user.username.slice(nodeUserPrefix.length) };
}

const rule = (verbs: string[], apiGroups: string[], resources: string[]): PolicyRule => ({ verbs, apiGroups, resources });

/**
 * Upstream's bootstrappolicy NodeRules() with default feature gates (data, in upstream's order;
 * verbs and resources sorted as its rule builder leaves them). Also the `system:node` ClusterRole.
 */
export const nodeRules: readonly PolicyRule[] = [
  rule(['create'], ['authentication.k8s.io'], ['tokenreviews']),
  rule(['create'], ['authorization.k8s.io'], ['localsubjectaccessreviews', 'subjectaccessreviews']),
  rule(['get', 'list', 'watch'], [''], ['services']),
  rule(['create', 'get', 'list', 'watch'], [''], ['nodes']),
  rule(['patch', 'update'], [''], ['nodes/status']),
  rule(['patch', 'update'], [''], ['nodes']),
  rule(['create', 'patch', 'update'], [''], ['events']),
  rule(['get', 'list', 'watch'], [''], ['pods']),
  rule(['create', 'delete'], [''], ['pods']),
  rule(['patch', 'update'], [''], ['pods/status']),
  rule(['create'], [''], ['pods/eviction']),
  rule(['get', 'list', 'watch'], [''], ['configmaps', 'secrets']),
  rule(['get'], [''], ['persistentvolumeclaims', 'persistentvolumes']),
  rule(['get'], [''], ['endpoints']),
  rule(['create', 'get', 'list', 'watch'], ['certificates.k8s.io'], ['certificatesigningrequests']),
  rule(['create', 'delete', 'get', 'patch', 'update'], ['coordination.k8s.io'], ['leases']),
  rule(['get'], ['storage.k8s.io'], ['volumeattachments']),
  rule(['create'], [''], ['serviceaccounts/token']),
  rule(['get', 'patch', 'update'], [''], ['persistentvolumeclaims/status']),
  rule(['get', 'list', 'watch'], ['storage.k8s.io'], ['csidrivers']),
  rule(['create', 'delete', 'get', 'patch', 'update'], ['storage.k8s.io'], ['csinodes']),
  rule(['get', 'list', 'watch'], ['node.k8s.io'], ['runtimeclasses']),
  rule(['get'], ['resource.k8s.io'], ['resourceclaims']),
  rule(['deletecollection'], ['resource.k8s.io'], ['resourceslices']),
];

// ---- rule matching (RBAC's RuleAllows, as the default matcher) --------------------------------

function ruleAllows(r: PolicyRule, a: AuthorizationAttributes): boolean {
  if (!r.verbs.includes('*') && !r.verbs.includes(a.verb)) return false;
  if (!a.isResourceRequest) {
    return (r.nonResourceURLs ?? []).some((u) => u === '*' || u === a.path || (u.endsWith('*') && a.path.startsWith(u.replace(/\*+$/, ''))));
  }
  const groups = r.apiGroups ?? [];
  if (!groups.includes('*') && !groups.includes(a.apiGroup)) return false;
  const combined = a.subresource ? `${a.resource}/${a.subresource}` : a.resource;
  const resourceOk = (r.resources ?? []).some((res) => res === '*' || res === combined || (a.subresource !== '' && res === `*/${a.subresource}`));
  if (!resourceOk) return false;
  return !r.resourceNames?.length || r.resourceNames.includes(a.name);
}

/** Whether any rule allows the request: verbs, groups, resources (`*`, `res/sub`, `*​/sub`), names, URLs. */
export function rulesAllow(rules: readonly PolicyRule[], a: AuthorizationAttributes): boolean {
  return rules.some((r) => ruleAllows(r, a));
}

// ---- what a pod references (upstream's podutil / pvutil visitors) ------------------------------

type AnyContainer = { env?: { valueFrom?: { secretKeyRef?: { name?: string }; configMapKeyRef?: { name?: string } } }[]; envFrom?: { secretRef?: { name?: string }; configMapRef?: { name?: string } }[] };

function containersOf(pod: Pod): AnyContainer[] {
  const s = pod.spec;
  return s ? [...(s.initContainers ?? []), ...(s.containers ?? []), ...(s.ephemeralContainers ?? [])] : [];
}

/** Every secret name the pod spec names (image pull secrets, env, envFrom, volumes), empty names left out. */
export function podSecretNames(pod: Pod): string[] {
  const out: string[] = [];
  const add = (n: string | undefined) => {
    if (n) out.push(n);
  };
  for (const r of pod.spec?.imagePullSecrets ?? []) add(r.name);
  for (const c of containersOf(pod)) {
    for (const e of c.envFrom ?? []) add(e.secretRef?.name);
    for (const e of c.env ?? []) add(e.valueFrom?.secretKeyRef?.name);
  }
  for (const v of pod.spec?.volumes ?? []) {
    // One source per volume, checked in upstream's order.
    if (v.azureFile) add(v.azureFile.secretName);
    else if (v.cephfs) add(v.cephfs.secretRef?.name);
    else if (v.cinder) add(v.cinder.secretRef?.name);
    else if (v.flexVolume) add(v.flexVolume.secretRef?.name);
    else if (v.projected) for (const s of v.projected.sources ?? []) add(s.secret?.name);
    else if (v.rbd) add(v.rbd.secretRef?.name);
    else if (v.secret) add(v.secret.secretName);
    else if (v.scaleIO) add(v.scaleIO.secretRef?.name);
    else if (v.iscsi) add(v.iscsi.secretRef?.name);
    else if (v.storageos) add(v.storageos.secretRef?.name);
    else if (v.csi) add(v.csi.nodePublishSecretRef?.name);
  }
  return out;
}

/** Every configmap name the pod spec names (env, envFrom, configMap and projected volumes). */
export function podConfigMapNames(pod: Pod): string[] {
  const out: string[] = [];
  const add = (n: string | undefined) => {
    if (n) out.push(n);
  };
  for (const c of containersOf(pod)) {
    for (const e of c.envFrom ?? []) add(e.configMapRef?.name);
    for (const e of c.env ?? []) add(e.valueFrom?.configMapKeyRef?.name);
  }
  for (const v of pod.spec?.volumes ?? []) {
    if (v.projected) for (const s of v.projected.sources ?? []) add(s.configMap?.name);
    else if (v.configMap) add(v.configMap.name);
  }
  return out;
}

/** Claims the pod's volumes use: persistentVolumeClaim, and `<pod>-<volume>` for generic ephemeral volumes. */
export function podClaimNames(pod: Pod): string[] {
  const out: string[] = [];
  for (const v of pod.spec?.volumes ?? []) {
    if (v.persistentVolumeClaim) {
      if (v.persistentVolumeClaim.claimName) out.push(v.persistentVolumeClaim.claimName);
    } else if (v.ephemeral) out.push(`${pod.metadata.name ?? ''}-${v.name}`);
  }
  return out;
}

/** ResourceClaims the pod uses: named directly, or generated from a template once the status names them. */
function podResourceClaimNames(pod: Pod): string[] {
  const out: string[] = [];
  for (const c of pod.spec?.resourceClaims ?? []) {
    if (c.resourceClaimName) out.push(c.resourceClaimName);
    else if (c.resourceClaimTemplateName) {
      const st = pod.status?.resourceClaimStatuses?.find((s) => s.name === c.name);
      if (st?.resourceClaimName) out.push(st.resourceClaimName);
    }
  }
  return out;
}

/** A PV's secrets, each with its namespace and whether the kubelet reads it (upstream's VisitPVSecretNames). */
function pvSecrets(pv: PersistentVolume): { namespace: string; name: string; kubeletVisible: boolean }[] {
  const s = pv.spec ?? {};
  const claimNs = s.claimRef?.namespace ?? '';
  const out: { namespace: string; name: string; kubeletVisible: boolean }[] = [];
  const add = (namespace: string | undefined | null, name: string | undefined, kubeletVisible = true) => {
    if (name) out.push({ namespace: namespace ?? '', name, kubeletVisible });
  };
  const refNs = (ref: { namespace?: string } | null | undefined) => ref?.namespace || claimNs;
  if (s.azureFile) add(s.azureFile.secretNamespace || claimNs, s.azureFile.secretName);
  else if (s.cephfs) add(refNs(s.cephfs.secretRef), s.cephfs.secretRef?.name);
  else if (s.cinder) add(s.cinder.secretRef?.namespace, s.cinder.secretRef?.name);
  else if (s.flexVolume) add(refNs(s.flexVolume.secretRef), s.flexVolume.secretRef?.name);
  else if (s.rbd) add(refNs(s.rbd.secretRef), s.rbd.secretRef?.name);
  else if (s.scaleIO) add(refNs(s.scaleIO.secretRef), s.scaleIO.secretRef?.name);
  else if (s.iscsi) add(refNs(s.iscsi.secretRef), s.iscsi.secretRef?.name);
  else if (s.storageos) add(s.storageos.secretRef?.namespace, s.storageos.secretRef?.name);
  else if (s.csi) {
    add(s.csi.controllerPublishSecretRef?.namespace, s.csi.controllerPublishSecretRef?.name, false);
    add(s.csi.controllerExpandSecretRef?.namespace, s.csi.controllerExpandSecretRef?.name, false);
    add(s.csi.nodePublishSecretRef?.namespace, s.csi.nodePublishSecretRef?.name);
    add(s.csi.nodeStageSecretRef?.namespace, s.csi.nodeStageSecretRef?.name);
    add(s.csi.nodeExpandSecretRef?.namespace, s.csi.nodeExpandSecretRef?.name);
  }
  return out;
}

// ---- the graph index ----------------------------------------------------------------------------

/** What pods bound to one node reach, as `namespace/name` keys. */
export interface NodeRefs {
  readonly pods: ReadonlySet<string>;
  readonly secrets: ReadonlySet<string>;
  readonly configmaps: ReadonlySet<string>;
  readonly pvcs: ReadonlySet<string>;
  readonly serviceaccounts: ReadonlySet<string>;
  readonly resourceclaims: ReadonlySet<string>;
}

interface PodRefs {
  node: string;
  pod: string;
  secrets: string[];
  configmaps: string[];
  pvcs: string[];
  serviceaccounts: string[];
  resourceclaims: string[];
}

type MutableRefs = { -readonly [K in keyof NodeRefs]: Set<string> };

const key = (namespace: string, name: string) => `${namespace}/${name}`;

function podRefs(pod: Pod): PodRefs | undefined {
  const node = pod.spec?.nodeName;
  if (!node) return undefined;
  const ns = pod.metadata.namespace ?? '';
  const refs: PodRefs = { node, pod: key(ns, pod.metadata.name ?? ''), secrets: [], configmaps: [], pvcs: [], serviceaccounts: [], resourceclaims: [] };
  // A node must never gain access to other objects through a pod it may create itself.
  if (pod.metadata.annotations?.[mirrorPodAnnotation] !== undefined) return refs;
  const k = (n: string) => key(ns, n);
  if (pod.spec?.serviceAccountName) refs.serviceaccounts.push(k(pod.spec.serviceAccountName));
  refs.secrets = podSecretNames(pod).map(k);
  refs.configmaps = podConfigMapNames(pod).map(k);
  refs.pvcs = podClaimNames(pod).map(k);
  refs.resourceclaims = podResourceClaimNames(pod).map(k);
  return refs;
}

/**
 * node → what its pods reach, from the source's pods. Rebuilt on the first look-up after
 * `source.version()` changes; a pod object seen before (the caches share unchanged objects) is
 * not visited again. Not safe for concurrent mutation of the source's objects (they are read only).
 */
export class NodeGraph {
  readonly #src: NodeGraphSource;
  #version: number | undefined;
  #byNode = new Map<string, MutableRefs>();
  #perPod = new WeakMap<Pod, PodRefs | null>();

  constructor(src: NodeGraphSource) {
    this.#src = src;
  }

  /** What the pods bound to `node` reach, or undefined when no pod is bound to it. */
  refs(node: string): NodeRefs | undefined {
    const v = this.#src.version();
    if (v !== this.#version) this.#rebuild(v);
    return this.#byNode.get(node);
  }

  #rebuild(version: number): void {
    const byNode = new Map<string, MutableRefs>();
    for (const pod of this.#src.pods()) {
      let r = this.#perPod.get(pod);
      if (r === undefined) {
        r = podRefs(pod) ?? null;
        this.#perPod.set(pod, r);
      }
      if (!r) continue;
      let n = byNode.get(r.node);
      if (!n) byNode.set(r.node, (n = { pods: new Set(), secrets: new Set(), configmaps: new Set(), pvcs: new Set(), serviceaccounts: new Set(), resourceclaims: new Set() }));
      n.pods.add(r.pod);
      for (const s of r.secrets) n.secrets.add(s);
      for (const c of r.configmaps) n.configmaps.add(c);
      for (const c of r.pvcs) n.pvcs.add(c);
      for (const s of r.serviceaccounts) n.serviceaccounts.add(s);
      for (const c of r.resourceclaims) n.resourceclaims.add(c);
    }
    this.#byNode = byNode;
    this.#version = version;
  }
}

// ---- the authorizer -------------------------------------------------------------------------------

type Kind = 'secret' | 'configmap' | 'pvc' | 'pv' | 'resourceclaim' | 'volumeattachment' | 'resourceslice' | 'serviceaccount' | 'pod';

const allow: Decision = { decision: 'allow', reason: '' };
const noOpinion = (reason = ''): Decision => ({ decision: 'noopinion', reason });

/** The Node authorizer over `src`. Decisions are synchronous; see the file comment for the rules. */
export function nodeAuthorizer(src: NodeGraphSource, opts: NodeAuthorizerOptions = {}): Authorizer {
  const matches = opts.ruleAllows ?? rulesAllow;
  const rules = opts.rules ?? nodeRules;
  const selectors = opts.authorizeWithSelectors ?? false;
  const graph = new NodeGraph(src);

  /** Whether the object of `kind` named namespace/name is reachable from node `node`. */
  function related(node: string, kind: Kind, namespace: string, name: string): boolean {
    if (kind === 'volumeattachment') return src.volumeAttachment?.(name)?.spec.nodeName === node;
    if (kind === 'resourceslice') return src.resourceSlice?.(name)?.spec?.nodeName === node;
    const refs = graph.refs(node);
    if (!refs) return false;
    const k = key(namespace, name);
    switch (kind) {
      case 'pod':
        return refs.pods.has(k);
      case 'configmap':
        return refs.configmaps.has(k);
      case 'pvc':
        return refs.pvcs.has(k);
      case 'serviceaccount':
        return refs.serviceaccounts.has(k);
      case 'resourceclaim':
        return refs.resourceclaims.has(k);
      case 'pv': {
        const ref = src.persistentVolume(name)?.spec?.claimRef;
        return !!ref?.name && refs.pvcs.has(key(ref.namespace ?? '', ref.name));
      }
      case 'secret':
        return refs.secrets.has(k) || pvSecretReachable(refs, namespace, name);
    }
  }

  /** A secret a bound PV of one of the node's claims lists as kubelet-visible. */
  function pvSecretReachable(refs: NodeRefs, namespace: string, name: string): boolean {
    for (const claim of refs.pvcs) {
      const slash = claim.indexOf('/');
      const cns = claim.slice(0, slash);
      const cname = claim.slice(slash + 1);
      const volume = src.persistentVolumeClaim(cns, cname)?.spec?.volumeName;
      const pv = volume ? src.persistentVolume(volume) : undefined;
      const ref = pv?.spec?.claimRef;
      if (!pv || ref?.name !== cname || (ref.namespace ?? '') !== cns) continue;
      if (pvSecrets(pv).some((s) => s.kubeletVisible && s.namespace === namespace && s.name === name)) return true;
    }
    return false;
  }

  function authorizeRelated(node: string, kind: Kind, a: AuthorizationAttributes): Decision {
    if (!a.name) return noOpinion('No Object name found');
    if (!related(node, kind, a.namespace, a.name)) return noOpinion(`no relationship found between node '${node}' and this object`);
    return allow;
  }

  function authorizeGet(node: string, kind: Kind, a: AuthorizationAttributes): Decision {
    if (a.verb !== 'get') return noOpinion('can only get individual resources of this type');
    if (a.subresource) return noOpinion('cannot get subresource');
    return authorizeRelated(node, kind, a);
  }

  function authorizeReadNamespaced(node: string, kind: Kind, a: AuthorizationAttributes): Decision {
    if (a.verb !== 'get' && a.verb !== 'list' && a.verb !== 'watch') return noOpinion('can only read resources of this type');
    if (a.subresource) return noOpinion('cannot read subresource');
    if (!a.namespace) return noOpinion('can only read namespaced object of this type');
    return authorizeRelated(node, kind, a);
  }

  function authorizeStatusUpdate(node: string, kind: Kind, a: AuthorizationAttributes): Decision {
    if (a.verb !== 'update' && a.verb !== 'patch') return noOpinion('can only get/update/patch this type');
    if (a.subresource !== 'status') return noOpinion('can only update status subresource');
    return authorizeRelated(node, kind, a);
  }

  function authorizeCreateToken(node: string, a: AuthorizationAttributes): Decision {
    if (a.verb !== 'create' || !a.name) return noOpinion('can only create tokens for individual service accounts');
    if (a.subresource !== 'token') return noOpinion('can only create token subresource of serviceaccount');
    if (!related(node, 'serviceaccount', a.namespace, a.name)) return noOpinion(`no relationship found between node '${node}' and this object`);
    return allow;
  }

  function authorizeOwnNamed(node: string, a: AuthorizationAttributes, what: 'lease' | 'CSINode'): Decision {
    const verbs = ['get', 'create', 'update', 'patch', 'delete'];
    if (!verbs.includes(a.verb)) return noOpinion(what === 'lease' ? 'can only get, create, update, patch, or delete a node lease' : 'can only get, create, update, patch, or delete a CSINode');
    if (what === 'lease' && a.namespace !== nodeLeaseNamespace) return noOpinion(`can only access leases in the "${nodeLeaseNamespace}" system namespace`);
    if (what === 'CSINode' && a.subresource) return noOpinion('cannot authorize CSINode subresources');
    // The name is unknown on create: NodeRestriction checks it there.
    if (a.verb !== 'create' && a.name !== node) {
      return noOpinion(what === 'lease' ? 'can only access node lease with the same name as the requesting node' : 'can only access CSINode with the same name as the requesting node');
    }
    return allow;
  }

  function authorizeResourceSlice(node: string, a: NodeAuthorizationAttributes): Decision {
    if (a.subresource) return noOpinion('cannot authorize ResourceSlice subresources');
    switch (a.verb) {
      case 'create':
        // NodeRestriction checks spec.nodeName of the new slice.
        return allow;
      case 'get':
      case 'update':
      case 'patch':
      case 'delete':
        return authorizeRelated(node, 'resourceslice', a);
      case 'list':
      case 'watch':
      case 'deletecollection':
        if (!selectors) return allow;
        if (selectsField(a.fieldSelector, 'nodeName', node)) return allow;
        return noOpinion('can only list/watch/deletecollection resourceslices with nodeName field selector');
      default:
        return noOpinion('only the following verbs are allowed for a ResourceSlice: get, watch, list, create, update, patch, delete, deletecollection');
    }
  }

  function authorizeNode(node: string, a: AuthorizationAttributes): Decision {
    if (a.subresource === '') {
      if (a.verb === 'create' || a.verb === 'update' || a.verb === 'patch') return allow;
      if (a.verb === 'get' || a.verb === 'list' || a.verb === 'watch') {
        if (a.name === node) return allow;
        if (a.name === '') return noOpinion(`node '${node}' cannot read all nodes, only its own Node object`);
        return noOpinion(`node '${node}' cannot read '${a.name}', only its own Node object`);
      }
    } else if (a.subresource === 'status' && (a.verb === 'update' || a.verb === 'patch')) return allow;
    return noOpinion();
  }

  function authorizePod(node: string, a: NodeAuthorizationAttributes): Decision {
    if (a.subresource === '') {
      if (a.verb === 'get') return authorizeGet(node, 'pod', a);
      if (a.verb === 'list' || a.verb === 'watch') {
        if (selectsField(a.fieldSelector, 'spec.nodeName', node)) return allow;
        if (a.name) return authorizeRelated(node, 'pod', a);
        return noOpinion('can only list/watch pods with spec.nodeName field selector');
      }
      if (a.verb === 'create' || a.verb === 'delete') return allow;
    } else if (a.subresource === 'status') {
      if (a.verb === 'update' || a.verb === 'patch') return allow;
    } else if (a.subresource === 'eviction' && a.verb === 'create') return allow;
    return noOpinion();
  }

  return {
    name: 'Node',
    authorize(attrs: NodeAuthorizationAttributes): Decision {
      const { isNode, nodeName } = nodeIdentity(attrs.user);
      if (!isNode) return noOpinion();
      if (!nodeName) return noOpinion(`unknown node for user ${JSON.stringify(attrs.user.username)}`);
      if (attrs.isResourceRequest) {
        switch (`${attrs.apiGroup}/${attrs.resource}`) {
          case '/secrets':
            return authorizeReadNamespaced(nodeName, 'secret', attrs);
          case '/configmaps':
            return authorizeReadNamespaced(nodeName, 'configmap', attrs);
          case '/persistentvolumeclaims':
            return attrs.subresource === 'status' ? authorizeStatusUpdate(nodeName, 'pvc', attrs) : authorizeGet(nodeName, 'pvc', attrs);
          case '/persistentvolumes':
            return authorizeGet(nodeName, 'pv', attrs);
          case 'resource.k8s.io/resourceclaims':
            return authorizeGet(nodeName, 'resourceclaim', attrs);
          case 'storage.k8s.io/volumeattachments':
            return authorizeGet(nodeName, 'volumeattachment', attrs);
          case '/serviceaccounts':
            return authorizeCreateToken(nodeName, attrs);
          case 'coordination.k8s.io/leases':
            return authorizeOwnNamed(nodeName, attrs, 'lease');
          case 'storage.k8s.io/csinodes':
            return authorizeOwnNamed(nodeName, attrs, 'CSINode');
          case 'resource.k8s.io/resourceslices':
            return authorizeResourceSlice(nodeName, attrs);
          case '/nodes':
            if (selectors) return authorizeNode(nodeName, attrs);
            break;
          case '/pods':
            if (selectors) return authorizePod(nodeName, attrs);
            break;
        }
      }
      return matches(rules, attrs) ? allow : noOpinion();
    },
  };
}

/** Whether the raw field selector requires `field` to equal `value` (`=` or `==`). */
function selectsField(selector: string | undefined, field: string, value: string): boolean {
  if (!selector) return false;
  try {
    return parseFieldSelector(selector).requirements.some((r) => r.field === field && r.operator !== '!=' && r.value === value);
  } catch {
    return false;
  }
}
