import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { RuleWithOperations } from '../../../api/index.ts';
import type { KubeObject } from '../../../api/types.ts';
import type { AdmissionAttributes } from '../types.ts';
import { isExempt, matchRules, requestView, ruleMatches, servedVersions } from './rules.ts';
import { defs, makeAttrs } from './testing.ts';

const rule = (r: Partial<RuleWithOperations>): RuleWithOperations => ({ operations: ['CREATE'], apiGroups: [''], apiVersions: ['v1'], resources: ['pods'], ...r });
const pods = (a: Partial<AdmissionAttributes> = {}) => requestView(makeAttrs({ def: defs.pods, namespace: 'default', ...a }));

const cases: { name: string; rule: RuleWithOperations; view: ReturnType<typeof requestView>; want: boolean }[] = [
  { name: 'an exact rule matches', rule: rule({}), view: pods(), want: true },
  { name: 'another operation does not', rule: rule({ operations: ['UPDATE'] }), view: pods(), want: false },
  { name: 'operation * matches any', rule: rule({ operations: ['*'] }), view: pods({ operation: 'DELETE' }), want: true },
  { name: 'group * matches any', rule: rule({ apiGroups: ['*'], resources: ['deployments'] }), view: requestView(makeAttrs({ def: defs.deployments, namespace: 'default' })), want: true },
  { name: 'another group does not', rule: rule({ apiGroups: ['apps'] }), view: pods(), want: false },
  { name: 'another version does not', rule: rule({ apiVersions: ['v2'] }), view: pods(), want: false },
  { name: 'resource * matches main resources', rule: rule({ resources: ['*'] }), view: pods(), want: true },
  { name: 'resource * does not match a subresource', rule: rule({ resources: ['*'] }), view: pods({ subresource: 'status' }), want: false },
  { name: 'resource pods does not match pods/status', rule: rule({}), view: pods({ subresource: 'status' }), want: false },
  { name: 'pods/status matches the status subresource', rule: rule({ resources: ['pods/status'] }), view: pods({ subresource: 'status' }), want: true },
  { name: 'pods/* matches every pod subresource', rule: rule({ resources: ['pods/*'] }), view: pods({ subresource: 'binding' }), want: true },
  { name: '*/status matches any status subresource', rule: rule({ resources: ['*/status'] }), view: pods({ subresource: 'status' }), want: true },
  { name: '*/* matches everything', rule: rule({ resources: ['*/*'] }), view: pods(), want: true },
  { name: 'scope Namespaced takes namespaced requests', rule: rule({ scope: 'Namespaced' }), view: pods(), want: true },
  { name: 'scope Cluster refuses namespaced requests', rule: rule({ scope: 'Cluster' }), view: pods(), want: false },
  {
    name: 'scope Cluster takes a Namespace (cluster-scoped even with its name as namespace)',
    rule: rule({ scope: 'Cluster', operations: ['UPDATE'], resources: ['namespaces'] }),
    view: requestView(makeAttrs({ def: defs.namespaces, operation: 'UPDATE', name: 'team-a', object: { metadata: { name: 'team-a' } } })),
    want: true,
  },
  {
    name: 'scope Namespaced refuses a Namespace',
    rule: rule({ scope: 'Namespaced', operations: ['UPDATE'], resources: ['namespaces'] }),
    view: requestView(makeAttrs({ def: defs.namespaces, operation: 'UPDATE', name: 'team-a', object: { metadata: { name: 'team-a' } } })),
    want: false,
  },
  { name: 'scope * takes both', rule: rule({ scope: '*', resources: ['nodes'] }), view: requestView(makeAttrs({ def: defs.nodes })), want: true },
];

for (const c of cases) test(c.name, () => assert.equal(ruleMatches(c.rule, c.view), c.want));

test("a Namespace request's namespace is its own name, except on CREATE", () => {
  const update = requestView(makeAttrs({ def: defs.namespaces, operation: 'UPDATE', name: 'team-a' }));
  const create = requestView(makeAttrs({ def: defs.namespaces, operation: 'CREATE', name: 'team-a' }));
  assert.equal(update.namespace, 'team-a');
  assert.equal(create.namespace, '');
});

test('a subresource whose object is another kind is sent as that kind', () => {
  const binding: KubeObject = { apiVersion: 'v1', kind: 'Binding', metadata: { name: 'p' }, target: { kind: 'Node', name: 'n1' } };
  assert.deepEqual(pods({ subresource: 'binding', object: binding }).kind, { group: '', version: 'v1', kind: 'Binding' });
  const eviction: KubeObject = { apiVersion: 'policy/v1', kind: 'Eviction', metadata: { name: 'p' } };
  assert.deepEqual(pods({ subresource: 'eviction', object: eviction }).kind, { group: 'policy', version: 'v1', kind: 'Eviction' });
  assert.deepEqual(pods({ subresource: 'status', object: { apiVersion: 'v1', kind: 'Pod', metadata: {} } }).kind, { group: '', version: 'v1', kind: 'Pod' });
});

test('matchPolicy Equivalent sends the version the rule names; Exact skips', () => {
  const view = requestView(makeAttrs({ def: defs.hpa, version: 'v2', namespace: 'default' }));
  const rules = [rule({ apiGroups: ['autoscaling'], apiVersions: ['v1'], resources: ['horizontalpodautoscalers'] })];
  assert.equal(matchRules(view, { rules, equivalent: false }), undefined);
  assert.deepEqual(matchRules(view, { rules, equivalent: true }), {
    resource: { group: 'autoscaling', version: 'v1', resource: 'horizontalpodautoscalers' },
    subresource: '',
    kind: { group: 'autoscaling', version: 'v1', kind: 'HorizontalPodAutoscaler' },
  });
});

test("a rule for the request's own version wins over an equivalent", () => {
  const view = requestView(makeAttrs({ def: defs.hpa, version: 'v2', namespace: 'default' }));
  const rules = [rule({ apiGroups: ['autoscaling'], apiVersions: ['*'], resources: ['horizontalpodautoscalers'] })];
  assert.equal(matchRules(view, { rules, equivalent: true })?.kind.version, 'v2');
});

test('served versions list the storage version first', () => {
  assert.deepEqual(servedVersions(defs.hpa), ['v2', 'v1']);
  assert.deepEqual(servedVersions(defs.pods), ['v1']);
});

test('admission configuration objects are exempt', () => {
  assert.equal(isExempt({ ...defs.pods, group: 'admissionregistration.k8s.io', kind: 'ValidatingWebhookConfiguration' }), true);
  assert.equal(isExempt({ ...defs.pods, group: 'admissionregistration.k8s.io', kind: 'MutatingWebhookConfiguration' }), true);
  assert.equal(isExempt(defs.pods), false);
});
