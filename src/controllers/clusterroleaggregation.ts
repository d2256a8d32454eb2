/**
 * The clusterrole-aggregation controller, as upstream's ClusterRoleAggregationController
 * (pkg/controller/clusterroleaggregation): a ClusterRole with `aggregationRule.clusterRoleSelectors`
 * gets as `rules` the union of the rules of every other ClusterRole that any selector matches.
 *  - Selectors are taken in order; the ClusterRoles one selects are taken in name order; each rule
 *    is added once (a rule equal to one already gathered is skipped), so the result is stable.
 *  - The role is written only when the union differs from its rules (nil and empty alike).
 *  - Any ClusterRole added, changed or deleted queues every aggregated ClusterRole (the graph is
 *    small and unknown, as upstream reasons), five workers, queue `ClusterRoleAggregator`.
 *  - An invalid selector fails that role's sync (retried with backoff), as upstream's does.
 * Upstream writes with server-side apply (field manager `clusterrole-aggregation-controller`,
 * forced) and falls back to an update; Bosun updates the cached object at its resourceVersion
 * (a conflict is retried, and the informer's newer copy queues the role again anyway).
 */
import type { ClusterRole, PolicyRule } from '../api/index.ts';
import { isNotFound } from '../api/errors.ts';
import { labelSelectorFromObject } from '../api/selectors.ts';
import { clientset, resources } from '../client/index.ts';
import type { ControllerContext } from './context.ts';
import { semanticEqual, startQueue } from './controller-utils.ts';

const byName = (a: ClusterRole, b: ClusterRole) => {
  const x = a.metadata.name ?? '';
  const y = b.metadata.name ?? '';
  return x < y ? -1 : x > y ? 1 : 0;
};

/**
 * The rules `role` aggregates from `all` (the ClusterRoles known; `role` itself is skipped), or
 * undefined when it has no aggregationRule. Pure; the returned rules are copies. Throws on an
 * invalid selector.
 */
export function aggregatedRules(role: ClusterRole, all: readonly ClusterRole[]): PolicyRule[] | undefined {
  if (!role.aggregationRule) return undefined;
  const out: PolicyRule[] = [];
  for (const selector of role.aggregationRule.clusterRoleSelectors ?? []) {
    const matcher = labelSelectorFromObject(selector);
    const selected = all.filter((r) => matcher.matches(r.metadata.labels)).sort(byName);
    for (const source of selected) {
      if (source.metadata.name === role.metadata.name) continue;
      for (const rule of source.rules ?? []) {
        if (!out.some((have) => semanticEqual(have, rule))) out.push(structuredClone(rule));
      }
    }
  }
  return out;
}

export function startClusterRoleAggregationController(ctx: ControllerContext): void {
  const roles = ctx.informers.typedInformerFor(resources.clusterRoles);
  const cs = clientset(ctx.client);
  const queue = startQueue(ctx, sync, { name: 'ClusterRoleAggregator', workers: 5, waitFor: [roles] });
  const enqueueAggregated = () => {
    for (const r of roles.store.list()) if (r.aggregationRule) queue.add(r.metadata.name!);
  };
  roles.addEventHandler({ onAdd: enqueueAggregated, onUpdate: enqueueAggregated, onDelete: enqueueAggregated });

  async function sync(name: string): Promise<void> {
    const cached = roles.store.get(name);
    if (!cached) return;
    const rules = aggregatedRules(cached, roles.store.list());
    if (!rules || semanticEqual(rules, cached.rules ?? [])) return;
    const role = structuredClone(cached);
    if (rules.length) role.rules = rules;
    else delete role.rules;
    try {
      await cs.clusterRoles.update(role);
      ctx.log(`clusterrole-aggregation: ${name} now has ${rules.length} rule${rules.length === 1 ? '' : 's'}`);
    } catch (err) {
      if (isNotFound(err)) return;
      throw err;
    }
  }
}
