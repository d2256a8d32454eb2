import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { decodeKubeProtobuf, encodeKubeProtobuf, formatDuration, parseDuration } from './protobuf.ts';
import type { KubeObject } from './types.ts';
import { isCode } from '../util/errors.ts';

// --- real kubectl bodies ---------------------------------------------------------------------

interface Fixture {
  name: string;
  command: string;
  body: string;
  json: KubeObject;
}
const fixtures = (
  JSON.parse(readFileSync(new URL('./schema/fixtures/kubectl-1.33.json', import.meta.url), 'utf8')) as { cases: Fixture[] }
).cases;

for (const f of fixtures) {
  test(`the body of "${f.command}" decodes to the JSON kubectl would have sent`, () => {
    const body = Buffer.from(f.body, 'base64');
    const obj = decodeKubeProtobuf(body);
    assert.deepStrictEqual(obj, f.json);
    assert.equal(JSON.stringify(obj), JSON.stringify(f.json), 'keys in Go field order');
  });
  test(`the body of "${f.command}" encodes back to kubectl's bytes`, () => {
    const body = Buffer.from(f.body, 'base64');
    assert.equal(Buffer.from(encodeKubeProtobuf(decodeKubeProtobuf(body))).toString('hex'), body.toString('hex'));
  });
}

// --- round trips -----------------------------------------------------------------------------

/** Every leaf of `want` is in `got` with the same value (got may add the fields Go always prints). */
function assertContains(got: unknown, want: unknown, path = ''): void {
  if (Array.isArray(want)) {
    assert.ok(Array.isArray(got), `${path}: expected an array, got ${JSON.stringify(got)}`);
    assert.equal(got.length, want.length, `${path}: length`);
    want.forEach((w, i) => assertContains(got[i], w, `${path}[${i}]`));
  } else if (typeof want === 'object' && want !== null) {
    assert.ok(typeof got === 'object' && got !== null && !Array.isArray(got), `${path}: expected an object`);
    for (const [k, w] of Object.entries(want)) assertContains((got as Record<string, unknown>)[k], w, `${path}.${k}`);
  } else {
    assert.deepStrictEqual(got, want, path);
  }
}

const podTemplate = {
  metadata: { labels: { app: 'web' }, annotations: { 'example.com/a': 'b' } },
  spec: {
    initContainers: [{ name: 'init', image: 'busybox', command: ['sh', '-c', 'true'] }],
    containers: [
      {
        name: 'web',
        image: 'nginx:1.27',
        args: ['-g', 'daemon off;'],
        ports: [{ name: 'http', containerPort: 80, protocol: 'TCP' }, { containerPort: 9090, hostPort: 19090 }],
        env: [
          { name: 'A', value: '1' },
          { name: 'POD', valueFrom: { fieldRef: { apiVersion: 'v1', fieldPath: 'metadata.name' } } },
          { name: 'MEM', valueFrom: { resourceFieldRef: { resource: 'limits.memory', divisor: '1Mi' } } },
          { name: 'S', valueFrom: { secretKeyRef: { name: 's', key: 'k', optional: false } } },
        ],
        envFrom: [{ configMapRef: { name: 'cm' }, prefix: 'CM_' }],
        resources: {
          limits: { cpu: '500m', memory: '128Mi', 'nvidia.com/gpu': '1' },
          requests: { cpu: '250m', memory: '64Mi', 'ephemeral-storage': '1G' },
        },
        volumeMounts: [{ name: 'data', mountPath: '/data', readOnly: true, subPath: 'x' }],
        livenessProbe: { httpGet: { path: '/healthz', port: 'http', scheme: 'HTTP' }, initialDelaySeconds: 3, periodSeconds: 10 },
        readinessProbe: { tcpSocket: { port: 80 }, failureThreshold: 3, terminationGracePeriodSeconds: 0 },
        startupProbe: { exec: { command: ['cat', '/tmp/ok'] } },
        lifecycle: { preStop: { sleep: { seconds: 5 } } },
        securityContext: {
          runAsNonRoot: true,
          runAsUser: 1000,
          allowPrivilegeEscalation: false,
          capabilities: { drop: ['ALL'] },
          seccompProfile: { type: 'RuntimeDefault' },
        },
        imagePullPolicy: 'IfNotPresent',
      },
    ],
    volumes: [
      { name: 'data', emptyDir: { medium: 'Memory', sizeLimit: '1Gi' } },
      { name: 'cfg', configMap: { name: 'cm', items: [{ key: 'a', path: 'a.txt', mode: 420 }], defaultMode: 0 } },
      { name: 'proj', projected: { sources: [{ serviceAccountToken: { path: 'token', expirationSeconds: 3600 } }] } },
      {
        name: 'pvc',
        ephemeral: {
          volumeClaimTemplate: {
            spec: { accessModes: ['ReadWriteOnce'], resources: { requests: { storage: '5Gi' } }, storageClassName: 'fast' },
          },
        },
      },
    ],
    restartPolicy: 'Always',
    terminationGracePeriodSeconds: 30,
    nodeSelector: { 'kubernetes.io/os': 'linux' },
    serviceAccountName: 'sa',
    affinity: {
      podAntiAffinity: {
        preferredDuringSchedulingIgnoredDuringExecution: [
          { weight: 100, podAffinityTerm: { labelSelector: { matchLabels: { app: 'web' } }, topologyKey: 'kubernetes.io/hostname' } },
        ],
      },
    },
    tolerations: [{ key: 'k', operator: 'Exists', effect: 'NoSchedule', tolerationSeconds: 0 }],
    topologySpreadConstraints: [
      { maxSkew: 1, topologyKey: 'zone', whenUnsatisfiable: 'DoNotSchedule', labelSelector: { matchExpressions: [{ key: 'app', operator: 'In', values: ['web'] }] } },
    ],
    securityContext: { fsGroup: 2000, sysctls: [{ name: 'net.core.somaxconn', value: '1024' }] },
    hostAliases: [{ ip: '10.0.0.1', hostnames: ['a', 'b'] }],
    dnsConfig: { nameservers: ['1.1.1.1'], options: [{ name: 'ndots', value: '2' }] },
  },
};

