import { test } from 'node:test';
import assert from 'node:assert/strict';
import { resources, validateAPIService, validateAPIServiceStatus } from './apiregistration.ts';
import type { APIService } from '../generated/types.ts';
import type { KubeObject } from '../types.ts';

const def = resources[0]!;
const svc = (name: string, spec: Partial<NonNullable<APIService['spec']>>, status?: APIService['status']): APIService => ({
  metadata: { name, creationTimestamp: '2024-01-01T00:00:00Z' },
  spec: { groupPriorityMinimum: 100, versionPriority: 10, ...spec },
  status,
});
const msgs = (o: APIService) => validateAPIService(o).map((c) => `${c.field}: ${c.message}`);

const cases: { name: string; obj: APIService; want: string[] }[] = [
  { name: 'a local APIService named <version>.<group> is valid', obj: svc('v1.example.com', { group: 'example.com', version: 'v1' }), want: [] },
  { name: 'the core group may only be v1', obj: svc('v2.', { version: 'v2' }), want: ['spec.group: Required value: only v1 may have an empty group and it better be legacy kube'] },
  { name: 'the name must be version.group', obj: svc('x.example.com', { group: 'example.com', version: 'v1' }), want: ['metadata.name: Invalid value: "x.example.com": must be `spec.version+"."+spec.group`: "v1.example.com"'] },
  {
    name: 'priorities must be in range',
    obj: svc('v1.example.com', { group: 'example.com', version: 'v1', groupPriorityMinimum: 20001, versionPriority: 0 }),
    want: ['spec.groupPriorityMinimum: Invalid value: 20001: must be positive and less than 20000', 'spec.versionPriority: Invalid value: 0: must be positive and less than 1000'],
  },
  { name: 'a local APIService may not carry a caBundle', obj: svc('v1.example.com', { group: 'example.com', version: 'v1', caBundle: Buffer.from('abcd').toString('base64') }), want: ['spec.caBundle: Invalid value: "4 bytes": local APIServices may not have a caBundle'] },
  {
    name: 'a service reference needs namespace, name and a valid port',
    obj: svc('v1.example.com', { group: 'example.com', version: 'v1', service: { port: 0 } }),
    want: ['spec.service.namespace: Required value', 'spec.service.name: Required value', 'spec.service.port: Invalid value: 0: port is not valid: must be between 1 and 65535, inclusive'],
  },
  {
    name: 'insecureSkipTLSVerify and a caBundle exclude each other',
    obj: svc('v1.example.com', { group: 'example.com', version: 'v1', service: { namespace: 'ns', name: 's', port: 443 }, insecureSkipTLSVerify: true, caBundle: 'YQ==' }),
    want: ['spec.insecureSkipTLSVerify: Invalid value: true: may not be true if caBundle is present'],
  },
];
for (const c of cases) test(c.name, () => assert.deepEqual(msgs(c.obj), c.want));

test('status conditions must be True, False or Unknown', () => {
  const o = svc('v1.example.com', {}, { conditions: [{ type: 'Available', status: 'Maybe' }] });
  assert.deepEqual(validateAPIServiceStatus(o).map((c) => c.message), ['Unsupported value: "Maybe": supported values: "True", "False", "Unknown"']);
});

test('create clears status and marks a local APIService Available (Local)', () => {
  const local = svc('v1.example.com', { group: 'example.com', version: 'v1' }, { conditions: [{ type: 'Available', status: 'False' }] }) as unknown as KubeObject;
  def.prepareForCreate!(local);
  const c = (local as unknown as APIService).status!.conditions![0]!;
  assert.deepEqual([c.type, c.status, c.reason, c.message], ['Available', 'True', 'Local', 'Local APIServices are always available']);
  const remote = svc('v1.example.com', { service: { namespace: 'ns', name: 's' } }, { conditions: [] }) as unknown as KubeObject;
  def.prepareForCreate!(remote);
  def.default!(remote);
  assert.deepEqual((remote as unknown as APIService).status, {});
  assert.equal((remote as unknown as APIService).spec!.service!.port, 443);
});

test('the table shows NAME, SERVICE, AVAILABLE (with the reason when not True), AGE', () => {
  assert.deepEqual(def.table!.columns.map((c) => c.name), ['Name', 'Service', 'Available', 'Age']);
  const now = Date.parse('2024-01-01T00:00:10Z');
  const row = (o: APIService) => def.table!.row(o as unknown as KubeObject, now);
  assert.deepEqual(row(svc('v1.a', {})), ['v1.a', 'Local', 'Unknown', '10s']);
  assert.deepEqual(row(svc('v1.a', { service: { namespace: 'ns', name: 's' } }, { conditions: [{ type: 'Available', status: 'False', reason: 'MissingEndpoints' }] })), ['v1.a', 'ns/s', 'False (MissingEndpoints)', '10s']);
  assert.deepEqual(row(svc('v1.a', {}, { conditions: [{ type: 'Available', status: 'True', reason: 'Local' }] })), ['v1.a', 'Local', 'True', '10s']);
});
