/**
 * pods/proxy and services/proxy, as upstream's ProxyREST for pods and services
 * (pkg/registry/core/pod/strategy.go ResourceLocation, pkg/registry/core/service/storage
 * ResourceLocation) with the upgrade-aware proxy (apimachinery pkg/util/proxy):
 * - `…/pods/[scheme:]NAME[:PORT]/proxy/PATH`: the pod's IP and the given port (default: the
 *   first declared container port; none: the scheme's default), scheme http unless `https`.
 * - `…/services/[scheme:]NAME[:PORT]/proxy/PATH`: PORT is a service port name, or a number
 *   that names the service port with that number; the Service's Endpoints give one ready
 *   address (chosen at random, as upstream) with the endpoint port of that name.
 * Any method is proxied (the request body streamed), the answer streamed back; an HTTP/1.1
 * upgrade is proxied raw. Errors as upstream: 400 `invalid pod request "…"` / `invalid service
 * request "…"` for a bad id, 404 for an unknown pod or service (or a service without
 * Endpoints), 400 `address not allowed` for a pod without a routable IP, 503 `no endpoints
 * available for service "…"`, `no service port N found for service "…"`, and 503 `error trying
 * to reach service: …` when the backend cannot be reached.
 *
 * Pod IPs are routable from the API server's host (the node's pod bridge on this machine).
 * Departures: a non-numeric pod port is refused with 400 at once (upstream fails later, when
 * dialing); HTML answers are relayed as they are (upstream rewrites their links to go through
 * the proxy path).
 */
import type { IncomingMessage } from 'node:http';
import { badRequest, notFound, statusError } from '../../api/errors.ts';
import type { Endpoints, Pod, Service } from '../../api/index.ts';
import type { UpstreamTarget } from '../../util/upgrade.ts';
import { isUpgradeRequest, proxyHttp, proxyRawUpgrade, splitSchemeNamePort, type ConnectContext } from './connect.ts';

/** The backend a proxy request goes to (scheme, host, port), without path. */
export interface ProxyLocation {
  scheme: 'http' | 'https';
  host: string;
  /** Empty: the scheme's default port. */
  port: string;
}

/** The path after `…/{name}/proxy` as the client escaped it (`/` when none), and the raw query. */
export function proxySubpath(rawUrl: string): { path: string; search: string } {
  const url = new URL(rawUrl, 'https://localhost');
  const segments = url.pathname.split('/');
  // ['', 'api', 'v1', 'namespaces', NS, RESOURCE, NAME, 'proxy', …rest]
  const rest = segments.length > 8 ? segments.slice(8) : [];
  return { path: `/${rest.join('/')}`, search: url.search };
}

function validPort(port: string): boolean {
  if (!/^\d{1,5}$/.test(port)) return false;
  const n = Number(port);
  return n >= 1 && n <= 65535;
}

/** Where pods/proxy for `id` (`[scheme:]name[:port]`) goes, as upstream's pod ResourceLocation. */
export function podLocation(id: string, pod: Pod): ProxyLocation {
  const parsed = splitSchemeNamePort(id)!;
  let port = parsed.port;
  if (!port) {
    for (const c of pod.spec?.containers ?? []) {
      const first = c.ports?.[0];
      if (first) {
        port = String(first.containerPort);
        break;
      }
    }
  }
  const ip = pod.status?.podIP ?? pod.status?.podIPs?.[0]?.ip ?? '';
  if (!isGlobalUnicast(ip)) throw badRequest('address not allowed');
  return { scheme: parsed.scheme === 'https' ? 'https' : 'http', host: ip, port };
}

/**
 * Where services/proxy for `id` goes: a random ready address of the Endpoints for the named
 * port (a number is first turned into the name of the service port with that number).
 */