const roundTrips: { name: string; obj: KubeObject }[] = [
  {
    name: 'a ConfigMap with data, binary data and immutable false',
    obj: {
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { name: 'cm', namespace: 'ns', labels: { a: 'b' }, resourceVersion: '12', generation: 3 },
      data: { 'a.txt': 'hello', empty: '' },
      binaryData: { 'b.bin': Buffer.from([0, 1, 2, 255]).toString('base64') },
      immutable: false,
    },
  },
  {
    name: 'a Secret with binary data and a type',
    obj: {
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: { name: 's', finalizers: ['a/b'], ownerReferences: [{ apiVersion: 'v1', kind: 'Pod', name: 'p', uid: 'u-1', controller: true }] },
      data: { key: Buffer.from('\u0000\u00ff secret').toString('base64') },
      stringData: { plain: 'text' },
      type: 'kubernetes.io/tls',
    },
  },
  {
    name: 'a Deployment with a full pod template',
    obj: {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: 'web', namespace: 'default', creationTimestamp: '2024-05-06T07:08:09Z', uid: 'abc' },
      spec: {
        replicas: 0,
        selector: { matchLabels: { app: 'web' } },
        template: podTemplate,
        strategy: { type: 'RollingUpdate', rollingUpdate: { maxUnavailable: '25%', maxSurge: 1 } },
        revisionHistoryLimit: 10,
        progressDeadlineSeconds: 600,
      },
      status: {
        observedGeneration: 4,
        replicas: 2,
        conditions: [
          { type: 'Available', status: 'True', lastUpdateTime: '2024-05-06T07:08:09Z', lastTransitionTime: '2024-05-06T07:08:10Z', reason: 'MinimumReplicasAvailable' },
        ],
      },
    },
  },
  {
    name: 'a Service with IntOrString target ports and session affinity',
    obj: {
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name: 'svc' },
      spec: {
        ports: [
          { name: 'http', protocol: 'TCP', port: 80, targetPort: 'http', nodePort: 30080 },
          { name: 'https', protocol: 'TCP', port: 443, targetPort: 8443, appProtocol: 'https' },
        ],
        selector: { app: 'web' },
        clusterIP: '10.0.0.10',
        clusterIPs: ['10.0.0.10', 'fd00::10'],
        type: 'NodePort',
        sessionAffinity: 'ClientIP',
        sessionAffinityConfig: { clientIP: { timeoutSeconds: 10800 } },
        ipFamilies: ['IPv4', 'IPv6'],
        ipFamilyPolicy: 'PreferDualStack',
        internalTrafficPolicy: 'Cluster',
      },
      status: { loadBalancer: { ingress: [{ ip: '1.2.3.4', ports: [{ port: 80, protocol: 'TCP' }] }] } },
    },
  },
  {
    name: 'a Job with a pod failure policy (packed-capable int32 list)',
    obj: {
      apiVersion: 'batch/v1',
      kind: 'Job',
      metadata: { name: 'j' },
      spec: {
        parallelism: 2,
        completions: 4,
        backoffLimit: 0,
        ttlSecondsAfterFinished: 100,
        completionMode: 'Indexed',
        podFailurePolicy: { rules: [{ action: 'FailJob', onExitCodes: { containerName: 'main', operator: 'In', values: [1, 42, 255] } }] },
        template: { metadata: {}, spec: { containers: [{ name: 'main', image: 'busybox' }], restartPolicy: 'Never' } },
      },
      status: { startTime: '2024-01-01T00:00:00Z', active: 1, succeeded: 2, completedIndexes: '0-1' },
    },
  },
  {
    name: 'a CronJob',
    obj: {
      apiVersion: 'batch/v1',
      kind: 'CronJob',
      metadata: { name: 'cj' },
      spec: {
        schedule: '*/5 * * * *',
        timeZone: 'Etc/UTC',
        concurrencyPolicy: 'Forbid',
        suspend: false,
        successfulJobsHistoryLimit: 3,
        jobTemplate: { metadata: { labels: { a: 'b' } }, spec: { template: { spec: { containers: [{ name: 'c', image: 'i' }], restartPolicy: 'OnFailure' } } } },
      },
      status: { lastScheduleTime: '2024-01-01T00:05:00Z' },
    },
  },
  {
    name: 'a Role with rules',
    obj: {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'Role',
      metadata: { name: 'r', namespace: 'ns' },
      rules: [
        { verbs: ['get', 'list'], apiGroups: ['', 'apps'], resources: ['pods', 'deployments/scale'], resourceNames: ['x'] },
      ],
    },
  },
  {
    name: 'a ClusterRoleBinding with subjects',
    obj: {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'ClusterRoleBinding',
      metadata: { name: 'crb' },
      subjects: [
        { kind: 'User', apiGroup: 'rbac.authorization.k8s.io', name: 'alice' },
        { kind: 'ServiceAccount', name: 'sa', namespace: 'ns' },
      ],
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'view' },
    },
  },
  {
    name: 'a ResourceQuota with a scope selector and status quantities',
    obj: {
      apiVersion: 'v1',
      kind: 'ResourceQuota',
      metadata: { name: 'q' },
      spec: {
        hard: { cpu: '2', memory: '4Gi', pods: '10', 'requests.storage': '100Gi' },
        scopeSelector: { matchExpressions: [{ scopeName: 'PriorityClass', operator: 'In', values: ['high'] }] },
      },
      status: { hard: { cpu: '2' }, used: { cpu: '1500m' } },
    },
  },
  {
    name: 'a PriorityClass with a negative value',
    obj: {
      apiVersion: 'scheduling.k8s.io/v1',
      kind: 'PriorityClass',
      metadata: { name: 'low' },
      value: -5,
      description: 'low',
      preemptionPolicy: 'Never',
    },
  },
  {
    name: 'a PodDisruptionBudget',
    obj: {
      apiVersion: 'policy/v1',
      kind: 'PodDisruptionBudget',
      metadata: { name: 'pdb' },
      spec: { minAvailable: '50%', selector: { matchLabels: { app: 'web' } }, unhealthyPodEvictionPolicy: 'AlwaysAllow' },
      status: {
        disruptionsAllowed: 1,
        currentHealthy: 3,
        desiredHealthy: 2,
        expectedPods: 3,
        disruptedPods: { 'pod-a': '2024-01-01T00:00:00Z' },
      },
    },
  },
  {
    name: 'an Ingress with TLS and rules',
    obj: {
      apiVersion: 'networking.k8s.io/v1',
      kind: 'Ingress',
      metadata: { name: 'ing' },
      spec: {
        ingressClassName: 'nginx',
        tls: [{ hosts: ['a.example'], secretName: 'tls' }],
        rules: [
          {
            host: 'a.example',
            http: {
              paths: [
                { path: '/', pathType: 'Prefix', backend: { service: { name: 's', port: { number: 80 } } } },
                { path: '/r', pathType: 'Exact', backend: { resource: { apiGroup: 'x.io', kind: 'Bucket', name: 'b' } } },
              ],
            },
          },
        ],
      },
    },
  },
  {
    name: 'a SelfSubjectAccessReview with a status',
    obj: {
      apiVersion: 'authorization.k8s.io/v1',
      kind: 'SelfSubjectAccessReview',
      metadata: {},
      spec: { resourceAttributes: { namespace: 'ns', verb: 'get', group: 'apps', resource: 'deployments', subresource: 'scale', name: 'web' } },
      status: { allowed: true, reason: 'RBAC: allowed' },
    },
  },
  {
    name: 'a SubjectAccessReview with extra (a map of named lists)',
    obj: {
      apiVersion: 'authorization.k8s.io/v1',
      kind: 'SubjectAccessReview',
      metadata: {},
      spec: {
        nonResourceAttributes: { path: '/healthz', verb: 'get' },
        user: 'alice',
        groups: ['devs', 'system:authenticated'],
        extra: { scopes: ['a', 'b'], empty: [] },
        uid: 'u1',
      },
      status: { allowed: false, denied: true },
    },
  },
  {
    name: 'a TokenRequest with a bound object reference',
    obj: {
      apiVersion: 'authentication.k8s.io/v1',
      kind: 'TokenRequest',
      metadata: { name: 'sa', namespace: 'default' },
      spec: { audiences: ['https://kubernetes.default.svc'], expirationSeconds: 3600, boundObjectRef: { kind: 'Pod', apiVersion: 'v1', name: 'p', uid: 'u' } },
      status: { token: 'eyJ...', expirationTimestamp: '2030-01-01T00:00:00Z' },
    },
  },
  {
    name: 'a HorizontalPodAutoscaler v2 with metrics and behavior',
    obj: {
      apiVersion: 'autoscaling/v2',
      kind: 'HorizontalPodAutoscaler',
      metadata: { name: 'hpa' },
      spec: {
        scaleTargetRef: { kind: 'Deployment', name: 'web', apiVersion: 'apps/v1' },
        minReplicas: 1,
        maxReplicas: 10,
        metrics: [
          { type: 'Resource', resource: { name: 'cpu', target: { type: 'Utilization', averageUtilization: 80 } } },
          { type: 'Pods', pods: { metric: { name: 'qps', selector: { matchLabels: { a: 'b' } } }, target: { type: 'AverageValue', averageValue: '1k' } } },
        ],
        behavior: { scaleDown: { stabilizationWindowSeconds: 300, selectPolicy: 'Max', policies: [{ type: 'Percent', value: 100, periodSeconds: 15 }] } },
      },
      status: { desiredReplicas: 2, currentReplicas: 1, conditions: [{ type: 'AbleToScale', status: 'True', lastTransitionTime: '2024-01-01T00:00:00Z' }] },
    },
  },
  {
    name: 'an autoscaling/v1 Scale',
    obj: { apiVersion: 'autoscaling/v1', kind: 'Scale', metadata: { name: 'web' }, spec: { replicas: 3 }, status: { replicas: 2, selector: 'app=web' } },
  },
  {
    name: 'a CustomResourceDefinition with a JSON schema',
    obj: {
      apiVersion: 'apiextensions.k8s.io/v1',
      kind: 'CustomResourceDefinition',
      metadata: { name: 'widgets.example.com' },
      spec: {
        group: 'example.com',
        names: { plural: 'widgets', singular: 'widget', kind: 'Widget', listKind: 'WidgetList', shortNames: ['wd'] },
        scope: 'Namespaced',
        versions: [
          {
            name: 'v1',
            served: true,
            storage: true,
            schema: {
              openAPIV3Schema: {
                type: 'object',
                required: ['spec'],
                properties: {
                  spec: {
                    type: 'object',
                    properties: {
                      size: { type: 'integer', minimum: 1, maximum: 10.5, default: 3 },
                      color: { type: 'string', enum: ['red', 'blue'] },
                      port: { 'x-kubernetes-int-or-string': true, anyOf: [{ type: 'integer' }, { type: 'string' }] },
                      tags: { type: 'array', items: { type: 'string' }, 'x-kubernetes-list-type': 'set' },
                      labels: { type: 'object', additionalProperties: { type: 'string' } },
                      free: { type: 'object', 'x-kubernetes-preserve-unknown-fields': true, additionalProperties: true },
                      tuple: { type: 'array', items: [{ type: 'string' }, { type: 'integer' }] },
                      conf: { type: 'object', default: { a: [1, 'x', null] }, dependencies: { a: ['b'], c: { required: ['d'] } } },
                    },
                    'x-kubernetes-validations': [{ rule: 'self.size < 100', message: 'too big' }],
                  },
                },
              },
            },
            subresources: { status: {}, scale: { specReplicasPath: '.spec.replicas', statusReplicasPath: '.status.replicas' } },
            additionalPrinterColumns: [{ name: 'Size', type: 'integer', jsonPath: '.spec.size' }],
          },
        ],
        conversion: { strategy: 'None' },
      },
    },
  },
  {
    name: 'an events.k8s.io Event with micro times',
    obj: {
      apiVersion: 'events.k8s.io/v1',
      kind: 'Event',
      metadata: { name: 'e', namespace: 'ns' },
      eventTime: '2024-05-06T07:08:09.123456Z',
      series: { count: 2, lastObservedTime: '2024-05-06T07:09:00.000001Z' },
      reportingController: 'c',
      reportingInstance: 'i',
      action: 'Pulling',
      reason: 'Pulling',
      regarding: { kind: 'Pod', namespace: 'ns', name: 'p' },
      note: 'pulling',
      type: 'Normal',
    },
  },
  {
    name: 'a Lease with micro times',
    obj: {
      apiVersion: 'coordination.k8s.io/v1',
      kind: 'Lease',
      metadata: { name: 'l' },
      spec: { holderIdentity: 'me', leaseDurationSeconds: 15, acquireTime: '2024-01-01T00:00:00.000000Z', renewTime: '2024-01-01T00:00:10.500000Z', leaseTransitions: 0 },
    },
  },
  {
    name: 'a Pod with managed fields, status and an ephemeral container',
    obj: {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: {
        name: 'p',
        deletionTimestamp: '2024-01-01T00:00:30Z',
        deletionGracePeriodSeconds: 30,
        managedFields: [
          { manager: 'kubectl', operation: 'Update', apiVersion: 'v1', time: '2024-01-01T00:00:00Z', fieldsType: 'FieldsV1', fieldsV1: { 'f:spec': { 'f:containers': {} } } },
        ],
      },
      spec: {
        containers: [{ name: 'c', image: 'i', resizePolicy: [{ resourceName: 'cpu', restartPolicy: 'NotRequired' }] }],
        ephemeralContainers: [{ name: 'debug', image: 'busybox', stdin: true, tty: true, targetContainerName: 'c' }],
        priority: 0,
        enableServiceLinks: true,
      },
      status: {
        phase: 'Running',
        conditions: [{ type: 'Ready', status: 'True', lastProbeTime: '2024-01-01T00:00:01Z', lastTransitionTime: '2024-01-01T00:00:02Z' }],
        podIP: '10.1.0.5',
        podIPs: [{ ip: '10.1.0.5' }],
        startTime: '2024-01-01T00:00:00Z',
        containerStatuses: [
          {
            name: 'c',
            state: { running: { startedAt: '2024-01-01T00:00:03Z' } },
            lastState: { terminated: { exitCode: -1, reason: 'Error', startedAt: '2024-01-01T00:00:00Z', finishedAt: '2024-01-01T00:00:01Z' } },
            ready: true,
            restartCount: 1,
            image: 'i',
            imageID: 'sha256:x',
            started: true,
            allocatedResources: { cpu: '100m' },
          },
        ],
        qosClass: 'BestEffort',
      },
    },
  },
  {
    name: 'a ControllerRevision holding a raw extension',
    obj: {
      apiVersion: 'apps/v1',
      kind: 'ControllerRevision',
      metadata: { name: 'cr' },
      data: { spec: { template: { metadata: { labels: { a: 'b' } } } } },
      revision: 7,
    },
  },
  {
    name: 'a CertificateSigningRequest with bytes and extra',
    obj: {
      apiVersion: 'certificates.k8s.io/v1',
      kind: 'CertificateSigningRequest',
      metadata: { name: 'csr' },
      spec: {
        request: Buffer.from('-----BEGIN CERTIFICATE REQUEST-----').toString('base64'),
        signerName: 'kubernetes.io/kube-apiserver-client',
        expirationSeconds: 86400,
        usages: ['client auth'],
        username: 'u',
        extra: { k: ['v'] },
      },
      status: { conditions: [{ type: 'Approved', status: 'True', reason: 'ok', lastUpdateTime: '2024-01-01T00:00:00Z' }], certificate: 'AAEC' },
    },
  },
  {
    name: 'a ValidatingWebhookConfiguration',
    obj: {
      apiVersion: 'admissionregistration.k8s.io/v1',
      kind: 'ValidatingWebhookConfiguration',
      metadata: { name: 'v' },
      webhooks: [
        {
          name: 'v.example.com',
          clientConfig: { service: { namespace: 'ns', name: 'svc', path: '/validate', port: 443 }, caBundle: 'AAEC' },
          rules: [{ operations: ['CREATE'], apiGroups: [''], apiVersions: ['v1'], resources: ['pods'], scope: '*' }],
          failurePolicy: 'Fail',
          sideEffects: 'None',
          admissionReviewVersions: ['v1'],
          timeoutSeconds: 5,
          matchConditions: [{ name: 'm', expression: 'true' }],
        },
      ],
    },
  },
  {
    name: 'a meta/v1 Status with details',
    obj: {
      apiVersion: 'v1',
      kind: 'Status',
      metadata: {},
      status: 'Failure',
      message: 'not found',
      reason: 'NotFound',
      details: { name: 'x', kind: 'pods', causes: [{ reason: 'FieldValueInvalid', field: 'spec' }] },
      code: 404,
    },
  },
  {
    name: 'DeleteOptions in a named group',
    obj: {
      apiVersion: 'apps/v1',
      kind: 'DeleteOptions',
      gracePeriodSeconds: 0,
      preconditions: { uid: 'u' },
      propagationPolicy: 'Foreground',
      dryRun: ['All'],
    } as unknown as KubeObject,
  },
  {
    name: 'a List of raw extensions',
    obj: {
      apiVersion: 'v1',
      kind: 'List',
      metadata: { resourceVersion: '5' },
      items: [{ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'a' } }],
    },
  },
];

