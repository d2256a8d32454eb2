/**
 * Fixtures for the webhook admission tests (not used by the plugins): small ResourceDefs,
 * admission attributes, webhook configurations, and real HTTPS webhook servers with a CA made
 * for the test (src/pki's certificate primitives), answering as a test's handler says.
 */
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import type { MutatingWebhook, RuleWithOperations } from '../../../api/index.ts';
import { apiVersionOf, type ResourceDef } from '../../../api/resource.ts';
import type { KubeObject } from '../../../api/types.ts';
import { createCertificate } from '../../../pki/x509.ts';
import type { AdmissionAttributes } from '../types.ts';

const base = { singular: '', namespaced: true } as const;

/** Autoscaling v2 stored, v1 served: v1 has targetCPUUtilizationPercentage where v2 has metrics. */
const hpaV1 = {
  version: 'v1',
  fromStorage(o: KubeObject): KubeObject {
    const out = structuredClone(o);
    out.apiVersion = 'autoscaling/v1';
    const spec = (out['spec'] ?? {}) as Record<string, unknown>;
    const metrics = (spec['metrics'] ?? []) as { resource?: { target?: { averageUtilization?: number } } }[];
    const cpu = metrics[0]?.resource?.target?.averageUtilization;
    delete spec['metrics'];
    if (cpu !== undefined) spec['targetCPUUtilizationPercentage'] = cpu;
    return out;
  },
  toStorage(o: KubeObject): KubeObject {
    const out = structuredClone(o);
    out.apiVersion = 'autoscaling/v2';
    const spec = (out['spec'] ?? {}) as Record<string, unknown>;
    const cpu = spec['targetCPUUtilizationPercentage'];
    delete spec['targetCPUUtilizationPercentage'];
    if (cpu !== undefined) spec['metrics'] = [{ type: 'Resource', resource: { name: 'cpu', target: { type: 'Utilization', averageUtilization: cpu } } }];
    return out;
  },
};

export const defs = {
  pods: { ...base, group: '', version: 'v1', kind: 'Pod', plural: 'pods' },
  nodes: { ...base, namespaced: false, group: '', version: 'v1', kind: 'Node', plural: 'nodes' },
  namespaces: { ...base, namespaced: false, group: '', version: 'v1', kind: 'Namespace', plural: 'namespaces' },
  deployments: { ...base, group: 'apps', version: 'v1', kind: 'Deployment', plural: 'deployments' },
  hpa: { ...base, group: 'autoscaling', version: 'v2', kind: 'HorizontalPodAutoscaler', plural: 'horizontalpodautoscalers', otherVersions: [hpaV1] },
} satisfies Record<string, ResourceDef>;

/** Admission attributes for a CREATE of a pod `p` by alice, unless told otherwise. */
export function makeAttrs(a: Partial<AdmissionAttributes> = {}): AdmissionAttributes {
  const def = a.def ?? defs.pods;
  const operation = a.operation ?? 'CREATE';
  const name = a.name ?? 'p';
  const namespace = a.namespace ?? '';
  let object = a.object;
  if (!('object' in a) && (operation === 'CREATE' || operation === 'UPDATE')) {
    object = { apiVersion: apiVersionOf(def.group, def.version), kind: def.kind, metadata: namespace ? { name, namespace } : { name } };
  }
  return {
    operation,
    def,
    version: a.version ?? def.version,
    namespace,
    name,
    subresource: a.subresource ?? '',
    object,
    oldObject: a.oldObject,
    user: a.user ?? { username: 'alice', uid: 'u-1', groups: ['devs', 'system:authenticated'] },
    dryRun: a.dryRun ?? false,
    warnings: a.warnings,
    auditAnnotations: a.auditAnnotations,
  };
}

export interface TlsMaterial {
  caPem: string;
  certPem: string;
  keyPem: string;
  /** caPem, base64: what clientConfig.caBundle holds. */
  caBundle: string;
}

