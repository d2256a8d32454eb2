/**
 * NodeRestriction, as upstream's plugin/pkg/admission/noderestriction: limits what a kubelet
 * (user `system:node:<name>` in group `system:nodes`) may write, on top of what the Node
 * authorizer lets through. Other users are not restricted. For a node:
 * - pods: create only mirror pods (annotation kubernetes.io/config.mirror) bound to itself, with
 *   one controller owner reference to its own Node (name and uid), referencing no service account,
 *   secret, configmap, cluster trust bundle or claim; delete only pods bound to itself; no other
 *   operation. pods/status: only of pods bound to itself, without changing labels or
 *   status.resourceClaimStatuses. pods/eviction: only pods bound to itself. Other pod
 *   subresources are refused.
 * - nodes (and nodes/status): only its own Node; on create no configSource and only labels a
 *   kubelet may set; on update no new configSource, no taint change, no label change outside the
 *   kubelet's label set (kubernetes.io and k8s.io labels other than the kubelet's own, and any
 *   node-restriction.kubernetes.io label, are refused).
 * - persistentvolumeclaims: only the status subresource, changing nothing but status.capacity,
 *   status.conditions, status.allocatedResources and status.allocatedResourceStatuses.
 * - serviceaccounts/token: only tokens bound to a pod (by name and uid) running on itself.
 * - leases: only its own, in kube-node-lease. csinodes: only its own.
 * - resourceslices: create and delete only slices whose spec.nodeName is itself.
 * - certificatesigningrequests: a kubelet-serving or kube-apiserver-client-kubelet request must
 *   have CN=system:node:<itself> (unless `allowInsecureKubeletCertificateSigningRequests`).
 * Refusals are Forbidden with upstream's messages (`node "n1" is not allowed to modify node "n2"`),
 * on the request's resource and name (or the object's name, generateName, else "Unknown").
 *
 * Upstream admits in the mutating phase; this plugin validates instead (it never mutates, and
 * validation sees the object every mutating plugin made). Not covered: pod
 * certificate requests (not served). The PVC message ends with the changed field paths where
 * upstream prints a cmp.Diff.
 */
import { forbidden, notFound, type StatusError } from '../../api/errors.ts';
import type {
  CertificateSigningRequest,
  Eviction,
  Node,
  PersistentVolumeClaim,
  Pod,
  TokenRequest,
} from '../../api/index.ts';
import type { KubeObject } from '../../api/types.ts';
import { readCsr } from '../../pki/csr.ts';
import { mirrorPodAnnotation, nodeIdentity, nodeLeaseNamespace, podConfigMapNames, podSecretNames } from '../authz/node.ts';
import type { AdmissionAttributes, AdmissionPlugin } from './types.ts';
import { isJsonObject } from '../../util/json.ts';

/** What the plugin reads: the API server's caches (upstream's pod and node listers). */
export interface NodeRestrictionSource {
  pod(namespace: string, name: string): Pod | undefined;
  node(name: string): Node | undefined;
}

export interface NodeRestrictionOptions {
  /** Upstream's AllowInsecureKubeletCertificateSigningRequests gate: skip the CSR check. Default false. */
  allowInsecureKubeletCertificateSigningRequests?: boolean;
}

/** Label keys a kubelet may set on its own Node (upstream's kubelet label list). */
export const kubeletLabels: ReadonlySet<string> = new Set([
  'kubernetes.io/hostname',
  'topology.kubernetes.io/zone',
  'topology.kubernetes.io/region',
  'failure-domain.beta.kubernetes.io/zone',
  'failure-domain.beta.kubernetes.io/region',
  'beta.kubernetes.io/instance-type',
  'node.kubernetes.io/instance-type',
  'kubernetes.io/os',
  'kubernetes.io/arch',
  'beta.kubernetes.io/os',
  'beta.kubernetes.io/arch',
]);
/** Label namespaces (and their subdomains) a kubelet may set. */
export const kubeletLabelNamespaces: readonly string[] = ['kubelet.kubernetes.io', 'node.kubernetes.io'];
const nodeRestrictionLabelNamespace = 'node-restriction.kubernetes.io';
const kubeletServingSigner = 'kubernetes.io/kubelet-serving';
const kubeletClientSigner = 'kubernetes.io/kube-apiserver-client-kubelet';

const q = (s: string) => JSON.stringify(s);

function labelNamespace(key: string): string {
  const i = key.indexOf('/');
  return i < 0 ? '' : key.slice(0, i);
}

const inNamespace = (ns: string, allowed: string) => ns === allowed || ns.endsWith(`.${allowed}`);

function isKubeletLabel(key: string): boolean {
  if (kubeletLabels.has(key)) return true;
  const ns = labelNamespace(key);
  return kubeletLabelNamespaces.some((a) => inNamespace(ns, a));
}

