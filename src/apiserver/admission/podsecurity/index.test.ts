import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Namespace, Pod, PodSpec } from '../../../api/index.ts';
import type { KubeObject, UserInfo } from '../../../api/types.ts';
import type { Operation, ResourceDef } from '../../../api/resource.ts';
import { builtinResources } from '../../../api/groups/index.ts';
import { StatusError } from '../../../api/errors.ts';
import type { AdmissionAttributes } from '../types.ts';
import { podSecurityPlugin, type PodSecurityDeps } from './index.ts';
import { namespaceMaxPodsToCheck } from './namespace.ts';

// ---- fixtures ---------------------------------------------------------------------------------

const L = 'pod-security.kubernetes.io/';
const user: UserInfo = { username: 'alice', groups: ['system:authenticated'] };

function def(group: string, plural: string): ResourceDef {
  const d = builtinResources.find((r) => r.group === group && r.plural === plural);
  assert.ok(d, `${group}/${plural}`);
  return d;
}

const ns = (name: string, labels: Record<string, string> = {}): Namespace => ({ metadata: { name, labels } });

const privilegedSpec = (): PodSpec => ({ containers: [{ name: 'c', image: 'i', securityContext: { privileged: true } }] });
const hostNetworkSpec = (): PodSpec => ({ hostNetwork: true, containers: [{ name: 'c', image: 'i' }] });
const restrictedSpec = (): PodSpec => ({
  securityContext: { runAsNonRoot: true, seccompProfile: { type: 'RuntimeDefault' } },
  containers: [{ name: 'c', image: 'i', securityContext: { allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] } } }],
});
const pod = (name: string, spec: PodSpec, meta: Partial<Pod['metadata']> = {}): Pod => ({ metadata: { name, namespace: 'ns', ...meta }, spec });

/** The brief's restricted message for a privileged container "c". */
const restrictedDetail =
  'privileged (container "c" must not set securityContext.privileged=true), ' +
  'allowPrivilegeEscalation != false (container "c" must set securityContext.allowPrivilegeEscalation=false), ' +
  'unrestricted capabilities (container "c" must set securityContext.capabilities.drop=["ALL"]), ' +
  'runAsNonRoot != true (pod or container "c" must set securityContext.runAsNonRoot=true), ' +
  'seccompProfile (pod or container "c" must set securityContext.seccompProfile.type to "RuntimeDefault" or "Localhost")';
const baselineDetail = 'privileged (container "c" must not set securityContext.privileged=true)';

interface World {
  namespaces?: Namespace[];
  pods?: Pod[];
  config?: PodSecurityDeps['config'];
  now?: () => number;
}

function plugin(w: World = {}) {
  return podSecurityPlugin({
    namespace: (name) => w.namespaces?.find((n) => n.metadata.name === name),
    podsInNamespace: (name) => (w.pods ?? []).filter((p) => p.metadata.namespace === name),
    config: w.config,
    now: w.now,
  });
}

interface Req {
  op?: Operation;
  group?: string;
  plural?: string;
  namespace?: string;
  name?: string;
  subresource?: string;
  object?: unknown;
  oldObject?: unknown;
  user?: UserInfo;
}

function attrs(r: Req): AdmissionAttributes {
  const plural = r.plural ?? 'pods';
  return {
    operation: r.op ?? 'CREATE',
    def: def(r.group ?? '', plural),
    version: 'v1',
    namespace: r.namespace ?? (plural === 'namespaces' ? '' : 'ns'),
    name: r.name ?? (r.object as KubeObject | undefined)?.metadata.name ?? '',
    subresource: r.subresource ?? '',
    object: r.object as KubeObject | undefined,
    oldObject: r.oldObject as KubeObject | undefined,
    user: r.user ?? user,
    dryRun: false,
  };
}

interface Outcome {
  error?: string;
  warnings?: string[];
  annotations?: Record<string, string>;
}

/** Runs the plugin; the outcome lists only what was produced. */
async function run(w: World, r: Req): Promise<Outcome> {
  const a = attrs(r);
  const out: Outcome = {};
  try {
    await plugin(w).validate!(a);
  } catch (err) {
    assert.ok(err instanceof StatusError, String(err));
    out.error = `${err.status.code} ${err.status.reason}: ${err.status.message}`;
  }
  if (a.warnings?.length) out.warnings = a.warnings;
  if (a.auditAnnotations && Object.keys(a.auditAnnotations).length) out.annotations = a.auditAnnotations;
  return out;
}

