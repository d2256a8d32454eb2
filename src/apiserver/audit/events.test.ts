/**
 * Audit event pieces: MicroTime, source IPs, user agent cut, JSON encoding in Go's field order
 * with empty fields left out, the legacy line, response statuses and managedFields removal.
 */
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import {
  annotate,
  compactJson,
  encodeEvent,
  eventString,
  microTime,
  newEvent,
  responseStatus,
  sourceIPs,
  truncateUserAgent,
  withoutManagedFields,
  type AuditRequestInfo,
} from './events.ts';
import { statusError } from '../../api/errors.ts';

const t0 = Date.parse('2026-12-05T10:00:00.000Z');

function info(x: Partial<AuditRequestInfo> = {}): AuditRequestInfo {
  return {
    requestURI: '/api/v1/namespaces/default/pods?limit=500',
    verb: 'list',
    user: { username: 'jane', groups: ['dev', 'system:authenticated'] },
    sourceIPs: ['10.0.0.1'],
    userAgent: 'kubectl/v1.33.0 (linux/amd64) kubernetes/abc',
    isResourceRequest: true,
    apiGroup: '',
    apiVersion: 'v1',
    resource: 'pods',
    subresource: '',
    namespace: 'default',
    name: '',
    path: '/api/v1/namespaces/default/pods',
    ...x,
  };
}

describe('microTime', () => {
  const cases: Array<[number, string]> = [
    [t0, '2026-12-05T10:00:00.000000Z'],
    [t0 + 1.5, '2026-12-05T10:00:00.001500Z'],
    [t0 + 999.999, '2026-12-05T10:00:00.999999Z'],
    [t0 + 123.4567, '2026-12-05T10:00:00.123457Z'],
  ];
  for (const [ms, want] of cases) test(want, () => assert.equal(microTime(ms), want));
});

describe('sourceIPs (upstream utilnet.SourceIPs)', () => {
  const cases: Array<{ name: string; headers: Record<string, string>; peer?: string; want: string[] }> = [
    { name: 'the peer alone', headers: {}, peer: '192.168.1.5', want: ['192.168.1.5'] },
    { name: 'an IPv4-mapped peer is written as IPv4', headers: {}, peer: '::ffff:127.0.0.1', want: ['127.0.0.1'] },
    { name: 'an IPv6 peer', headers: {}, peer: '::1', want: ['::1'] },
    { name: 'X-Forwarded-For entries, then the peer', headers: { 'x-forwarded-for': '1.1.1.1, bogus, 2.2.2.2' }, peer: '10.0.0.9', want: ['1.1.1.1', '2.2.2.2', '10.0.0.9'] },
    { name: 'the peer is not repeated when it is the last forwarded address', headers: { 'x-forwarded-for': '1.1.1.1, 10.0.0.9' }, peer: '10.0.0.9', want: ['1.1.1.1', '10.0.0.9'] },
    { name: 'X-Real-Ip when not already listed', headers: { 'x-forwarded-for': '1.1.1.1', 'x-real-ip': '3.3.3.3' }, peer: '10.0.0.9', want: ['1.1.1.1', '3.3.3.3', '10.0.0.9'] },
    { name: 'X-Real-Ip already in the chain', headers: { 'x-forwarded-for': '1.1.1.1', 'x-real-ip': '1.1.1.1' }, peer: '10.0.0.9', want: ['1.1.1.1', '10.0.0.9'] },
    { name: 'IPv6 in canonical form', headers: { 'x-forwarded-for': '2001:DB8:0:0:0:0:0:1' }, peer: '10.0.0.9', want: ['2001:db8::1', '10.0.0.9'] },
  ];
  for (const c of cases) test(c.name, () => assert.deepEqual(sourceIPs(c.headers, c.peer), c.want));
});

test('user agents longer than 1024 characters are cut and marked', () => {
  assert.equal(truncateUserAgent('kubectl'), 'kubectl');
  const long = 'x'.repeat(1030);
  assert.equal(truncateUserAgent(long), 'x'.repeat(1024) + '...TRUNCATED');
  assert.equal(truncateUserAgent(undefined), '');
});

