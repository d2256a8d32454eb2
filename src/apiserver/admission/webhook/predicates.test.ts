import { test } from 'node:test';
import assert from 'node:assert/strict';
import { StatusError } from '../../../api/errors.ts';
import { compileSelector, matchNamespaceSelector, matchObjectSelector } from './predicates.ts';
import { requestView } from './rules.ts';
import { defs, makeAttrs } from './testing.ts';

const namespaces: Record<string, Record<string, string>> = { prod: { env: 'prod' }, dev: { env: 'dev' }, bare: {} };
const lookups: string[] = [];
const labelsOf = (name: string) => {
  lookups.push(name);
  return namespaces[name];
};
const prodOnly = compileSelector({ matchLabels: { env: 'prod' } });

const nsCases = [
  { name: 'a pod in a matching namespace matches', view: requestView(makeAttrs({ namespace: 'prod' })), want: true },
  { name: 'a pod in another namespace does not', view: requestView(makeAttrs({ namespace: 'dev' })), want: false },
  { name: 'a namespace without labels does not', view: requestView(makeAttrs({ namespace: 'bare' })), want: false },
  { name: 'a cluster-scoped object always matches', view: requestView(makeAttrs({ def: defs.nodes, name: 'n1' })), want: true },
  {
    name: "a Namespace being created is judged by its own labels",
    view: requestView(makeAttrs({ def: defs.namespaces, name: 'new', object: { metadata: { name: 'new', labels: { env: 'prod' } } } })),
    want: true,
  },
  {
    name: 'a Namespace being deleted is judged by its stored labels',
    view: requestView(makeAttrs({ def: defs.namespaces, operation: 'DELETE', name: 'dev', oldObject: { metadata: { name: 'dev', labels: { env: 'prod' } } } })),
    want: false,
  },
];
for (const c of nsCases) test(`namespaceSelector: ${c.name}`, () => assert.equal(matchNamespaceSelector(prodOnly, c.view, { namespaceLabels: labelsOf }), c.want));

test('namespaceSelector: an empty selector matches without a lookup', () => {
  lookups.length = 0;
  assert.equal(matchNamespaceSelector(compileSelector({}), requestView(makeAttrs({ namespace: 'prod' })), { namespaceLabels: labelsOf }), true);
  assert.equal(matchNamespaceSelector(compileSelector(undefined), requestView(makeAttrs({ namespace: 'prod' })), { namespaceLabels: labelsOf }), true);
  assert.deepEqual(lookups, []);
});

test('namespaceSelector: an unknown namespace is NotFound', () => {
  const res = matchNamespaceSelector(prodOnly, requestView(makeAttrs({ namespace: 'gone' })), { namespaceLabels: labelsOf });
  assert.ok(res instanceof StatusError);
  assert.equal(res.code, 404);
  assert.equal(res.status.message, 'namespaces "gone" not found');
});

test('a selector that does not parse is an InternalError', () => {
  const bad = compileSelector({ matchExpressions: [{ key: 'a', operator: 'Near' }] });
  assert.ok(bad.error);
  const res = matchObjectSelector(bad, requestView(makeAttrs({ namespace: 'prod' })));
  assert.ok(res instanceof StatusError);
  assert.equal(res.code, 500);
  assert.match(res.status.message ?? '', /^Internal error occurred: /);
});

const labelled = (labels: Record<string, string>) => ({ metadata: { name: 'p', labels } });
const objCases = [
  { name: 'the new object matches', attrs: makeAttrs({ object: labelled({ app: 'web' }) }), want: true },
  { name: 'the old object matches', attrs: makeAttrs({ operation: 'UPDATE', object: labelled({}), oldObject: labelled({ app: 'web' }) }), want: true },
  { name: 'neither matches', attrs: makeAttrs({ operation: 'UPDATE', object: labelled({ app: 'db' }), oldObject: labelled({}) }), want: false },
  { name: 'a DELETE is judged by the old object', attrs: makeAttrs({ operation: 'DELETE', oldObject: labelled({ app: 'web' }) }), want: true },
];
const webOnly = compileSelector({ matchExpressions: [{ key: 'app', operator: 'In', values: ['web'] }] });
for (const c of objCases) test(`objectSelector: ${c.name}`, () => assert.equal(matchObjectSelector(webOnly, requestView(c.attrs)), c.want));