for (const c of roundTrips) {
  test(`${c.name} survives encode and decode`, () => {
    const once = decodeKubeProtobuf(encodeKubeProtobuf(c.obj));
    assertContains(once, c.obj);
    const bytes = encodeKubeProtobuf(once);
    assert.deepStrictEqual(Buffer.from(bytes), Buffer.from(encodeKubeProtobuf(c.obj)), 'the decoded form encodes to the same bytes');
    assert.deepStrictEqual(decodeKubeProtobuf(bytes), once, 'decoding is stable');
  });
}

// --- exact JSON: Go's zero-value rules -------------------------------------------------------

const exact: { name: string; obj: KubeObject; want: unknown }[] = [
  {
    name: 'non-pointer zero scalars with omitempty are left out, without omitempty printed',
    obj: {
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name: 's' },
      spec: { ports: [{ port: 0, nodePort: 0, name: '' }], externalName: '' },
    },
    want: {
      kind: 'Service',
      apiVersion: 'v1',
      metadata: { name: 's' },
      spec: { ports: [{ port: 0, targetPort: 0 }] },
      status: { loadBalancer: {} },
    },
  },
  {
    name: 'pointer scalars are kept at zero, false and empty string',
    obj: {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: 'd', deletionGracePeriodSeconds: 0 },
      spec: { replicas: 0, paused: false, template: { spec: { automountServiceAccountToken: false, hostname: '', schedulerName: '' } } },
    },
    want: {
      kind: 'Deployment',
      apiVersion: 'apps/v1',
      metadata: { name: 'd', deletionGracePeriodSeconds: 0 },
      spec: { replicas: 0, template: { metadata: {}, spec: { automountServiceAccountToken: false } }, strategy: {} },
      status: {},
    },
  },
  {
    name: 'an unset creationTimestamp is left out and a set one printed in whole seconds',
    obj: {
      apiVersion: 'v1',
      kind: 'Namespace',
      metadata: { name: 'a', creationTimestamp: '2024-02-03T04:05:06.789+01:00' },
      spec: { finalizers: ['kubernetes'] },
    },
    want: {
      kind: 'Namespace',
      apiVersion: 'v1',
      metadata: { name: 'a', creationTimestamp: '2024-02-03T03:05:06Z' },
      spec: { finalizers: ['kubernetes'] },
      status: {},
    },
  },
  {
    name: 'int64 values beyond 32 bits and negative int32 values survive',
    obj: {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: 'p', generation: 2 ** 40 + 3, deletionGracePeriodSeconds: -1 },
      spec: { containers: [], securityContext: { runAsUser: 2 ** 33, runAsGroup: 0 }, priority: -2147483648 },
    },
    want: {
      kind: 'Pod',
      apiVersion: 'v1',
      metadata: { name: 'p', generation: 2 ** 40 + 3, deletionGracePeriodSeconds: -1 },
      spec: { securityContext: { runAsUser: 2 ** 33, runAsGroup: 0 }, priority: -2147483648 },
      status: {},
    },
  },
];

