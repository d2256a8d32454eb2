/**
 * DaemonSet placement and pod helpers, as upstream's pkg/controller/daemon/util and the
 * predicates of daemon_controller.go (NodeShouldRunDaemonPod):
 * - a node should run a daemon pod when the template's nodeName (if any) is the node, the
 *   template's nodeSelector and required node affinity match it (component-helpers' nodeaffinity:
 *   terms ORed, a term's requirements ANDed, a term with a parse error or nothing in it matching
 *   nothing), and it has no NoSchedule or NoExecute taint the pod does not tolerate; a pod
 *   already there may keep running when only NoSchedule taints are untolerated;
 * - the tolerations every daemon pod gets (AddOrUpdateDaemonPodTolerations): not-ready and
 *   unreachable NoExecute, disk-, memory- and pid-pressure and unschedulable NoSchedule, and
 *   network-unavailable NoSchedule for hostNetwork pods;
 * - the pod a DaemonSet creates for a node (CreatePodTemplate and
 *   ReplaceDaemonSetPodNodeNameNodeAffinity): the template with those tolerations, the
 *   `controller-revision-hash` and `pod-template-generation` labels, and its required node
 *   affinity replaced by one `metadata.name In [node]` matchFields term, so the default scheduler
 *   puts it on that node;
 * - which node a daemon pod is for (GetTargetNodeName), whether it is up to date (IsPodUpdated),
 *   maxSurge and maxUnavailable against the desired count (SurgeCount, UnavailableCount), and
 *   the order pods on one node are kept in (podByCreationTimestampAndPhase).
 * Everything here is pure; nothing mutates its arguments.
 */
import type { Affinity, DaemonSet, Node, NodeSelectorRequirement, NodeSelectorTerm, Pod, PodSpec, PodTemplateSpec, Taint, Toleration } from '../api/index.ts';
import { intOrPercent } from './controller-utils.ts';
import { tolerates } from './nodelifecycle.ts';

/** The label naming a daemon pod's revision (upstream's DefaultDaemonSetUniqueLabelKey). */
export const daemonSetRevisionLabel = 'controller-revision-hash';
/** The label holding the template generation a pod was made from (DaemonSetTemplateGenerationKey). */
export const podTemplateGenerationLabel = 'pod-template-generation';
/** Where apps/v1 keeps a DaemonSet's template generation (written by the API server, src/api/groups/apps.ts). */
export const templateGenerationAnnotation = 'deprecated.daemonset.template.generation';

const notExecute = (key: string): Toleration => ({ key, operator: 'Exists', effect: 'NoExecute' });
const notSchedule = (key: string): Toleration => ({ key, operator: 'Exists', effect: 'NoSchedule' });

/** The tolerations upstream adds to every daemon pod, in its order. */
export const daemonPodTolerations: readonly Toleration[] = [
  notExecute('node.kubernetes.io/not-ready'),
  notExecute('node.kubernetes.io/unreachable'),
  notSchedule('node.kubernetes.io/disk-pressure'),
  notSchedule('node.kubernetes.io/memory-pressure'),
  notSchedule('node.kubernetes.io/pid-pressure'),
  notSchedule('node.kubernetes.io/unschedulable'),
];
/** Added too for hostNetwork pods. */
export const hostNetworkToleration: Toleration = notSchedule('node.kubernetes.io/network-unavailable');

/** Upstream's Toleration.MatchToleration: same key, operator, value and effect. */
function sameToleration(a: Toleration, b: Toleration): boolean {
  return (a.key ?? '') === (b.key ?? '') && (a.operator ?? '') === (b.operator ?? '') && (a.value ?? '') === (b.value ?? '') && (a.effect ?? '') === (b.effect ?? '');
}

/**
 * `tolerations` with `t` added, or replacing the one it matches (upstream's
 * AddOrUpdateTolerationInPodSpec: a user's bounded toleration of the same taint becomes `t`).
 */
export function addOrUpdateToleration(tolerations: readonly Toleration[], t: Toleration): Toleration[] {
  let found = false;
  const out = tolerations.map((x) => {
    if (!sameToleration(x, t)) return x;
    found = true;
    return { ...t };
  });
  if (!found) out.push({ ...t });
  return out;
}

/** A pod spec's tolerations with the daemon tolerations added. */
export function daemonTolerations(spec: PodSpec | undefined): Toleration[] {
  let out = [...(spec?.tolerations ?? [])];
  for (const t of daemonPodTolerations) out = addOrUpdateToleration(out, t);
  if (spec?.hostNetwork) out = addOrUpdateToleration(out, hostNetworkToleration);
  return out;
}

// ---- node affinity -----------------------------------------------------------------------------

const integer = /^[+-]?\d+$/;