const inNs = (labels: Record<string, string>) => ({ namespaces: [ns('ns', labels)] });

// ---- pods -------------------------------------------------------------------------------------

test('enforce=restricted refuses a privileged pod with upstream’s message and status', async () => {
  const a = attrs({ object: pod('p', privilegedSpec()) });
  await assert.rejects(
    async () => plugin(inNs({ [`${L}enforce`]: 'restricted' })).validate!(a),
    (err: unknown) => {
      assert.ok(err instanceof StatusError);
      assert.deepEqual(err.status, {
        kind: 'Status',
        apiVersion: 'v1',
        metadata: {},
        status: 'Failure',
        message: `pods "p" is forbidden: violates PodSecurity "restricted:latest": ${restrictedDetail}`,
        reason: 'Forbidden',
        details: { name: 'p', kind: 'pods' },
        code: 403,
      });
      return true;
    },
  );
  // warn is raised to restricted with enforce, but a refused request carries no warnings
  assert.equal(a.warnings, undefined);
  assert.deepEqual(a.auditAnnotations, { [`${L}enforce-policy`]: 'restricted:latest' });
});

interface PodCase {
  name: string;
  labels: Record<string, string>;
  spec?: PodSpec;
  want: Outcome;
}

const podCases: PodCase[] = [
  {
    name: 'a namespace without labels is privileged: only the enforce-policy annotation',
    labels: {},
    want: { annotations: { [`${L}enforce-policy`]: 'privileged:latest' } },
  },
  {
    name: 'enforce=baseline refuses with the baseline message',
    labels: { [`${L}enforce`]: 'baseline' },
    want: {
      error: `403 Forbidden: pods "p" is forbidden: violates PodSecurity "baseline:latest": ${baselineDetail}`,
      annotations: { [`${L}enforce-policy`]: 'baseline:latest' },
    },
  },
  {
    name: 'warn=restricted warns and admits',
    labels: { [`${L}warn`]: 'restricted' },
    want: {
      warnings: [`would violate PodSecurity "restricted:latest": ${restrictedDetail}`],
      annotations: { [`${L}enforce-policy`]: 'privileged:latest' },
    },
  },
  {
    name: 'audit=restricted records the violations and admits',
    labels: { [`${L}audit`]: 'restricted', [`${L}audit-version`]: 'v1.30' },
    want: {
      annotations: {
        [`${L}enforce-policy`]: 'privileged:latest',
        [`${L}audit-violations`]: `would violate PodSecurity "restricted:v1.30": ${restrictedDetail}`,
      },
    },
  },
  {
    name: 'a refused pod still gets its audit annotation',
    labels: { [`${L}enforce`]: 'baseline', [`${L}audit`]: 'baseline', [`${L}warn`]: 'restricted' },
    want: {
      error: `403 Forbidden: pods "p" is forbidden: violates PodSecurity "baseline:latest": ${baselineDetail}`,
      annotations: { [`${L}enforce-policy`]: 'baseline:latest', [`${L}audit-violations`]: `would violate PodSecurity "baseline:latest": ${baselineDetail}` },
    },
  },
  {
    name: 'a compliant pod passes every mode silently',
    labels: { [`${L}enforce`]: 'restricted', [`${L}audit`]: 'restricted', [`${L}warn`]: 'restricted' },
    spec: restrictedSpec(),
    want: { annotations: { [`${L}enforce-policy`]: 'restricted:latest' } },
  },
  {
    name: 'the enforce version selects the checks: container_engine_t is refused at v1.30',
    labels: { [`${L}enforce`]: 'baseline', [`${L}enforce-version`]: 'v1.30' },
    spec: { containers: [{ name: 'c', securityContext: { seLinuxOptions: { type: 'container_engine_t' } } }] },
    want: {
      error: '403 Forbidden: pods "p" is forbidden: violates PodSecurity "baseline:v1.30": seLinuxOptions (container "c" set forbidden securityContext.seLinuxOptions: type "container_engine_t")',
      annotations: { [`${L}enforce-policy`]: 'baseline:v1.30' },
    },
  },
  {
    name: '... and allowed at latest',
    labels: { [`${L}enforce`]: 'baseline' },
    spec: { containers: [{ name: 'c', securityContext: { seLinuxOptions: { type: 'container_engine_t' } } }] },
    want: { annotations: { [`${L}enforce-policy`]: 'baseline:latest' } },
  },
  {
    name: 'a version newer than every check evaluates as latest and keeps its name',
    labels: { [`${L}enforce`]: 'baseline', [`${L}enforce-version`]: 'v1.99' },
    want: {
      error: `403 Forbidden: pods "p" is forbidden: violates PodSecurity "baseline:v1.99": ${baselineDetail}`,
      annotations: { [`${L}enforce-policy`]: 'baseline:v1.99' },
    },
  },
  {
    name: 'an enforce label that does not parse enforces restricted and records the error',
    labels: { [`${L}enforce`]: 'bogus' },
    want: {
      error: `403 Forbidden: pods "p" is forbidden: violates PodSecurity "restricted:latest": ${restrictedDetail}`,
      annotations: {
        [`${L}error`]: 'Failed to parse policy: metadata.labels[pod-security.kubernetes.io/enforce]: Invalid value: "bogus": must be one of privileged, baseline, restricted',
        [`${L}enforce-policy`]: 'restricted:latest',
      },
    },
  },
  {
    name: 'a warn label that does not parse fails open and records the error',
    labels: { [`${L}warn`]: 'bogus' },
    want: {
      annotations: {
        [`${L}error`]: 'Failed to parse policy: metadata.labels[pod-security.kubernetes.io/warn]: Invalid value: "bogus": must be one of privileged, baseline, restricted',
        [`${L}enforce-policy`]: 'privileged:latest',
      },
    },
  },
];