export function serviceLocation(id: string, svc: Service, eps: Endpoints, random: () => number = Math.random): ProxyLocation {
  const parsed = splitSchemeNamePort(id)!;
  const svcName = parsed.name;
  let portName = parsed.port;
  if (/^-?\d+$/.test(portName)) {
    const n = Number(portName);
    const sp = svc.spec?.ports?.find((p) => p.port === n);
    if (!sp) throw statusError('ServiceUnavailable', `no service port ${n} found for service ${JSON.stringify(svcName)}`);
    portName = sp.name ?? '';
  }
  const subsets = eps.subsets ?? [];
  if (!subsets.length) throw statusError('ServiceUnavailable', `no endpoints available for service ${JSON.stringify(svcName)}`);
  const start = Math.floor(random() * subsets.length);
  for (let i = 0; i < subsets.length; i++) {
    const ss = subsets[(start + i) % subsets.length]!;
    const addresses = ss.addresses ?? [];
    if (!addresses.length) continue;
    const port = (ss.ports ?? []).find((p) => (p.name ?? '') === portName);
    if (!port) continue;
    const addr = addresses[Math.floor(random() * addresses.length)]!;
    if (!isGlobalUnicast(addr.ip)) throw badRequest('address not allowed');
    return { scheme: parsed.scheme === 'https' ? 'https' : 'http', host: addr.ip, port: String(port.port) };
  }
  throw statusError('ServiceUnavailable', `no endpoints available for service ${JSON.stringify(id)}`);
}

/** An IPv4 or IPv6 address that is not unspecified, loopback, link-local or multicast. */
export function isGlobalUnicast(ip: string): boolean {
  const v4 = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(ip);
  if (v4) {
    const [a, b] = [Number(v4[1]), Number(v4[2])];
    if (v4.slice(1).some((x) => Number(x) > 255)) return false;
    return !(a === 0 || a === 127 || (a === 169 && b === 254) || a >= 224);
  }
  if (!ip.includes(':')) return false;
  const lower = ip.toLowerCase();
  return !(lower === '::' || lower === '::1' || /^fe[89ab]/.test(lower) || lower.startsWith('ff'));
}

function targetOf(loc: ProxyLocation, sub: { path: string; search: string }): UpstreamTarget {
  const host = loc.host.includes(':') ? `[${loc.host}]` : loc.host;
  // Certificates of pods are not checked (upstream's proxy transport does not verify them either).
  return { url: new URL(`${loc.scheme}://${host}${loc.port ? `:${loc.port}` : ''}${sub.path}${sub.search}`), tls: { insecureSkipVerify: true } };
}

/** Serves pods/proxy or services/proxy. Resolves when the response or session is over. */
export async function serveResourceProxy(ctx: ConnectContext, kind: 'pods' | 'services'): Promise<void> {
  const { namespace, name: id } = ctx.info;
  const parsed = splitSchemeNamePort(id);
  if (!parsed || (kind === 'pods' && parsed.port && !validPort(parsed.port))) throw badRequest(`invalid ${kind === 'pods' ? 'pod' : 'service'} request ${JSON.stringify(id)}`);
  let loc: ProxyLocation;
  if (kind === 'pods') {
    loc = podLocation(id, await ctx.getPod(namespace, parsed.name));
  } else {
    if (!ctx.getObject) throw statusError('ServiceUnavailable', 'services/proxy is not available on this server');
    const svc = (await ctx.getObject({ group: '', kind: 'Service' }, namespace, parsed.name)) as unknown as Service;
    let eps: Endpoints;
    try {
      eps = (await ctx.getObject({ group: '', kind: 'Endpoints' }, namespace, parsed.name)) as unknown as Endpoints;
    } catch (err) {
      if (err instanceof Error && 'status' in err && (err as { status: { reason?: string } }).status.reason === 'NotFound') throw notFound({ group: '', resource: 'endpoints' }, parsed.name);
      throw err;
    }
    loc = serviceLocation(id, svc, eps);
  }
  const target = targetOf(loc, proxySubpath(ctx.req.url ?? '/'));
  if (ctx.upgrade && isUpgradeRequest(ctx.req.headers as Record<string, string | string[] | undefined>)) {
    return proxyRawUpgrade({ req: ctx.req as IncomingMessage, socket: ctx.upgrade.socket, head: ctx.upgrade.head }, target);
  }
  await proxyHttp(ctx, target);
}
