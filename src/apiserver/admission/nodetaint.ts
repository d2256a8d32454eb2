/**
 * TaintNodesByCondition, as upstream's plugin/pkg/admission/nodetaint: every Node is created
 * with the taint `node.kubernetes.io/not-ready:NoSchedule` (unless it already has one with that
 * key and effect, whatever its value), so no pod is scheduled to a node before the node
 * lifecycle controller has seen it Ready; that controller's NoSchedule pass removes the taint.
 * Mutating only; CREATE of nodes only (no subresource). Synchronous and stateless.
 */
import type { Node, Taint } from '../../api/index.ts';
import type { AdmissionPlugin } from './types.ts';

/** The taint key upstream names TaintNodeNotReady. */
export const notReadyTaintKey = 'node.kubernetes.io/not-ready';

/** Adds the not-ready NoSchedule taint to a node that lacks one (matched by key and effect, as Taint.MatchTaint). */
export function addNotReadyTaint(node: Node): void {
  const taint: Taint = { key: notReadyTaintKey, effect: 'NoSchedule' };
  const spec = (node.spec ??= {});
  const taints = (spec.taints ??= []);
  if (taints.some((t) => t.key === taint.key && t.effect === taint.effect)) return;
  taints.push(taint);
}

/** The TaintNodesByCondition admission plugin. */
export function taintNodesByConditionPlugin(): AdmissionPlugin {
  return {
    name: 'TaintNodesByCondition',
    admit(a) {
      if (a.operation !== 'CREATE' || a.subresource || a.def.group !== '' || a.def.plural !== 'nodes' || !a.object) return;
      addNotReadyTaint(a.object as unknown as Node);
    },
  };
}