for (const c of exact) {
  test(c.name, () => {
    const got = decodeKubeProtobuf(encodeKubeProtobuf(c.obj));
    assert.deepStrictEqual(got, c.want);
  });
}

test('JSONSchemaProps or-types print as an array, an object or a boolean', () => {
  const schema = {
    type: 'object',
    properties: {
      a: { type: 'array', items: { type: 'string' } },
      b: { type: 'array', items: [{ type: 'string' }] },
      c: { type: 'object', additionalProperties: false },
      d: { type: 'object', additionalProperties: { type: 'integer' } },
      e: { type: 'object', dependencies: { x: ['y', 'z'], w: { type: 'object' } } },
    },
  };
  const crd: KubeObject = {
    apiVersion: 'apiextensions.k8s.io/v1',
    kind: 'CustomResourceDefinition',
    metadata: { name: 'x.y' },
    spec: { group: 'y', names: { plural: 'x', kind: 'X' }, scope: 'Cluster', versions: [{ name: 'v1', served: true, storage: true, schema: { openAPIV3Schema: schema } }] },
  };
  const got = decodeKubeProtobuf(encodeKubeProtobuf(crd)) as unknown as { spec: { versions: { schema: { openAPIV3Schema: unknown } }[] } };
  assert.deepStrictEqual(got.spec.versions[0]!.schema.openAPIV3Schema, schema);
});

