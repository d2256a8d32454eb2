/**
 * The cluster's DNS records and the answer logic, as CoreDNS's kubernetes plugin gives them
 * (github.com/kubernetes/dns docs/specification.md, schema 1.1.0):
 *
 * - `<svc>.<ns>.svc.<zone>` A/AAAA → the ClusterIPs; for a headless Service one record per
 *   ready endpoint address; an ExternalName Service answers a CNAME to its external name.
 * - `<host>.<svc>.<ns>.svc.<zone>` → one endpoint, by its hostname, or by its dashed address
 *   (`10-42-0-5`) when it has none (CoreDNS's endpoint name).
 * - `_<port>._<proto>.<svc>.<ns>.svc.<zone>` SRV → `0 <w> <port> <svc>.<ns>.svc.<zone>` (or the
 *   endpoint's name for headless Services); `<svc>.<ns>.svc.<zone>` SRV gives every port.
 * - `<a-b-c-d>.<ns>.pod.<zone>` A → a.b.c.d (CoreDNS `pods insecure`, its default Corefile; with
 *   `pods: 'verified'` only addresses of pods in that namespace).
 * - `<d>.<c>.<b>.<a>.in-addr.arpa` PTR → the Service of a ClusterIP, the endpoint names of an
 *   endpoint address.
 * - `dns-version.<zone>` TXT "1.1.0"; the apex answers SOA and NS.
 *
 * A name that exists with no record of the asked type is NODATA (NOERROR, empty answer); a name
 * that does not exist is NXDOMAIN; both carry the zone's SOA in the authority section. Cluster
 * records have a TTL of 5 s. `answer` is a pure function of the view and the question; it
 * returns `forward` for names outside the cluster's zones, which the server sends upstream.
 *
 * `ClusterView` holds what the informers deliver (Services, EndpointSlices, Namespaces and
 * optionally Pods), indexed for lookups; it never mutates the objects it is given.
 */
import type { Answer, Question, SrvAnswer } from 'dns-packet';
import type { EndpointSlice, Pod, Service } from '../api/index.ts';

/** CoreDNS's default TTL for cluster records (kubernetes plugin `ttl`). */
export const clusterTtl = 5;
export const defaultClusterDomain = 'cluster.local';
/** The DNS schema version this implements (specification.md). */
export const schemaVersion = '1.1.0';

export type Rcode = 'NOERROR' | 'NXDOMAIN' | 'SERVFAIL' | 'REFUSED' | 'FORMERR' | 'NOTIMP';

export interface AnswerResult {
  kind: 'answer';
  rcode: Rcode;
  /** Authoritative (names inside the cluster's zones). */
  authoritative: boolean;
  answers: Answer[];
  authorities: Answer[];
  additionals: Answer[];
  /** The external name of an ExternalName Service when the CNAME's target should be resolved too. */
  chase?: string;
}

export interface ForwardResult {
  kind: 'forward';
}

export type Result = AnswerResult | ForwardResult;

export interface ZoneOptions {
  /** The cluster domain; default `cluster.local`. */
  domain?: string;
  /** The cluster DNS Service's address (for `ns.dns.<zone>` and the apex NS). */
  dnsIP?: string;
  /** Reverse lookups of unknown addresses in these IPv4 ranges answer NXDOMAIN instead of being forwarded. */
  reverseCidrs?: string[];
  /** `insecure` (default, as CoreDNS's default Corefile), `verified` or `disabled`. */
  pods?: 'insecure' | 'verified' | 'disabled';
}

interface EndpointRecord {
  ip: string;
  /** The endpoint's DNS label: its hostname, or its dashed address. */
  label: string;
  hasHostname: boolean;
  ports: Array<{ name: string; protocol: string; port: number }>;
}

const key = (ns: string, name: string) => `${ns}/${name}`;