/** One label requirement; undefined when it does not parse (upstream labels.NewRequirement's checks). */
function labelRequirement(r: NodeSelectorRequirement): ((labels: Record<string, string>) => boolean) | undefined {
  const values = r.values ?? [];
  switch (r.operator) {
    case 'In':
      return values.length ? (l) => Object.hasOwn(l, r.key) && values.includes(l[r.key]!) : undefined;
    case 'NotIn':
      return values.length ? (l) => !Object.hasOwn(l, r.key) || !values.includes(l[r.key]!) : undefined;
    case 'Exists':
      return values.length ? undefined : (l) => Object.hasOwn(l, r.key);
    case 'DoesNotExist':
      return values.length ? undefined : (l) => !Object.hasOwn(l, r.key);
    case 'Gt':
    case 'Lt': {
      if (values.length !== 1 || !integer.test(values[0]!)) return undefined;
      const bound = Number(values[0]);
      return (l) => {
        const v = l[r.key];
        if (v === undefined || !integer.test(v)) return false;
        return r.operator === 'Gt' ? Number(v) > bound : Number(v) < bound;
      };
    }
    default:
      return undefined;
  }
}

/** One field requirement: only `metadata.name`, In or NotIn, exactly one value (upstream's field selector checks). */
function fieldRequirement(r: NodeSelectorRequirement): ((name: string) => boolean) | undefined {
  const values = r.values ?? [];
  if (r.key !== 'metadata.name' || values.length !== 1) return undefined;
  if (r.operator === 'In') return (name) => name === values[0];
  if (r.operator === 'NotIn') return (name) => name !== values[0];
  return undefined;
}

/** Whether a node selector term matches a node: a term that is empty or does not parse matches nothing. */
export function nodeSelectorTermMatches(term: NodeSelectorTerm, node: Node): boolean {
  const exprs = term.matchExpressions ?? [];
  const fields = term.matchFields ?? [];
  if (!exprs.length && !fields.length) return false;
  const labels = node.metadata.labels ?? {};
  const name = node.metadata.name ?? '';
  const labelReqs = exprs.map(labelRequirement);
  const fieldReqs = fields.map(fieldRequirement);
  if (labelReqs.includes(undefined) || fieldReqs.includes(undefined)) return false;
  return labelReqs.every((m) => m!(labels)) && fieldReqs.every((m) => m!(name));
}

/** Upstream GetRequiredNodeAffinity(pod).Match(node): the nodeSelector and any required term. */
export function requiredNodeAffinityMatches(spec: PodSpec | undefined, node: Node): boolean {
  const labels = node.metadata.labels ?? {};
  for (const [k, v] of Object.entries(spec?.nodeSelector ?? {})) if (labels[k] !== v) return false;
  const required = spec?.affinity?.nodeAffinity?.requiredDuringSchedulingIgnoredDuringExecution;
  if (!required) return true;
  return (required.nodeSelectorTerms ?? []).some((t) => nodeSelectorTermMatches(t, node));
}

// ---- placement ---------------------------------------------------------------------------------

/** What NodeShouldRunDaemonPod needs of a DaemonSet, computed once per DaemonSet object. */
export interface DaemonPlacement {
  /** The template's spec.nodeName ('' for none). */
  nodeName: string;
  spec: PodSpec | undefined;
  /** The template's tolerations plus the daemon tolerations. */
  tolerations: Toleration[];
}

export function daemonPlacement(ds: DaemonSet): DaemonPlacement {
  const spec = ds.spec?.template?.spec;
  return { nodeName: spec?.nodeName ?? '', spec, tolerations: daemonTolerations(spec) };
}

/** Upstream's answer for one node: run a new pod there; keep a pod already running there. */
export interface ShouldRun {
  shouldRun: boolean;
  shouldContinueRunning: boolean;
}

const neither: ShouldRun = { shouldRun: false, shouldContinueRunning: false };
const both: ShouldRun = { shouldRun: true, shouldContinueRunning: true };
const keepOnly: ShouldRun = { shouldRun: false, shouldContinueRunning: true };

/** Whether some taint with one of `effects` is tolerated by none of `tolerations` (FindMatchingUntoleratedTaint). */
export function hasUntoleratedTaint(taints: readonly Taint[], tolerations: readonly Toleration[], effects: readonly string[]): boolean {
  return taints.some((taint) => effects.includes(taint.effect) && !tolerations.some((t) => tolerates(t, taint)));
}

/** Upstream NodeShouldRunDaemonPod. */
export function nodeShouldRunDaemonPod(p: DaemonPlacement, node: Node): ShouldRun {
  if (p.nodeName && p.nodeName !== node.metadata.name) return neither;
  if (!requiredNodeAffinityMatches(p.spec, node)) return neither;
  const taints = node.spec?.taints ?? [];
  if (!taints.length || !hasUntoleratedTaint(taints, p.tolerations, ['NoExecute', 'NoSchedule'])) return both;
  // Pods already there keep running while they tolerate every NoExecute taint.
  return hasUntoleratedTaint(taints, p.tolerations, ['NoExecute']) ? neither : keepOnly;
}