for (const c of podCases) {
  test(c.name, async () => {
    assert.deepEqual(await run(inNs(c.labels), { object: pod('p', c.spec ?? privilegedSpec()) }), c.want);
  });
}

test('configured defaults apply to namespaces without labels', async () => {
  const w = { ...inNs({}), config: { defaults: { enforce: 'baseline', warn: 'restricted', 'warn-version': 'v1.25' } } };
  assert.deepEqual(await run(w, { object: pod('p', hostNetworkSpec()) }), {
    error: '403 Forbidden: pods "p" is forbidden: violates PodSecurity "baseline:latest": host namespaces (hostNetwork=true)',
    annotations: { [`${L}enforce-policy`]: 'baseline:latest' },
  });
});

test('exempt namespaces, users and runtime classes are admitted with the reason', async () => {
  const labels = { [`${L}enforce`]: 'restricted' };
  const config = { exemptions: { namespaces: ['kube-system'], usernames: ['system:serviceaccount:kube-system:ds'], runtimeClasses: ['kata'] } };
  const w: World = { namespaces: [ns('ns', labels), ns('kube-system', labels)], config };
  assert.deepEqual(await run(w, { namespace: 'kube-system', object: pod('p', privilegedSpec()) }), { annotations: { [`${L}exempt`]: 'namespace' } });
  assert.deepEqual(await run(w, { user: { username: 'system:serviceaccount:kube-system:ds', groups: [] }, object: pod('p', privilegedSpec()) }), {
    annotations: { [`${L}exempt`]: 'user' },
  });
  assert.deepEqual(await run(w, { object: pod('p', { ...privilegedSpec(), runtimeClassName: 'kata' }) }), { annotations: { [`${L}exempt`]: 'runtimeClass' } });
  assert.deepEqual((await run(w, { object: pod('p', { ...privilegedSpec(), runtimeClassName: 'runc' }) })).error?.slice(0, 13), '403 Forbidden');
});

test('a pod in a namespace that cannot be found is an internal error', async () => {
  assert.deepEqual(await run({}, { object: pod('p', privilegedSpec()) }), {
    error: '500 InternalError: Internal error occurred: failed to lookup namespace "ns"',
    annotations: { [`${L}error`]: 'Internal error occurred: failed to lookup namespace "ns": namespaces "ns" not found' },
  });
});

test('a pod update that changes no image and adds no ephemeral container is not checked', async () => {
  const w = inNs({ [`${L}enforce`]: 'baseline' });
  const old = pod('p', privilegedSpec());
  const relabelled = pod('p', privilegedSpec(), { labels: { a: 'b' } });
  assert.deepEqual(await run(w, { op: 'UPDATE', object: relabelled, oldObject: old }), {});
  const newImage = pod('p', privilegedSpec());
  newImage.spec!.containers[0]!.image = 'j';
  assert.match((await run(w, { op: 'UPDATE', object: newImage, oldObject: old })).error ?? '', /violates PodSecurity "baseline:latest"/);
});