// --- hand-built wire bytes -------------------------------------------------------------------

function varint(n: number): number[] {
  const out: number[] = [];
  while (n >= 0x80) {
    out.push((n & 0x7f) | 0x80);
    n = Math.floor(n / 128);
  }
  out.push(n);
  return out;
}
const len = (num: number, payload: number[]): number[] => [...varint(num * 8 + 2), ...varint(payload.length), ...payload];
const str = (num: number, s: string): number[] => len(num, [...Buffer.from(s)]);
const vint = (num: number, v: number): number[] => [...varint(num * 8), ...varint(v)];
const envelope = (apiVersion: string, kind: string, raw: number[], extra: number[] = []): Uint8Array =>
  Uint8Array.from([0x6b, 0x38, 0x73, 0x00, ...len(1, [...str(1, apiVersion), ...str(2, kind)]), ...len(2, raw), ...extra]);

const wire: { name: string; body: Uint8Array; want: unknown }[] = [
  {
    name: 'fields absent from the wire decode as Go prints its zero values',
    // a Deployment with only metadata.name: spec and status are zero structs, creationTimestamp unset
    body: envelope('apps/v1', 'Deployment', len(1, str(1, 'd'))),
    want: {
      kind: 'Deployment',
      apiVersion: 'apps/v1',
      metadata: { name: 'd' },
      spec: { template: { metadata: {}, spec: {} }, strategy: {} },
      status: {},
    },
  },
  {
    name: 'a container port without its number prints containerPort 0 (no omitempty)',
    body: envelope('v1', 'Pod', len(2, len(2, [...str(1, 'c'), ...len(6, str(1, 'http'))]))),
    want: {
      kind: 'Pod',
      apiVersion: 'v1',
      metadata: {},
      spec: { containers: [{ name: 'c', ports: [{ name: 'http', containerPort: 0 }], resources: {} }] },
      status: {},
    },
  },
  {
    name: 'packed repeated int32 values are read',
    // Job.spec(2).podFailurePolicy(11).rules(1).onExitCodes(2).values(3) packed
    body: envelope('batch/v1', 'Job', len(2, len(11, len(1, [...str(1, 'FailJob'), ...len(2, [...str(2, 'In'), ...len(3, [1, 2, 0x80, 0x01])])])))),
    want: {
      kind: 'Job',
      apiVersion: 'batch/v1',
      metadata: {},
      spec: {
        template: { metadata: {}, spec: {} },
        podFailurePolicy: { rules: [{ action: 'FailJob', onExitCodes: { operator: 'In', values: [1, 2, 128] } }] },
      },
      status: {},
    },
  },
  {
    name: 'unknown field numbers are skipped',
    body: envelope('v1', 'ConfigMap', [...len(1, str(1, 'c')), ...vint(99, 7), ...str(98, 'x'), 0xfd, 0x07, 1, 2, 3, 4]),
    want: { kind: 'ConfigMap', apiVersion: 'v1', metadata: { name: 'c' } },
  },
  {
    name: 'a message field that occurs twice is merged',
    body: envelope('v1', 'ConfigMap', [...len(1, str(1, 'c')), ...len(1, str(3, 'ns'))]),
    want: { kind: 'ConfigMap', apiVersion: 'v1', metadata: { name: 'c', namespace: 'ns' } },
  },
];