function isKubernetesLabel(key: string): boolean {
  const ns = labelNamespace(key);
  return inNamespace(ns, 'kubernetes.io') || inNamespace(ns, 'k8s.io');
}

/** Keys added, removed or changed between two label maps. */
function modifiedLabels(a: Record<string, string> | undefined, b: Record<string, string> | undefined): string[] {
  const out = new Set<string>();
  for (const [k, v] of Object.entries(a ?? {})) if (b?.[k] !== v) out.add(k);
  for (const [k, v] of Object.entries(b ?? {})) if (a?.[k] !== v) out.add(k);
  return [...out];
}

/** The labels among `keys` a node may not add, remove or change, sorted. */
export function forbiddenNodeLabels(keys: readonly string[]): string[] {
  return keys.filter((k) => inNamespace(labelNamespace(k), nodeRestrictionLabelNamespace) || (isKubernetesLabel(k) && !isKubeletLabel(k))).sort();
}

/** Go's semantic equality for JSON data: absent, null, empty lists and empty maps are the same. */
function normalize(v: unknown): unknown {
  if (v === null || v === undefined) return undefined;
  if (Array.isArray(v)) return v.length ? v.map((x) => normalize(x) ?? null) : undefined;
  if (typeof v === 'object') {
    const out: Record<string, unknown> = {};
    for (const k of Object.keys(v as object).sort()) {
      const n = normalize((v as Record<string, unknown>)[k]);
      if (n !== undefined) out[k] = n;
    }
    return Object.keys(out).length ? out : undefined;
  }
  return v;
}

const semanticEqual = (a: unknown, b: unknown) => JSON.stringify(normalize(a)) === JSON.stringify(normalize(b));

/** Paths (dotted) where two normalized values differ. */
function changedPaths(a: unknown, b: unknown, path = ''): string[] {
  if (isJsonObject(a) && isJsonObject(b)) {
    const keys = [...new Set([...Object.keys(a), ...Object.keys(b)])].sort();
    return keys.flatMap((k) => changedPaths(a[k], b[k], path ? `${path}.${k}` : k));
  }
  return JSON.stringify(a) === JSON.stringify(b) ? [] : [path];
}

/**
 * The NodeRestriction admission plugin. `src` answers the existing pod (evictions, tokens) and
 * the node (a mirror pod's owner uid); an object it does not find is NotFound, as upstream's
 * listers answer. Validation is async only for CSRs (the request is parsed).
 */
