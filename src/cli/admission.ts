/**
 * The admission chain's order and the `--enable-admission-plugins` / `--disable-admission-plugins`
 * flags, as kube-apiserver's (its RecommendedPluginOrder and AdmissionOptions.Validate).
 *
 * Every plugin Bosun has is on by default, NodeRestriction included (upstream leaves it to the
 * flag; kubeadm and k3s turn it on). `--enable-admission-plugins` names a plugin that is already
 * on, or one of upstream's that Bosun does not have, which is refused with a clear error rather
 * than ignored. `--disable-admission-plugins` turns plugins off. Bosun's RBAC escalation check is
 * not an admission plugin upstream (the RBAC storage makes it before admission) and cannot be
 * turned off; it runs first.
 */
import type { AdmissionPlugin } from '../apiserver/admission/types.ts';

/** Upstream's order (kube-apiserver's RecommendedPluginOrder) of the plugins Bosun has. */
export const admissionOrder = [
  'NamespaceLifecycle',
  'LimitRanger',
  'ServiceAccount',
  'NodeRestriction',
  'TaintNodesByCondition',
  'PodSecurity',
  'Priority',
  'DefaultTolerationSeconds',
  'DefaultStorageClass',
  'StorageObjectInUseProtection',
  'PersistentVolumeClaimResize',
  'RuntimeClass',
  'CertificateApproval',
  'CertificateSigning',
  'CertificateSubjectRestriction',
  'DefaultIngressClass',
  'MutatingAdmissionWebhook',
  'ValidatingAdmissionPolicy',
  'ValidatingAdmissionWebhook',
  'ResourceQuota',
] as const;

/** Upstream's plugins that Bosun does not have. */
const notBuilt = new Set([
  'AlwaysAdmit',
  'AlwaysDeny',
  'AlwaysPullImages',
  'ClusterTrustBundleAttest',
  'DenyServiceExternalIPs',
  'EventRateLimit',
  'ExtendedResourceToleration',
  'ImagePolicyWebhook',
  'LimitPodHardAntiAffinityTopology',
  'MutatingAdmissionPolicy',
  'NamespaceAutoProvision',
  'NamespaceExists',
  'OwnerReferencesPermissionEnforcement',
  'PodNodeSelector',
  'PodTolerationRestriction',
  'PodTopologyLabels',
]);

/** The plugin that is always on and first. */
const alwaysFirst = 'RBACEscalation';

/** Problems with the flags, worded as upstream's (empty when none). */
export function admissionFlagErrors(enable: readonly string[], disable: readonly string[]): string[] {
  const known = new Set<string>(admissionOrder);
  const errs: string[] = [];
  for (const [flag, names] of [['enable-admission-plugins', enable], ['disable-admission-plugins', disable]] as const) {
    for (const n of names) {
      if (known.has(n)) continue;
      if (notBuilt.has(n)) errs.push(`${flag} plugin "${n}" is upstream's but not built in Bosun`);
      else errs.push(`${flag} plugin "${n}" is unknown`);
    }
  }
  const overlap = [...new Set(enable.filter((n) => disable.includes(n)))].sort();
  if (overlap.length) errs.push(`[${overlap.join(' ')}] in enable-admission-plugins and disable-admission-plugins overlapped`);
  return errs;
}

/**
 * The chain: the escalation check, then the given plugins in upstream's order, without the
 * disabled ones. Every plugin must have a name of `admissionOrder` (or be the escalation check).
 */
export function orderAdmission(plugins: readonly AdmissionPlugin[], disable: readonly string[] = []): AdmissionPlugin[] {
  const rank = new Map<string, number>(admissionOrder.map((n, i) => [n, i]));
  rank.set(alwaysFirst, -1);
  for (const p of plugins) if (!rank.has(p.name)) throw new Error(`admission plugin ${p.name} has no place in the order`);
  return plugins
    .filter((p) => p.name === alwaysFirst || !disable.includes(p.name))
    .map((p, i) => ({ p, i }))
    .sort((a, b) => rank.get(a.p.name)! - rank.get(b.p.name)! || a.i - b.i)
    .map(({ p }) => p);
}