describe('encodeEvent', () => {
  test("a Metadata event in Go's field order, empty fields left out, annotations sorted", () => {
    const ev = newEvent(info(), 'Metadata', 'a1b2', t0);
    ev.stage = 'ResponseComplete';
    ev.stageTimestamp = microTime(t0 + 3.25);
    ev.responseStatus = responseStatus(200);
    annotate(ev, 'authorization.k8s.io/reason', '');
    annotate(ev, 'authorization.k8s.io/decision', 'allow');
    assert.equal(
      encodeEvent(ev),
      '{"kind":"Event","apiVersion":"audit.k8s.io/v1","level":"Metadata","auditID":"a1b2","stage":"ResponseComplete",' +
        '"requestURI":"/api/v1/namespaces/default/pods?limit=500","verb":"list","user":{"username":"jane","groups":["dev","system:authenticated"]},' +
        '"sourceIPs":["10.0.0.1"],"userAgent":"kubectl/v1.33.0 (linux/amd64) kubernetes/abc","objectRef":{"resource":"pods","namespace":"default","apiVersion":"v1"},' +
        '"responseStatus":{"metadata":{},"code":200},"requestReceivedTimestamp":"2026-12-05T10:00:00.000000Z","stageTimestamp":"2026-12-05T10:00:00.003250Z",' +
        '"annotations":{"authorization.k8s.io/decision":"allow","authorization.k8s.io/reason":""}}',
    );
  });

  test('a non-resource request has no objectRef; an impersonated user follows the user', () => {
    const ev = newEvent(info({ isResourceRequest: false, requestURI: '/healthz', verb: 'get', user: { username: 'admin', groups: [] } }), 'Metadata', 'id', t0);
    ev.impersonatedUser = { username: 'jane', groups: ['dev'] };
    const json = JSON.parse(encodeEvent(ev));
    assert.equal(json.objectRef, undefined);
    assert.deepEqual(Object.keys(json).slice(6, 9), ['verb', 'user', 'impersonatedUser']);
    assert.deepEqual(json.user, { username: 'admin' });
    assert.deepEqual(json.impersonatedUser, { username: 'jane', groups: ['dev'] });
  });

  test('request and response objects come before the timestamps, raw JSON spliced as given', () => {
    const ev = newEvent(info({ verb: 'create', requestURI: '/api/v1/namespaces/default/pods' }), 'RequestResponse', 'id', t0);
    ev.requestObject = { kind: 'Pod', metadata: { name: 'p' } };
    const line = encodeEvent(ev, { responseObject: '{"kind":"Pod","metadata":{"name":"p","uid":"u"}}' });
    const json = JSON.parse(line);
    assert.deepEqual(Object.keys(json), ['kind', 'apiVersion', 'level', 'auditID', 'stage', 'requestURI', 'verb', 'user', 'sourceIPs', 'userAgent', 'objectRef', 'requestObject', 'responseObject', 'requestReceivedTimestamp', 'stageTimestamp']);
    assert.deepEqual(json.responseObject, { kind: 'Pod', metadata: { name: 'p', uid: 'u' } });
  });

  test('an error status carries its bounded fields', () => {
    const err = statusError('NotFound', 'pods "x" not found', { name: 'x', kind: 'pods' });
    assert.deepEqual(responseStatus(404, err.status), { metadata: {}, status: 'Failure', message: 'pods "x" not found', reason: 'NotFound', details: { name: 'x', kind: 'pods' }, code: 404 });
    const ev = newEvent(info(), 'Metadata', 'id', t0);
    ev.responseStatus = responseStatus(404, err.status);
    assert.match(encodeEvent(ev), /"responseStatus":\{"metadata":\{\},"status":"Failure","message":"pods \\"x\\" not found","reason":"NotFound","details":\{"name":"x","kind":"pods"\},"code":404\}/);
  });
});

test('annotations keep the first value of a key', () => {
  const ev = newEvent(info(), 'Metadata', 'id', t0);
  assert.equal(annotate(ev, 'k', 'a'), true);
  assert.equal(annotate(ev, 'k', 'a'), true);
  assert.equal(annotate(ev, 'k', 'b'), false);
  assert.deepEqual(ev.annotations, { k: 'a' });
});

test('the legacy line', () => {
  const ev = newEvent(info(), 'Metadata', 'a1b2', t0 + 120);
  assert.equal(
    eventString(ev),
    '2026-12-05T10:00:00.12Z AUDIT: id="a1b2" stage="RequestReceived" ip="10.0.0.1" method="list" user="jane" groups="\\"dev\\",\\"system:authenticated\\"" as="<self>" asgroups="<lookup>" user-agent="kubectl/v1.33.0 (linux/amd64) kubernetes/abc" namespace="default" uri="/api/v1/namespaces/default/pods?limit=500" response="<deferred>"',
  );
  ev.responseStatus = responseStatus(201);
  ev.impersonatedUser = { username: 'bob' };
  assert.match(eventString(ev), /as="bob" asgroups="<lookup>" .* response="201"$/);
  const anon = newEvent(info({ user: undefined, sourceIPs: [], namespace: '' }), 'Metadata', 'x', t0);
  assert.match(eventString(anon), /^2026-12-05T10:00:00Z AUDIT: id="x" stage="RequestReceived" ip="<unknown>" method="list" user="<none>" groups="<none>" .* namespace="<none>"/);
});

test('withoutManagedFields copies objects and list items without them, leaving the input alone', () => {
  const obj = { kind: 'Pod', metadata: { name: 'p', managedFields: [{ manager: 'kubectl' }] } };
  assert.deepEqual(withoutManagedFields(obj), { kind: 'Pod', metadata: { name: 'p' } });
  assert.equal(obj.metadata.managedFields.length, 1);
  const list = { kind: 'PodList', metadata: {}, items: [obj, { metadata: { name: 'q' } }] };
  assert.deepEqual(withoutManagedFields(list), { kind: 'PodList', metadata: {}, items: [{ kind: 'Pod', metadata: { name: 'p' } }, { metadata: { name: 'q' } }] });
  const plain = { metadata: { name: 'x' } };
  assert.equal(withoutManagedFields(plain), plain, 'nothing to drop: the same object');
});

test('compactJson accepts one-line JSON as is and re-serializes pretty-printed JSON', () => {
  assert.equal(compactJson('{"a":1}'), '{"a":1}');
  assert.equal(compactJson('{\n  "a": 1\n}\n'), '{"a":1}');
  assert.equal(compactJson('plain text'), undefined);
  assert.equal(compactJson('not\njson'), undefined);
});