test('pods/ephemeralcontainers is checked; pods/status and other operations are not', async () => {
  const w = inNs({ [`${L}enforce`]: 'baseline' });
  const old = pod('p', { containers: [{ name: 'c', image: 'i' }] });
  const debug = pod('p', { containers: [{ name: 'c', image: 'i' }], ephemeralContainers: [{ name: 'dbg', image: 'busybox', securityContext: { privileged: true } }] });
  assert.equal(
    (await run(w, { op: 'UPDATE', subresource: 'ephemeralcontainers', object: debug, oldObject: old })).error,
    '403 Forbidden: pods "p" is forbidden: violates PodSecurity "baseline:latest": privileged (container "dbg" must not set securityContext.privileged=true)',
  );
  assert.deepEqual(await run(w, { op: 'UPDATE', subresource: 'status', object: pod('p', privilegedSpec()), oldObject: old }), {});
  assert.deepEqual(await run(w, { op: 'DELETE', oldObject: pod('p', privilegedSpec()) }), {});
  assert.deepEqual(await run(w, { op: 'CONNECT', subresource: 'exec', object: pod('p', privilegedSpec()) }), {});
});

test('the generated name is used when the request has none', async () => {
  const a = attrs({ name: '', object: pod('web-x7k2p', privilegedSpec(), { generateName: 'web-' }) });
  a.name = '';
  await assert.rejects(async () => plugin(inNs({ [`${L}enforce`]: 'baseline' })).validate!(a), /pods "web-x7k2p" is forbidden/);
});

// ---- workloads --------------------------------------------------------------------------------

const template = (spec: PodSpec) => ({ metadata: { labels: { app: 'a' } }, spec });
const workloads: { group: string; plural: string; object: (spec: PodSpec) => unknown }[] = [
  { group: 'apps', plural: 'deployments', object: (s) => ({ metadata: { name: 'w' }, spec: { template: template(s) } }) },
  { group: 'apps', plural: 'replicasets', object: (s) => ({ metadata: { name: 'w' }, spec: { template: template(s) } }) },
  { group: 'apps', plural: 'statefulsets', object: (s) => ({ metadata: { name: 'w' }, spec: { template: template(s) } }) },
  { group: 'apps', plural: 'daemonsets', object: (s) => ({ metadata: { name: 'w' }, spec: { template: template(s) } }) },
  { group: 'batch', plural: 'jobs', object: (s) => ({ metadata: { name: 'w' }, spec: { template: template(s) } }) },
  { group: 'batch', plural: 'cronjobs', object: (s) => ({ metadata: { name: 'w' }, spec: { jobTemplate: { spec: { template: template(s) } } } }) },
  { group: '', plural: 'replicationcontrollers', object: (s) => ({ metadata: { name: 'w' }, spec: { template: template(s) } }) },
  { group: '', plural: 'podtemplates', object: (s) => ({ metadata: { name: 'w' }, template: template(s) }) },
];

for (const wl of workloads) {
  test(`${wl.plural}: the pod template is warned about and audited, never enforced`, async () => {
    const w = inNs({ [`${L}enforce`]: 'restricted', [`${L}audit`]: 'baseline' });
    assert.deepEqual(await run(w, { group: wl.group, plural: wl.plural, object: wl.object(privilegedSpec()) }), {
      warnings: [`would violate PodSecurity "restricted:latest": ${restrictedDetail}`],
      annotations: { [`${L}audit-violations`]: `would violate PodSecurity "baseline:latest": ${baselineDetail}` },
    });
  });
}

test('workloads: nothing when warn and audit are privileged, nothing for subresources or without a template', async () => {
  const enforceOnly = { namespaces: [ns('ns', { [`${L}enforce`]: 'restricted', [`${L}warn`]: 'privileged' })] };
  const deployment = workloads[0]!;
  assert.deepEqual(await run(enforceOnly, { group: 'apps', plural: 'deployments', object: deployment.object(privilegedSpec()) }), {});
  const warn = inNs({ [`${L}warn`]: 'baseline' });
  assert.deepEqual(await run(warn, { group: 'apps', plural: 'deployments', subresource: 'scale', object: deployment.object(privilegedSpec()) }), {});
  assert.deepEqual(await run(warn, { plural: 'replicationcontrollers', object: { metadata: { name: 'rc' }, spec: {} } }), {});
  assert.deepEqual(await run(warn, { plural: 'configmaps', object: { metadata: { name: 'cm' } } }), {});
});

