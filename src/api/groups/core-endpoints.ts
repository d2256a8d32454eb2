/**
 * Endpoints (core/v1): upstream's defaulting (port protocol TCP), validation (each subset has
 * addresses or notReadyAddresses; addresses are valid, non-special IPs with DNS-label hostnames
 * and subdomain node names; ports named when there are several, valid numbers and protocols) and
 * the printer, which lists up to three ip:port pairs and then "+ N more...".
 */
import type { KubeObject, StatusCause } from '../types.ts';
import type { TableDef } from '../resource.ts';
import { invalidValue, isDNS1123Label, isDNS1123Subdomain, isQualifiedName, isValidPortNum, notSupported, required } from '../validation.ts';
import { ageColumn, ageOf, arr, col, isObj, nameColumn, obj, str, type J } from './core-common.ts';
import { validateIP, validateNonSpecialIP } from './core-net.ts';

const protocols = ['SCTP', 'TCP', 'UDP'] as const;

/** SetDefaults_Endpoints. */
export function defaultEndpoints(ep: KubeObject): void {
  for (const ss of arr(ep['subsets'])) {
    for (const p of arr(obj(ss)['ports'])) if (isObj(p) && !p['protocol']) p['protocol'] = 'TCP';
  }
}

function validateAddress(a: J, path: string): StatusCause[] {
  const errs = validateIP(`${path}.ip`, a['ip'] ?? '');
  if (str(a['hostname'])) for (const m of isDNS1123Label(a['hostname'])) errs.push(invalidValue(`${path}.hostname`, a['hostname'], m));
  if (a['nodeName'] !== undefined && a['nodeName'] !== null) {
    for (const m of isDNS1123Subdomain(str(a['nodeName']))) errs.push(invalidValue(`${path}.nodeName`, a['nodeName'], m));
  }
  errs.push(...validateNonSpecialIP(a['ip'] ?? '', `${path}.ip`));
  return errs;
}

function validatePort(p: J, requireName: boolean, path: string): StatusCause[] {
  const errs: StatusCause[] = [];
  const name = str(p['name']);
  if (requireName && !name) errs.push(required(`${path}.name`));
  else if (name) for (const m of isDNS1123Label(name)) errs.push(invalidValue(`${path}.name`, name, m));
  if (!isValidPortNum(p['port'])) errs.push(invalidValue(`${path}.port`, p['port'] ?? 0, 'must be between 1 and 65535, inclusive'));
  if (!p['protocol']) errs.push(required(`${path}.protocol`));
  else if (!(protocols as readonly unknown[]).includes(p['protocol'])) errs.push(notSupported(`${path}.protocol`, p['protocol'], protocols));
  if (p['appProtocol'] !== undefined && p['appProtocol'] !== null) {
    for (const m of isQualifiedName(str(p['appProtocol']))) errs.push(invalidValue(`${path}.appProtocol`, p['appProtocol'], m));
  }
  return errs;
}

/** Upstream ValidateEndpoints (metadata aside); the same rules on create and update. */
export function validateEndpoints(ep: KubeObject): StatusCause[] {
  const errs: StatusCause[] = [];
  arr(ep['subsets']).forEach((raw, i) => {
    const ss = obj(raw);
    const path = `subsets[${i}]`;
    const addrs = arr(ss['addresses']);
    const notReady = arr(ss['notReadyAddresses']);
    if (!addrs.length && !notReady.length) errs.push(required(path, 'must specify `addresses` or `notReadyAddresses`'));
    addrs.forEach((a, j) => errs.push(...validateAddress(obj(a), `${path}.addresses[${j}]`)));
    notReady.forEach((a, j) => errs.push(...validateAddress(obj(a), `${path}.notReadyAddresses[${j}]`)));
    const ports = arr(ss['ports']);
    ports.forEach((p, j) => errs.push(...validatePort(obj(p), ports.length > 1, `${path}.ports[${j}]`)));
  });
  return errs;
}

function joinHostPort(ip: string, port: unknown): string {
  return ip.includes(':') ? `[${ip}]:${port}` : `${ip}:${port}`;
}

/** Upstream formatEndpoints with all ports: at most three entries, then "+ N more...". */
export function formatEndpoints(ep: KubeObject): string {
  const subsets = arr(ep['subsets']);
  if (!subsets.length) return '<none>';
  const max = 3;
  const list: string[] = [];
  let more = false;
  let count = 0;
  for (const raw of subsets) {
    const ss = obj(raw);
    const addrs = arr(ss['addresses']).map((a) => str(obj(a)['ip']));
    const ports = arr(ss['ports']);
    if (!ports.length) {
      count += addrs.length;
      for (const ip of addrs) {
        if (list.length === max) {
          more = true;
          break;
        }
        list.push(ip);
      }
      continue;
    }
    for (const p of ports) {
      count += addrs.length;
      for (const ip of addrs) {
        if (list.length === max) {
          more = true;
          break;
        }
        list.push(joinHostPort(ip, obj(p)['port'] ?? 0));
      }
    }
  }
  const s = list.join(',');
  return more ? `${s} + ${count - max} more...` : s;
}

export const endpointsTable: TableDef = {
  columns: [nameColumn, col('Endpoints', 'The ready addresses and ports of the endpoints.'), ageColumn],
  row: (ep, now) => [ep.metadata.name ?? '', formatEndpoints(ep), ageOf(ep, now)],
};
