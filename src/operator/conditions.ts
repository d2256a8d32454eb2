/**
 * Status conditions (metav1.Condition lists), as apimachinery's `meta` helpers
 * (`SetStatusCondition`, `FindStatusCondition`, `IsStatusConditionTrue`, ...). Conditions are
 * keyed by `type`; `lastTransitionTime` changes only when `status` changes. The setters change the
 * list they are given: pass your own copy.
 */
import type { Condition } from '../api/index.ts';

export type { Condition };
export type ConditionStatus = 'True' | 'False' | 'Unknown';

/** What the helpers need of a condition: metav1.Condition, or a CRD's own condition type. */
export interface ConditionLike {
  type: string;
  status: string;
  reason?: string;
  message?: string;
  lastTransitionTime?: string | null;
  observedGeneration?: number;
}

/** A condition to set: `lastTransitionTime` defaults to now. */
export type ConditionInput = Omit<Condition, 'lastTransitionTime' | 'status'> & { status: ConditionStatus; lastTransitionTime?: string };

/** metav1.Time: RFC 3339 with seconds, UTC. */
export function nowTime(ms = Date.now()): string {
  return `${new Date(ms).toISOString().slice(0, 19)}Z`;
}

/**
 * Adds or updates the condition of `c.type`; true when the list changed. The transition time is
 * kept unless the status changes (then it is `c.lastTransitionTime` or now).
 */
export function setStatusCondition<C extends ConditionLike>(conditions: C[], c: ConditionInput, now: () => string = nowTime): boolean {
  const cur = conditions.find((x) => x.type === c.type);
  if (!cur) {
    conditions.push({ ...c, lastTransitionTime: c.lastTransitionTime ?? now() } as C);
    return true;
  }
  let changed = false;
  if (cur.status !== c.status) {
    cur.status = c.status;
    cur.lastTransitionTime = c.lastTransitionTime ?? now();
    changed = true;
  }
  if (cur.reason !== c.reason) {
    cur.reason = c.reason;
    changed = true;
  }
  if (cur.message !== c.message) {
    cur.message = c.message;
    changed = true;
  }
  if (c.observedGeneration !== undefined && cur.observedGeneration !== c.observedGeneration) {
    cur.observedGeneration = c.observedGeneration;
    changed = true;
  }
  return changed;
}

/** Removes the condition of that type; true when there was one. */
export function removeStatusCondition(conditions: ConditionLike[], type: string): boolean {
  const i = conditions.findIndex((x) => x.type === type);
  if (i < 0) return false;
  conditions.splice(i, 1);
  return true;
}

export function findStatusCondition<C extends ConditionLike>(conditions: readonly C[] | undefined, type: string): C | undefined {
  return conditions?.find((x) => x.type === type);
}

export function isStatusConditionTrue(conditions: readonly ConditionLike[] | undefined, type: string): boolean {
  return findStatusCondition(conditions, type)?.status === 'True';
}

export function isStatusConditionFalse(conditions: readonly ConditionLike[] | undefined, type: string): boolean {
  return findStatusCondition(conditions, type)?.status === 'False';
}
