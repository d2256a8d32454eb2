import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isStatusError } from '../../../api/errors.ts';
import type { MatchResources } from '../../../api/index.ts';
import { requestView } from '../webhook/rules.ts';
import { compileMatch, matchResources } from './matching.ts';
import { defs, deployment, deploymentRule, makeAttrs } from './testing.ts';

const namespaces: Record<string, Record<string, string>> = { default: { env: 'test' }, prod: { env: 'prod' } };
const lookups = { namespaceLabels: (n: string) => namespaces[n] };
const run = (m: MatchResources, attrs = makeAttrs()) => matchResources(compileMatch(m), requestView(attrs), lookups);
const deploymentsV1 = { resource: { group: 'apps', version: 'v1', resource: 'deployments' }, kind: { group: 'apps', version: 'v1', kind: 'Deployment' } };

const cases: { name: string; m: MatchResources; attrs?: ReturnType<typeof makeAttrs>; want: unknown }[] = [
  { name: 'a rule selects the request', m: { resourceRules: [deploymentRule] }, want: deploymentsV1 },
  { name: 'no rules select every resource', m: {}, want: deploymentsV1 },
  { name: 'another operation is not selected', m: { resourceRules: [{ ...deploymentRule, operations: ['DELETE'] }] }, want: undefined },
  { name: 'resourceNames must list the name', m: { resourceRules: [{ ...deploymentRule, resourceNames: ['other'] }] }, want: undefined },
  { name: 'resourceNames listing the name select it', m: { resourceRules: [{ ...deploymentRule, resourceNames: ['web'] }] }, want: deploymentsV1 },
  { name: 'excludeResourceRules win', m: { resourceRules: [deploymentRule], excludeResourceRules: [{ ...deploymentRule, resourceNames: ['web'] }] }, want: undefined },
  { name: 'a namespaceSelector on the namespace labels', m: { namespaceSelector: { matchLabels: { env: 'test' } } }, want: deploymentsV1 },
  { name: 'a namespaceSelector that does not match', m: { namespaceSelector: { matchLabels: { env: 'prod' } } }, want: undefined },
  { name: 'a cluster-scoped request passes any namespaceSelector', m: { namespaceSelector: { matchLabels: { env: 'prod' } } }, attrs: makeAttrs({ def: defs.nodes, object: { metadata: { name: 'n1' } } }), want: { resource: { group: '', version: 'v1', resource: 'nodes' }, kind: { group: '', version: 'v1', kind: 'Node' } } },
  { name: 'an objectSelector on the object labels', m: { objectSelector: { matchLabels: { app: 'web' } } }, attrs: makeAttrs({ object: deployment('web', 1, { labels: { app: 'web' } }) }), want: deploymentsV1 },
  { name: 'an objectSelector that does not match', m: { objectSelector: { matchLabels: { app: 'db' } } }, want: undefined },
];

for (const c of cases) test(c.name, () => assert.deepEqual(run(c.m, c.attrs), c.want));

test('an unknown namespace is NotFound for a selected request', () => {
  const r = run({ namespaceSelector: { matchLabels: { env: 'test' } } }, makeAttrs({ object: deployment('web', 1, { namespace: 'gone' }) }));
  assert.ok(isStatusError(r));
  assert.equal(r.message, 'namespaces "gone" not found');
});

test('a request the rules do not select is skipped even when its namespace is unknown', () => {
  const r = run({ namespaceSelector: { matchLabels: { env: 'test' } }, resourceRules: [{ ...deploymentRule, resources: ['pods'] }] }, makeAttrs({ object: deployment('web', 1, { namespace: 'gone' }) }));
  assert.equal(r, undefined);
});

test('matchPolicy Equivalent matches another served version and names it', () => {
  const attrs = makeAttrs({ def: defs.hpa, object: { metadata: { name: 'h', namespace: 'default' } } });
  const rule = { apiGroups: ['autoscaling'], apiVersions: ['v1'], operations: ['CREATE'], resources: ['horizontalpodautoscalers'] };
  assert.deepEqual(run({ resourceRules: [rule] }, attrs), {
    resource: { group: 'autoscaling', version: 'v1', resource: 'horizontalpodautoscalers' },
    kind: { group: 'autoscaling', version: 'v1', kind: 'HorizontalPodAutoscaler' },
  });
  assert.equal(run({ resourceRules: [rule], matchPolicy: 'Exact' }, attrs), undefined);
});
