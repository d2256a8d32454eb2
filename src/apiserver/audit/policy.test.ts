/**
 * Audit policy: evaluation as upstream's checker (first matching rule, users, groups, verbs,
 * namespaces, resources with subresource and name forms, non-resource URLs, omitStages union,
 * omitManagedFields) and the parse/validation errors of an invalid policy file.
 */
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadPolicyFile, newPolicyChecker, parsePolicy, type PolicyAttributes } from './policy.ts';
import { isCode } from '../../util/errors.ts';

const policyYaml = `
apiVersion: audit.k8s.io/v1
kind: Policy
omitStages: [RequestReceived]
rules:
  - level: None
    users: ["system:kube-proxy"]
    verbs: [watch]
  - level: None
    userGroups: ["system:nodes"]
    resources: [{group: "", resources: [nodes/status]}]
  - level: None
    nonResourceURLs: [/healthz*, /version]
  - level: RequestResponse
    resources: [{group: "", resources: [pods/log, "*/exec"]}]
  - level: Request
    resources: [{group: apps, resources: ["deployments/*"]}]
  - level: Metadata
    resources: [{group: "", resources: [secrets, configmaps]}]
    omitStages: [ResponseStarted]
  - level: Request
    resources: [{group: "", resources: [configmaps], resourceNames: [special]}]
  - level: RequestResponse
    namespaces: [kube-system]
    omitManagedFields: false
  - level: Request
    verbs: [create, update, patch]
    resources: [{group: ""}]
  - level: Metadata
    nonResourceURLs: ["*"]
omitManagedFields: true
`;

const checker = newPolicyChecker(parsePolicy(policyYaml));

/** A resource request (fixture builder). */
function req(verb: string, resource: string, x: Partial<PolicyAttributes> = {}): PolicyAttributes {
  const [res, sub] = resource.split('/');
  return {
    user: { username: 'alice', groups: ['system:authenticated'] },
    verb,
    isResourceRequest: true,
    apiGroup: '',
    resource: res!,
    subresource: sub ?? '',
    namespace: 'default',
    name: 'x',
    path: '',
    ...x,
  };
}

function nonResource(p: string, x: Partial<PolicyAttributes> = {}): PolicyAttributes {
  return { ...req('get', ''), isResourceRequest: false, resource: '', namespace: '', name: '', path: p, ...x };
}

