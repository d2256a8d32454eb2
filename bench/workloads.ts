/**
 * Workload controller figures (issue 15), each beside the same work done by a Deployment, on one
 * `bosun server --virtual-nodes 100` whose controller manager runs as its own process (so its CPU
 * is measured alone) and whose scheduler runs in the server:
 * - a Job of 1,000 pods (completions = parallelism = 1,000; simulated pods run 1 s) until
 *   Complete, against a Deployment of 1,000 replicas until all available;
 * - a DaemonSet on all 100 nodes until available and then a rolling update until every pod is
 *   updated and available, against a 100-replica Deployment doing the same, with maxSurge 25 %
 *   (the same work) and with maxUnavailable 25 % (where upstream's DaemonSet waits for each old
 *   pod to be gone first).
 * Printed: wall time and controller-manager CPU seconds of each, and the ratios. Bounded: each
 * phase gives up after 5 minutes and is reported as such.
 */
import fs from 'node:fs';
import { spawn } from 'node:child_process';
import { startServer, bosunBin } from '../test/e2e/harness.ts';
import { credsFromKubeconfig } from '../test/e2e/api.ts';
import { caller } from './patch.ts';
import type { DaemonSet, Deployment, Job, KubeList, Node } from '../src/api/index.ts';

const nodes = 100;
const jobPods = 1000;
const limitMs = 5 * 60_000;

type Call = ReturnType<typeof caller>;

