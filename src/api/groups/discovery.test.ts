import { test } from 'node:test';
import assert from 'node:assert/strict';
import { endpointSlices } from './discovery.ts';
import { create, make, oneHourLater, summary, update } from './core-testing.ts';

const slice = (fields: Record<string, unknown>) => make(endpointSlices, { addressType: 'IPv4', ...fields });

test('EndpointSlices are declared as upstream does', () => {
  assert.deepEqual(
    [endpointSlices.group, endpointSlices.version, endpointSlices.kind, endpointSlices.plural, endpointSlices.singular, endpointSlices.namespaced, endpointSlices.shortNames, endpointSlices.generation],
    ['discovery.k8s.io', 'v1', 'EndpointSlice', 'endpointslices', 'endpointslice', true, undefined, true],
  );
  assert.deepEqual(endpointSlices.table!.columns.map((c) => [c.name, c.priority]), [['Name', 0], ['AddressType', 0], ['Ports', 0], ['Endpoints', 0], ['Age', 0]]);
});

test('EndpointSlice ports default to an empty name and TCP', () => {
  const { obj, causes } = create(endpointSlices, slice({ ports: [{ port: 80 }], endpoints: [{ addresses: ['10.42.0.5'], conditions: { ready: true } }] }));
  assert.deepEqual(summary(causes), []);
  assert.deepEqual(obj['ports'], [{ port: 80, name: '', protocol: 'TCP' }]);
});

const cases: { name: string; fields: Record<string, unknown>; want: string[] }[] = [
  { name: 'an address type is required', fields: { addressType: undefined }, want: ['addressType: FieldValueRequired'] },
  { name: 'an address type must be IPv4, IPv6 or FQDN', fields: { addressType: 'IPX' }, want: ['addressType: FieldValueNotSupported'] },
  { name: 'an endpoint needs an address', fields: { endpoints: [{ addresses: [] }] }, want: ['endpoints[0].addresses: FieldValueRequired'] },
  {
    name: 'an endpoint has at most 100 addresses',
    fields: { endpoints: [{ addresses: Array.from({ length: 101 }, (_, i) => `10.0.${i >> 8}.${(i & 255) + 1}`) }] },
    want: ['endpoints[0].addresses: FieldValueTooMany'],
  },
  { name: 'IPv4 slices hold IPv4 addresses', fields: { endpoints: [{ addresses: ['fd00::1'] }] }, want: ['endpoints[0].addresses[0]: FieldValueInvalid'] },
  { name: 'IPv6 slices hold IPv6 addresses', fields: { addressType: 'IPv6', endpoints: [{ addresses: ['fd00::1', '10.0.0.1'] }] }, want: ['endpoints[0].addresses[1]: FieldValueInvalid'] },
  { name: 'slice addresses may not be loopback', fields: { endpoints: [{ addresses: ['127.0.0.1'] }] }, want: ['endpoints[0].addresses[0]: FieldValueInvalid'] },
  { name: 'FQDN slices hold domain names', fields: { addressType: 'FQDN', endpoints: [{ addresses: ['db.example.com', 'localhost'] }] }, want: ['endpoints[0].addresses[1]: FieldValueInvalid'] },
  { name: 'a node name must be a subdomain', fields: { endpoints: [{ addresses: ['10.0.0.1'], nodeName: 'Node_1' }] }, want: ['endpoints[0].nodeName: FieldValueInvalid'] },
  { name: 'port names are unique', fields: { ports: [{ name: 'a', port: 1 }, { name: 'a', port: 2 }] }, want: ['ports[1].name: FieldValueDuplicate'] },
  { name: 'port protocols must be known', fields: { ports: [{ port: 1, protocol: 'QUIC' }] }, want: ['ports[0].protocol: FieldValueNotSupported'] },
  { name: 'zone hints are label values', fields: { endpoints: [{ addresses: ['10.0.0.1'], hints: { forZones: [{ name: 'a b' }] } }] }, want: ['endpoints[0].hints.forZones[0].name: FieldValueInvalid'] },
];
for (const c of cases) test(c.name, () => assert.deepEqual(summary(create(endpointSlices, slice(c.fields)).causes), c.want));

test('an EndpointSlice address type may not change', () => {
  const old = create(endpointSlices, slice({ endpoints: [] })).obj;
  assert.deepEqual(summary(update(endpointSlices, slice({ addressType: 'IPv6', endpoints: [] }), old).causes), ['addressType: FieldValueInvalid']);
});

const rowCases: { name: string; fields: Record<string, unknown>; want: unknown[] }[] = [
  { name: 'an empty slice shows <unset> ports and endpoints', fields: {}, want: ['x', 'IPv4', '<unset>', '<unset>', '60m'] },
  {
    name: 'a slice shows three ports and addresses, then how many more',
    fields: {
      ports: [{ port: 80 }, { name: 'metrics' }, {}, { port: 9000 }],
      endpoints: [{ addresses: ['10.0.0.1', '10.0.0.2'] }, { addresses: ['10.0.0.3', '10.0.0.4', '10.0.0.5'] }],
    },
    want: ['x', 'IPv4', '80,metrics,* + 1 more...', '10.0.0.1,10.0.0.2,10.0.0.3 + 2 more...', '60m'],
  },
];
for (const c of rowCases) test(c.name, () => assert.deepEqual(endpointSlices.table!.row(slice(c.fields), oneHourLater), c.want));