/** The informers' view of the cluster, indexed for DNS lookups. */
export class ClusterView {
  #services = new Map<string, Service>();
  /** ns/service → slice name → slice. */
  #slices = new Map<string, Map<string, EndpointSlice>>();
  #sliceOwner = new Map<string, string>();
  #namespaces = new Set<string>();
  /** Set when namespaces are watched; until then every namespace of a Service counts. */
  #namespacesKnown = false;
  #podIPs = new Map<string, Set<string>>();
  #podIPsByKey = new Map<string, { ns: string; ips: string[] }>();
  #endpointCache = new Map<string, EndpointRecord[]>();
  #reverse: Map<string, string[]> | undefined;
  #generation = 0;

  /** Changes with every update: answers computed at one generation hold until it changes. */
  get generation(): number {
    return this.#generation;
  }

  upsertService(svc: Service): void {
    this.#generation++;
    const k = key(svc.metadata.namespace ?? 'default', svc.metadata.name!);
    this.#services.set(k, svc);
    // publishNotReadyAddresses decides which endpoints count.
    this.#endpointCache.delete(k);
    this.#reverse = undefined;
  }
  deleteService(svc: Service): void {
    this.#generation++;
    const k = key(svc.metadata.namespace ?? 'default', svc.metadata.name!);
    this.#services.delete(k);
    this.#endpointCache.delete(k);
    this.#reverse = undefined;
  }
  upsertSlice(slice: EndpointSlice): void {
    this.#generation++;
    const ns = slice.metadata.namespace ?? 'default';
    const sliceKey = key(ns, slice.metadata.name!);
    const svcName = slice.metadata.labels?.['kubernetes.io/service-name'];
    const prevOwner = this.#sliceOwner.get(sliceKey);
    if (prevOwner) this.#removeSlice(prevOwner, slice.metadata.name!);
    this.#sliceOwner.delete(sliceKey);
    if (!svcName) return;
    const owner = key(ns, svcName);
    let m = this.#slices.get(owner);
    if (!m) this.#slices.set(owner, (m = new Map()));
    m.set(slice.metadata.name!, slice);
    this.#sliceOwner.set(sliceKey, owner);
    this.#endpointCache.delete(owner);
    this.#reverse = undefined;
  }
  deleteSlice(slice: EndpointSlice): void {
    this.#generation++;
    const sliceKey = key(slice.metadata.namespace ?? 'default', slice.metadata.name!);
    const owner = this.#sliceOwner.get(sliceKey);
    if (owner) this.#removeSlice(owner, slice.metadata.name!);
    this.#sliceOwner.delete(sliceKey);
  }
  #removeSlice(owner: string, name: string): void {
    const m = this.#slices.get(owner);
    m?.delete(name);
    if (m && m.size === 0) this.#slices.delete(owner);
    this.#endpointCache.delete(owner);
    this.#reverse = undefined;
  }
  upsertNamespace(name: string): void {
    this.#generation++;
    this.#namespacesKnown = true;
    this.#namespaces.add(name);
  }
  deleteNamespace(name: string): void {
    this.#generation++;
    this.#namespaces.delete(name);
  }
  /** Marks namespaces as watched (an empty list is then meaningful). */
  namespacesWatched(): void {
    this.#generation++;
    this.#namespacesKnown = true;
  }
  upsertPod(pod: Pod): void {
    this.#generation++;
    const k = key(pod.metadata.namespace ?? 'default', pod.metadata.name!);
    this.deletePod(pod);
    const ns = pod.metadata.namespace ?? 'default';
    const ips = (pod.status?.podIPs ?? []).map((p) => p.ip).filter((ip): ip is string => !!ip);
    if (pod.status?.podIP && !ips.includes(pod.status.podIP)) ips.push(pod.status.podIP);
    if (!ips.length) return;
    this.#podIPsByKey.set(k, { ns, ips });
    for (const ip of ips) {
      let s = this.#podIPs.get(ip);
      if (!s) this.#podIPs.set(ip, (s = new Set()));
      s.add(ns);
    }
  }
  deletePod(pod: Pod): void {
    this.#generation++;
    const k = key(pod.metadata.namespace ?? 'default', pod.metadata.name!);
    const prev = this.#podIPsByKey.get(k);
    if (!prev) return;
    this.#podIPsByKey.delete(k);
    for (const ip of prev.ips) {
      const s = this.#podIPs.get(ip);
      if (!s) continue;
      // Another pod of the namespace may share the address (host network): recompute.
      const still = [...this.#podIPsByKey.values()].some((v) => v.ns === prev.ns && v.ips.includes(ip));
      if (!still) s.delete(prev.ns);
      if (s.size === 0) this.#podIPs.delete(ip);
    }
  }

  service(ns: string, name: string): Service | undefined {
    return this.#services.get(key(ns, name));
  }
  namespaceExists(ns: string): boolean {
    if (this.#namespacesKnown) return this.#namespaces.has(ns);
    for (const k of this.#services.keys()) if (k.startsWith(`${ns}/`)) return true;
    return false;
  }
  podExists(ns: string, ip: string): boolean {
    return this.#podIPs.get(ip)?.has(ns) ?? false;
  }
  /** Endpoint addresses of a Service that DNS publishes: ready ones (all with publishNotReadyAddresses), deduplicated. */
  endpoints(ns: string, name: string): EndpointRecord[] {
    const owner = key(ns, name);
    const cached = this.#endpointCache.get(owner);
    if (cached) return cached;
    const publishAll = !!this.#services.get(owner)?.spec?.publishNotReadyAddresses;
    const byIp = new Map<string, EndpointRecord>();
    for (const slice of this.#slices.get(owner)?.values() ?? []) {
      if (slice.addressType !== 'IPv4' && slice.addressType !== 'IPv6') continue;
      const ports = (slice.ports ?? []).map((p) => ({ name: p.name ?? '', protocol: (p.protocol ?? 'TCP').toLowerCase(), port: p.port ?? 0 }));
      for (const ep of slice.endpoints ?? []) {
        if (!publishAll && ep.conditions?.ready === false) continue;
        for (const ip of ep.addresses ?? []) {
          const prev = byIp.get(ip);
          if (prev) {
            for (const p of ports) if (!prev.ports.some((q) => q.name === p.name && q.protocol === p.protocol && q.port === p.port)) prev.ports.push(p);
            continue;
          }
          const hasHostname = !!ep.hostname;
          byIp.set(ip, { ip, label: ep.hostname || dashed(ip), hasHostname, ports: [...ports] });
        }
      }
    }
    const list = [...byIp.values()].sort((a, b) => (a.ip < b.ip ? -1 : a.ip > b.ip ? 1 : 0));
    // The cache is bounded by the number of Services with slices.
    if (this.#services.has(owner)) this.#endpointCache.set(owner, list);
    return list;
  }
  /** Names for an address (PTR targets, without the zone): `svc.ns.svc` and `label.svc.ns.svc`. */
  reverse(ip: string): string[] {
    if (!this.#reverse) {
      const r = new Map<string, string[]>();
      const add = (addr: string, name: string) => {
        const l = r.get(addr);
        if (!l) r.set(addr, [name]);
        else if (!l.includes(name)) l.push(name);
      };
      for (const svc of this.#services.values()) {
        const ns = svc.metadata.namespace ?? 'default';
        for (const ip of clusterIPs(svc)) add(ip, `${svc.metadata.name}.${ns}.svc`);
      }
      for (const owner of this.#slices.keys()) {
        const [ns, name] = owner.split('/') as [string, string];
        if (!this.#services.has(owner)) continue;
        for (const ep of this.endpoints(ns, name)) add(ep.ip, `${ep.label}.${name}.${ns}.svc`);
      }
      this.#reverse = r;
    }
    return this.#reverse.get(ip) ?? [];
  }
}

function clusterIPs(svc: Service): string[] {
  const spec = svc.spec;
  if (!spec || spec.type === 'ExternalName') return [];
  const ips = spec.clusterIPs?.length ? spec.clusterIPs : spec.clusterIP ? [spec.clusterIP] : [];
  return ips.filter((ip) => ip && ip !== 'None');
}

function isHeadless(svc: Service): boolean {
  return svc.spec?.clusterIP === 'None';
}

/** `10.42.0.5` → `10-42-0-5` (CoreDNS's endpoint and pod labels; IPv6 colons become dashes). */
export function dashed(ip: string): string {
  return ip.replace(/[.:]/g, '-');
}

function isIPv6(ip: string): boolean {
  return ip.includes(':');
}

function parseIPv4(s: string): number | undefined {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(s);
  if (!m) return undefined;
  let n = 0;
  for (let i = 1; i <= 4; i++) {
    const o = Number(m[i]);
    if (o > 255 || (m[i]!.length > 1 && m[i]!.startsWith('0'))) return undefined;
    n = n * 256 + o;
  }
  return n;
}

function inCidr(ip: string, cidr: string): boolean {
  const [base, bits] = cidr.split('/');
  const a = parseIPv4(ip);
  const b = parseIPv4(base ?? '');
  const n = Number(bits);
  if (a === undefined || b === undefined || !(n >= 0 && n <= 32)) return false;
  if (n === 0) return true;
  const mask = n === 32 ? 0xffffffff : (0xffffffff << (32 - n)) >>> 0;
  return ((a & mask) >>> 0) === ((b & mask) >>> 0);
}

/** The SOA the kubernetes plugin gives for a zone (MNAME ns.dns.<zone>, minimum = TTL). */
export function soaRecord(zone: string): Answer {
  return {
    name: zone,
    type: 'SOA',
    class: 'IN',
    ttl: clusterTtl,
    data: {
      mname: `ns.dns.${zone}`,
      rname: `hostmaster.${zone}`,
      // CoreDNS derives the serial from the time of the last change; a fixed epoch-based one does here.
      serial: Math.floor(Date.now() / 1000) >>> 0,
      refresh: 7200,
      retry: 1800,
      expire: 86400,
      minimum: clusterTtl,
    },
  };
}

const empty = (): { answers: Answer[]; authorities: Answer[]; additionals: Answer[] } => ({ answers: [], authorities: [], additionals: [] });

/**
 * The answer to one question. `question.name` may carry any case and a trailing dot; owner
 * names of direct answers echo it as asked.
 */
export function answer(question: Question, view: ClusterView, opts: ZoneOptions = {}): Result {
  const zone = (opts.domain ?? defaultClusterDomain).toLowerCase().replace(/\.$/, '');
  const qname = question.name.replace(/\.$/, '');
  const lower = qname.toLowerCase();
  const qtype: string = question.type;
  if (lower === 'in-addr.arpa' || lower.endsWith('.in-addr.arpa')) return reverseAnswer(question, qname, lower, view, opts);
  if (lower !== zone && !lower.endsWith(`.${zone}`)) return { kind: 'forward' };

  const labels = lower === zone ? [] : lower.slice(0, lower.length - zone.length - 1).split('.');
  const nx = (): AnswerResult => ({ kind: 'answer', rcode: 'NXDOMAIN', authoritative: true, ...empty(), authorities: [soaRecord(zone)] });
  const nodata = (): AnswerResult => ({ kind: 'answer', rcode: 'NOERROR', authoritative: true, ...empty(), authorities: [soaRecord(zone)] });
  const ok = (answers: Answer[], additionals: Answer[] = []): AnswerResult =>
    answers.length ? { kind: 'answer', rcode: 'NOERROR', authoritative: true, answers, authorities: [], additionals } : nodata();
  const addr = (name: string, ip: string): Answer => ({ name, type: isIPv6(ip) ? 'AAAA' : 'A', class: 'IN', ttl: clusterTtl, data: ip });
  const addrs = (name: string, ips: string[]): Answer[] => {
    if (qtype === 'A' || qtype === 'ANY') return ips.filter((ip) => !isIPv6(ip)).map((ip) => addr(name, ip));
    if (qtype === 'AAAA') return ips.filter(isIPv6).map((ip) => addr(name, ip));
    return [];
  };

  if (labels.length === 0) {
    if (qtype === 'SOA') return ok([soaRecord(zone)].map((r) => ({ ...r, name: qname })));
    if (qtype === 'NS') {
      const ns = `ns.dns.${zone}`;
      return ok([{ name: qname, type: 'NS', class: 'IN', ttl: clusterTtl, data: ns }], opts.dnsIP ? [addr(ns, opts.dnsIP)] : []);
    }
    return nodata();
  }
  if (labels.length === 1 && labels[0] === 'dns-version') {
    return qtype === 'TXT' ? ok([{ name: qname, type: 'TXT', class: 'IN', ttl: clusterTtl, data: [schemaVersion] }]) : nodata();
  }
  if (labels.length === 2 && labels[0] === 'ns' && labels[1] === 'dns') return opts.dnsIP ? ok(addrs(qname, [opts.dnsIP])) : nx();
  if (labels.length === 1 && labels[0] === 'dns') return nodata();

  const kind = labels[labels.length - 1];
  if (kind === 'pod') {
    if (labels.length === 1) return nodata();
    const ns = labels[labels.length - 2]!;
    if (labels.length === 2) return view.namespaceExists(ns) ? nodata() : nx();
    if (labels.length !== 3 || opts.pods === 'disabled') return nx();
    const ip = labels[0]!.replace(/-/g, '.');
    if (parseIPv4(ip) === undefined) return nx();
    if (opts.pods === 'verified' && !view.podExists(ns, ip)) return nx();
    return ok(addrs(qname, [ip]));
  }
  if (kind !== 'svc') return nx();
  if (labels.length === 1) return nodata();
  const ns = labels[labels.length - 2]!;
  if (labels.length === 2) return view.namespaceExists(ns) ? nodata() : nx();
  const svcName = labels[labels.length - 3]!;
  const svc = view.service(ns, svcName);
  if (!svc || labels.length > 5) return nx();
  const svcFqdn = `${svcName}.${ns}.svc.${zone}`;

  if (svc.spec?.type === 'ExternalName') {
    // Only the Service's own name is a CNAME; names under it do not exist.
    if (labels.length !== 3 || !svc.spec.externalName) return nx();
    const target = svc.spec.externalName.replace(/\.$/, '');
    return {
      kind: 'answer',
      rcode: 'NOERROR',
      authoritative: true,
      answers: [{ name: qname, type: 'CNAME', class: 'IN', ttl: clusterTtl, data: target }],
      authorities: [],
      additionals: [],
      chase: qtype === 'CNAME' ? undefined : target,
    };
  }

  let portFilter: { name: string; protocol: string } | undefined;
  let endpointLabel: string | undefined;
  if (labels.length === 5) {
    const [p, proto] = labels as [string, string];
    if (!p.startsWith('_') || !proto.startsWith('_')) return nx();
    portFilter = { name: p.slice(1), protocol: proto.slice(1) };
  } else if (labels.length === 4) {
    endpointLabel = labels[0];
  }

  const headless = isHeadless(svc);
  if (endpointLabel !== undefined || headless) {
    let eps = view.endpoints(ns, svcName);
    if (endpointLabel !== undefined) eps = eps.filter((e) => e.label.toLowerCase() === endpointLabel);
    type Match = { e: EndpointRecord; port?: EndpointRecord['ports'][number] };
    const matches = eps.flatMap((e): Match[] => {
      if (!portFilter) return [{ e }];
      return e.ports.filter((p) => portMatches(p, portFilter!)).map((port) => ({ e, port }));
    });
    if (!matches.length) return nx();
    const owner = qname;
    if (qtype === 'SRV') {
      const srvs = matches.flatMap(({ e, port }): Required<Match>[] => (port ? [{ e, port }] : e.ports.map((p) => ({ e, port: p }))));
      const answers = srvRecords(
        owner,
        srvs.map(({ e, port }) => ({ port: port.port, target: `${e.label}.${svcFqdn}` })),
      );
      const additionals = dedupe(srvs.map(({ e }) => addr(`${e.label}.${svcFqdn}`, e.ip)));
      return ok(answers, additionals);
    }
    return ok(addrs(owner, dedupeStrings(matches.map((m) => m.e.ip))));
  }

  // A ClusterIP Service.
  const ports = (svc.spec?.ports ?? []).map((p) => ({ name: p.name ?? '', protocol: (p.protocol ?? 'TCP').toLowerCase(), port: p.port }));
  const selected = portFilter ? ports.filter((p) => portMatches(p, portFilter!)) : ports;
  if (portFilter && !selected.length) return nx();
  const ips = clusterIPs(svc);
  if (qtype === 'SRV') {
    const answers = srvRecords(qname, selected.map((p) => ({ port: p.port, target: svcFqdn })));
    return ok(answers, answers.length ? ips.filter((ip) => !isIPv6(ip)).map((ip) => addr(svcFqdn, ip)) : []);
  }
  return ok(addrs(qname, ips));
}

function portMatches(p: { name: string; protocol: string }, f: { name: string; protocol: string }): boolean {
  // CoreDNS accepts `*` (and `any`) as wildcards in the port and protocol labels.
  const wild = (s: string) => s === '*' || s === 'any';
  return (wild(f.name) || p.name.toLowerCase() === f.name) && (wild(f.protocol) || p.protocol === f.protocol);
}

/** SRV records, priority 0, the weight split evenly (CoreDNS: 100 / records of that priority). */
function srvRecords(name: string, items: Array<{ port: number; target: string }>): SrvAnswer[] {
  const seen = new Set<string>();
  const uniq = items.filter((i) => {
    const k = `${i.port} ${i.target}`;
    if (seen.has(k)) return false;
    seen.add(k);
    return true;
  });
  const weight = uniq.length ? Math.max(1, Math.floor(100 / uniq.length)) : 0;
  return uniq.map((i) => ({ name, type: 'SRV', class: 'IN', ttl: clusterTtl, data: { priority: 0, weight, port: i.port, target: i.target } }));
}

function dedupe(answers: Answer[]): Answer[] {
  const seen = new Set<string>();
  return answers.filter((a) => {
    const k = `${a.name} ${a.type} ${String((a as { data?: unknown }).data)}`;
    if (seen.has(k)) return false;
    seen.add(k);
    return true;
  });
}

function dedupeStrings(s: string[]): string[] {
  return [...new Set(s)];
}

function reverseAnswer(question: Question, qname: string, lower: string, view: ClusterView, opts: ZoneOptions): Result {
  const zone = (opts.domain ?? defaultClusterDomain).toLowerCase().replace(/\.$/, '');
  const parts = lower.split('.');
  const octets = parts.slice(0, -2);
  if (octets.length !== 4) return { kind: 'forward' };
  const ip = [...octets].reverse().join('.');
  if (parseIPv4(ip) === undefined) return { kind: 'forward' };
  const names = view.reverse(ip);
  const ours = (opts.reverseCidrs ?? []).some((c) => inCidr(ip, c));
  if (!names.length) {
    if (!ours) return { kind: 'forward' };
    return { kind: 'answer', rcode: 'NXDOMAIN', authoritative: true, ...empty(), authorities: [soaRecord(reverseZone(ip, opts.reverseCidrs ?? []))] };
  }
  if (question.type !== 'PTR' && (question.type as string) !== 'ANY') {
    return { kind: 'answer', rcode: 'NOERROR', authoritative: true, ...empty(), authorities: [soaRecord(reverseZone(ip, opts.reverseCidrs ?? []))] };
  }
  return {
    kind: 'answer',
    rcode: 'NOERROR',
    authoritative: true,
    answers: names.map((n) => ({ name: qname, type: 'PTR', class: 'IN', ttl: clusterTtl, data: `${n}.${zone}` })),
    authorities: [],
    additionals: [],
  };
}

/** The reverse zone of an address: the classful in-addr.arpa zone of the range that holds it. */
function reverseZone(ip: string, cidrs: string[]): string {
  const cidr = cidrs.find((c) => inCidr(ip, c));
  const bits = cidr ? Number(cidr.split('/')[1]) : 8;
  const keep = Math.max(1, Math.min(4, Math.floor(bits / 8)));
  return `${ip.split('.').slice(0, keep).reverse().join('.')}.in-addr.arpa`;
}