test('workloads: exemptions and a missing namespace are recorded, not refused', async () => {
  const deployment = workloads[0]!;
  const w: World = { ...inNs({ [`${L}warn`]: 'baseline' }), config: { exemptions: { runtimeClasses: ['kata'] } } };
  assert.deepEqual(await run(w, { group: 'apps', plural: 'deployments', object: deployment.object({ ...privilegedSpec(), runtimeClassName: 'kata' }) }), {
    annotations: { [`${L}exempt`]: 'runtimeClass' },
  });
  assert.deepEqual(await run({}, { group: 'apps', plural: 'deployments', object: deployment.object(privilegedSpec()) }), {
    annotations: { [`${L}error`]: 'failed to lookup namespace "ns": namespaces "ns" not found' },
  });
});

// ---- namespaces -------------------------------------------------------------------------------

const nsReq = (op: Operation, labels: Record<string, string>, oldLabels?: Record<string, string>): Req => ({
  op,
  plural: 'namespaces',
  name: 'ns',
  object: ns('ns', labels),
  oldObject: oldLabels ? ns('ns', oldLabels) : undefined,
});

test('a namespace with a label that does not parse is Invalid on create', async () => {
  assert.deepEqual(await run({}, nsReq('CREATE', { [`${L}enforce`]: 'bogus' })), {
    error: '422 Invalid: Namespace "ns" is invalid: metadata.labels[pod-security.kubernetes.io/enforce]: Invalid value: "bogus": must be one of privileged, baseline, restricted',
  });
  assert.deepEqual(await run({}, nsReq('CREATE', { [`${L}enforce`]: 'restricted' })), {});
});

test('on update a bad label is Invalid unless it was already there with the same error', async () => {
  const bad = { [`${L}warn`]: 'bogus' };
  assert.match((await run({}, nsReq('UPDATE', bad, {}))).error ?? '', /^422 Invalid: Namespace "ns" is invalid: metadata.labels\[pod-security.kubernetes.io\/warn\]/);
  assert.deepEqual(await run({}, nsReq('UPDATE', { ...bad, other: 'x' }, bad)), {});
  assert.match((await run({}, nsReq('UPDATE', { [`${L}warn`]: 'worse' }, bad))).error ?? '', /Invalid value: "worse"/);
});

test('a stricter enforce level warns about the existing pods that violate it', async () => {
  const pods = [
    pod('p2', privilegedSpec()),
    pod('p1', privilegedSpec()),
    pod('h', hostNetworkSpec()),
    pod('ok', restrictedSpec()),
    pod('x', privilegedSpec(), { namespace: 'other' }),
  ];
  assert.deepEqual(await run({ pods }, nsReq('UPDATE', { [`${L}enforce`]: 'baseline' }, {})), {
    warnings: [
      'existing pods in namespace "ns" violate the new PodSecurity enforce level "baseline:latest"',
      'h: host namespaces',
      'p1 (and 1 other pod): privileged',
    ],
  });
  pods.push(pod('p0', privilegedSpec()));
  assert.deepEqual((await run({ pods }, nsReq('UPDATE', { [`${L}enforce`]: 'restricted' }, { [`${L}enforce`]: 'baseline' }))).warnings, [
    'existing pods in namespace "ns" violate the new PodSecurity enforce level "restricted:latest"',
    'h: host namespaces, allowPrivilegeEscalation != false, unrestricted capabilities, runAsNonRoot != true, seccompProfile',
    'p0 (and 2 other pods): privileged, allowPrivilegeEscalation != false, unrestricted capabilities, runAsNonRoot != true, seccompProfile',
  ]);
});

test('no pod check when enforce is unchanged, privileged, relaxed, or on create', async () => {
  const w: World = { pods: [pod('p', privilegedSpec())] };
  const baseline = { [`${L}enforce`]: 'baseline' };
  assert.deepEqual(await run(w, nsReq('UPDATE', { ...baseline, [`${L}warn`]: 'restricted' }, baseline)), {});
  assert.deepEqual(await run(w, nsReq('UPDATE', { [`${L}enforce`]: 'privileged' }, baseline)), {});
  assert.deepEqual(await run(w, nsReq('UPDATE', baseline, { [`${L}enforce`]: 'restricted' })), {});
  assert.deepEqual(await run(w, nsReq('CREATE', baseline)), {});
  // a version change at the same level is checked
  assert.equal((await run(w, nsReq('UPDATE', { ...baseline, [`${L}enforce-version`]: 'v1.30' }, baseline))).warnings?.length, 2);
});

