/**
 * discovery.k8s.io/v1: EndpointSlice, as upstream declares it: port names default to "" and
 * protocols to TCP; validation checks the address type (IPv4, IPv6, FQDN; immutable), 1..100
 * addresses per endpoint of that type, node names, hostnames, zone hints and ports; metadata.generation
 * is kept; the printer shows up to three ports and addresses, then "+ N more...".
 */
import type { KubeObject, StatusCause } from '../types.ts';
import type { ResourceDef, TableDef } from '../resource.ts';
import {
  duplicate,
  immutable,
  invalidValue,
  isDNS1123Label,
  isDNS1123Subdomain,
  isLabelValue,
  isQualifiedName,
  jsonEqual,
  notSupported,
  required,
  tooMany,
  validateLabels,
} from '../validation.ts';
import { ageColumn, ageOf, arr, col, isObj, nameColumn, obj, str } from './core-common.ts';
import { validateIPv4, validateIPv6, validateNonSpecialIP } from './core-net.ts';

const addressTypes = ['FQDN', 'IPv4', 'IPv6'] as const;
const protocols = ['SCTP', 'TCP', 'UDP'] as const;
const maxTopologyLabels = 16;
const maxAddresses = 100;
const maxPorts = 20000;
const maxEndpoints = 1000;
const maxZoneHints = 8;

/** SetDefaults_EndpointPort. */
export function defaultEndpointSlice(eps: KubeObject): void {
  for (const p of arr(eps['ports'])) {
    if (!isObj(p)) continue;
    if (p['name'] === undefined || p['name'] === null) p['name'] = '';
    if (p['protocol'] === undefined || p['protocol'] === null) p['protocol'] = 'TCP';
  }
}

/** Upstream IsFullyQualifiedDomainName. */
function validateFQDN(path: string, name: unknown): StatusCause[] {
  let v = str(name);
  if (!v) return [required(path)];
  if (v.endsWith('.')) v = v.slice(0, -1);
  const sub = isDNS1123Subdomain(v);
  if (sub.length) return [invalidValue(path, v, sub.join(','))];
  const labels = v.split('.');
  if (labels.length < 2) return [invalidValue(path, v, 'should be a domain with at least two segments separated by dots')];
  for (const l of labels) {
    const e = isDNS1123Label(l);
    if (e.length) return [invalidValue(path, l, e.join(','))];
  }
  return [];
}

function validateEndpoints(endpoints: unknown[], addressType: unknown): StatusCause[] {
  if (endpoints.length > maxEndpoints) return [tooMany('endpoints', endpoints.length, maxEndpoints)];
  const errs: StatusCause[] = [];
  endpoints.forEach((raw, i) => {
    const ep = obj(raw);
    const path = `endpoints[${i}]`;
    const addrs = arr(ep['addresses']);
    if (!addrs.length) errs.push(required(`${path}.addresses`, 'must contain at least 1 address'));
    else if (addrs.length > maxAddresses) errs.push(tooMany(`${path}.addresses`, addrs.length, maxAddresses));
    addrs.forEach((a, j) => {
      const p = `${path}.addresses[${j}]`;
      if (addressType === 'IPv4') errs.push(...validateIPv4(p, a), ...validateNonSpecialIP(a, p));
      else if (addressType === 'IPv6') errs.push(...validateIPv6(p, a), ...validateNonSpecialIP(a, p));
      else if (addressType === 'FQDN') errs.push(...validateFQDN(p, a));
    });
    if (ep['nodeName'] !== undefined && ep['nodeName'] !== null) {
      for (const m of isDNS1123Subdomain(str(ep['nodeName']))) errs.push(invalidValue(`${path}.nodeName`, ep['nodeName'], m));
    }
    const topo = obj(ep['deprecatedTopology']);
    if (Object.keys(topo).length > maxTopologyLabels) errs.push(tooMany(`${path}.deprecatedTopology`, Object.keys(topo).length, maxTopologyLabels));
    errs.push(...validateLabels(ep['deprecatedTopology'], `${path}.deprecatedTopology`));
    if (ep['hostname'] !== undefined && ep['hostname'] !== null) {
      for (const m of isDNS1123Label(str(ep['hostname']))) errs.push(invalidValue(`${path}.hostname`, ep['hostname'], m));
    }
    if (isObj(ep['hints'])) {
      const zones = arr(ep['hints']['forZones']);
      const zp = `${path}.hints.forZones`;
      if (zones.length > maxZoneHints) {
        errs.push(tooMany(zp, zones.length, maxZoneHints));
        return;
      }
      const seen = new Set<string>();
      zones.forEach((z, k) => {
        const name = str(obj(z)['name']);
        const np = `${zp}[${k}].name`;
        if (seen.has(name)) errs.push(duplicate(np, name));
        else seen.add(name);
        for (const m of isLabelValue(name)) errs.push(invalidValue(np, name, m));
      });
    }
  });
  return errs;
}

