/**
 * ClusterRole aggregation: the union as tables, then the controller against the in-process API
 * server on a temporary SQLite store. The controller is started on its own context (informer
 * factory, recorder, signal), as the controller manager would start it.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { ClusterRole, PolicyRule } from '../api/index.ts';
import { EventRecorder, InformerFactory, type Clientset, type RestClient } from '../client/index.ts';
import { defaultControllerConfig, type ControllerContext } from './context.ts';
import { aggregatedRules, startClusterRoleAggregationController } from './clusterroleaggregation.ts';
import { startTestApi, type TestApi } from './testing.ts';

const rule = (verb: string, resource: string): PolicyRule => ({ verbs: [verb], apiGroups: [''], resources: [resource] });

function role(name: string, o: { labels?: Record<string, string>; rules?: PolicyRule[]; select?: ClusterRole['aggregationRule'] } = {}): ClusterRole {
  const r: ClusterRole = { apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'ClusterRole', metadata: { name, labels: o.labels } };
  if (o.rules) r.rules = o.rules;
  if (o.select) r.aggregationRule = o.select;
  return r;
}

const byLabel = (...keys: string[]): ClusterRole['aggregationRule'] => ({ clusterRoleSelectors: keys.map((k) => ({ matchLabels: { [k]: 'true' } })) });

const cases: { name: string; role: ClusterRole; others: ClusterRole[]; want: PolicyRule[] | undefined }[] = [
  { name: 'a role without aggregationRule aggregates nothing', role: role('plain', { rules: [rule('get', 'pods')] }), others: [role('a', { labels: { x: 'true' }, rules: [rule('list', 'pods')] })], want: undefined },
  {
    name: 'the rules of the selected roles, in name order, each once',
    role: role('agg', { select: byLabel('x') }),
    others: [
      role('b', { labels: { x: 'true' }, rules: [rule('list', 'pods'), rule('get', 'pods')] }),
      role('a', { labels: { x: 'true' }, rules: [rule('get', 'pods'), rule('get', 'secrets')] }),
      role('c', { labels: { y: 'true' }, rules: [rule('delete', 'pods')] }),
    ],
    want: [rule('get', 'pods'), rule('get', 'secrets'), rule('list', 'pods')],
  },
  {
    name: 'selectors are taken in order, each one\'s roles by name',
    role: role('agg', { select: byLabel('second', 'first') }),
    others: [role('a', { labels: { first: 'true' }, rules: [rule('get', 'a')] }), role('z', { labels: { second: 'true' }, rules: [rule('get', 'z')] })],
    want: [rule('get', 'z'), rule('get', 'a')],
  },
  {
    name: 'the role itself is skipped even when it matches its own selector',
    role: role('agg', { labels: { x: 'true' }, rules: [rule('get', 'stale')], select: byLabel('x') }),
    others: [role('a', { labels: { x: 'true' }, rules: [rule('get', 'pods')] })],
    want: [rule('get', 'pods')],
  },
  { name: 'no role selected: no rules', role: role('agg', { select: byLabel('x') }), others: [role('a', { rules: [rule('get', 'pods')] })], want: [] },
  {
    name: 'matchExpressions select too',
    role: role('agg', { select: { clusterRoleSelectors: [{ matchExpressions: [{ key: 'tier', operator: 'In', values: ['a', 'b'] }] }] } }),
    others: [role('one', { labels: { tier: 'b' }, rules: [rule('get', 'one')] }), role('two', { labels: { tier: 'c' }, rules: [rule('get', 'two')] })],
    want: [rule('get', 'one')],
  },
  {
    name: 'rules equal but for an empty list and a missing one count once',
    role: role('agg', { select: byLabel('x') }),
    others: [role('a', { labels: { x: 'true' }, rules: [{ ...rule('get', 'pods'), resourceNames: [] }] }), role('b', { labels: { x: 'true' }, rules: [rule('get', 'pods')] })],
    want: [{ ...rule('get', 'pods'), resourceNames: [] }],
  },
];
for (const c of cases) {
  test(c.name, () => {
    const all = [c.role, ...c.others];
    const before = structuredClone(all);
    assert.deepEqual(aggregatedRules(c.role, all), c.want);
    assert.deepEqual(all, before, 'inputs are not modified');
  });
}

test('an invalid selector operator throws', () => {
  const r = role('agg', { select: { clusterRoleSelectors: [{ matchExpressions: [{ key: 'k', operator: 'Near' }] }] } });
  assert.throws(() => aggregatedRules(r, [r]), /not a valid label selector operator/);
});

describe('clusterrole-aggregation controller', () => {
  let testApi: TestApi | undefined;
  let client: RestClient;
  let cs: Clientset;
  const ac = new AbortController();
  let informers: InformerFactory;
  const recorders: EventRecorder[] = [];

  const until = async <T>(what: string, fn: () => Promise<T | undefined | false>): Promise<T> => {
    const deadline = Date.now() + 20_000;
    for (;;) {
      const v = await fn();
      if (v) return v;
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  };
  const rulesOf = async (name: string) => JSON.stringify((await cs.clusterRoles.get(name)).rules ?? []);

  before(async () => {
    testApi = await startTestApi('cragg-test');
    ({ client, cs } = testApi);
    informers = new InformerFactory(client, {});
    const ctx: ControllerContext = {
      client,
      config: defaultControllerConfig,
      informers,
      signal: ac.signal,
      log: () => {},
      recorder(component) {
        const r = new EventRecorder(client, { component });
        recorders.push(r);
        return r;
      },
    };
    // Roles present before the controller starts are aggregated once its cache has synced.
    await cs.clusterRoles.create(role('test-view', { select: byLabel('example.com/aggregate-to-view') }));
    await cs.clusterRoles.create(role('test-view-pods', { labels: { 'example.com/aggregate-to-view': 'true' }, rules: [rule('get', 'pods')] }));
    startClusterRoleAggregationController(ctx);
    informers.start(ac.signal);
  });
  after(async () => {
    ac.abort();
    await informers?.stopped();
    await Promise.all(recorders.map((r) => r.close()));
    await testApi?.close();
  });

  test('an aggregated role gets the union, follows its sources as they come, change and go, and chains', async () => {
    await until('the first aggregation', async () => (await rulesOf('test-view')) === JSON.stringify([rule('get', 'pods')]));
    await cs.clusterRoles.create(role('test-view-secrets', { labels: { 'example.com/aggregate-to-view': 'true' }, rules: [rule('get', 'secrets'), rule('get', 'pods')] }));
    await until('a new source role', async () => (await rulesOf('test-view')) === JSON.stringify([rule('get', 'pods'), rule('get', 'secrets')]));
    const pods = await cs.clusterRoles.get('test-view-pods');
    await cs.clusterRoles.update({ ...pods, rules: [rule('list', 'pods')] });
    await until('a changed source role', async () => (await rulesOf('test-view')) === JSON.stringify([rule('list', 'pods'), rule('get', 'secrets'), rule('get', 'pods')]));
    await cs.clusterRoles.delete('test-view-secrets');
    await until('a deleted source role', async () => (await rulesOf('test-view')) === JSON.stringify([rule('list', 'pods')]));
    // An aggregated role selected by another one: its aggregated rules flow on.
    await cs.clusterRoles.create(role('test-edit', { select: byLabel('example.com/aggregate-to-edit') }));
    const view = await cs.clusterRoles.get('test-view');
    await cs.clusterRoles.update({ ...view, metadata: { ...view.metadata, labels: { 'example.com/aggregate-to-edit': 'true' } } });
    await until('the chained aggregation', async () => (await rulesOf('test-edit')) === JSON.stringify([rule('list', 'pods')]));
    // Rules written by hand to an aggregated role are replaced by the union.
    const edit = await cs.clusterRoles.get('test-edit');
    await cs.clusterRoles.update({ ...edit, rules: [rule('delete', 'everything')] });
    await until('the hand-written rules replaced', async () => (await rulesOf('test-edit')) === JSON.stringify([rule('list', 'pods')]));
  });

  test('a role that already has the union is not written', async () => {
    const before = (await cs.clusterRoles.get('test-view')).metadata.resourceVersion;
    await cs.clusterRoles.create(role('unrelated', { rules: [rule('get', 'nodes')] }));
    // The unrelated role queues every aggregated role; none of them changes.
    await new Promise((r) => setTimeout(r, 300));
    assert.equal((await cs.clusterRoles.get('test-view')).metadata.resourceVersion, before);
  });
});