// ---- daemon pods -------------------------------------------------------------------------------

/** The template generation a DaemonSet carries; undefined when absent or not an integer. */
export function templateGenerationOf(ds: DaemonSet): number | undefined {
  const v = ds.metadata.annotations?.[templateGenerationAnnotation];
  if (v === undefined || !integer.test(v)) return undefined;
  return Number(v);
}

/** Upstream CreatePodTemplate: the template with the daemon tolerations and the generation and hash labels. */
export function daemonPodTemplate(template: PodTemplateSpec | undefined, generation: number | undefined, hash: string): PodTemplateSpec {
  const t: PodTemplateSpec = structuredClone(template ?? {});
  const spec: PodSpec = t.spec ?? ({ containers: [] } as PodSpec);
  spec.tolerations = daemonTolerations(spec);
  t.spec = spec;
  const labels = { ...(t.metadata?.labels ?? {}) };
  if (generation !== undefined) labels[podTemplateGenerationLabel] = String(generation);
  if (hash) labels[daemonSetRevisionLabel] = hash;
  t.metadata = { ...(t.metadata ?? {}), labels };
  return t;
}

/**
 * Upstream ReplaceDaemonSetPodNodeNameNodeAffinity: the affinity whose required node affinity is
 * the single term `metadata.name In [nodeName]` (other required terms are dropped: the node
 * was already found to match them); preferred terms and pod (anti-)affinity are kept.
 */
export function replaceNodeNameAffinity(affinity: Affinity | undefined, nodeName: string): Affinity {
  const required = { nodeSelectorTerms: [{ matchFields: [{ key: 'metadata.name', operator: 'In', values: [nodeName] }] }] };
  return { ...(affinity ?? {}), nodeAffinity: { ...(affinity?.nodeAffinity ?? {}), requiredDuringSchedulingIgnoredDuringExecution: required } };
}

/**
 * Upstream GetTargetNodeName: spec.nodeName, else the single value of a `metadata.name In`
 * matchFields requirement of the required node affinity; undefined when there is none.
 */
export function targetNodeName(pod: Pod): string | undefined {
  if (pod.spec?.nodeName) return pod.spec.nodeName;
  const terms = pod.spec?.affinity?.nodeAffinity?.requiredDuringSchedulingIgnoredDuringExecution?.nodeSelectorTerms ?? [];
  for (const term of terms) {
    for (const r of term.matchFields ?? []) {
      if (r.key === 'metadata.name' && r.operator === 'In') return r.values?.length === 1 ? r.values[0] : undefined;
    }
  }
  return undefined;
}

/** Upstream IsPodUpdated: the pod carries the current revision's hash or the current template generation. */
export function isPodUpdated(pod: Pod, hash: string, generation: number | undefined): boolean {
  const labels = pod.metadata.labels ?? {};
  const generationMatches = generation !== undefined && labels[podTemplateGenerationLabel] === String(generation);
  return (hash !== '' && labels[daemonSetRevisionLabel] === hash) || generationMatches;
}

function rollingUpdateOf(ds: DaemonSet) {
  const s = ds.spec?.updateStrategy;
  return (s?.type ?? 'RollingUpdate') === 'RollingUpdate' ? s?.rollingUpdate : undefined;
}

/** Upstream SurgeCount: maxSurge against `desired` (percentages rounded up); 0 unless RollingUpdate. */
export function surgeCount(ds: DaemonSet, desired: number): number {
  const ru = rollingUpdateOf(ds);
  if (ru?.maxSurge === undefined || ru.maxSurge === null) return 0;
  return Math.max(0, intOrPercent(ru.maxSurge, desired, true, '0'));
}

/** Upstream UnavailableCount: maxUnavailable against `desired` (percentages rounded up); 0 unless RollingUpdate. */
export function unavailableCount(ds: DaemonSet, desired: number): number {
  const ru = rollingUpdateOf(ds);
  if (!ru) return 0;
  return Math.max(0, intOrPercent(ru.maxUnavailable, desired, true, '0'));
}

/** Upstream AllowsSurge: more than one pod may run on a node during an update. */
export function allowsSurge(ds: DaemonSet): boolean {
  return surgeCount(ds, 1) > 0;
}

const created = (p: Pod) => Date.parse(p.metadata.creationTimestamp ?? '') || 0;

/** Upstream podByCreationTimestampAndPhase: scheduled pods first, then oldest first, then by name. */
export function compareDaemonPods(a: Pod, b: Pod): number {
  const sa = a.spec?.nodeName ? 0 : 1;
  const sb = b.spec?.nodeName ? 0 : 1;
  if (sa !== sb) return sa - sb;
  const ca = created(a);
  const cb = created(b);
  if (ca !== cb) return ca - cb;
  const na = a.metadata.name ?? '';
  const nb = b.metadata.name ?? '';
  return na < nb ? -1 : na > nb ? 1 : 0;
}
