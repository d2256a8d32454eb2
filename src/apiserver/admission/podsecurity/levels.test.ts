import { test } from 'node:test';
import assert from 'node:assert/strict';
import { aggregateErrorString, compareLevels, levelVersionString, parseVersion, policyToEvaluate, privilegedPolicy, type Policy } from './levels.ts';

const L = 'pod-security.kubernetes.io/';
/** `enforce audit warn`, each as level:version. */
const show = (p: Policy) => [p.enforce, p.audit, p.warn].map(levelVersionString).join(' ');

interface Case {
  name: string;
  labels?: Record<string, string>;
  defaults?: Policy;
  want: string;
  errors?: string;
}

const baselineDefaults: Policy = {
  enforce: { level: 'baseline', version: 'latest' },
  audit: { level: 'restricted', version: 20 },
  warn: { level: 'baseline', version: 'latest' },
};

const cases: Case[] = [
  { name: 'no labels: the defaults', want: 'privileged:latest privileged:latest privileged:latest' },
  { name: 'no labels with configured defaults', defaults: baselineDefaults, want: 'baseline:latest restricted:v1.20 baseline:latest' },
  {
    name: 'every label',
    labels: { [`${L}enforce`]: 'baseline', [`${L}enforce-version`]: 'v1.25', [`${L}audit`]: 'restricted', [`${L}audit-version`]: 'v1.0', [`${L}warn`]: 'restricted', [`${L}warn-version`]: 'latest' },
    want: 'baseline:v1.25 restricted:v1.0 restricted:latest',
  },
  {
    name: 'an enforce level stricter than warn raises warn with its version',
    labels: { [`${L}enforce`]: 'restricted', [`${L}enforce-version`]: 'v1.24' },
    want: 'restricted:v1.24 privileged:latest restricted:v1.24',
  },
  {
    name: 'a warn version label is kept when warn is raised',
    labels: { [`${L}enforce`]: 'restricted', [`${L}enforce-version`]: 'v1.24', [`${L}warn-version`]: 'v1.30' },
    want: 'restricted:v1.24 privileged:latest restricted:v1.30',
  },
  {
    name: 'an explicit warn level is not raised',
    labels: { [`${L}enforce`]: 'restricted', [`${L}warn`]: 'privileged' },
    want: 'restricted:latest privileged:latest privileged:latest',
  },
  {
    name: 'an enforce version alone does not raise warn',
    labels: { [`${L}enforce-version`]: 'v1.24' },
    defaults: baselineDefaults,
    want: 'baseline:v1.24 restricted:v1.20 baseline:latest',
  },
  {
    name: 'an enforce level that does not parse is restricted and does not raise warn',
    labels: { [`${L}enforce`]: 'bogus' },
    want: 'restricted:latest privileged:latest privileged:latest',
    errors: 'metadata.labels[pod-security.kubernetes.io/enforce]: Invalid value: "bogus": must be one of privileged, baseline, restricted',
  },
  {
    name: 'audit and warn levels that do not parse fail open; versions that do not parse are latest',
    labels: { [`${L}audit`]: 'x', [`${L}warn`]: 'y', [`${L}enforce`]: 'baseline', [`${L}enforce-version`]: 'v1.01' },
    want: 'baseline:latest privileged:latest privileged:latest',
    errors:
      '[metadata.labels[pod-security.kubernetes.io/enforce-version]: Invalid value: "v1.01": must be "latest" or "v1.x", ' +
      'metadata.labels[pod-security.kubernetes.io/audit]: Invalid value: "x": must be one of privileged, baseline, restricted, ' +
      'metadata.labels[pod-security.kubernetes.io/warn]: Invalid value: "y": must be one of privileged, baseline, restricted]',
  },
];

for (const c of cases) {
  test(c.name, () => {
    const { policy, errors } = policyToEvaluate(c.labels, c.defaults ?? privilegedPolicy);
    assert.equal(show(policy), c.want);
    assert.equal(errors.length ? aggregateErrorString(errors) : undefined, c.errors);
  });
}

test('versions parse as upstream: latest or v1.<minor without leading zero>', () => {
  assert.deepEqual(parseVersion('latest'), { version: 'latest' });
  assert.deepEqual(parseVersion('v1.0'), { version: 0 });
  assert.deepEqual(parseVersion('v1.33'), { version: 33 });
  for (const bad of ['v1.01', 'v2.0', '1.2', 'v1.', 'v1.x', 'Latest', '', 'v1.99999999999999999999']) {
    assert.deepEqual(parseVersion(bad), { version: 'latest', error: 'must be "latest" or "v1.x"' }, bad);
  }
});

test('levels compare by strictness', () => {
  assert.equal(compareLevels('privileged', 'baseline'), -1);
  assert.equal(compareLevels('restricted', 'baseline'), 1);
  assert.equal(compareLevels('baseline', 'baseline'), 0);
});

test('the defaults are not changed by labels', () => {
  const defaults = structuredClone(baselineDefaults);
  policyToEvaluate({ [`${L}enforce`]: 'restricted' }, defaults);
  assert.deepEqual(defaults, baselineDefaults);
});
