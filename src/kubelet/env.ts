/**
 * A container's environment as the kubelet makes it (upstream's makeEnvironmentVariables):
 * `envFrom` sources, then `env` in declaration order with `$(VAR)` expansion, values from
 * ConfigMaps, Secrets, the downward API (fieldRef, resourceFieldRef) and service links, plus the
 * `$(VAR)` expansion of command and args.
 *
 * The downward-API helpers (`podFieldValue`, `containerResourceValue`, `formatMap`) are shared
 * with the downwardAPI and projected volumes (./volumes.ts).
 *
 * Departures from upstream, on purpose: the result has a stable order (envFrom keys sorted per
 * source, then `env` in declaration order, then service variables) where upstream iterates a Go
 * map; events upstream records (InvalidEnvironmentVariableNames) are returned as `warnings`.
 */
import type { ConfigMap, Container, ObjectFieldSelector, Pod, ResourceFieldSelector, Secret } from '../api/index.ts';
import { milliValue, parseQuantity } from '../api/quantity.ts';

/** A Service as service-link variables need it (clusterIP "None" or "" is skipped). */
export interface ServiceLink {
  name: string;
  clusterIP: string;
  ports: { name?: string; port: number; protocol: string }[];
}

/**
 * Where referenced objects come from, usually the kubelet's caches. `undefined` means not found
 * (an optional reference is then skipped); a thrown error is passed through unchanged.
 */
export interface EnvSources {
  getConfigMap(ns: string, name: string): Promise<ConfigMap | undefined>;
  getSecret(ns: string, name: string): Promise<Secret | undefined>;
  /** Services of the pod's namespace, for service links (used when enableServiceLinks is not false). */
  services?: ServiceLink[];
}

/** Node allocatable, the value of a missing limit in resourceFieldRef (upstream's defaulting). */
export interface NodeAllocatable {
  cpu: string;
  memory: string;
  'ephemeral-storage'?: string;
}

export interface ContainerEnvContext {
  sources: EnvSources;
  podIP?: string;
  podIPs?: string[];
  hostIP?: string;
  hostIPs?: string[];
  nodeAllocatable: NodeAllocatable;
  /** The `kubernetes` Service of the default namespace: KUBERNETES_SERVICE_HOST etc., always added. */
  masterService?: Omit<ServiceLink, 'name'>;
  /**
   * Check envFrom keys with the strict pre-1.32 rule (C-identifier-like names); the default is the
   * relaxed rule upstream uses since RelaxedEnvironmentVariableValidation (printable ASCII but '=').
   */
  strictEnvVarNames?: boolean;
}

export interface EnvVarPair {
  key: string;
  value: string;
}

/** IPs the downward API reports for status.* fields. */
export interface DownwardIPs {
  podIP?: string;
  podIPs?: string[];
  hostIP?: string;
  hostIPs?: string[];
}

/**
 * `$(VAR)` expansion as upstream: `$$` is an escaped `$`, `$(NAME)` is replaced by
 * `lookup(NAME)` or left as written when lookup answers undefined, an unterminated `$(` and any
 * other `$x` are copied as they are. Never throws.
 */
export function expand(input: string, lookup: (name: string) => string | undefined): string {
  let out = '';
  let checkpoint = 0;
  for (let cursor = 0; cursor < input.length; cursor++) {
    if (input[cursor] !== '$' || cursor + 1 >= input.length) continue;
    out += input.slice(checkpoint, cursor);
    const next = input[cursor + 1];
    let advance = 1;
    if (next === '$') {
      out += '$';
    } else if (next === '(') {
      const close = input.indexOf(')', cursor + 2);
      if (close >= 0) {
        const name = input.slice(cursor + 2, close);
        out += lookup(name) ?? `$(${name})`;
        advance = close - cursor;
      } else {
        out += '$(';
      }
    } else {
      out += '$' + next;
    }
    cursor += advance;
    checkpoint = cursor + 1;
  }
  return out + input.slice(checkpoint);
}

/** A lookup over env pairs; a later duplicate wins, as upstream's map conversion. */
function pairLookup(env: EnvVarPair[]): (name: string) => string | undefined {
  const m = new Map<string, string>();
  for (const e of env) m.set(e.key, e.value);
  return (name) => m.get(name);
}