test('pods of an exempt runtime class are skipped; replicas of one controller come after the others', async () => {
  const owner = (uid: string) => ({ ownerReferences: [{ apiVersion: 'apps/v1', kind: 'ReplicaSet', name: 'rs', uid, controller: true }] });
  const pods = [
    pod('a-1', privilegedSpec(), owner('rs1')),
    pod('a-2', privilegedSpec(), owner('rs1')),
    pod('a-3', privilegedSpec(), owner('rs1')),
    pod('k', { ...privilegedSpec(), runtimeClassName: 'kata' }),
    pod('h', hostNetworkSpec()),
  ];
  let t = 0;
  // 600 ms per reading: the 1 s deadline passes after the second pod (the first of rs1, then h)
  const w: World = { pods, config: { exemptions: { runtimeClasses: ['kata'] } }, now: () => (t += 600) };
  assert.deepEqual((await run(w, nsReq('UPDATE', { [`${L}enforce`]: 'baseline' }, {}))).warnings, [
    'new PodSecurity enforce level only checked against the first 2 of 4 existing pods',
    'existing pods in namespace "ns" violate the new PodSecurity enforce level "baseline:latest"',
    'a-1: privileged',
    'h: host namespaces',
  ]);
});

test(`at most ${namespaceMaxPodsToCheck} pods are checked`, async () => {
  const pods = Array.from({ length: namespaceMaxPodsToCheck + 1 }, (_, i) => pod(`p${String(i).padStart(4, '0')}`, privilegedSpec()));
  assert.deepEqual((await run({ pods, now: () => 0 }, nsReq('UPDATE', { [`${L}enforce`]: 'baseline' }, {}))).warnings, [
    `new PodSecurity enforce level only checked against the first ${namespaceMaxPodsToCheck} of ${namespaceMaxPodsToCheck + 1} existing pods`,
    'existing pods in namespace "ns" violate the new PodSecurity enforce level "baseline:latest"',
    `p0000 (and ${namespaceMaxPodsToCheck - 1} other pods): privileged`,
  ]);
  pods.pop();
  assert.deepEqual((await run({ pods, now: () => 0 }, nsReq('UPDATE', { [`${L}enforce`]: 'baseline' }, {}))).warnings?.[0], 'existing pods in namespace "ns" violate the new PodSecurity enforce level "baseline:latest"');
});

test('an exempt namespace given a policy is warned that it will be ignored', async () => {
  const config = { exemptions: { namespaces: ['ns'] } };
  const labels = { [`${L}enforce`]: 'restricted', [`${L}enforce-version`]: 'v1.0', [`${L}audit`]: 'restricted', [`${L}warn`]: 'baseline' };
  const want = ['namespace "ns" is exempt from Pod Security, and the policy (enforce=restricted:v1.0, audit=restricted:latest, warn=baseline:latest) will be ignored'];
  assert.deepEqual(await run({ config, pods: [pod('p', privilegedSpec())] }, nsReq('CREATE', labels)), { warnings: want });
  assert.deepEqual(await run({ config, pods: [pod('p', privilegedSpec())] }, nsReq('UPDATE', labels, {})), { warnings: want });
  assert.deepEqual(await run({ config }, nsReq('CREATE', { [`${L}enforce`]: 'restricted' })), {
    warnings: ['namespace "ns" is exempt from Pod Security, and the policy (enforce=restricted:latest) will be ignored'],
  });
  assert.deepEqual(await run({ config }, nsReq('CREATE', { [`${L}enforce`]: 'privileged' })), {});
});

// ---- configuration ----------------------------------------------------------------------------

test('an invalid configuration is refused at construction with upstream’s field errors', () => {
  assert.throws(() => plugin({ config: { defaults: { enforce: 'strict' } } }), {
    message: 'PodSecurity invalid: defaults.enforce: Invalid value: "strict": must be one of privileged, baseline, restricted',
  });
  assert.throws(() => plugin({ config: { defaults: { 'audit-version': '1.2' }, exemptions: { usernames: ['a', 'a', ''], namespaces: ['Bad'] } } }), (err: Error) => {
    assert.match(err.message, /^PodSecurity invalid: \[defaults.audit-version: Invalid value: "1.2": must be "latest" or "v1.x", exemptions.namespaces\[0\]: Invalid value: "Bad": /);
    assert.match(err.message, /exemptions.usernames\[1\]: Duplicate value: "a", exemptions.usernames\[2\]: Invalid value: "": username must not be empty\]$/);
    return true;
  });
});
