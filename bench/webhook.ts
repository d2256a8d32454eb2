/**
 * Latency a validating admission webhook adds (issue 14): ConfigMap creates from one client, p50
 * and p99, without a webhook and with one ValidatingWebhookConfiguration that matches them (a
 * Node HTTPS server in this process answers `allowed` at once and measures its own time per
 * review). Added p50 = p50(with) − p50(without) − p50(the webhook's own time). 500 creates each,
 * after 50 warm-up ones.
 * Run alone: node bench/webhook.ts
 */
import { agentFor, call } from './http.ts';
import fs from 'node:fs';
import https from 'node:https';
import { startServer } from '../test/e2e/harness.ts';
import { credsFromKubeconfig, type Creds } from '../test/e2e/api.ts';
import { answer, makeTls, startServer as startWebhookServer } from '../src/apiserver/admission/webhook/testing.ts';

const creates = 500;
const warmup = 50;

function pct(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]!;
}

async function latencies(c: Creds, agent: https.Agent, ns: string, prefix: string): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < warmup + creates; i++) {
    const t0 = performance.now();
    const r = await call(c, agent, 'POST', `/api/v1/namespaces/${ns}/configmaps`, JSON.stringify({ metadata: { name: `${prefix}-${i}` }, data: { k: 'v' } }));
    if (r.status !== 201) throw new Error(`create: ${r.status} ${r.body}`);
    if (i >= warmup) out.push(performance.now() - t0);
  }
  return out;
}

export async function benchWebhook(record: (name: string, value: string) => void): Promise<void> {
  const s = await startServer();
  const own: number[] = [];
  const tls = await makeTls();
  const hook = await startWebhookServer(tls, (review) => {
    const t0 = performance.now();
    const reply = answer(review, { allowed: true });
    own.push(performance.now() - t0);
    return reply;
  });
  try {
    const c = credsFromKubeconfig(s.kubeconfig);
    const agent = agentFor(c);
    await call(c, agent, 'POST', '/api/v1/namespaces', JSON.stringify({ metadata: { name: 'bench-hook', labels: { bench: 'hook' } } }));
    const without = await latencies(c, agent, 'bench-hook', 'plain');
    const config = {
      apiVersion: 'admissionregistration.k8s.io/v1',
      kind: 'ValidatingWebhookConfiguration',
      metadata: { name: 'bench-hook' },
      webhooks: [{ name: 'bench.hook.bosun', rules: [{ operations: ['CREATE'], apiGroups: [''], apiVersions: ['v1'], resources: ['configmaps'] }], namespaceSelector: { matchLabels: { bench: 'hook' } }, clientConfig: { url: hook.url('/validate'), caBundle: tls.caBundle }, admissionReviewVersions: ['v1'], sideEffects: 'None' }],
    };
    const r = await call(c, agent, 'POST', '/apis/admissionregistration.k8s.io/v1/validatingwebhookconfigurations', JSON.stringify(config));
    if (r.status !== 201) throw new Error(`webhook configuration: ${r.status} ${r.body}`);
    // The configuration reaches the admission chain through the watch cache.
    while (hook.seen.length === 0) await call(c, agent, 'POST', '/api/v1/namespaces/bench-hook/configmaps', JSON.stringify({ metadata: { generateName: 'probe-' } }));
    const withHook = await latencies(c, agent, 'bench-hook', 'hooked');
    agent.destroy();
    const added = pct(withHook, 50) - pct(without, 50) - pct(own, 50);
    record('ConfigMap create p50 / p99, no webhook', `${pct(without, 50).toFixed(2)} ms / ${pct(without, 99).toFixed(2)} ms`);
    record('ConfigMap create p50 / p99, one validating webhook', `${pct(withHook, 50).toFixed(2)} ms / ${pct(withHook, 99).toFixed(2)} ms (webhook's own p50 ${pct(own, 50).toFixed(3)} ms)`);
    record('latency one validating webhook adds, p50', `${added.toFixed(2)} ms`);
  } finally {
    await hook.close();
    await s.stop();
    fs.rmSync(s.dataDir, { recursive: true, force: true });
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  await benchWebhook((name, value) => process.stdout.write(`${name.padEnd(58)} ${value}\n`));
}