/** command and args after `$(VAR)` expansion with the container env (upstream's ExpandContainerCommandAndArgs). */
export function expandCommandAndArgs(container: Container, env: EnvVarPair[]): { command: string[]; args: string[] } {
  const lookup = pairLookup(env);
  return {
    command: (container.command ?? []).map((c) => expand(c, lookup)),
    args: (container.args ?? []).map((a) => expand(a, lookup)),
  };
}

/**
 * A probe or hook command expanded with the container's literal `env` values only (upstream's
 * ExpandContainerCommandOnlyStatic: a valueFrom variable expands to "").
 */
export function expandCommandStatic(command: string[], container: Container): string[] {
  const m = new Map<string, string>();
  for (const e of container.env ?? []) m.set(e.name, e.value ?? '');
  return command.map((c) => expand(c, (n) => m.get(n)));
}

// ---- env var names ----

const strictEnvVarName = /^[-._a-zA-Z][-._a-zA-Z0-9]*$/;

function isValidEnvVarName(name: string, strict: boolean): boolean {
  if (strict) return strictEnvVarName.test(name) && name !== '.' && !name.startsWith('..');
  if (name === '') return false;
  for (let i = 0; i < name.length; i++) {
    const c = name.charCodeAt(i);
    if (c < 0x20 || c > 0x7e || c === 0x3d) return false;
  }
  return true;
}

// ---- service links (upstream's envvars.FromServices) ----

function envName(s: string): string {
  return s.replaceAll('-', '_').toUpperCase();
}

function joinHostPort(host: string, port: number | string): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}

/** Service-link variables for the given services, in the order given (FOO_SERVICE_HOST, FOO_PORT_80_TCP, …). */
export function serviceEnvVars(services: ServiceLink[]): EnvVarPair[] {
  const out: EnvVarPair[] = [];
  for (const s of services) {
    if (!s.clusterIP || s.clusterIP === 'None' || s.ports.length === 0) continue;
    const prefix = envName(s.name);
    out.push({ key: `${prefix}_SERVICE_HOST`, value: s.clusterIP });
    out.push({ key: `${prefix}_SERVICE_PORT`, value: String(s.ports[0]!.port) });
    for (const p of s.ports) {
      if (p.name) out.push({ key: `${prefix}_SERVICE_PORT_${envName(p.name)}`, value: String(p.port) });
    }
    s.ports.forEach((p, i) => {
      const proto = (p.protocol || 'TCP').toLowerCase();
      const url = `${proto}://${joinHostPort(s.clusterIP, p.port)}`;
      if (i === 0) out.push({ key: `${prefix}_PORT`, value: url });
      const pp = `${prefix}_PORT_${p.port}_${proto.toUpperCase()}`;
      out.push({ key: pp, value: url });
      out.push({ key: `${pp}_PROTO`, value: proto });
      out.push({ key: `${pp}_PORT`, value: String(p.port) });
      out.push({ key: `${pp}_ADDR`, value: s.clusterIP });
    });
  }
  return out;
}

// ---- downward API ----

/** Go's strconv.Quote (`%q`): how upstream quotes label and annotation values and messages. */
export function goQuote(s: string): string {
  let out = '"';
  for (const ch of s) {
    const c = ch.codePointAt(0)!;
    switch (ch) {
      case '"': out += '\\"'; continue;
      case '\\': out += '\\\\'; continue;
      case '\x07': out += '\\a'; continue;
      case '\b': out += '\\b'; continue;
      case '\f': out += '\\f'; continue;
      case '\n': out += '\\n'; continue;
      case '\r': out += '\\r'; continue;
      case '\t': out += '\\t'; continue;
      case '\v': out += '\\v'; continue;
    }
    if (c < 0x80) {
      out += c < 0x20 || c === 0x7f ? `\\x${c.toString(16).padStart(2, '0')}` : ch;
    } else if (c >= 0xd800 && c <= 0xdfff) {
      out += '\ufffd';
    } else if (/[\p{L}\p{M}\p{N}\p{P}\p{S}]/u.test(ch)) {
      out += ch;
    } else {
      out += c <= 0xffff ? `\\u${c.toString(16).padStart(4, '0')}` : `\\U${c.toString(16).padStart(8, '0')}`;
    }
  }
  return out + '"';
}

