/**
 * Authorization cost (issue 14): ConfigMap creates/s at 16 clients by a user who is not in
 * system:masters, so every request is decided by RBAC (the user is bound to upstream's `edit`
 * ClusterRole in its namespace, among upstream's ~90 bootstrap bindings and 200 more), against
 * the same with `--authorization-mode AlwaysAllow`. The admission chain is the same in both (it
 * is what Bosun runs today, with no webhook or policy configured). Each server: two warm-up rounds
 * (the rate still climbs over the first ones), then the median of 4 rounds of 2,000 creates; two servers per mode, alternating, the better
 * one counts. The machine's own noise (two shared cores, the clients in this process) moves the
 * wall-clock rate by ±15 % between identical servers, so the rate per CPU second of the server
 * process is printed as well. The user's certificate is issued from the data dir's CA. Last, one
 * Node,RBAC server alternates rounds between that user and the admin (system:masters, allowed
 * before RBAC is consulted): the same comparison without the spread between servers.
 * Run alone: node bench/authz.ts
 */
import { agentFor, call } from './http.ts';
import fs from 'node:fs';
import path from 'node:path';
import { startServer } from '../test/e2e/harness.ts';
import { credsFromKubeconfig, type Creds } from '../test/e2e/api.ts';
import { createCsr, signCsr } from '../src/pki/csr.ts';

const clients = 16;
const perRound = 2000;

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

/** CPU seconds (user + system) a process has used, from /proc (clock ticks of 100 Hz). */
function cpuSeconds(pid: number): number {
  const fields = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

interface Rates {
  /** Creates per wall-clock second. */
  wall: number;
  /** Creates per CPU second of the server process: what authorization costs, without the machine's noise. */
  cpu: number;
}

/** Creates/s of one mode; with `interleaved`, rounds alternate between the user and the admin on the same server. */
async function createsPerSecond(mode: string, interleaved = false): Promise<Rates & { admin?: Rates }> {
  const s = await startServer({ args: ['--authorization-mode', mode] });
  try {
    const admin = credsFromKubeconfig(s.kubeconfig);
    const a = agentFor(admin);
    const ok = async (method: string, p: string, body: unknown) => {
      const r = await call(admin, a, method, p, JSON.stringify(body));
      if (r.status >= 300) throw new Error(`${method} ${p}: ${r.status} ${r.body}`);
    };
    await ok('POST', '/api/v1/namespaces', { metadata: { name: 'bench' } });
    await ok('POST', '/apis/rbac.authorization.k8s.io/v1/namespaces/bench/rolebindings', { metadata: { name: 'bench-edit' }, roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'edit' }, subjects: [{ kind: 'User', name: 'bench', apiGroup: 'rbac.authorization.k8s.io' }] });
    // Many bindings that do not apply to the user: RBAC visits them all.
    for (let i = 0; i < 200; i++) {
      await ok('POST', '/apis/rbac.authorization.k8s.io/v1/clusterrolebindings', { metadata: { name: `other-${i}` }, roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'view' }, subjects: [{ kind: 'User', name: `someone-${i}`, apiGroup: 'rbac.authorization.k8s.io' }] });
    }
    a.destroy();
    const tls = path.join(s.dataDir, 'tls');
    const ca = { certPem: fs.readFileSync(path.join(tls, 'ca.crt'), 'utf8'), keyPem: fs.readFileSync(path.join(tls, 'ca.key'), 'utf8') };
    const { csrPem, keyPem } = await createCsr({ subject: { commonName: 'bench' } });
    const certPem = await signCsr(csrPem, ca, { usages: ['digital signature', 'client auth'], notBefore: new Date(Date.now() - 60_000), notAfter: new Date(Date.now() + 3_600_000) });
    const user: Creds = { ...admin, cert: Buffer.from(certPem), key: Buffer.from(keyPem) };
    const rates: number[] = [];
    const perCpu: number[] = [];
    const adminRates: number[] = [];
    const adminPerCpu: number[] = [];
    const rounds = interleaved ? 12 : 6;
    for (let round = 0; round < rounds; round++) {
      const asAdmin = interleaved && round % 2 === 1;
      const who = asAdmin ? admin : user;
      const agents = Array.from({ length: clients }, () => agentFor(who));
      await Promise.all(agents.map((ag) => call(who, ag, 'GET', '/api/v1/namespaces/bench/configmaps?limit=1')));
      const t0 = performance.now();
      const c0 = cpuSeconds(s.proc.pid!);
      await Promise.all(
        agents.map(async (ag, c) => {
          for (let i = 0; i < perRound / clients; i++) {
            const r = await call(who, ag, 'POST', '/api/v1/namespaces/bench/configmaps', JSON.stringify({ metadata: { name: `r${round}-c${c}-${i}` }, data: { k: 'v' } }));
            if (r.status !== 201) throw new Error(`create as ${asAdmin ? 'admin' : 'bench'}: ${r.status} ${r.body}`);
          }
          ag.destroy();
        }),
      );
      if (round >= (interleaved ? 4 : 2)) {
        (asAdmin ? adminRates : rates).push(perRound / ((performance.now() - t0) / 1000));
        (asAdmin ? adminPerCpu : perCpu).push(perRound / Math.max(0.01, cpuSeconds(s.proc.pid!) - c0));
      }
    }
    return { wall: median(rates), cpu: median(perCpu), ...(interleaved ? { admin: { wall: median(adminRates), cpu: median(adminPerCpu) } } : {}) };
  } finally {
    await s.stop();
    fs.rmSync(s.dataDir, { recursive: true, force: true });
  }
}

export async function benchAuthz(record: (name: string, value: string) => void): Promise<void> {
  // Alternating servers, two of each: a machine that warms up or slows down touches both modes.
  const allowRuns: Rates[] = [];
  const rbacRuns: Rates[] = [];
  for (let i = 0; i < 2; i++) {
    allowRuns.push(await createsPerSecond('AlwaysAllow'));
    rbacRuns.push(await createsPerSecond('Node,RBAC'));
  }
  const best = (runs: Rates[], k: keyof Rates) => Math.max(...runs.map((r) => r[k]));
  const [rbac, allow] = [best(rbacRuns, 'wall'), best(allowRuns, 'wall')];
  const [rbacCpu, allowCpu] = [best(rbacRuns, 'cpu'), best(allowRuns, 'cpu')];
  record(`ConfigMap creates/s, ${clients} clients, a non-admin user: RBAC / AlwaysAllow`, `${rbac.toFixed(0)}/s / ${allow.toFixed(0)}/s, ratio ${(rbac / allow).toFixed(2)}`);
  record('the same per CPU second of the server: RBAC / AlwaysAllow', `${rbacCpu.toFixed(0)} / ${allowCpu.toFixed(0)} creates, ratio ${(rbacCpu / allowCpu).toFixed(2)}`);
  // One server, rounds alternating between the RBAC-decided user and system:masters (allowed
  // before RBAC is asked): what authorization costs without the spread between servers.
  const same = await createsPerSecond('Node,RBAC', true);
  record('one Node,RBAC server, alternating rounds: RBAC user / system:masters', `${same.wall.toFixed(0)}/s / ${same.admin!.wall.toFixed(0)}/s, ratio ${(same.wall / same.admin!.wall).toFixed(2)}; per CPU second ${(same.cpu / same.admin!.cpu).toFixed(2)}`);
}

if (import.meta.url === `file://${process.argv[1]}`) {
  await benchAuthz((name, value) => process.stdout.write(`${name.padEnd(58)} ${value}\n`));
}