for (const c of wire) {
  test(c.name, () => assert.deepStrictEqual(decodeKubeProtobuf(c.body), c.want));
}

// --- errors ----------------------------------------------------------------------------------

const bad: { name: string; body: Uint8Array }[] = [
  { name: 'an unknown kind', body: envelope('v1', 'Gizmo', []) },
  { name: 'an unknown group-version', body: envelope('example.com/v1', 'ConfigMap', []) },
  { name: 'a custom resource kind', body: envelope('stable.example.com/v1', 'CronTab', []) },
  { name: 'a body without the magic number', body: Uint8Array.from([0x0a, 0x00]) },
  { name: 'a truncated body', body: envelope('v1', 'ConfigMap', len(1, str(1, 'name'))).subarray(0, 30) },
  { name: 'a wrong wire type', body: envelope('v1', 'ConfigMap', vint(1, 5)) },
  { name: 'a content encoding', body: envelope('v1', 'ConfigMap', [], str(3, 'gzip')) },
];

for (const c of bad) {
  test(`${c.name} is rejected with ERR_PROTOBUF_DECODE`, () => {
    assert.throws(() => decodeKubeProtobuf(c.body), (err) => isCode(err, 'ERR_PROTOBUF_DECODE'));
  });
}

test('encoding an unknown kind throws a TypeError', () => {
  assert.throws(() => encodeKubeProtobuf({ apiVersion: 'v1', kind: 'Gizmo', metadata: {} }), TypeError);
});

test('encoding a value of the wrong JSON type throws a TypeError naming the field', () => {
  assert.throws(
    () => encodeKubeProtobuf({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 5 as unknown as string } }),
    /metadata\.name: expected a string/,
  );
});

// --- durations -------------------------------------------------------------------------------

const durations: [nanos: number, text: string][] = [
  [0, '0s'],
  [1, '1ns'],
  [1500, '1.5µs'],
  [2_000_000, '2ms'],
  [1_500_000_000, '1.5s'],
  [300e9, '5m0s'],
  [3600e9, '1h0m0s'],
  [3723.5e9, '1h2m3.5s'],
  [-90e9, '-1m30s'],
];

for (const [nanos, text] of durations) {
  test(`the duration ${nanos}ns prints as ${text} and parses back`, () => {
    assert.equal(formatDuration(nanos), text);
    assert.equal(parseDuration(text), nanos);
  });
}

test('invalid durations do not parse', () => {
  for (const s of ['', '5', '1x', 'm', '1h-2m']) assert.equal(parseDuration(s), undefined, s);
});