/** Labels or annotations as the downward API writes them: `key="value"` lines sorted by key, no final newline. */
export function formatMap(m: Record<string, string> | undefined): string {
  return Object.keys(m ?? {})
    .sort()
    .map((k) => `${k}=${goQuote(m![k]!)}`)
    .join('\n');
}

/** `metadata.labels['key']` → [`metadata.labels`, `key`], as upstream's SplitMaybeSubscriptedPath. */
function splitSubscript(fieldPath: string): [string, string] | undefined {
  if (!fieldPath.endsWith("']")) return undefined;
  const s = fieldPath.slice(0, -2);
  const i = s.indexOf("['");
  if (i <= 0) return undefined;
  return [s.slice(0, i), s.slice(i + 2)];
}

const qualifiedNamePart = /^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$/;
const dnsSubdomain = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

function qualifiedNameErrors(value: string): string[] {
  const parts = value.split('/');
  let name = value;
  const errs: string[] = [];
  if (parts.length === 2) {
    const [prefix, n] = parts as [string, string];
    name = n;
    if (prefix.length === 0) errs.push('prefix part must be non-empty');
    else if (prefix.length > 253 || !dnsSubdomain.test(prefix)) {
      errs.push("prefix part a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character");
    }
  } else if (parts.length > 2) {
    return ["a qualified name must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character with an optional DNS subdomain prefix and '/'"];
  }
  if (name.length === 0) errs.push('name part must be non-empty');
  else if (name.length > 63) errs.push('name part must be no more than 63 characters');
  if (name.length > 0 && !qualifiedNamePart.test(name)) {
    errs.push("name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character");
  }
  return errs;
}

const downwardFieldLabels = new Set([
  'metadata.annotations',
  'metadata.labels',
  'metadata.name',
  'metadata.namespace',
  'metadata.uid',
  'spec.nodeName',
  'spec.restartPolicy',
  'spec.serviceAccountName',
  'spec.schedulerName',
  'status.phase',
  'status.hostIP',
  'status.hostIPs',
  'status.podIP',
  'status.podIPs',
]);

/**
 * The value of a downward-API fieldRef (upstream's ConvertDownwardAPIFieldLabel +
 * podFieldSelectorRuntimeValue + ExtractFieldPathAsString). Throws with upstream's message for an
 * unsupported path or version; a missing label or annotation is "".
 */
export function podFieldValue(pod: Pod, selector: ObjectFieldSelector, ips: DownwardIPs = {}): string {
  const version = selector.apiVersion || 'v1';
  if (version !== 'v1') throw new Error(`unsupported pod version: ${version}`);
  let fieldPath = selector.fieldPath;
  const sub = splitSubscript(fieldPath);
  if (sub) {
    const [path, key] = sub;
    if (path === 'metadata.annotations') {
      const errs = qualifiedNameErrors(key.toLowerCase());
      if (errs.length) throw new Error(`invalid key subscript in ${fieldPath}: ${errs.join(';')}`);
      return pod.metadata.annotations?.[key] ?? '';
    }
    if (path === 'metadata.labels') {
      const errs = qualifiedNameErrors(key);
      if (errs.length) throw new Error(`invalid key subscript in ${fieldPath}: ${errs.join(';')}`);
      return pod.metadata.labels?.[key] ?? '';
    }
    throw new Error(`field label does not support subscript: ${fieldPath}`);
  }
  if (fieldPath === 'spec.host') fieldPath = 'spec.nodeName';
  if (!downwardFieldLabels.has(fieldPath)) throw new Error(`field label not supported: ${fieldPath}`);
  const podIPs = ips.podIPs?.length
    ? ips.podIPs
    : ips.podIP
      ? [ips.podIP]
      : pod.status?.podIPs?.length
        ? pod.status.podIPs.map((p) => p.ip)
        : pod.status?.podIP
          ? [pod.status.podIP]
          : [];
  const podIP = podIPs[0] ?? '';
  const hostIPs = ips.hostIPs?.length
    ? ips.hostIPs
    : ips.hostIP
      ? [ips.hostIP]
      : pod.status?.hostIPs?.length
        ? pod.status.hostIPs.map((h) => h.ip)
        : pod.status?.hostIP
          ? [pod.status.hostIP]
          : [];
  switch (fieldPath) {
    case 'spec.nodeName':
      return pod.spec?.nodeName ?? '';
    case 'spec.serviceAccountName':
      return pod.spec?.serviceAccountName ?? '';
    case 'status.hostIP':
      return hostIPs[0] ?? '';
    case 'status.hostIPs':
      return hostIPs.join(',');
    case 'status.podIP':
      return podIP;
    case 'status.podIPs':
      return podIPs.join(',');
    case 'metadata.annotations':
      return formatMap(pod.metadata.annotations);
    case 'metadata.labels':
      return formatMap(pod.metadata.labels);
    case 'metadata.name':
      return pod.metadata.name ?? '';
    case 'metadata.namespace':
      return pod.metadata.namespace ?? '';
    case 'metadata.uid':
      return pod.metadata.uid ?? '';
  }
  throw new Error(`unsupported fieldPath: ${fieldPath}`);
}

