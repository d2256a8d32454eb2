/**
 * Admission as upstream's plugins, through kubectl: ResourceQuota (the seed's
 * `team-alpha-quota` refuses the 11th CPU with upstream's message, and its status counts),
 * LimitRanger defaults and limits, and PodSecurity (`restricted` refuses a privileged pod,
 * `warn` only warns), admission webhooks (a real HTTPS webhook in this process mutates, denies,
 * times out; the seed's `pod-policy.example.com` with no service blocks pods); every namespace
 * gets its `kube-root-ca.crt`.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { kubectl, kubectlOk, kubectlVersions, until, useServer, waitForServiceAccount, type ServerHandle } from './harness.ts';
import { answer, makeTls, startServer as startWebhookServer } from '../../src/apiserver/admission/webhook/testing.ts';

let server!: ServerHandle;
useServer({}, (s) => (server = s));
const v = kubectlVersions.at(-1)!;

const pod = (name: string, cpu: string, extra: Record<string, unknown> = {}) => ({
  apiVersion: 'v1',
  kind: 'Pod',
  metadata: { name },
  spec: { containers: [{ name: 'c', image: 'busybox', resources: { requests: { cpu }, limits: { cpu } }, ...extra }] },
});

test('ResourceQuota: the seed team-alpha-quota refuses the 11th CPU, as upstream words it', { timeout: 120_000 }, async () => {
  await kubectlOk(server, v, ['create', 'namespace', 'team-alpha']);
  await waitForServiceAccount(server, 'team-alpha');
  const quota = { apiVersion: 'v1', kind: 'ResourceQuota', metadata: { name: 'team-alpha-quota', namespace: 'team-alpha' }, spec: { hard: { 'requests.cpu': '10', pods: '20' } } };
  await kubectlOk(server, v, ['apply', '-f', '-'], { input: JSON.stringify(quota) });
  // The quota controller fills status before it bites (upstream: "status unknown" until then).
  await until('the quota status', async () => ((await kubectl(server, v, ['get', 'resourcequota', 'team-alpha-quota', '-n', 'team-alpha', '-o', 'jsonpath={.status.used.requests\\.cpu}'])).stdout === '0' ? true : undefined));
  for (let i = 1; i <= 10; i++) await kubectlOk(server, v, ['create', '-n', 'team-alpha', '-f', '-'], { input: JSON.stringify(pod(`p${i}`, '1')) });
  const r = await kubectl(server, v, ['create', '-n', 'team-alpha', '-f', '-'], { input: JSON.stringify(pod('p11', '1')) });
  assert.notEqual(r.code, 0);
  assert.equal(r.stderr.trim(), 'Error from server (Forbidden): error when creating "STDIN": pods "p11" is forbidden: exceeded quota: team-alpha-quota, requested: requests.cpu=1, used: requests.cpu=10, limited: requests.cpu=10');
  assert.match(await kubectlOk(server, v, ['describe', 'resourcequota', 'team-alpha-quota', '-n', 'team-alpha']), /requests\.cpu\s+10\s+10/);
  // A pod without a CPU request is refused while a quota constrains it.
  const bare = await kubectl(server, v, ['run', 'bare', '-n', 'team-alpha', '--image', 'busybox']);
  assert.match(bare.stderr, /pods "bare" is forbidden: failed quota: team-alpha-quota: must specify requests\.cpu/);
  // Deleting a pod gives its CPU back (the controller recounts).
  await kubectlOk(server, v, ['delete', 'pod', 'p1', '-n', 'team-alpha', '--wait=false']);
  await until('requests.cpu back to 9', async () => ((await kubectl(server, v, ['get', 'resourcequota', 'team-alpha-quota', '-n', 'team-alpha', '-o', 'jsonpath={.status.used.requests\\.cpu}'])).stdout === '9' ? true : undefined), { timeoutMs: 30_000 });
  await kubectlOk(server, v, ['create', '-n', 'team-alpha', '-f', '-'], { input: JSON.stringify(pod('p11', '1')) });
});

test('LimitRanger: defaults fill in missing requests and limits; a limit over the maximum is refused', async () => {
  await kubectlOk(server, v, ['create', 'namespace', 'limits']);
  await waitForServiceAccount(server, 'limits');
  const lr = { apiVersion: 'v1', kind: 'LimitRange', metadata: { name: 'cpu', namespace: 'limits' }, spec: { limits: [{ type: 'Container', default: { cpu: '500m' }, defaultRequest: { cpu: '250m' }, max: { cpu: '1' } }] } };
  await kubectlOk(server, v, ['apply', '-f', '-'], { input: JSON.stringify(lr) });
  await kubectlOk(server, v, ['run', 'defaulted', '-n', 'limits', '--image', 'busybox']);
  const res = JSON.parse(await kubectlOk(server, v, ['get', 'pod', 'defaulted', '-n', 'limits', '-o', 'jsonpath={.spec.containers[0].resources}']));
  assert.deepEqual(res, { limits: { cpu: '500m' }, requests: { cpu: '250m' } });
  const big = await kubectl(server, v, ['create', '-n', 'limits', '-f', '-'], { input: JSON.stringify(pod('big', '2')) });
  assert.match(big.stderr, /pods "big" is forbidden: maximum cpu usage per Container is 1, but limit is 2/);
});

test('PodSecurity: enforce=restricted refuses a privileged pod with upstream\'s message; warn only warns', async () => {
  await kubectlOk(server, v, ['create', 'namespace', 'secure']);
  await waitForServiceAccount(server, 'secure');
  await kubectlOk(server, v, ['label', 'namespace', 'secure', 'pod-security.kubernetes.io/enforce=restricted']);
  const privileged = { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'root' }, spec: { containers: [{ name: 'c', image: 'busybox', securityContext: { privileged: true } }] } };
  const r = await kubectl(server, v, ['create', '-n', 'secure', '-f', '-'], { input: JSON.stringify(privileged) });
  assert.notEqual(r.code, 0);
  assert.equal(
    r.stderr.trim(),
    'Error from server (Forbidden): error when creating "STDIN": pods "root" is forbidden: violates PodSecurity "restricted:latest": privileged (container "c" must not set securityContext.privileged=true), allowPrivilegeEscalation != false (container "c" must set securityContext.allowPrivilegeEscalation=false), unrestricted capabilities (container "c" must set securityContext.capabilities.drop=["ALL"]), runAsNonRoot != true (pod or container "c" must set securityContext.runAsNonRoot=true), seccompProfile (pod or container "c" must set securityContext.seccompProfile.type to "RuntimeDefault" or "Localhost")',
  );
  await kubectlOk(server, v, ['create', 'namespace', 'lenient']);
  await waitForServiceAccount(server, 'lenient');
  await kubectlOk(server, v, ['label', 'namespace', 'lenient', 'pod-security.kubernetes.io/warn=baseline']);
  const w = await kubectl(server, v, ['create', '-n', 'lenient', '-f', '-'], { input: JSON.stringify(privileged) });
  assert.equal(w.code, 0, w.stderr);
  assert.match(w.stderr, /Warning: would violate PodSecurity "baseline:latest": privileged \(container "c" must not set securityContext\.privileged=true\)/);
});

test('every namespace holds kube-root-ca.crt with the cluster CA', async () => {
  await kubectlOk(server, v, ['create', 'namespace', 'fresh']);
  const ca = await until('kube-root-ca.crt in fresh', async () => {
    const r = await kubectl(server, v, ['get', 'configmap', 'kube-root-ca.crt', '-n', 'fresh', '-o', 'jsonpath={.data.ca\\.crt}']);
    return r.code === 0 && r.stdout ? r.stdout : undefined;
  });
  assert.match(ca, /^-----BEGIN CERTIFICATE-----/);
  // Deleted, it comes back.
  await kubectlOk(server, v, ['delete', 'configmap', 'kube-root-ca.crt', '-n', 'fresh']);
  await until('kube-root-ca.crt back', async () => ((await kubectl(server, v, ['get', 'configmap', 'kube-root-ca.crt', '-n', 'fresh'])).code === 0 ? true : undefined));
});

test('admission webhooks: a real HTTPS webhook mutates and denies, failurePolicy and timeouts hold; the seed pod-policy.example.com with no service blocks pods', { timeout: 120_000 }, async () => {
  const tls = await makeTls();
  const hook = await startWebhookServer(tls, (review, p) => {
    const name = review.request.name as string;
    if (p.startsWith('/slow')) return { ...answer(review, { allowed: true }), delayMs: 3000 };
    if (p.startsWith('/mutate')) {
      const patch = Buffer.from(JSON.stringify([{ op: 'add', path: '/metadata/labels', value: { mutated: 'yes' } }])).toString('base64');
      return answer(review, { allowed: true, patchType: 'JSONPatch', patch });
    }
    return name.startsWith('bad') ? answer(review, { allowed: false, status: { code: 403, message: 'bad pods are not welcome' } }) : answer(review, { allowed: true, warnings: ['checked by the test webhook'] });
  });
  try {
    await kubectlOk(server, v, ['create', 'namespace', 'hooked']);
    await waitForServiceAccount(server, 'hooked');
    await waitForServiceAccount(server, 'default');
    await kubectlOk(server, v, ['label', 'namespace', 'hooked', 'webhooks=on']);
    const rule = { operations: ['CREATE'], apiGroups: [''], apiVersions: ['v1'], resources: ['pods'] };
    const nsSel = { matchLabels: { webhooks: 'on' } };
    const wh = (name: string, path: string, extra: Record<string, unknown> = {}) => ({ name, rules: [rule], namespaceSelector: nsSel, clientConfig: { url: hook.url(path), caBundle: tls.caBundle }, admissionReviewVersions: ['v1'], sideEffects: 'None', ...extra });
    const configs = [
      { apiVersion: 'admissionregistration.k8s.io/v1', kind: 'MutatingWebhookConfiguration', metadata: { name: 'label-pods' }, webhooks: [wh('label.test.bosun', '/mutate')] },
      { apiVersion: 'admissionregistration.k8s.io/v1', kind: 'ValidatingWebhookConfiguration', metadata: { name: 'check-pods' }, webhooks: [wh('check.test.bosun', '/validate'), wh('slow.test.bosun', '/slow', { timeoutSeconds: 1, failurePolicy: 'Ignore' })] },
    ];
    await kubectlOk(server, v, ['apply', '-f', '-'], { input: JSON.stringify({ apiVersion: 'v1', kind: 'List', items: configs }) });
    const good = await until('the webhooks in effect', async () => {
      const r = await kubectl(server, v, ['run', `good-${Date.now()}`, '-n', 'hooked', '--image', 'busybox']);
      return r.code === 0 && /checked by the test webhook/.test(r.stderr) ? r : undefined;
    });
    assert.match(good.stderr, /Warning: checked by the test webhook/);
    const name = /pod\/(\S+) created/.exec(good.stdout)![1]!;
    assert.equal(await kubectlOk(server, v, ['get', 'pod', name, '-n', 'hooked', '-o', 'jsonpath={.metadata.labels.mutated}']), 'yes');
    const bad = await kubectl(server, v, ['run', 'bad-pod', '-n', 'hooked', '--image', 'busybox']);
    // Upstream keeps the webhook's code and (empty) reason: kubectl prints no reason.
    assert.equal(bad.stderr.trim(), 'Error from server: admission webhook "check.test.bosun" denied the request: bad pods are not welcome');
    // The slow webhook timed out (1 s) and failed open: the good pod above was created within seconds.
    assert.ok(hook.seen.some((s) => s.path.startsWith('/slow?timeout=1s')));
    // Outside the selected namespace nothing is called.
    const before = hook.seen.length;
    await kubectlOk(server, v, ['run', 'bad-elsewhere', '--image', 'busybox']);
    assert.equal(hook.seen.length, before);
    // Fail (the default) with the webhook gone: pods are refused.
    await hook.close();
    const down = await kubectl(server, v, ['run', 'after-close', '-n', 'hooked', '--image', 'busybox']);
    assert.match(down.stderr, /Internal error occurred: failed calling webhook "label\.test\.bosun": failed to call webhook: Post "https:\/\/127\.0\.0\.1:\d+\/mutate\?timeout=10s": .*connection refused/);
    await kubectlOk(server, v, ['delete', 'mutatingwebhookconfiguration', 'label-pods']);
    await kubectlOk(server, v, ['delete', 'validatingwebhookconfiguration', 'check-pods']);
  } finally {
    await hook.close().catch(() => {});
  }
  // The seed's webhook: no failurePolicy (Fail), a service that does not exist.
  const seedHook = {
    apiVersion: 'admissionregistration.k8s.io/v1',
    kind: 'ValidatingWebhookConfiguration',
    metadata: { name: 'pod-policy.example.com' },
    webhooks: [{ name: 'pod-policy.example.com', rules: [{ apiGroups: [''], apiVersions: ['v1'], operations: ['CREATE'], resources: ['pods'], scope: 'Namespaced' }], clientConfig: { service: { namespace: 'example-namespace', name: 'example-service' }, caBundle: tls.caBundle }, admissionReviewVersions: ['v1'], sideEffects: 'None', timeoutSeconds: 5 }],
  };
  await kubectlOk(server, v, ['apply', '-f', '-'], { input: JSON.stringify(seedHook) });
  const blocked = await until('pods blocked by pod-policy.example.com', async () => {
    const r = await kubectl(server, v, ['run', `blocked-${Date.now()}`, '--image', 'busybox']);
    return r.code !== 0 ? r : undefined;
  });
  assert.match(blocked.stderr, /Error from server \(InternalError\): Internal error occurred: failed calling webhook "pod-policy\.example\.com": failed to call webhook: Post "https:\/\/example-service\.example-namespace\.svc:443\/\?timeout=5s": service "example-service" not found/);
  await kubectlOk(server, v, ['delete', 'validatingwebhookconfiguration', 'pod-policy.example.com']);
});

test('ValidatingAdmissionPolicy: a Deployment with more than 5 replicas is denied, as upstream words it', { timeout: 60_000 }, async () => {
  const policy = {
    apiVersion: 'admissionregistration.k8s.io/v1',
    kind: 'ValidatingAdmissionPolicy',
    metadata: { name: 'demo-policy.example.com' },
    spec: { failurePolicy: 'Fail', matchConstraints: { resourceRules: [{ apiGroups: ['apps'], apiVersions: ['v1'], operations: ['CREATE', 'UPDATE'], resources: ['deployments'] }] }, validations: [{ expression: 'object.spec.replicas <= 5' }] },
  };
  const binding = { apiVersion: 'admissionregistration.k8s.io/v1', kind: 'ValidatingAdmissionPolicyBinding', metadata: { name: 'demo-binding-test.example.com' }, spec: { policyName: 'demo-policy.example.com', validationActions: ['Deny'] } };
  await kubectlOk(server, v, ['apply', '-f', '-'], { input: JSON.stringify({ apiVersion: 'v1', kind: 'List', items: [policy, binding] }) });
  const denied = await until('the policy in effect', async () => {
    const r = await kubectl(server, v, ['create', 'deployment', 'nginx', '--image', 'nginx', '--replicas', '6']);
    return r.code !== 0 ? r : (await kubectlOk(server, v, ['delete', 'deployment', 'nginx']), undefined);
  }, { timeoutMs: 30_000 });
  assert.match(denied.stderr, /deployments\.apps "nginx" is forbidden: ValidatingAdmissionPolicy 'demo-policy\.example\.com' with binding 'demo-binding-test\.example\.com' denied request: failed expression: object\.spec\.replicas <= 5/);
  await kubectlOk(server, v, ['create', 'deployment', 'nginx', '--image', 'nginx', '--replicas', '5']);
  // An update of the Deployment itself past 5 is denied too (the scale subresource is another resource, as upstream).
  const patched = await kubectl(server, v, ['patch', 'deployment', 'nginx', '-p', '{"spec":{"replicas":7}}']);
  assert.match(patched.stderr, /denied request: failed expression: object\.spec\.replicas <= 5/);
  await kubectlOk(server, v, ['delete', 'validatingadmissionpolicybinding', 'demo-binding-test.example.com']);
});

test('admission webhooks on DELETE and CONNECT: a mutating webhook is sent the stored object as oldObject, a validating one refuses a delete, per item of a collection too, and an exec', { timeout: 120_000 }, async () => {
  const tls = await makeTls();
  const hook = await startWebhookServer(tls, (review, p) => {
    const old = review.request.oldObject as { metadata: { name: string } } | null;
    if (p.startsWith('/seen')) return answer(review, { allowed: true });
    if (p.startsWith('/exec')) return answer(review, { allowed: false, status: { code: 403, message: 'no exec here' } });
    return old?.metadata.name.startsWith('keep') ? answer(review, { allowed: false, status: { code: 403, message: `${old.metadata.name} stays` } }) : answer(review, { allowed: true });
  });
  try {
    await kubectlOk(server, v, ['create', 'namespace', 'deletes']);
    await waitForServiceAccount(server, 'deletes');
    await kubectlOk(server, v, ['label', 'namespace', 'deletes', 'webhooks=deletes']);
    const nsSel = { matchLabels: { webhooks: 'deletes' } };
    const wh = (name: string, path: string, rule: Record<string, unknown>) => ({ name, rules: [rule], namespaceSelector: nsSel, clientConfig: { url: hook.url(path), caBundle: tls.caBundle }, admissionReviewVersions: ['v1'], sideEffects: 'None' });
    const onDelete = { operations: ['DELETE'], apiGroups: [''], apiVersions: ['v1'], resources: ['configmaps'] };
    const onExec = { operations: ['CONNECT'], apiGroups: [''], apiVersions: ['v1'], resources: ['pods/exec'] };
    const configs = [
      { apiVersion: 'admissionregistration.k8s.io/v1', kind: 'MutatingWebhookConfiguration', metadata: { name: 'see-deletes' }, webhooks: [wh('seen.test.bosun', '/seen', onDelete)] },
      { apiVersion: 'admissionregistration.k8s.io/v1', kind: 'ValidatingWebhookConfiguration', metadata: { name: 'keep-some' }, webhooks: [wh('keep.test.bosun', '/keep', onDelete), wh('exec.test.bosun', '/exec', onExec)] },
    ];
    await kubectlOk(server, v, ['apply', '-f', '-'], { input: JSON.stringify({ apiVersion: 'v1', kind: 'List', items: configs }) });
    for (const name of ['keep-1', 'drop-1', 'drop-2']) await kubectlOk(server, v, ['create', 'configmap', name, '-n', 'deletes', '--from-literal', `k=${name}`]);
    await kubectlOk(server, v, ['label', 'configmap', 'keep-1', 'drop-2', '-n', 'deletes', 'batch=one']);
    const denied = await until('the webhooks in effect', async () => {
      const r = await kubectl(server, v, ['delete', 'configmap', 'keep-1', '-n', 'deletes']);
      return r.code !== 0 ? r : undefined;
    });
    assert.equal(denied.stderr.trim(), 'Error from server: admission webhook "keep.test.bosun" denied the request: keep-1 stays');
    const deleteReviews = (name: string) => hook.seen.filter((s) => s.path.startsWith('/seen?') && s.review.request.oldObject?.metadata?.name === name).map((s) => s.review.request);
    // The mutating webhook ran first, with the stored object and the DeleteOptions kubectl sent.
    const seen = deleteReviews('keep-1').at(-1)!;
    assert.equal(seen.operation, 'DELETE');
    assert.equal(seen.object, null);
    assert.equal(seen.oldObject.data.k, 'keep-1');
    assert.equal(seen.options.kind, 'DeleteOptions');
    assert.equal(seen.options.apiVersion, 'meta.k8s.io/v1');
    assert.equal(seen.options.propagationPolicy, 'Background');
    assert.equal(await kubectlOk(server, v, ['get', 'configmap', 'keep-1', '-n', 'deletes', '-o', 'jsonpath={.data.k}']), 'keep-1');
    await kubectlOk(server, v, ['delete', 'configmap', 'drop-1', '-n', 'deletes']);
    assert.equal(deleteReviews('drop-1').length, 1);
    // A collection delete is admitted item by item: drop-2 goes, keep-1 refuses.
    const coll = await kubectl(server, v, ['delete', '--raw', '/api/v1/namespaces/deletes/configmaps?labelSelector=batch%3Done']);
    assert.notEqual(coll.code, 0);
    assert.match(coll.stderr, /admission webhook "keep\.test\.bosun" denied the request: keep-1 stays/);
    assert.equal(deleteReviews('drop-2').length, 1);
    assert.equal((await kubectl(server, v, ['get', 'configmap', 'drop-2', '-n', 'deletes'])).code, 1);
    assert.equal(await kubectlOk(server, v, ['get', 'configmap', 'keep-1', '-n', 'deletes', '-o', 'jsonpath={.data.k}']), 'keep-1');
    // CONNECT: an exec is admitted with its PodExecOptions before anything is dialled.
    await kubectlOk(server, v, ['run', 'target', '-n', 'deletes', '--image', 'busybox']);
    const exec = await kubectl(server, v, ['exec', 'target', '-n', 'deletes', '--', 'true']);
    assert.equal(exec.stderr.trim(), 'Error from server: admission webhook "exec.test.bosun" denied the request: no exec here');
    const execReview = hook.seen.filter((s) => s.path.startsWith('/exec?')).at(-1)!.review.request;
    assert.equal(execReview.operation, 'CONNECT');
    assert.equal(execReview.subResource, 'exec');
    assert.equal(execReview.object.kind, 'PodExecOptions');
    await kubectlOk(server, v, ['delete', 'mutatingwebhookconfiguration', 'see-deletes']);
    await kubectlOk(server, v, ['delete', 'validatingwebhookconfiguration', 'keep-some']);
  } finally {
    await hook.close();
  }
});