export function nodeRestrictionPlugin(src: NodeRestrictionSource, opts: NodeRestrictionOptions = {}): AdmissionPlugin {
  const forbid = (a: AdmissionAttributes, message: string): StatusError => {
    let name = a.name;
    if (!name) name = a.object?.metadata.name || a.object?.metadata.generateName || 'Unknown';
    return forbidden({ group: a.def.group, resource: a.def.plural }, name, message);
  };
  const existingPod = (namespace: string, name: string): Pod => {
    const p = src.pod(namespace, name);
    if (!p) throw notFound({ group: '', resource: 'pod' }, name);
    return p;
  };

  function admitPod(node: string, a: AdmissionAttributes): void {
    if (a.operation === 'CREATE') return admitPodCreate(node, a, a.object as unknown as Pod);
    if (a.operation === 'DELETE') {
      const pod = (a.oldObject as unknown as Pod | undefined) ?? existingPod(a.namespace, a.name);
      if (pod.spec?.nodeName !== node) throw forbid(a, `node ${q(node)} can only delete pods with spec.nodeName set to itself`);
      return;
    }
    throw forbid(a, `unexpected operation ${q(a.operation)}, node ${q(node)} can only create and delete mirror pods`);
  }

  function admitPodCreate(node: string, a: AdmissionAttributes, pod: Pod): void {
    if (pod.metadata.annotations?.[mirrorPodAnnotation] === undefined) {
      throw forbid(a, `pod does not have ${q(mirrorPodAnnotation)} annotation, node ${q(node)} can only create mirror pods`);
    }
    if (pod.spec?.nodeName !== node) throw forbid(a, `node ${q(node)} can only create pods with spec.nodeName set to itself`);
    const owners = pod.metadata.ownerReferences ?? [];
    if (owners.length > 1) throw forbid(a, `node ${q(node)} can only create pods with a single owner reference set to itself`);
    if (owners.length === 0) throw forbid(a, `node ${q(node)} can only create pods with an owner reference set to itself`);
    const owner = owners[0]!;
    if (owner.apiVersion !== 'v1' || owner.kind !== 'Node' || owner.name !== node) {
      throw forbid(a, `node ${q(node)} can only create pods with an owner reference set to itself`);
    }
    if (owner.controller !== true) throw forbid(a, `node ${q(node)} can only create pods with a controller owner reference set to itself`);
    if (owner.blockOwnerDeletion === true) throw forbid(a, `node ${q(node)} must not set blockOwnerDeletion on an owner reference`);
    const self = src.node(node);
    if (!self) throw notFound({ group: '', resource: 'node' }, node);
    if (owner.uid !== (self.metadata.uid ?? '')) throw forbid(a, `node ${node} UID mismatch: expected ${owner.uid} got ${self.metadata.uid ?? ''}`);

    if (pod.spec?.serviceAccountName) throw forbid(a, `node ${q(node)} can not create pods that reference a service account`);
    if (podSecretNames(pod).length) throw forbid(a, `node ${q(node)} can not create pods that reference secrets`);
    if (podConfigMapNames(pod).length) throw forbid(a, `node ${q(node)} can not create pods that reference configmaps`);
    const volumes = pod.spec?.volumes ?? [];
    if (volumes.some((v) => v.projected?.sources?.some((s) => s.clusterTrustBundle))) {
      throw forbid(a, `node ${q(node)} can not create pods that reference clustertrustbundles`);
    }
    if (volumes.some((v) => v.persistentVolumeClaim)) throw forbid(a, `node ${q(node)} can not create pods that reference persistentvolumeclaims`);
  }

  function admitPodStatus(node: string, a: AdmissionAttributes): void {
    if (a.operation !== 'UPDATE') throw forbid(a, `unexpected operation ${q(a.operation)}`);
    const old = a.oldObject as unknown as Pod;
    if (old.spec?.nodeName !== node) throw forbid(a, `node ${q(node)} can only update pod status for pods with spec.nodeName set to itself`);
    const pod = a.object as unknown as Pod;
    if (!semanticEqual(old.metadata.labels, pod.metadata.labels)) throw forbid(a, `node ${q(node)} cannot update labels through pod status`);
    const claims = (p: Pod) => (p.status?.resourceClaimStatuses ?? []).map((s) => ({ name: s.name, claim: s.resourceClaimName ?? null }));
    if (JSON.stringify(claims(old)) !== JSON.stringify(claims(pod))) throw forbid(a, `node ${q(node)} cannot update resource claim statues`);
  }

  function admitPodEviction(node: string, a: AdmissionAttributes): void {
    if (a.operation !== 'CREATE') throw forbid(a, `unexpected operation ${a.operation}`);
    const eviction = a.object as unknown as Eviction | undefined;
    const podName = a.name || eviction?.metadata.name;
    if (!podName) throw forbid(a, 'could not determine pod from request data');
    if (existingPod(a.namespace, podName).spec?.nodeName !== node) throw forbid(a, `node ${node} can only evict pods with spec.nodeName set to itself`);
  }

  function admitPVCStatus(node: string, a: AdmissionAttributes): void {
    if (a.operation !== 'UPDATE') throw forbid(a, `unexpected operation ${q(a.operation)}`);
    const strip = (o: KubeObject | undefined) => {
      const c = structuredClone(o ?? { metadata: {} }) as unknown as PersistentVolumeClaim;
      delete c.metadata.resourceVersion;
      delete c.metadata.managedFields;
      if (c.status) {
        delete c.status.capacity;
        delete c.status.conditions;
        delete c.status.allocatedResources;
        delete c.status.allocatedResourceStatuses;
      }
      return c;
    };
    const before = strip(a.oldObject);
    const after = strip(a.object);
    if (!semanticEqual(before, after)) {
      const paths = changedPaths(normalize(before), normalize(after));
      throw forbid(a, `node ${q(node)} is not allowed to update fields other than status.quantity and status.conditions: ${paths.join(', ')}`);
    }
  }

  function admitNode(node: string, a: AdmissionAttributes): void {
    if (a.name !== node) throw forbid(a, `node ${q(node)} is not allowed to modify node ${q(a.name)}`);
    const obj = a.object as unknown as Node | undefined;
    if (a.operation === 'CREATE' && obj) {
      if (obj.spec?.configSource) throw forbid(a, `node ${q(node)} is not allowed to create pods with a non-nil configSource`);
      const bad = forbiddenNodeLabels(modifiedLabels(obj.metadata.labels, undefined));
      if (bad.length) throw forbid(a, `node ${q(node)} is not allowed to set the following labels: ${bad.join(', ')}`);
    }
    if (a.operation === 'UPDATE' && obj) {
      const old = a.oldObject as unknown as Node;
      if (obj.spec?.configSource && !semanticEqual(obj.spec.configSource, old.spec?.configSource)) {
        throw forbid(a, `node ${q(node)} is not allowed to update configSource to a new non-nil configSource`);
      }
      if (!semanticEqual(obj.spec?.taints, old.spec?.taints)) throw forbid(a, `node ${q(node)} is not allowed to modify taints`);
      const bad = forbiddenNodeLabels(modifiedLabels(obj.metadata.labels, old.metadata.labels));
      if (bad.length) throw forbid(a, `is not allowed to modify labels: ${bad.join(', ')}`);
    }
  }

  function admitServiceAccount(node: string, a: AdmissionAttributes): void {
    if (a.operation !== 'CREATE' || a.subresource !== 'token') return;
    const ref = (a.object as unknown as TokenRequest | undefined)?.spec?.boundObjectRef;
    if (!ref || ref.apiVersion !== 'v1' || ref.kind !== 'Pod' || !ref.name) throw forbid(a, 'node requested token not bound to a pod');
    if (!ref.uid) throw forbid(a, 'node requested token with a pod binding without a uid');
    const pod = existingPod(a.namespace, ref.name);
    if (ref.uid !== pod.metadata.uid) {
      throw forbid(a, `the UID in the bound object reference (${ref.uid}) does not match the UID in record. The object might have been deleted and then recreated`);
    }
    if (pod.spec?.nodeName !== node) throw forbid(a, 'node requested token bound to a pod scheduled on a different node');
  }

  function admitOwnNamed(node: string, a: AdmissionAttributes, message: string): void {
    // The request's name is empty on create: the object says which it is.
    const name = a.operation === 'CREATE' ? (a.object?.metadata.name ?? '') : a.name;
    if (name !== node) throw forbid(a, message);
  }

  function admitResourceSlice(node: string, a: AdmissionAttributes): void {
    const nodeOf = (o: KubeObject | undefined) => ((o?.['spec'] as { nodeName?: string } | undefined)?.nodeName ?? '');
    if (a.operation === 'CREATE' && nodeOf(a.object) !== node) throw forbid(a, 'can only create ResourceSlice with the same NodeName as the requesting node');
    if (a.operation === 'DELETE' && nodeOf(a.oldObject) !== node) throw forbid(a, 'can only delete ResourceSlice with the same NodeName as the requesting node');
  }

  async function admitCSR(node: string, a: AdmissionAttributes): Promise<void> {
    if (a.operation !== 'CREATE') return;
    const csr = a.object as unknown as CertificateSigningRequest;
    if (csr.spec?.signerName !== kubeletServingSigner && csr.spec?.signerName !== kubeletClientSigner) return;
    let commonName: string;
    try {
      commonName = (await readCsr(Buffer.from(csr.spec.request ?? '', 'base64').toString('utf8'))).commonName;
    } catch (err) {
      throw forbid(a, `unable to parse csr: ${err instanceof Error ? err.message : String(err)}`);
    }
    if (commonName !== `system:node:${node}`) throw forbid(a, `can only create a node CSR with CN=system:node:${node}`);
  }

  return {
    name: 'NodeRestriction',
    // Requests of users other than nodes pass at once (not awaited by the chain).
    validate(a) {
      if (a.operation === 'CONNECT') return;
      const { isNode, nodeName } = nodeIdentity(a.user);
      return isNode ? validateNode(a, nodeName) : undefined;
    },
  };

  async function validateNode(a: AdmissionAttributes, nodeName: string): Promise<void> {
    if (!nodeName) throw forbid(a, `could not determine node from user ${q(a.user.username)}`);
    switch (`${a.def.group}/${a.def.plural}`) {
      case '/pods':
        if (a.subresource === '') return admitPod(nodeName, a);
        if (a.subresource === 'status') return admitPodStatus(nodeName, a);
        if (a.subresource === 'eviction') return admitPodEviction(nodeName, a);
        throw forbid(a, `unexpected pod subresource ${q(a.subresource)}, only 'status' and 'eviction' are allowed`);
      case '/nodes':
        return admitNode(nodeName, a);
      case '/persistentvolumeclaims':
        if (a.subresource === 'status') return admitPVCStatus(nodeName, a);
        throw forbid(a, 'may only update PVC status');
      case '/serviceaccounts':
        return admitServiceAccount(nodeName, a);
      case 'coordination.k8s.io/leases':
        if (a.namespace !== nodeLeaseNamespace) throw forbid(a, `can only access leases in the ${q(nodeLeaseNamespace)} system namespace`);
        return admitOwnNamed(nodeName, a, 'can only access node lease with the same name as the requesting node');
      case 'storage.k8s.io/csinodes':
        return admitOwnNamed(nodeName, a, 'can only access CSINode with the same name as the requesting node');
      case 'resource.k8s.io/resourceslices':
        return admitResourceSlice(nodeName, a);
      case 'certificates.k8s.io/certificatesigningrequests':
        if (opts.allowInsecureKubeletCertificateSigningRequests) return;
        return admitCSR(nodeName, a);
    }
  }
}