function cpuSeconds(pid: number): number {
  const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

const template = (app: string, extra: Record<string, unknown> = {}) => ({
  metadata: { labels: { app }, ...extra },
  spec: { containers: [{ name: 'c', image: 'registry.k8s.io/pause:3.10', resources: { requests: { cpu: '10m', memory: '16Mi' } } }] },
});

async function json<T>(call: Call, method: string, path: string, body?: unknown): Promise<T> {
  const r = await call(method, path, body === undefined ? undefined : JSON.stringify(body), method === 'PATCH' ? { 'content-type': 'application/merge-patch+json' } : {});
  if (r.status >= 300) throw new Error(`${method} ${path}: ${r.status} ${r.body}`);
  return JSON.parse(r.body) as T;
}

/** Polls `done` every 250 ms; the seconds it took, or undefined after the limit. */
async function timed(done: () => Promise<boolean>, started = performance.now()): Promise<number | undefined> {
  while (performance.now() - started < limitMs) {
    if (await done()) return (performance.now() - started) / 1000;
    await new Promise((r) => setTimeout(r, 250));
  }
  return undefined;
}

interface Figure {
  secs?: number;
  cpu: number;
}

async function measure(pid: number, start: () => Promise<unknown>, done: () => Promise<boolean>): Promise<Figure> {
  const before = cpuSeconds(pid);
  const started = performance.now();
  await start();
  const secs = await timed(done, started);
  return { secs, cpu: cpuSeconds(pid) - before };
}

const show = (f: Figure) => (f.secs === undefined ? `gave up after ${limitMs / 1000} s` : `${f.secs.toFixed(1)} s, controller CPU ${f.cpu.toFixed(1)} s`);
const ratio = (a: Figure, b: Figure) => (a.secs === undefined || b.secs === undefined ? 'n/a' : `${(a.secs / b.secs).toFixed(2)}x wall, ${(a.cpu / Math.max(b.cpu, 0.01)).toFixed(2)}x CPU`);

/** Deletes a namespace and waits until it is gone, so one phase's pods do not slow the next. */
async function dropNamespace(call: Call, ns: string): Promise<void> {
  await call('DELETE', `/api/v1/namespaces/${ns}`);
  await timed(async () => (await call('GET', `/api/v1/namespaces/${ns}`)).status === 404);
}

export async function benchWorkloads(record: (name: string, value: string) => void): Promise<void> {
  const s = await startServer({ args: ['--virtual-nodes', String(nodes), '--disable-controller-manager'], timeoutMs: 60_000 });
  const creds = credsFromKubeconfig(s.kubeconfig);
  const cm = spawn(bosunBin, ['controller-manager', '--kubeconfig', s.kubeconfig], { stdio: 'ignore' });
  const call = caller(creds);
  try {
    const registered = await timed(async () => (await json<KubeList<Node>>(call, 'GET', '/api/v1/nodes?labelSelector=node.bosun.dev%2Fvirtual%3Dtrue')).items.length >= nodes);
    if (registered === undefined) throw new Error(`${nodes} simulated nodes did not register`);
    for (const ns of ['bench-job', 'bench-jobdeploy']) await json(call, 'POST', '/api/v1/namespaces', { metadata: { name: ns } });
    // The controller manager's ServiceAccount tokens and the namespaces' default accounts first.
    await timed(async () => (await call('GET', '/api/v1/namespaces/bench-jobdeploy/serviceaccounts/default')).status === 200);
    await new Promise((r) => setTimeout(r, 2000));

    const deploy1000 = await measure(
      cm.pid!,
      () => json(call, 'POST', '/apis/apps/v1/namespaces/bench-jobdeploy/deployments', { metadata: { name: 'd' }, spec: { replicas: jobPods, selector: { matchLabels: { app: 'd' } }, template: template('d') } }),
      async () => (await json<Deployment>(call, 'GET', '/apis/apps/v1/namespaces/bench-jobdeploy/deployments/d')).status?.availableReplicas === jobPods,
    );
    await dropNamespace(call, 'bench-jobdeploy');
    const job = await measure(
      cm.pid!,
      () => json(call, 'POST', '/apis/batch/v1/namespaces/bench-job/jobs', { metadata: { name: 'j' }, spec: { completions: jobPods, parallelism: jobPods, backoffLimit: 10, template: { ...template('j'), spec: { ...template('j').spec, restartPolicy: 'Never' } } } }),
      async () => !!(await json<Job>(call, 'GET', '/apis/batch/v1/namespaces/bench-job/jobs/j')).status?.conditions?.some((c) => c.type === 'Complete' && c.status === 'True'),
    );
    await dropNamespace(call, 'bench-job');
    record(`Deployment of ${jobPods} replicas on ${nodes} nodes until available`, show(deploy1000));
    record(`Job of ${jobPods} pods on ${nodes} nodes until Complete`, show(job));
    record('Job / Deployment (target within 2x)', ratio(job, deploy1000));

    // Each strategy twice: with maxUnavailable a DaemonSet waits for a node's old pod to be gone
    // before it creates the new one (upstream's rule; a simulated pod takes 1 s to stop), where a
    // Deployment does not; with maxSurge neither waits, so that pair is the same work.
    const strategies = [
      { name: 'maxSurge 25%', ds: { maxSurge: '25%', maxUnavailable: 0 }, deploy: { maxSurge: '25%', maxUnavailable: 0 } },
      { name: 'maxUnavailable 25%', ds: { maxUnavailable: '25%' }, deploy: { maxUnavailable: '25%', maxSurge: 0 } },
    ];
    let round = 0;
    for (const st of strategies) {
      const dsNs = `bench-ds-${round}`;
      const dpNs = `bench-dsdeploy-${round++}`;
      for (const ns of [dsNs, dpNs]) await json(call, 'POST', '/api/v1/namespaces', { metadata: { name: ns } });
      await timed(async () => (await call('GET', `/api/v1/namespaces/${dpNs}/serviceaccounts/default`)).status === 200);
      const dsPath = `/apis/apps/v1/namespaces/${dsNs}/daemonsets/ds`;
      const dsDone = (image: string) => async () => {
        const ds = await json<DaemonSet>(call, 'GET', dsPath);
        const s = ds.status;
        return ds.spec?.template.spec?.containers[0]?.image === image && s?.observedGeneration === ds.metadata.generation && s?.desiredNumberScheduled === nodes && s?.updatedNumberScheduled === nodes && s?.numberAvailable === nodes && (s?.numberUnavailable ?? 0) === 0 && s?.currentNumberScheduled === nodes;
      };
      const dpPath = `/apis/apps/v1/namespaces/${dpNs}/deployments/dp`;
      const dpDone = (image: string) => async () => {
        const d = await json<Deployment>(call, 'GET', dpPath);
        const s = d.status;
        return d.spec?.template.spec?.containers[0]?.image === image && s?.observedGeneration === d.metadata.generation && s?.updatedReplicas === nodes && s?.availableReplicas === nodes && s?.replicas === nodes;
      };
      const image2 = 'registry.k8s.io/pause:3.9';
      const dsCreate = await measure(
        cm.pid!,
        () => json(call, 'POST', `/apis/apps/v1/namespaces/${dsNs}/daemonsets`, { metadata: { name: 'ds' }, spec: { selector: { matchLabels: { app: 'ds' } }, updateStrategy: { type: 'RollingUpdate', rollingUpdate: st.ds }, template: template('ds') } }),
        dsDone('registry.k8s.io/pause:3.10'),
      );
      const dsRoll = await measure(cm.pid!, () => json(call, 'PATCH', dsPath, { spec: { template: { spec: { containers: [{ name: 'c', image: image2 }] } } } }), dsDone(image2));
      await dropNamespace(call, dsNs);
      const dpCreate = await measure(
        cm.pid!,
        () => json(call, 'POST', `/apis/apps/v1/namespaces/${dpNs}/deployments`, { metadata: { name: 'dp' }, spec: { replicas: nodes, selector: { matchLabels: { app: 'dp' } }, strategy: { type: 'RollingUpdate', rollingUpdate: st.deploy }, template: template('dp') } }),
        dpDone('registry.k8s.io/pause:3.10'),
      );
      const dpRoll = await measure(cm.pid!, () => json(call, 'PATCH', dpPath, { spec: { template: { spec: { containers: [{ name: 'c', image: image2 }] } } } }), dpDone(image2));
      await dropNamespace(call, dpNs);
      if (round === 1) {
        record(`DaemonSet on ${nodes} nodes until available`, show(dsCreate));
        record(`Deployment of ${nodes} replicas until available`, show(dpCreate));
        record('DaemonSet / Deployment create (target within 2x)', ratio(dsCreate, dpCreate));
      }
      record(`DaemonSet rollout on ${nodes} nodes (${st.name})`, show(dsRoll));
      record(`Deployment rollout of ${nodes} replicas (${st.name})`, show(dpRoll));
      record(`DaemonSet / Deployment rollout, ${st.name}${round === 1 ? ' (target within 2x)' : ''}`, ratio(dsRoll, dpRoll));
    }
  } finally {
    cm.kill('SIGTERM');
    await s.stop();
  }
}

// `node bench/workloads.ts` runs this part alone.
if (import.meta.url === `file://${process.argv[1]}`) {
  await benchWorkloads((name, value) => process.stdout.write(`${name.padEnd(58)} ${value}\n`));
}
