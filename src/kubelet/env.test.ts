/**
 * Tests for the container environment: `$(VAR)` expansion rules, envFrom, env with every
 * valueFrom source, service links, and the CreateContainerConfigError messages.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { ConfigMap, Container, Pod, Secret } from '../api/index.ts';
import {
  containerEnv,
  containerResourceValue,
  expand,
  expandCommandAndArgs,
  expandCommandStatic,
  formatMap,
  podFieldValue,
  serviceEnvVars,
} from './env.ts';
import type { ContainerEnvContext, EnvSources } from './env.ts';

const vars: Record<string, string> = { A: 'a', B: 'b', EMPTY: '', REF: '$(A)' };
const lookup = (n: string) => vars[n];

const expandCases: Array<{ name: string; in: string; want: string }> = [
  { name: 'a whole-string reference is replaced', in: '$(A)', want: 'a' },
  { name: 'references repeat and mix with text', in: 'x-$(A)-$(B)-$(A)', want: 'x-a-b-a' },
  { name: 'an empty value expands to nothing', in: '<$(EMPTY)>', want: '<>' },
  { name: 'an unknown reference is left as written', in: '$(NOPE)', want: '$(NOPE)' },
  { name: 'a value is not expanded twice', in: '$(REF)', want: '$(A)' },
  { name: '$$ escapes a reference', in: '$$(A)_$(B)', want: '$(A)_b' },
  { name: '$$ escapes a bare dollar', in: 'p-$$A', want: 'p-$A' },
  { name: 'shell syntax passes through', in: '${A} $A $? $!', want: '${A} $A $? $!' },
  { name: 'a dollar at the end stays', in: '$(A)end$', want: 'aend$' },
  { name: 'an unterminated reference stays', in: '$(B)__$(A', want: 'b__$(A' },
  { name: 'a bare $( at the end stays', in: '$(B)$(', want: 'b$(' },
  { name: 'many $( in a row stay', in: '--$($($(--', want: '--$($($(--' },
  { name: 'nested references are one unknown name', in: '$(A$(B))', want: '$(A$(B))' },
  { name: 'an even run of dollars before a reference', in: '$$$$(A)', want: '$$(A)' },
  { name: 'an odd run of dollars before a reference', in: '$$$$$(A)', want: '$$a' },
  { name: 'backslashes are not escapes', in: 'x\\$(A)', want: 'x\\a' },
  { name: 'escaped dollars inside a name are not unescaped', in: '$(x$$y)', want: '$(x$$y)' },
  { name: 'parentheses without a dollar are text', in: '(A)', want: '(A)' },
];
for (const c of expandCases) test(`expand: ${c.name}`, () => assert.equal(expand(c.in, lookup), c.want));

test('expandCommandAndArgs expands with the env, a later duplicate winning', () => {
  const c: Container = { name: 'c', command: ['/bin/$(BIN)', '$(MISSING)'], args: ['--x=$(X)', '$$(X)'] };
  assert.deepEqual(
    expandCommandAndArgs(c, [
      { key: 'BIN', value: 'sh' },
      { key: 'X', value: '1' },
      { key: 'X', value: '2' },
    ]),
    { command: ['/bin/sh', '$(MISSING)'], args: ['--x=2', '$(X)'] },
  );
});

test('expandCommandStatic uses literal env values only', () => {
  const c: Container = {
    name: 'c',
    env: [
      { name: 'A', value: 'lit' },
      { name: 'B', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } },
    ],
  };
  assert.deepEqual(expandCommandStatic(['$(A)', '[$(B)]', '$(C)'], c), ['lit', '[]', '$(C)']);
});

// ---- fixtures ----

function b64(s: string): string {
  return Buffer.from(s, 'utf8').toString('base64');
}

function makePod(containers: Container[], extra: Partial<NonNullable<Pod['spec']>> = {}): Pod {
  return {
    metadata: {
      name: 'web-1',
      namespace: 'ns1',
      uid: 'uid-123',
      labels: { app: 'web', 'x.io/tier': 'front' },
      annotations: { note: 'say "hi"\n' },
    },
    spec: { nodeName: 'node-a', serviceAccountName: 'sa1', containers, ...extra },
    status: { podIP: '10.0.0.9', hostIP: '192.168.1.2' },
  };
}

function sources(cms: ConfigMap[] = [], secrets: Secret[] = [], services?: EnvSources['services']): EnvSources & { reads: string[] } {
  const reads: string[] = [];
  return {
    reads,
    async getConfigMap(ns, name) {
      reads.push(`cm:${ns}/${name}`);
      return cms.find((c) => c.metadata.namespace === ns && c.metadata.name === name);
    },
    async getSecret(ns, name) {
      reads.push(`secret:${ns}/${name}`);
      return secrets.find((s) => s.metadata.namespace === ns && s.metadata.name === name);
    },
    ...(services ? { services } : {}),
  };
}

const cfg: ConfigMap = { metadata: { name: 'cfg', namespace: 'ns1' }, data: { LEVEL: 'debug', 'bad=key': 'x', '1st': 'y', PORT: '8080' } };
const sec: Secret = { metadata: { name: 'sec', namespace: 'ns1' }, data: { PASSWORD: b64('hunter2'), TOKEN: b64('t0k') } };

function ctx(s: EnvSources, more: Partial<ContainerEnvContext> = {}): ContainerEnvContext {
  return { sources: s, nodeAllocatable: { cpu: '4', memory: '8Gi', 'ephemeral-storage': '100Gi' }, ...more };
}

function asRecord(env: Array<{ key: string; value: string }>): Record<string, string> {
  return Object.fromEntries(env.map((e) => [e.key, e.value]));
}

test('envFrom: all keys with prefix, invalid names skipped with the upstream event text', async () => {
  const c: Container = { name: 'c', envFrom: [{ configMapRef: { name: 'cfg' }, prefix: 'CFG_' }, { secretRef: { name: 'sec' } }] };
  const { env, warnings } = await containerEnv(makePod([c]), c, ctx(sources([cfg], [sec])));
  assert.deepEqual(env, [
    { key: 'CFG_1st', value: 'y' },
    { key: 'CFG_LEVEL', value: 'debug' },
    { key: 'CFG_PORT', value: '8080' },
    { key: 'PASSWORD', value: 'hunter2' },
    { key: 'TOKEN', value: 't0k' },
  ]);
  assert.deepEqual(warnings, [
    'Keys [CFG_bad=key] from the EnvFrom configMap ns1/cfg were skipped since they are considered invalid environment variable names.',
  ]);
});

test('envFrom with strict names skips names starting with a digit too', async () => {
  const c: Container = { name: 'c', envFrom: [{ configMapRef: { name: 'cfg' } }] };
  const { env, warnings } = await containerEnv(makePod([c]), c, ctx(sources([cfg]), { strictEnvVarNames: true }));
  assert.deepEqual(Object.keys(asRecord(env)), ['LEVEL', 'PORT']);
  assert.deepEqual(warnings, [
    'Keys [1st, bad=key] from the EnvFrom configMap ns1/cfg were skipped since they are considered invalid environment variable names.',
  ]);
});

test('env: declared order, expansion against earlier variables only, env overrides envFrom', async () => {
  const c: Container = {
    name: 'c',
    envFrom: [{ configMapRef: { name: 'cfg' } }],
    env: [
      { name: 'URL', value: 'http://$(HOST):$(PORT)/' },
      { name: 'HOST', value: 'example' },
      { name: 'URL2', value: 'http://$(HOST):$(PORT)/$$(HOST)' },
      { name: 'LEVEL', value: 'info' },
      { name: 'EMPTY', value: '' },
    ],
  };
  const { env } = await containerEnv(makePod([c]), c, ctx(sources([cfg])));
  assert.deepEqual(env.map((e) => e.key), ['1st', 'PORT', 'URL', 'HOST', 'URL2', 'LEVEL', 'EMPTY']);
  const r = asRecord(env);
  assert.equal(r.URL, 'http://$(HOST):8080/');
  assert.equal(r.URL2, 'http://example:8080/$(HOST)');
  assert.equal(r.LEVEL, 'info');
  assert.equal(r.EMPTY, '');
});

test('each referenced object is read once per call', async () => {
  const c: Container = {
    name: 'c',
    envFrom: [{ configMapRef: { name: 'cfg' } }],
    env: [
      { name: 'L', valueFrom: { configMapKeyRef: { name: 'cfg', key: 'LEVEL' } } },
      { name: 'P', valueFrom: { secretKeyRef: { name: 'sec', key: 'PASSWORD' } } },
      { name: 'T', valueFrom: { secretKeyRef: { name: 'sec', key: 'TOKEN' } } },
    ],
  };
  const s = sources([cfg], [sec]);
  const { env } = await containerEnv(makePod([c]), c, ctx(s));
  assert.deepEqual(s.reads, ['cm:ns1/cfg', 'secret:ns1/sec']);
  assert.deepEqual(asRecord(env), { '1st': 'y', LEVEL: 'debug', PORT: '8080', L: 'debug', P: 'hunter2', T: 't0k' });
});

const refCases: Array<{ name: string; env?: Container['env']; envFrom?: Container['envFrom']; want?: Record<string, string>; error?: string }> = [
  { name: 'a missing configmap fails', env: [{ name: 'X', valueFrom: { configMapKeyRef: { name: 'nope', key: 'k' } } }], error: 'configmap "nope" not found' },
  { name: 'a missing configmap key fails', env: [{ name: 'X', valueFrom: { configMapKeyRef: { name: 'cfg', key: 'k' } } }], error: "couldn't find key k in ConfigMap ns1/cfg" },
  { name: 'a missing secret fails', env: [{ name: 'X', valueFrom: { secretKeyRef: { name: 'nope', key: 'k' } } }], error: 'secret "nope" not found' },
  { name: 'a missing secret key fails', env: [{ name: 'X', valueFrom: { secretKeyRef: { name: 'sec', key: 'k' } } }], error: "couldn't find key k in Secret ns1/sec" },
  { name: 'a missing envFrom configmap fails', envFrom: [{ configMapRef: { name: 'nope' } }], error: 'configmap "nope" not found' },
  { name: 'a missing envFrom secret fails', envFrom: [{ secretRef: { name: 'nope' } }], error: 'secret "nope" not found' },
  {
    name: 'optional references to missing objects and keys are skipped',
    env: [
      { name: 'A', valueFrom: { configMapKeyRef: { name: 'nope', key: 'k', optional: true } } },
      { name: 'B', valueFrom: { configMapKeyRef: { name: 'cfg', key: 'k', optional: true } } },
      { name: 'C', valueFrom: { secretKeyRef: { name: 'nope', key: 'k', optional: true } } },
      { name: 'D', valueFrom: { secretKeyRef: { name: 'sec', key: 'k', optional: true } } },
      { name: 'E', value: 'e' },
    ],
    envFrom: [{ configMapRef: { name: 'gone', optional: true } }, { secretRef: { name: 'gone', optional: true } }],
    want: { E: 'e' },
  },
];
for (const c of refCases) {
  test(`references: ${c.name}`, async () => {
    const ctr: Container = { name: 'c', ...(c.env ? { env: c.env } : {}), ...(c.envFrom ? { envFrom: c.envFrom } : {}) };
    const run = containerEnv(makePod([ctr]), ctr, ctx(sources([cfg], [sec])));
    if (c.error) await assert.rejects(run, (err: Error) => err.message === c.error);
    else assert.deepEqual(asRecord((await run).env), c.want);
  });
}

test('a source error other than not-found is passed through', async () => {
  const c: Container = { name: 'c', env: [{ name: 'X', valueFrom: { configMapKeyRef: { name: 'cfg', key: 'k', optional: true } } }] };
  const s: EnvSources = {
    getConfigMap: async () => {
      throw new Error('cache not synced');
    },
    getSecret: async () => undefined,
  };
  await assert.rejects(containerEnv(makePod([c]), c, ctx(s)), /cache not synced/);
});

test('fieldRef: every supported path', async () => {
  const paths = [
    'metadata.name',
    'metadata.namespace',
    'metadata.uid',
    "metadata.labels['app']",
    "metadata.labels['missing']",
    "metadata.annotations['note']",
    'spec.nodeName',
    'spec.serviceAccountName',
    'status.hostIP',
    'status.hostIPs',
    'status.podIP',
    'status.podIPs',
  ];
  const c: Container = { name: 'c', env: paths.map((p, i) => ({ name: `V${i}`, valueFrom: { fieldRef: { fieldPath: p } } })) };
  const { env } = await containerEnv(makePod([c]), c, ctx(sources(), { podIPs: ['10.0.0.5', 'fd00::5'], hostIPs: ['192.168.1.7', 'fd00::1'] }));
  assert.deepEqual(
    env.map((e) => e.value),
    ['web-1', 'ns1', 'uid-123', 'web', '', 'say "hi"\n', 'node-a', 'sa1', '192.168.1.7', '192.168.1.7,fd00::1', '10.0.0.5', '10.0.0.5,fd00::5'],
  );
});

test('fieldRef: IPs fall back from ctx to the pod status', () => {
  const pod = makePod([]);
  assert.equal(podFieldValue(pod, { fieldPath: 'status.podIP' }), '10.0.0.9');
  assert.equal(podFieldValue(pod, { fieldPath: 'status.podIPs' }), '10.0.0.9');
  assert.equal(podFieldValue(pod, { fieldPath: 'status.hostIP' }, { hostIP: '1.2.3.4' }), '1.2.3.4');
  assert.equal(podFieldValue(pod, { fieldPath: 'status.podIP' }, { podIP: '10.1.1.1' }), '10.1.1.1');
});

const fieldErrors: Array<{ path: string; apiVersion?: string; error: string }> = [
  { path: 'spec.containers', error: 'field label not supported: spec.containers' },
  { path: "spec.nodeName['x']", error: "field label does not support subscript: spec.nodeName['x']" },
  { path: 'metadata.name', apiVersion: 'v2', error: 'unsupported pod version: v2' },
  { path: 'spec.restartPolicy', error: 'unsupported fieldPath: spec.restartPolicy' },
  { path: "metadata.labels['bad key']", error: "invalid key subscript in metadata.labels['bad key']: name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character" },
];
for (const c of fieldErrors) {
  test(`fieldRef error: ${c.error}`, () => {
    assert.throws(() => podFieldValue(makePod([]), { fieldPath: c.path, ...(c.apiVersion ? { apiVersion: c.apiVersion } : {}) }), (e: Error) => e.message === c.error);
  });
}

test('formatMap: sorted key="value" lines with Go quoting', () => {
  assert.equal(formatMap({ b: 'two', a: 'say "hi"\n\ttab', c: 'ü\u0001' }), 'a="say \\"hi\\"\\n\\ttab"\nb="two"\nc="ü\\x01"');
  assert.equal(formatMap(undefined), '');
});

const resourceCases: Array<{ name: string; resource: string; divisor?: string; containerName?: string; want?: string; error?: string }> = [
  { name: 'limits.cpu in cores rounds up', resource: 'limits.cpu', want: '1' },
  { name: 'limits.cpu in millicores', resource: 'limits.cpu', divisor: '1m', want: '500' },
  { name: 'limits.memory in bytes', resource: 'limits.memory', want: String(64 * 2 ** 20) },
  { name: 'limits.memory in Mi', resource: 'limits.memory', divisor: '1Mi', want: '64' },
  { name: 'requests.cpu in millicores', resource: 'requests.cpu', divisor: '1m', want: '250' },
  { name: 'requests.memory unset is 0', resource: 'requests.memory', want: '0' },
  { name: 'limits.ephemeral-storage defaults to allocatable', resource: 'limits.ephemeral-storage', divisor: '1Gi', want: '100' },
  { name: 'a missing limit defaults to allocatable', resource: 'limits.cpu', containerName: 'side', want: '4' },
  { name: 'a missing memory limit defaults to allocatable', resource: 'limits.memory', divisor: '1Gi', containerName: 'side', want: '8' },
  { name: 'a named init container is found', resource: 'limits.memory', divisor: '1Mi', containerName: 'init', want: '16' },
  { name: 'an unknown container fails', resource: 'limits.cpu', containerName: 'nope', error: 'container nope not found' },
  { name: 'an unknown resource fails', resource: 'limits.gpu', error: 'unsupported container resource : limits.gpu' },
];
for (const c of resourceCases) {
  test(`resourceFieldRef: ${c.name}`, async () => {
    const main: Container = {
      name: 'main',
      resources: { limits: { cpu: '500m', memory: '64Mi' }, requests: { cpu: '250m' } },
      env: [{ name: 'R', valueFrom: { resourceFieldRef: { resource: c.resource, ...(c.divisor ? { divisor: c.divisor } : {}), ...(c.containerName ? { containerName: c.containerName } : {}) } } }],
    };
    const pod = makePod([main, { name: 'side' }], { initContainers: [{ name: 'init', resources: { limits: { memory: '16Mi' } } }] });
    const run = containerEnv(pod, main, ctx(sources()));
    if (c.error) await assert.rejects(run, (e: Error) => e.message === c.error);
    else assert.equal(asRecord((await run).env).R, c.want);
  });
}

test('containerResourceValue without allocatable leaves a missing limit at 0', () => {
  assert.equal(containerResourceValue(makePod([]), { name: 'x' }, { resource: 'limits.cpu', divisor: '1m' }), '0');
});

test('serviceEnvVars: host, ports, named ports and docker links', () => {
  assert.deepEqual(
    serviceEnvVars([
      { name: 'my-svc', clusterIP: '10.96.0.20', ports: [{ port: 80, protocol: 'TCP' }, { name: 'dns-udp', port: 53, protocol: 'UDP' }] },
      { name: 'headless', clusterIP: 'None', ports: [{ port: 1, protocol: 'TCP' }] },
      { name: 'v6', clusterIP: 'fd00::10', ports: [{ name: 'http', port: 8080, protocol: 'TCP' }] },
    ]),
    [
      { key: 'MY_SVC_SERVICE_HOST', value: '10.96.0.20' },
      { key: 'MY_SVC_SERVICE_PORT', value: '80' },
      { key: 'MY_SVC_SERVICE_PORT_DNS_UDP', value: '53' },
      { key: 'MY_SVC_PORT', value: 'tcp://10.96.0.20:80' },
      { key: 'MY_SVC_PORT_80_TCP', value: 'tcp://10.96.0.20:80' },
      { key: 'MY_SVC_PORT_80_TCP_PROTO', value: 'tcp' },
      { key: 'MY_SVC_PORT_80_TCP_PORT', value: '80' },
      { key: 'MY_SVC_PORT_80_TCP_ADDR', value: '10.96.0.20' },
      { key: 'MY_SVC_PORT_53_UDP', value: 'udp://10.96.0.20:53' },
      { key: 'MY_SVC_PORT_53_UDP_PROTO', value: 'udp' },
      { key: 'MY_SVC_PORT_53_UDP_PORT', value: '53' },
      { key: 'MY_SVC_PORT_53_UDP_ADDR', value: '10.96.0.20' },
      { key: 'V6_SERVICE_HOST', value: 'fd00::10' },
      { key: 'V6_SERVICE_PORT', value: '8080' },
      { key: 'V6_SERVICE_PORT_HTTP', value: '8080' },
      { key: 'V6_PORT', value: 'tcp://[fd00::10]:8080' },
      { key: 'V6_PORT_8080_TCP', value: 'tcp://[fd00::10]:8080' },
      { key: 'V6_PORT_8080_TCP_PROTO', value: 'tcp' },
      { key: 'V6_PORT_8080_TCP_PORT', value: '8080' },
      { key: 'V6_PORT_8080_TCP_ADDR', value: 'fd00::10' },
    ],
  );
});

const master = { clusterIP: '10.96.0.1', ports: [{ name: 'https', port: 443, protocol: 'TCP' }] };
const nsServices = [{ name: 'db', clusterIP: '10.96.0.30', ports: [{ port: 5432, protocol: 'TCP' }] }];

const linkCases: Array<{ name: string; enable?: boolean; master?: boolean; want: string[] }> = [
  { name: 'links and the master service by default', master: true, want: ['DB_SERVICE_HOST', 'KUBERNETES_SERVICE_HOST'] },
  { name: 'only the master service when links are disabled', enable: false, master: true, want: ['KUBERNETES_SERVICE_HOST'] },
  { name: 'no master service unless given', want: ['DB_SERVICE_HOST'] },
];
for (const c of linkCases) {
  test(`service links: ${c.name}`, async () => {
    const ctr: Container = { name: 'c', env: [{ name: 'DB', value: '$(DB_SERVICE_HOST):$(DB_SERVICE_PORT)' }] };
    const pod = makePod([ctr], c.enable === undefined ? {} : { enableServiceLinks: c.enable });
    const { env } = await containerEnv(pod, ctr, ctx(sources([], [], nsServices), c.master ? { masterService: master } : {}));
    const r = asRecord(env);
    assert.deepEqual(Object.keys(r).filter((k) => k.endsWith('_SERVICE_HOST')), c.want);
    assert.equal(env[0]!.key, 'DB', 'declared variables come first');
    assert.equal(r.DB, c.want.includes('DB_SERVICE_HOST') ? '10.96.0.30:5432' : '$(DB_SERVICE_HOST):$(DB_SERVICE_PORT)');
    if (c.master) {
      assert.equal(r.KUBERNETES_SERVICE_PORT, '443');
      assert.equal(r.KUBERNETES_SERVICE_PORT_HTTPS, '443');
      assert.equal(r.KUBERNETES_PORT_443_TCP, 'tcp://10.96.0.1:443');
    }
  });
}

test('a declared variable wins over a service variable of the same name', async () => {
  const ctr: Container = { name: 'c', env: [{ name: 'DB_SERVICE_HOST', value: 'override' }] };
  const { env } = await containerEnv(makePod([ctr]), ctr, ctx(sources([], [], nsServices)));
  assert.equal(env.filter((e) => e.key === 'DB_SERVICE_HOST').length, 1);
  assert.equal(asRecord(env).DB_SERVICE_HOST, 'override');
});