function validatePorts(ports: unknown[]): StatusCause[] {
  if (ports.length > maxPorts) return [tooMany('ports', ports.length, maxPorts)];
  const errs: StatusCause[] = [];
  const names = new Set<string>();
  ports.forEach((raw, i) => {
    const p = obj(raw);
    const path = `ports[${i}]`;
    const name = str(p['name']);
    if (name) for (const m of isDNS1123Label(name)) errs.push(invalidValue(`${path}.name`, name, m));
    if (names.has(name)) errs.push(duplicate(`${path}.name`, name));
    else names.add(name);
    if (p['protocol'] === undefined || p['protocol'] === null) errs.push(required(`${path}.protocol`));
    else if (!(protocols as readonly unknown[]).includes(p['protocol'])) errs.push(notSupported(`${path}.protocol`, p['protocol'], protocols));
    if (p['appProtocol'] !== undefined && p['appProtocol'] !== null) {
      for (const m of isQualifiedName(str(p['appProtocol']))) errs.push(invalidValue(`${path}.appProtocol`, p['appProtocol'], m));
    }
  });
  return errs;
}

/** Upstream ValidateEndpointSliceCreate / ValidateEndpointSliceUpdate (metadata aside). */
export function validateEndpointSlice(eps: KubeObject, ctx: { old?: KubeObject }): StatusCause[] {
  const errs: StatusCause[] = [];
  const type = eps['addressType'];
  if (type === undefined || type === null || type === '') errs.push(required('addressType'));
  else if (!(addressTypes as readonly unknown[]).includes(type)) errs.push(notSupported('addressType', type, addressTypes));
  errs.push(...validatePorts(arr(eps['ports'])));
  // Unchanged endpoints are not re-validated (they may predate stricter IP rules).
  if (!ctx.old || !jsonEqual(ctx.old['endpoints'] ?? null, eps['endpoints'] ?? null)) errs.push(...validateEndpoints(arr(eps['endpoints']), type));
  if (ctx.old) errs.push(...immutable('addressType', type ?? '', ctx.old['addressType'] ?? ''));
  return errs;
}

function withMore(list: string[], more: boolean, count: number, max: number): string {
  const s = list.join(',');
  if (more) return `${s} + ${count - max} more...`;
  return s || '<unset>';
}

function portsCell(ports: unknown[]): string {
  const list: string[] = [];
  const max = 3;
  let more = false;
  let count = 0;
  for (const raw of ports) {
    const p = obj(raw);
    if (list.length < max) {
      list.push(p['port'] !== undefined && p['port'] !== null ? String(p['port']) : p['name'] !== undefined && p['name'] !== null ? str(p['name']) : '*');
    } else if (list.length === max) more = true;
    count++;
  }
  return withMore(list, more, count, max);
}

function endpointsCell(endpoints: unknown[]): string {
  const list: string[] = [];
  const max = 3;
  let more = false;
  let count = 0;
  for (const ep of endpoints) {
    for (const a of arr(obj(ep)['addresses'])) {
      if (list.length < max) list.push(str(a));
      else if (list.length === max) more = true;
      count++;
    }
  }
  return withMore(list, more, count, max);
}

export const endpointSliceTable: TableDef = {
  columns: [
    nameColumn,
    col('AddressType', 'The type of the addresses in the slice (IPv4, IPv6, FQDN).'),
    col('Ports', 'The ports of the slice.'),
    col('Endpoints', 'The addresses of the endpoints in the slice.'),
    ageColumn,
  ],
  row: (eps, now) => [eps.metadata.name ?? '', str(eps['addressType']), portsCell(arr(eps['ports'])), endpointsCell(arr(eps['endpoints'])), ageOf(eps, now)],
};

export const endpointSlices: ResourceDef = {
  group: 'discovery.k8s.io',
  version: 'v1',
  kind: 'EndpointSlice',
  plural: 'endpointslices',
  singular: 'endpointslice',
  namespaced: true,
  generation: true,
  default: defaultEndpointSlice,
  validate: validateEndpointSlice,
  table: endpointSliceTable,
};

export const resources: ResourceDef[] = [endpointSlices];