const defaultedLimits = ['cpu', 'memory', 'ephemeral-storage'] as const;

/** Quantity.Value(): the value rounded up to an integer. */
function value(q: unknown): number {
  return Math.ceil(parseQuantity(q) ?? 0);
}

/**
 * The value of a downward-API resourceFieldRef (upstream's ExtractContainerResourceValue after
 * defaultPodLimitsForDownwardAPI): a missing or zero cpu, memory or ephemeral-storage limit is the
 * node's allocatable; the result is divided by `divisor` (default 1) and rounded up. Throws
 * `container x not found` or `unsupported container resource : r`.
 */
export function containerResourceValue(
  pod: Pod,
  container: Container | undefined,
  selector: ResourceFieldSelector,
  allocatable: Partial<NodeAllocatable> = {},
): string {
  let target = container;
  if (selector.containerName) {
    target = [...(pod.spec?.containers ?? []), ...(pod.spec?.initContainers ?? [])].find((c) => c.name === selector.containerName);
    if (!target) throw new Error(`container ${selector.containerName} not found`);
  }
  if (!target) throw new Error('resourceFieldRef needs a container name');
  const limits: Record<string, string> = { ...target.resources?.limits };
  for (const r of defaultedLimits) {
    if (!parseQuantity(limits[r]) && allocatable[r] !== undefined) limits[r] = allocatable[r]!;
  }
  const requests: Record<string, string> = { ...target.resources?.requests };
  const divisor = selector.divisor && parseQuantity(selector.divisor) ? selector.divisor : '1';
  const res = selector.resource;
  const dot = res.indexOf('.');
  const kind = res.slice(0, dot);
  const name = res.slice(dot + 1);
  const list = kind === 'limits' ? limits : kind === 'requests' ? requests : undefined;
  if (list && name === 'cpu') return String(Math.ceil(milliValue(list.cpu ?? '0') / milliValue(divisor)));
  if (list && (name === 'memory' || name === 'ephemeral-storage' || name.startsWith('hugepages-'))) {
    return String(Math.ceil(value(list[name] ?? '0') / value(divisor)));
  }
  throw new Error(`unsupported container resource : ${res}`);
}

// ---- the environment ----

function decodeSecretData(secret: Secret): Map<string, string> {
  const m = new Map<string, string>();
  for (const [k, v] of Object.entries(secret.data ?? {})) m.set(k, Buffer.from(v, 'base64').toString('utf8'));
  for (const [k, v] of Object.entries(secret.stringData ?? {})) m.set(k, v);
  return m;
}

/**
 * The container's environment as the kubelet makes it. Throws an Error whose message is what the
 * kubelet reports (CreateContainerConfigError) when a required source is missing:
 * `configmap "x" not found`, `couldn't find key k in ConfigMap ns/x`, likewise for secrets.
 * Reads each referenced ConfigMap and Secret at most once per call.
 */
