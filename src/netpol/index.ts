/**
 * NetworkPolicy enforcement on a node (what a CNI's policy agent does upstream): informers on
 * NetworkPolicies, Pods (all namespaces: peers may be anywhere) and Namespaces feed one
 * coalesced, level-based sync that compiles the whole state (compile.ts) and writes it to the
 * nf_tables `iptables` with `iptables-restore --noflush` (rules.ts).
 *
 * Contract:
 * - `startNetworkPolicy` resolves once `signal` aborted and its informers stopped; it never
 *   rejects (failures are logged and retried with back-off, 1 s doubling to 30 s).
 * - Any change (policy, pod labels/IP/phase, namespace labels) is on the host within about
 *   `debounceMs` (default 100 ms) plus one restore (≈ 50 ms); bursts coalesce into one sync,
 *   and syncs never overlap. Every `resyncMs` (60 s) the rules are written again even if
 *   unchanged, repairing outside edits.
 * - Rules stay in place when the agent stops (pods keep running and stay protected); the next
 *   start converges. `removeNetworkPolicyRules()` deletes them (uninstall, tests).
 */
import type { Namespace, NetworkPolicy, Pod } from '../api/index.ts';
import { InformerFactory, resources, waitForCacheSync, type ListerWatcher, type ResourceEventHandler } from '../client/index.ts';
import { compileNetworkPolicy } from './compile.ts';
import { applyRules, hostIptables, type IptablesIO } from './rules.ts';

export { compileNetworkPolicy, policyTypesOf, portMatch, podChainName, MAIN_CHAIN, CHAIN_PREFIX, REJECT_WITH, type CompileInput, type CompiledRules, type PolicyChain } from './compile.ts';
export { removeNetworkPolicyRules, restoreScript, renderRules, type IptablesIO } from './rules.ts';
export { cidrMinus } from './cidr.ts';

export interface NetworkPolicyOptions {
  client: ListerWatcher;
  /** The agent's informer factory, shared so that one watch per kind serves every component (default: a new one). */
  informers?: InformerFactory;
  /** The node whose pods are enforced here. */
  nodeName: string;
  /** Delay that coalesces a burst of changes into one sync (ms). Default 100. */
  debounceMs?: number;
  /** Full rewrite period (ms). Default 60 000. */
  resyncMs?: number;
  /** Host access; tests pass a fake. Default the nf_tables iptables. */
  io?: IptablesIO;
  log?: (msg: string) => void;
}

const DEFAULT_DEBOUNCE_MS = 100;
const DEFAULT_RESYNC_MS = 60_000;
const RETRY_MIN_MS = 1_000;
const RETRY_MAX_MS = 30_000;

/** What policy reads of a pod; other changes (status conditions, annotations) cause no sync. */
function policyView(p: Pod): string {
  const ports = [...(p.spec?.containers ?? []), ...(p.spec?.initContainers ?? [])].map((c) => c.ports ?? []);
  return JSON.stringify([p.metadata.labels ?? {}, p.status?.podIP, p.status?.podIPs, p.status?.phase, p.spec?.nodeName, p.spec?.hostNetwork, ports]);
}

/** Runs network policy enforcement for `opts.nodeName` until `signal` aborts. Never rejects. */
export async function startNetworkPolicy(opts: NetworkPolicyOptions, signal: AbortSignal): Promise<void> {
  const log = opts.log ?? (() => {});
  const io = opts.io ?? hostIptables;
  const debounceMs = opts.debounceMs ?? DEFAULT_DEBOUNCE_MS;
  const resyncMs = opts.resyncMs ?? DEFAULT_RESYNC_MS;
  const informers = opts.informers ?? new InformerFactory(opts.client, { log });
  const policies = informers.typedInformerFor(resources.networkPolicies);
  const pods = informers.typedInformerFor(resources.pods);
  const namespaces = informers.typedInformerFor(resources.namespaces);

  let timer: NodeJS.Timeout | undefined;
  let running = false;
  let dirty = false;
  let last: string | undefined;
  let failures = 0;
  let synced = false;
  let inFlight: Promise<void> = Promise.resolve();

  const schedule = (delayMs: number) => {
    if (signal.aborted || !synced) return;
    if (running) {
      dirty = true;
      return;
    }
    if (timer) return;
    timer = setTimeout(() => {
      timer = undefined;
      inFlight = sync();
    }, delayMs);
  };

  const sync = async () => {
    running = true;
    dirty = false;
    let retry = false;
    try {
      const rules = compileNetworkPolicy({ nodeName: opts.nodeName, policies: policies.store.list(), pods: pods.store.list(), namespaces: namespaces.store.list() });
      const before = last;
      last = await applyRules(rules, last, io);
      if (before !== last) log(`network policy: rules written, ${rules.chains.length - 2} pod chains on ${opts.nodeName}`);
      failures = 0;
    } catch (err) {
      failures++;
      retry = true;
      last = undefined;
      log(`network policy: sync failed (attempt ${failures}): ${(err as Error).message}`);
    } finally {
      running = false;
    }
    if (retry) {
      if (timer) clearTimeout(timer);
      timer = undefined;
      schedule(Math.min(RETRY_MAX_MS, RETRY_MIN_MS * 2 ** (failures - 1)));
    } else if (dirty) schedule(debounceMs);
  };

  const onChange = () => schedule(debounceMs);
  const podHandler: ResourceEventHandler<Pod> = {
    onAdd: onChange,
    onDelete: onChange,
    onUpdate: (a, b) => {
      if (policyView(a) !== policyView(b)) onChange();
    },
  };
  const nsHandler: ResourceEventHandler<Namespace> = {
    onAdd: onChange,
    onDelete: onChange,
    onUpdate: (a, b) => {
      if (JSON.stringify(a.metadata.labels) !== JSON.stringify(b.metadata.labels)) onChange();
    },
  };
  const policyHandler: ResourceEventHandler<NetworkPolicy> = { onAdd: onChange, onUpdate: onChange, onDelete: onChange };
  pods.addEventHandler(podHandler);
  namespaces.addEventHandler(nsHandler);
  policies.addEventHandler(policyHandler);
  informers.start(signal);

  const resync = setInterval(() => {
    last = undefined;
    schedule(0);
  }, resyncMs);
  try {
    if (await waitForCacheSync(signal, policies, pods, namespaces)) {
      synced = true;
      schedule(0);
    }
    await new Promise<void>((resolve) => {
      if (signal.aborted) resolve();
      else signal.addEventListener('abort', () => resolve(), { once: true });
    });
  } finally {
    clearInterval(resync);
    if (timer) clearTimeout(timer);
    await inFlight;
    await informers.stopped();
  }
}