describe('policy evaluation', () => {
  const cases: Array<{ name: string; attrs: PolicyAttributes; level: string; omit?: string[]; omitManagedFields?: boolean }> = [
    { name: 'a user and verb rule matches its user', attrs: req('watch', 'endpoints', { user: { username: 'system:kube-proxy', groups: [] } }), level: 'None' },
    { name: 'the same user with another verb falls through to a later rule', attrs: req('create', 'endpoints', { user: { username: 'system:kube-proxy', groups: [] } }), level: 'Request' },
    { name: 'a group rule matches a member on the subresource', attrs: req('patch', 'nodes/status', { user: { username: 'system:node:n1', groups: ['system:nodes'] }, namespace: '' }), level: 'None' },
    { name: 'a group rule does not match a non-member', attrs: req('patch', 'nodes/status', { namespace: '' }), level: 'Request' },
    { name: 'a group rule does not match a request without a user', attrs: req('get', 'nodes/status', { user: undefined, namespace: '' }), level: 'None' },
    { name: 'a non-resource prefix with *', attrs: nonResource('/healthz/etcd'), level: 'None' },
    { name: 'a non-resource exact path', attrs: nonResource('/version'), level: 'None' },
    { name: 'a non-resource path matched by the catch-all *', attrs: nonResource('/apis'), level: 'Metadata' },
    { name: 'resource/subresource form', attrs: req('get', 'pods/log'), level: 'RequestResponse' },
    { name: '*/subresource form', attrs: req('create', 'pods/exec'), level: 'RequestResponse' },
    { name: 'the main resource does not match pods/log', attrs: req('get', 'pods'), level: 'None' },
    { name: 'resource/* matches a subresource', attrs: req('update', 'deployments/scale', { apiGroup: 'apps' }), level: 'Request' },
    { name: 'resource/* matches the resource itself', attrs: req('get', 'deployments', { apiGroup: 'apps' }), level: 'Request' },
    { name: 'the group must match', attrs: req('get', 'deployments', { apiGroup: 'extensions' }), level: 'None' },
    { name: "a rule's omitStages join the policy's", attrs: req('get', 'secrets'), level: 'Metadata', omit: ['RequestReceived', 'ResponseStarted'] },
    { name: 'the first matching rule wins over a later resourceNames rule', attrs: req('get', 'configmaps', { name: 'special' }), level: 'Metadata', omit: ['RequestReceived', 'ResponseStarted'] },
    { name: 'a namespace rule', attrs: req('get', 'services', { namespace: 'kube-system' }), level: 'RequestResponse', omitManagedFields: false },
    { name: 'a namespace rule does not match cluster-scoped requests', attrs: req('get', 'namespaces', { namespace: '' }), level: 'None' },
    { name: 'a group-only resources entry matches every resource of the group', attrs: req('create', 'services'), level: 'Request' },
    { name: 'a verb the verb list lacks', attrs: req('delete', 'services'), level: 'None' },
    { name: 'no rule matches: None with the policy stages', attrs: req('get', 'widgets', { apiGroup: 'example.com' }), level: 'None' },
  ];
  for (const c of cases) {
    test(c.name, () => {
      const got = checker.policyFor(c.attrs);
      assert.equal(got.level, c.level);
      assert.deepEqual([...got.omitStages].sort(), (c.omit ?? ['RequestReceived']).sort());
      assert.equal(got.omitManagedFields, c.omitManagedFields ?? true);
    });
  }

  test('nothing matches: level None', () => {
    const p = newPolicyChecker(parsePolicy('apiVersion: audit.k8s.io/v1\nkind: Policy\nrules:\n- level: Metadata\n  verbs: [create]\n'));
    assert.deepEqual(p.policyFor(req('get', 'pods')), { level: 'None', omitStages: [], omitManagedFields: false });
    assert.equal(p.policyFor(req('create', 'pods')).level, 'Metadata');
  });

  test('resourceNames narrow a rule to those names', () => {
    const p = newPolicyChecker(parsePolicy('apiVersion: audit.k8s.io/v1\nkind: Policy\nrules:\n- level: Request\n  resources: [{resources: [configmaps], resourceNames: [a]}]\n'));
    assert.equal(p.policyFor(req('get', 'configmaps', { name: 'a' })).level, 'Request');
    assert.equal(p.policyFor(req('get', 'configmaps', { name: 'b' })).level, 'None');
  });

  test('a rule with resources never matches a non-resource request, and nonResourceURLs never a resource request', () => {
    const p = newPolicyChecker(parsePolicy('apiVersion: audit.k8s.io/v1\nkind: Policy\nrules:\n- level: Request\n  resources: [{resources: ["*"]}]\n- level: Metadata\n  nonResourceURLs: ["*"]\n'));
    assert.equal(p.policyFor(nonResource('/api')).level, 'Metadata');
    assert.equal(p.policyFor(req('get', 'pods', { apiGroup: 'apps' })).level, 'None');
  });

  test('JSON policies are read too', () => {
    const p = newPolicyChecker(parsePolicy(JSON.stringify({ apiVersion: 'audit.k8s.io/v1', kind: 'Policy', rules: [{ level: 'RequestResponse' }] })));
    assert.equal(p.policyFor(req('get', 'pods')).level, 'RequestResponse');
  });
});