export async function containerEnv(
  pod: Pod,
  container: Container,
  ctx: ContainerEnvContext,
): Promise<{ env: EnvVarPair[]; warnings: string[] }> {
  const ns = pod.metadata.namespace || 'default';
  const warnings: string[] = [];

  const links = new Map<string, ServiceLink>();
  if (ctx.masterService) links.set('kubernetes', { name: 'kubernetes', ...ctx.masterService });
  if (pod.spec?.enableServiceLinks !== false) {
    for (const s of ctx.sources.services ?? []) links.set(s.name, s);
  }
  const serviceEnv = new Map<string, string>();
  const sorted = [...links.values()].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  for (const e of serviceEnvVars(sorted)) serviceEnv.set(e.key, e.value);

  const configMaps = new Map<string, ConfigMap | undefined>();
  const secrets = new Map<string, Map<string, string> | undefined>();
  const getConfigMap = async (name: string): Promise<ConfigMap | undefined> => {
    if (!configMaps.has(name)) configMaps.set(name, await ctx.sources.getConfigMap(ns, name));
    return configMaps.get(name);
  };
  const getSecret = async (name: string): Promise<Map<string, string> | undefined> => {
    if (!secrets.has(name)) {
      const s = await ctx.sources.getSecret(ns, name);
      secrets.set(name, s ? decodeSecretData(s) : undefined);
    }
    return secrets.get(name);
  };

  const tmpEnv = new Map<string, string>();
  const strict = ctx.strictEnvVarNames ?? false;
  for (const from of container.envFrom ?? []) {
    let data: Map<string, string>;
    let kind: string;
    let name: string;
    if (from.configMapRef) {
      kind = 'configMap';
      name = from.configMapRef.name ?? '';
      const cm = await getConfigMap(name);
      if (!cm) {
        if (from.configMapRef.optional) continue;
        throw new Error(`configmap "${name}" not found`);
      }
      data = new Map(Object.entries(cm.data ?? {}));
    } else if (from.secretRef) {
      kind = 'secret';
      name = from.secretRef.name ?? '';
      const s = await getSecret(name);
      if (!s) {
        if (from.secretRef.optional) continue;
        throw new Error(`secret "${name}" not found`);
      }
      data = s;
    } else {
      continue;
    }
    const invalid: string[] = [];
    for (const k of [...data.keys()].sort()) {
      const key = (from.prefix ?? '') + k;
      if (!isValidEnvVarName(key, strict)) invalid.push(key);
      else tmpEnv.set(key, data.get(k)!);
    }
    if (invalid.length) {
      warnings.push(
        `Keys [${invalid.sort().join(', ')}] from the EnvFrom ${kind} ${ns}/${name} were skipped since they are considered invalid environment variable names.`,
      );
    }
  }

  const lookup = (n: string): string | undefined => tmpEnv.get(n) ?? serviceEnv.get(n);
  const ips: DownwardIPs = { podIP: ctx.podIP, podIPs: ctx.podIPs, hostIP: ctx.hostIP, hostIPs: ctx.hostIPs };
  for (const e of container.env ?? []) {
    let val = e.value ?? '';
    if (val !== '') {
      val = expand(val, lookup);
    } else if (e.valueFrom) {
      const from = e.valueFrom;
      if (from.fieldRef) {
        val = podFieldValue(pod, from.fieldRef, ips);
      } else if (from.resourceFieldRef) {
        val = containerResourceValue(pod, container, from.resourceFieldRef, ctx.nodeAllocatable);
      } else if (from.configMapKeyRef) {
        const ref = from.configMapKeyRef;
        const name = ref.name ?? '';
        const cm = await getConfigMap(name);
        if (!cm) {
          if (ref.optional) continue;
          throw new Error(`configmap "${name}" not found`);
        }
        const v = cm.data?.[ref.key];
        if (v === undefined) {
          if (ref.optional) continue;
          throw new Error(`couldn't find key ${ref.key} in ConfigMap ${ns}/${name}`);
        }
        val = v;
      } else if (from.secretKeyRef) {
        const ref = from.secretKeyRef;
        const name = ref.name ?? '';
        const s = await getSecret(name);
        if (!s) {
          if (ref.optional) continue;
          throw new Error(`secret "${name}" not found`);
        }
        const v = s.get(ref.key);
        if (v === undefined) {
          if (ref.optional) continue;
          throw new Error(`couldn't find key ${ref.key} in Secret ${ns}/${name}`);
        }
        val = v;
      }
    }
    tmpEnv.delete(e.name);
    tmpEnv.set(e.name, val);
  }

  const env: EnvVarPair[] = [];
  for (const [key, v] of tmpEnv) env.push({ key, value: v });
  for (const [key, v] of serviceEnv) if (!tmpEnv.has(key)) env.push({ key, value: v });
  return { env, warnings };
}
