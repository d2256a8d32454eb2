/**
 * RuntimeClass, as upstream's plugin/pkg/admission/runtimeclass: a new pod that names a
 * RuntimeClass (`spec.runtimeClassName`, node.k8s.io/v1) takes its overhead and scheduling.
 *
 * - Both phases (pods CREATE, no subresource): an unknown class is Forbidden, `pod rejected:
 *   RuntimeClass "x" not found`.
 * - Mutating: `spec.overhead` becomes the class's `overhead.podFixed` (a pod that already sets a
 *   non-empty overhead that differs, by quantity value, is Forbidden: `pod rejected: Pod's
 *   Overhead doesn't match RuntimeClass's defined Overhead`); the class's
 *   `scheduling.nodeSelector` is merged into the pod's (a key the pod sets to another value is
 *   Forbidden: `conflict: runtimeClass.scheduling.nodeSelector[k] = a; pod.spec.nodeSelector[k]
 *   = b`); its `scheduling.tolerations` come first, followed by the pod's tolerations whose key
 *   and effect none of the class's has (upstream MergeTolerations).
 * - Validating: a pod with a non-empty overhead must name a class with an overhead equal to it
 *   (`pod rejected: Pod Overhead set without corresponding RuntimeClass defined Overhead`
 *   otherwise).
 * Like upstream, only CREATE is handled (a pod's runtime class and overhead never change).
 *
 * Departures: upstream iterates Go maps where the order shows, so Bosun fixes one: a nodeSelector
 * conflict reports the first conflicting key in sorted order, and the pod's own tolerations keep
 * their order (one per key and effect, the last one winning). The overhead is written in
 * canonical quantity text. Not covered: the live lookup upstream makes when its informer has not
 * seen the class yet (the API server's cache is read).
 */
import { forbidden } from '../../api/errors.ts';
import type { Pod, RuntimeClass, Toleration } from '../../api/index.ts';
import { canonicalText, usageEquals, usageOf } from './quotaeval.ts';
import type { AdmissionAttributes, AdmissionPlugin } from './types.ts';

export interface RuntimeClassDeps {
  /** A RuntimeClass by name from a cache. Never mutated here. */
  runtimeClass(name: string): RuntimeClass | undefined;
}

/** Pods created without a subresource: all this plugin looks at. */
function podCreate(a: AdmissionAttributes): Pod | undefined {
  if (a.operation !== 'CREATE' || a.subresource || a.def.group !== '' || a.def.plural !== 'pods' || !a.object) return undefined;
  return a.object as unknown as Pod;
}

function forbid(a: AdmissionAttributes, message: string) {
  const name = a.name || a.object?.metadata.name || a.object?.metadata.generateName || 'Unknown';
  return forbidden({ group: a.def.group, resource: a.def.plural }, name, message);
}

const hasEntries = (r: Readonly<Record<string, unknown>> | undefined | null): r is Record<string, unknown> => !!r && Object.keys(r).length > 0;

/** The pod's RuntimeClass (undefined when it names none); throws Forbidden for an unknown one. */
function classOf(a: AdmissionAttributes, pod: Pod, deps: RuntimeClassDeps): RuntimeClass | undefined {
  const name = pod.spec?.runtimeClassName;
  if (name === undefined || name === null) return undefined;
  const rc = deps.runtimeClass(name);
  if (!rc) throw forbid(a, `pod rejected: RuntimeClass "${name}" not found`);
  return rc;
}

const overheadMismatch = "pod rejected: Pod's Overhead doesn't match RuntimeClass's defined Overhead";

/** Whether two resource lists are semantically equal (same names, equal quantities). */
const sameResources = (a: Readonly<Record<string, unknown>> | undefined, b: Readonly<Record<string, unknown>> | undefined) => usageEquals(usageOf(a), usageOf(b));

function setOverhead(a: AdmissionAttributes, pod: Pod, rc: RuntimeClass): void {
  if (!rc.overhead) return;
  const spec = (pod.spec ??= { containers: [] });
  const fixed = rc.overhead.podFixed;
  if (hasEntries(spec.overhead) && !sameResources(fixed, spec.overhead)) throw forbid(a, overheadMismatch);
  if (!hasEntries(fixed)) {
    delete spec.overhead;
    return;
  }
  const out: Record<string, string> = {};
  for (const k of Object.keys(fixed).sort()) out[k] = canonicalText(String(fixed[k]));
  spec.overhead = out;
}

/** Upstream tolerations.MergeTolerations(pod, class): the class's first, then the pod's not keyed (key, effect) by one of them. */
export function mergeTolerations(pod: readonly Toleration[], cls: readonly Toleration[]): Toleration[] {
  const key = (t: Toleration) => `${t.key ?? ''}\u0000${t.effect ?? ''}`;
  const taken = new Set(cls.map(key));
  const own = new Map<string, Toleration>();
  for (const t of pod) if (!taken.has(key(t))) own.set(key(t), t);
  return [...cls.map((t) => structuredClone(t)), ...own.values()];
}

function setScheduling(a: AdmissionAttributes, pod: Pod, rc: RuntimeClass): void {
  const scheduling = rc.scheduling;
  if (!scheduling) return;
  const spec = (pod.spec ??= { containers: [] });
  const classSelector = scheduling.nodeSelector;
  if (!spec.nodeSelector) {
    if (classSelector) spec.nodeSelector = { ...classSelector };
  } else if (classSelector) {
    for (const k of Object.keys(classSelector).sort()) {
      const want = classSelector[k]!;
      const have = spec.nodeSelector[k];
      if (have !== undefined && have !== want) {
        throw forbid(a, `conflict: runtimeClass.scheduling.nodeSelector[${k}] = ${want}; pod.spec.nodeSelector[${k}] = ${have}`);
      }
      spec.nodeSelector[k] = want;
    }
  }
  const merged = mergeTolerations(spec.tolerations ?? [], scheduling.tolerations ?? []);
  if (merged.length) spec.tolerations = merged;
  else delete spec.tolerations;
}

/** The RuntimeClass admission plugin. Synchronous; reads classes through `deps` only. */
export function runtimeClassPlugin(deps: RuntimeClassDeps): AdmissionPlugin {
  return {
    name: 'RuntimeClass',
    admit(a) {
      const pod = podCreate(a);
      if (!pod) return;
      const rc = classOf(a, pod, deps);
      if (!rc) return;
      setOverhead(a, pod, rc);
      setScheduling(a, pod, rc);
    },
    validate(a) {
      const pod = podCreate(a);
      if (!pod) return;
      const rc = classOf(a, pod, deps);
      if (!hasEntries(pod.spec?.overhead)) return;
      if (!rc?.overhead) throw forbid(a, 'pod rejected: Pod Overhead set without corresponding RuntimeClass defined Overhead');
      if (!sameResources(rc.overhead.podFixed, pod.spec.overhead)) throw forbid(a, overheadMismatch);
    },
  };
}