describe('invalid policies', () => {
  const head = 'apiVersion: audit.k8s.io/v1\nkind: Policy\n';
  const cases: Array<{ name: string; text: string; message: string | RegExp }> = [
    { name: 'no rules', text: head, message: 'loaded illegal policy with 0 rules' },
    { name: 'a rule without a level', text: `${head}rules:\n- verbs: [get]\n`, message: 'rules[0].level: Required value' },
    {
      name: 'an unknown level',
      text: `${head}rules:\n- level: Everything\n`,
      message: 'rules[0].level: Unsupported value: "Everything": supported values: "None", "Metadata", "Request", "RequestResponse"',
    },
    {
      name: 'non-resource URLs without a slash or with an inner *',
      text: `${head}rules:\n- level: None\n  nonResourceURLs: [healthz, "/a*b"]\n`,
      message: "[rules[0].nonResourceURLs[0]: Invalid value: \"healthz\": non-resource URL rules must begin with a '/' character, rules[0].nonResourceURLs[1]: Invalid value: \"/a*b\": non-resource URL wildcards '*' must be the final character of the rule]",
    },
    {
      name: 'resources and non-resource URLs in one rule',
      text: `${head}rules:\n- level: None\n  namespaces: [default]\n  nonResourceURLs: [/api]\n`,
      message: 'rules[0].nonResourceURLs: Invalid value: []string{"/api"}: rules cannot apply to both regular resources and non-resource URLs',
    },
    {
      name: 'resourceNames without resources',
      text: `${head}rules:\n- level: None\n  resources: [{group: "", resourceNames: [a]}]\n`,
      message: 'rules[0].resources.resourceNames: Invalid value: []string{"a"}: using resourceNames requires at least one resource',
    },
    {
      name: 'a group with a version',
      text: `${head}rules:\n- level: None\n  resources: [{group: rbac.authorization.k8s.io/v1}]\n`,
      message: /^rules\[0\]\.resources\.group: Invalid value: "rbac\.authorization\.k8s\.io\/v1": a lowercase RFC 1123 subdomain/,
    },
    {
      name: 'unknown stages, at the top and in a rule',
      text: `${head}omitStages: [Sent]\nrules:\n- level: None\n  omitStages: [Done]\n`,
      message: '[omitStages[0]: Invalid value: "Sent": allowed stages are RequestReceived,ResponseStarted,ResponseComplete,Panic, rules[0].omitStages[0]: Invalid value: "Done": allowed stages are RequestReceived,ResponseStarted,ResponseComplete,Panic]',
    },
    { name: 'a field of the wrong type', text: `${head}rules:\n- level: None\n  users: alice\n`, message: 'failed decoding: json: cannot unmarshal string into Go struct field Policy.rules[0].users of type []string' },
    { name: 'an older version', text: 'apiVersion: audit.k8s.io/v1beta1\nkind: Policy\nrules: [{level: None}]\n', message: /^failed decoding: no kind "Policy" is registered for version "audit\.k8s\.io\/v1beta1"/ },
    { name: 'no kind', text: 'apiVersion: audit.k8s.io/v1\nrules: [{level: None}]\n', message: "failed decoding: Object 'Kind' is missing in policy" },
    { name: 'not YAML', text: 'rules: [\n', message: /^failed decoding: / },
  ];
  for (const c of cases) {
    test(c.name, () => {
      assert.throws(() => parsePolicy(c.text), (err: unknown) => {
        assert.ok(isCode(err, 'ERR_INVALID_CONFIG'), String(err));
        if (typeof c.message === 'string') assert.equal((err as Error).message, c.message);
        else assert.match((err as Error).message, c.message);
        return true;
      });
    });
  }

  test('loading a file: errors name it', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bosun-audit-policy-'));
    try {
      const f = path.join(dir, 'policy.yaml');
      fs.writeFileSync(f, 'apiVersion: audit.k8s.io/v1\nkind: Policy\n');
      assert.throws(() => loadPolicyFile(f), { message: `loaded illegal policy with 0 rules: from file ${f}` });
      assert.throws(() => loadPolicyFile(path.join(dir, 'none.yaml')), /failed to read file path ".*none\.yaml"/);
      assert.throws(() => loadPolicyFile(''), { message: 'file path not specified' });
      fs.writeFileSync(f, 'apiVersion: audit.k8s.io/v1\nkind: Policy\nrules: [{level: Metadata}]\n');
      assert.equal(loadPolicyFile(f).rules.length, 1);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
