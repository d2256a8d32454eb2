/**
 * A pod's resolver configuration, as the kubelet forms it (upstream pkg/kubelet/network/dns):
 *
 * - `ClusterFirst` (not host network) and `ClusterFirstWithHostNet`: the cluster DNS address as
 *   the only nameserver, `search <ns>.svc.<domain> svc.<domain> <domain>` followed by the host's
 *   search domains, `options ndots:5`. Without a cluster DNS address the pod falls back to
 *   `Default`, with a `MissingClusterDNS` warning.
 * - `Default` (and `ClusterFirst` on the host network): the host's resolv.conf.
 * - `None`: nothing but the pod's `dnsConfig`.
 * - `dnsConfig` is then merged: nameservers and searches appended without duplicates, options
 *   merged by name (the pod's win). Finally the limits: at most 3 nameservers, 32 search domains,
 *   none longer than 253 characters, 2048 characters in all; cutting any gives a
 *   `DNSConfigForming` warning naming what was applied.
 *
 * Pure functions; the caller records the returned events.
 */
import fs from 'node:fs/promises';
import type { Pod, PodDNSConfigOption } from '../api/index.ts';

/** Upstream validation.MaxDNSNameservers. */
export const maxDnsNameservers = 3;
/** Upstream validation.MaxDNSSearchPathsExpanded (ExpandedDNSConfig is GA). */
export const maxDnsSearchPaths = 32;
/** Upstream validation.MaxDNSSearchListCharsExpanded. */
export const maxDnsSearchListChars = 2048;
/** A search domain longer than a DNS-1123 subdomain is dropped (glibc aborts on them). */
export const maxSearchDomainLength = 253;
/** Upstream maxResolveConfLength: a resolv.conf larger than this is refused. */
export const maxResolvConfBytes = 10 * 1024 * 1024;

export interface ResolverConfig {
  servers: string[];
  searches: string[];
  options: string[];
}

export interface PodDnsOptions {
  /** The host's resolver settings (its resolv.conf). */
  host: ResolverConfig;
  /** The cluster DNS addresses (`--cluster-dns`); empty: none configured. */
  clusterDns: string[];
  /** The cluster domain (`--cluster-domain`), e.g. cluster.local; empty: no cluster search domains. */
  clusterDomain: string;
}

export interface DnsEvent {
  reason: 'DNSConfigForming' | 'MissingClusterDNS';
  message: string;
}

/** resolv.conf text → settings: nameservers accumulate, the last `search` and `options` lines win. */
export function parseResolvConf(text: string): ResolverConfig {
  const out: ResolverConfig = { servers: [], searches: [], options: [] };
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line.startsWith('#') || line.startsWith(';')) continue;
    const fields = line.split(/\s+/).filter(Boolean);
    if (!fields.length) continue;
    if (fields[0] === 'nameserver' && fields[1]) out.servers.push(fields[1]);
    else if (fields[0] === 'search') out.searches = fields.slice(1).map((s) => s.replace(/\.$/, ''));
    else if (fields[0] === 'options') out.options = fields.slice(1);
  }
  return out;
}

/** The host's resolver settings from a resolv.conf file (empty when it cannot be read). */
export async function readResolvConf(file = '/etc/resolv.conf'): Promise<ResolverConfig> {
  try {
    const fh = await fs.open(file, 'r');
    try {
      const buf = Buffer.alloc(Math.min(maxResolvConfBytes, (await fh.stat()).size));
      const { bytesRead } = await fh.read(buf, 0, buf.length, 0);
      return parseResolvConf(buf.subarray(0, bytesRead).toString('utf8'));
    } finally {
      await fh.close();
    }
  } catch {
    return { servers: [], searches: [], options: [] };
  }
}

function uniq(values: string[]): string[] {
  return [...new Set(values)];
}

function mergeOptions(existing: string[], pod: PodDNSConfigOption[]): string[] {
  const m = new Map<string, string>();
  for (const op of existing) {
    const i = op.indexOf(':');
    if (i >= 0) m.set(op.slice(0, i), op.slice(i + 1));
    else m.set(op, '');
  }
  for (const op of pod) if (op.name) m.set(op.name, op.value ?? '');
  return [...m].map(([k, v]) => (v ? `${k}:${v}` : k));
}

/** The resolver settings of a pod's sandbox, and the warnings to record on the pod. */
export function podDnsConfig(pod: Pod, opts: PodDnsOptions): ResolverConfig & { events: DnsEvent[] } {
  const events: DnsEvent[] = [];
  const policy = pod.spec?.dnsPolicy || 'ClusterFirst';
  const hostNetwork = !!pod.spec?.hostNetwork;
  let cfg: ResolverConfig = { servers: [...opts.host.servers], searches: [...opts.host.searches], options: [...opts.host.options] };
  let type: 'cluster' | 'host' | 'none';
  if (policy === 'None') type = 'none';
  else if (policy === 'ClusterFirstWithHostNet') type = 'cluster';
  else if (policy === 'Default' || (policy === 'ClusterFirst' && hostNetwork)) type = 'host';
  else type = 'cluster';

  if (type === 'none') cfg = { servers: [], searches: [], options: [] };
  else if (type === 'cluster') {
    if (opts.clusterDns.length) {
      const ns = pod.metadata.namespace || 'default';
      const domain = opts.clusterDomain;
      cfg = {
        servers: [...opts.clusterDns],
        searches: domain ? uniq([`${ns}.svc.${domain}`, `svc.${domain}`, domain, ...opts.host.searches]) : [...opts.host.searches],
        options: ['ndots:5'],
      };
    } else {
      events.push({
        reason: 'MissingClusterDNS',
        message: `pod: "${pod.metadata.name}_${pod.metadata.namespace}(${pod.metadata.uid ?? ''})". kubelet does not have ClusterDNS IP configured and cannot create Pod using "ClusterFirst" policy. Falling back to "Default" policy.`,
      });
    }
  }

  const extra = pod.spec?.dnsConfig;
  if (extra) {
    cfg = {
      servers: uniq([...cfg.servers, ...(extra.nameservers ?? [])]),
      searches: uniq([...cfg.searches, ...(extra.searches ?? [])]),
      options: mergeOptions(cfg.options, extra.options ?? []),
    };
  }

  if (cfg.servers.length > maxDnsNameservers) {
    cfg.servers = cfg.servers.slice(0, maxDnsNameservers);
    events.push({ reason: 'DNSConfigForming', message: `Nameserver limits were exceeded, some nameservers have been omitted, the applied nameserver line is: ${cfg.servers.join(' ')}` });
  }
  const { searches, exceeded } = fitSearches(cfg.searches);
  cfg.searches = searches;
  if (exceeded) {
    events.push({ reason: 'DNSConfigForming', message: `Search Line limits were exceeded, some search paths have been omitted, the applied search line is: ${searches.join(' ')}` });
  }
  return { ...cfg, events };
}

function fitSearches(input: string[]): { searches: string[]; exceeded: boolean } {
  let exceeded = false;
  let s = input;
  if (s.length > maxDnsSearchPaths) {
    s = s.slice(0, maxDnsSearchPaths);
    exceeded = true;
  }
  const kept = s.filter((d) => d.length <= maxSearchDomainLength);
  if (kept.length !== s.length) exceeded = true;
  s = kept;
  let len = s.join(' ').length;
  if (len > maxDnsSearchListChars) {
    exceeded = true;
    while (s.length && len > maxDnsSearchListChars) {
      len -= s[s.length - 1]!.length + 1;
      s = s.slice(0, -1);
    }
  }
  return { searches: s, exceeded };
}