/** A fresh CA and a serving certificate for 127.0.0.1 and `dnsNames`. */
export async function makeTls(dnsNames: string[] = []): Promise<TlsMaterial> {
  const notBefore = new Date(Date.now() - 60_000);
  const notAfter = new Date(Date.now() + 86_400_000);
  const ca = await createCertificate({ kind: 'ca', subject: { commonName: 'webhook-test-ca' }, notBefore, notAfter });
  const sans = [{ type: 'ip' as const, value: '127.0.0.1' }, ...dnsNames.map((value) => ({ type: 'dns' as const, value }))];
  const leaf = await createCertificate({ kind: 'server', subject: { commonName: 'webhook' }, sans, notBefore, notAfter }, ca);
  return { caPem: ca.certPem, certPem: leaf.certPem, keyPem: leaf.keyPem, caBundle: Buffer.from(ca.certPem).toString('base64') };
}

/** What a test's handler answers: an HTTP status, a JSON body or raw text, after a delay. */
export interface Reply {
  status?: number;
  body?: unknown;
  raw?: string;
  contentType?: string;
  delayMs?: number;
}

/** An AdmissionReview as the server receives it (request fields read loosely by tests). */
export type Review = { apiVersion: string; kind: string; request: any };

export interface SeenRequest {
  path: string;
  host: string | undefined;
  servername: string | undefined;
  review: Review;
}

export interface WebhookServer {
  port: number;
  url(path: string): string;
  seen: SeenRequest[];
  close(): Promise<void>;
}

/** An AdmissionReview answer to `review` (uid copied) with `response` fields. */
export function answer(review: Review, response: Record<string, unknown>): Reply {
  return { body: { apiVersion: review.apiVersion, kind: 'AdmissionReview', response: { uid: review.request.uid, ...response } } };
}

/** An HTTPS server on 127.0.0.1 that records each AdmissionReview and answers with `handler`. */
export async function startServer(tls: TlsMaterial, handler: (r: Review, path: string) => Reply | Promise<Reply>): Promise<WebhookServer> {
  const seen: SeenRequest[] = [];
  const server = https.createServer({ cert: tls.certPem, key: tls.keyPem }, (req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', async () => {
      const review = JSON.parse(Buffer.concat(chunks).toString('utf8')) as Review;
      const path = req.url ?? '';
      const sock = req.socket as import('node:tls').TLSSocket;
      seen.push({ path, host: req.headers.host, servername: (sock as unknown as { servername?: string }).servername || undefined, review });
      const reply = await handler(review, path);
      if (reply.delayMs) await new Promise((r) => setTimeout(r, reply.delayMs));
      if (res.destroyed) return;
      res.statusCode = reply.status ?? 200;
      res.setHeader('content-type', reply.contentType ?? 'application/json');
      res.end(reply.raw ?? JSON.stringify(reply.body));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    port,
    url: (path) => `https://127.0.0.1:${port}${path}`,
    seen,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

export const podRule: RuleWithOperations = { operations: ['CREATE'], apiGroups: [''], apiVersions: ['v1'], resources: ['pods'], scope: '*' };

/** A defaulted v1 webhook (as the registry stores it) calling `url`; fields overridable. */
export function webhook(name: string, url: string, caBundle: string, over: Partial<MutatingWebhook> = {}): MutatingWebhook {
  return {
    name,
    clientConfig: { url, caBundle },
    rules: [podRule],
    failurePolicy: 'Fail',
    matchPolicy: 'Equivalent',
    namespaceSelector: {},
    objectSelector: {},
    sideEffects: 'None',
    timeoutSeconds: 10,
    admissionReviewVersions: ['v1'],
    ...over,
  };
}

export function configuration(kind: 'MutatingWebhookConfiguration' | 'ValidatingWebhookConfiguration', name: string, webhooks: MutatingWebhook[]): KubeObject {
  return { apiVersion: 'admissionregistration.k8s.io/v1', kind, metadata: { name, uid: `uid-${name}`, resourceVersion: '1' }, webhooks };
}
