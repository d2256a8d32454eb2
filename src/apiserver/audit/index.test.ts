/**
 * The auditor as the server uses it: per level, which stages are written and what each event
 * carries (objectRef, request/response objects, statuses, annotations, impersonation), omitted
 * stages, long-running requests, panics, omitManagedFields, the legacy format and start-up errors.
 */
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { auditedResponse, createAuditor, type AuditRequestInfo, type Auditor, type Policy } from './index.ts';
import { parsePolicy } from './policy.ts';
import { statusError } from '../../api/errors.ts';
import { isCode } from '../../util/errors.ts';

const t0 = Date.parse('2026-12-05T10:00:00.000Z');

const policy: Policy = parsePolicy(`
apiVersion: audit.k8s.io/v1
kind: Policy
rules:
  - level: None
    resources: [{group: "", resources: [events]}]
  - level: Metadata
    resources: [{group: "", resources: [secrets]}]
  - level: Request
    resources: [{group: "", resources: [configmaps]}]
  - level: RequestResponse
    resources: [{group: "", resources: [pods, pods/exec]}]
    omitStages: [RequestReceived]
  - level: Metadata
    omitManagedFields: true
`);

/** An auditor writing JSON lines to memory, with a clock stepping 1 ms per read. */
function harness(p: Policy = policy, format?: 'json' | 'legacy'): { auditor: Auditor; lines: () => Promise<Array<Record<string, any>>>; raw: () => Promise<string[]> } {
  const out: string[] = [];
  let t = t0;
  const auditor = createAuditor({ policy: p, logPath: '-', stdout: { write: (s) => out.push(s) }, clock: () => (t += 1), format });
  const raw = async () => {
    await auditor.flush();
    return out.join('').split('\n').filter(Boolean);
  };
  return { auditor, raw, lines: async () => (await raw()).map((l) => JSON.parse(l)) };
}

function req(resource: string, x: Partial<AuditRequestInfo> = {}): AuditRequestInfo {
  const [res, sub] = resource.split('/');
  return {
    auditID: 'id-1',
    requestURI: `/api/v1/namespaces/default/${res}`,
    verb: 'create',
    user: { username: 'jane', groups: ['system:authenticated'] },
    sourceIPs: ['127.0.0.1'],
    userAgent: 'kubectl/v1.33.0',
    isResourceRequest: true,
    apiGroup: '',
    apiVersion: 'v1',
    resource: res!,
    subresource: sub ?? '',
    namespace: 'default',
    name: '',
    path: '',
    receivedAt: t0,
    ...x,
  };
}

const body = (kind: string, name: string) => ({ apiVersion: 'v1', kind, metadata: { name, namespace: 'default', managedFields: [{ manager: 'kubectl' }] }, data: { k: 'v' } });

describe('events per level', () => {
  test('None: nothing is recorded and begin returns null', async () => {
    const h = harness();
    assert.equal(h.auditor.begin(req('events')), null);
    assert.deepEqual(await h.lines(), []);
  });

  test('Metadata: RequestReceived and ResponseComplete, objectRef from the body, no objects', async () => {
    const h = harness();
    const rec = h.auditor.begin(req('secrets'))!;
    assert.equal(rec.level, 'Metadata');
    rec.authorized('allow', 'RBAC: allowed by RoleBinding "x/default"');
    rec.requestObject(body('Secret', 's1'));
    rec.end({ code: 201, responseJson: JSON.stringify(body('Secret', 's1')) });
    const [a, b] = await h.lines();
    assert.deepEqual(a, {
      kind: 'Event',
      apiVersion: 'audit.k8s.io/v1',
      level: 'Metadata',
      auditID: 'id-1',
      stage: 'RequestReceived',
      requestURI: '/api/v1/namespaces/default/secrets',
      verb: 'create',
      user: { username: 'jane', groups: ['system:authenticated'] },
      sourceIPs: ['127.0.0.1'],
      userAgent: 'kubectl/v1.33.0',
      objectRef: { resource: 'secrets', namespace: 'default', apiVersion: 'v1' },
      requestReceivedTimestamp: '2026-12-05T10:00:00.000000Z',
      stageTimestamp: '2026-12-05T10:00:00.000000Z',
    });
    assert.deepEqual(b, {
      ...a,
      stage: 'ResponseComplete',
      objectRef: { resource: 'secrets', namespace: 'default', name: 's1', apiVersion: 'v1' },
      responseStatus: { metadata: {}, code: 201 },
      stageTimestamp: '2026-12-05T10:00:00.001000Z',
      annotations: { 'authorization.k8s.io/decision': 'allow', 'authorization.k8s.io/reason': 'RBAC: allowed by RoleBinding "x/default"' },
    });
  });

  test('Request: the request object, not the response', async () => {
    const h = harness();
    const rec = h.auditor.begin(req('configmaps'))!;
    rec.requestObject(body('ConfigMap', 'c1'));
    rec.end({ code: 201, responseJson: '{"kind":"ConfigMap"}' });
    const events = await h.lines();
    assert.deepEqual(events.map((e) => e.stage), ['RequestReceived', 'ResponseComplete']);
    assert.equal(events[0]!.requestObject, undefined, 'RequestReceived is written before the body is read');
    assert.deepEqual(events[1]!.requestObject, body('ConfigMap', 'c1'));
    assert.equal(events[1]!.responseObject, undefined);
  });

  test('RequestResponse: both objects; its omitStages leave out RequestReceived', async () => {
    const h = harness();
    const rec = h.auditor.begin(req('pods'))!;
    rec.requestObject(body('Pod', 'p'));
    rec.end({ code: 201, responseJson: '{\n  "kind": "Pod",\n  "metadata": {"name": "p", "uid": "u1"}\n}\n' });
    const events = await h.lines();
    assert.deepEqual(events.map((e) => e.stage), ['ResponseComplete']);
    assert.deepEqual(events[0]!.requestObject, body('Pod', 'p'));
    assert.deepEqual(events[0]!.responseObject, { kind: 'Pod', metadata: { name: 'p', uid: 'u1' } });
  });

  test('an error response: the Status’s fields in responseStatus, and the Status as responseObject at RequestResponse', async () => {
    const h = harness();
    const err = statusError('AlreadyExists', 'pods "p" already exists', { name: 'p', kind: 'pods' });
    const rec = h.auditor.begin(req('pods'))!;
    rec.end({ code: 409, status: err.status });
    const [ev] = await h.lines();
    assert.deepEqual(ev!.responseStatus, { metadata: {}, status: 'Failure', message: 'pods "p" already exists', reason: 'AlreadyExists', details: { name: 'p', kind: 'pods' }, code: 409 });
    assert.deepEqual(ev!.responseObject, err.status);
  });

  test('a forbidden request: decision forbid with the reason', async () => {
    const h = harness();
    const rec = h.auditor.begin(req('secrets', { verb: 'get', name: 's' }))!;
    rec.authorized('deny', '');
    rec.end({ code: 403, status: statusError('Forbidden', 'secrets "s" is forbidden: User "jane" cannot get resource "secrets"').status });
    const [, done] = await h.lines();
    assert.deepEqual(done!.annotations, { 'authorization.k8s.io/decision': 'forbid', 'authorization.k8s.io/reason': '' });
    assert.equal(done!.responseStatus.reason, 'Forbidden');
  });

  test('impersonation and admission annotations appear on the later stages', async () => {
    const h = harness();
    const rec = h.auditor.begin(req('secrets', { user: { username: 'admin', groups: ['system:masters'] } }))!;
    rec.impersonated({ username: 'jane', groups: ['dev'] });
    rec.annotateAll({ 'pod-security.kubernetes.io/enforce-policy': 'restricted:latest' });
    rec.annotate('pod-security.kubernetes.io/enforce-policy', 'privileged:latest'); // the first value stays
    rec.end({ code: 200 });
    const [received, done] = await h.lines();
    assert.equal(received!.impersonatedUser, undefined);
    assert.deepEqual(done!.user, { username: 'admin', groups: ['system:masters'] });
    assert.deepEqual(done!.impersonatedUser, { username: 'jane', groups: ['dev'] });
    assert.deepEqual(done!.annotations, { 'pod-security.kubernetes.io/enforce-policy': 'restricted:latest' });
  });

  test('a patch body is logged as sent at Request and above', async () => {
    const h = harness();
    const rec = h.auditor.begin(req('configmaps', { verb: 'patch', name: 'c1' }))!;
    rec.requestPatch('{"data":{"k":"v2"}}');
    rec.end({ code: 200 });
    const [, done] = await h.lines();
    assert.deepEqual(done!.requestObject, { data: { k: 'v2' } });
  });

  test('omitManagedFields drops managedFields from logged objects', async () => {
    const h = harness(parsePolicy('apiVersion: audit.k8s.io/v1\nkind: Policy\nomitManagedFields: true\nrules: [{level: RequestResponse}]\n'));
    const rec = h.auditor.begin(req('configmaps'))!;
    rec.requestObject(body('ConfigMap', 'c1'));
    rec.end({ code: 201, responseJson: JSON.stringify(body('ConfigMap', 'c1')) });
    const [, done] = await h.lines();
    assert.equal(done!.requestObject.metadata.managedFields, undefined);
    assert.equal(done!.responseObject.metadata.managedFields, undefined);
    assert.equal(done!.responseObject.metadata.name, 'c1');
  });
});

describe('stages of long-running and failed requests', () => {
  test('a watch writes ResponseStarted when its headers go out, then ResponseComplete', async () => {
    const h = harness();
    const rec = h.auditor.begin(req('secrets', { verb: 'watch', longRunning: true }))!;
    rec.responseStarted(200);
    rec.end({ code: 200 });
    const events = await h.lines();
    assert.deepEqual(events.map((e) => [e.stage, e.responseStatus?.code]), [['RequestReceived', undefined], ['ResponseStarted', 200], ['ResponseComplete', 200]]);
  });

  test('a short request writes no ResponseStarted', async () => {
    const h = harness();
    const rec = h.auditor.begin(req('secrets', { verb: 'get' }))!;
    rec.responseStarted(200);
    rec.end({ code: 200 });
    assert.deepEqual((await h.lines()).map((e) => e.stage), ['RequestReceived', 'ResponseComplete']);
  });

  test('a long-running request that ends without a response: faked 200 "Connection closed early"', async () => {
    const h = harness();
    h.auditor.begin(req('secrets', { verb: 'watch', longRunning: true }))!.end();
    const events = await h.lines();
    assert.deepEqual(events.map((e) => e.stage), ['RequestReceived', 'ResponseStarted', 'ResponseComplete']);
    assert.deepEqual(events[2]!.responseStatus, { metadata: {}, status: 'Success', message: 'Connection closed early', code: 200 });
  });

  test('a panic writes the Panic stage with a 500, and nothing after it', async () => {
    const h = harness();
    const rec = h.auditor.begin(req('secrets'))!;
    rec.panic(new Error('boom'));
    rec.end({ code: 200 });
    const events = await h.lines();
    assert.deepEqual(events.map((e) => e.stage), ['RequestReceived', 'Panic']);
    assert.deepEqual(events[1]!.responseStatus, { metadata: {}, status: 'Failure', message: "APIServer panic'd: boom", reason: 'InternalError', code: 500 });
  });

  test('a request without an Audit-ID gets a UUID', async () => {
    const h = harness();
    const rec = h.auditor.begin(req('secrets', { auditID: undefined }))!;
    assert.match(rec.auditID, /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  });
});

test('the legacy format writes one text line per stage', async () => {
  const h = harness(policy, 'legacy');
  h.auditor.begin(req('secrets'))!.end({ code: 201 });
  const lines = await h.raw();
  assert.equal(lines.length, 2);
  assert.match(lines[1]!, /^2026-12-05T10:00:00Z AUDIT: id="id-1" stage="ResponseComplete" ip="127.0.0.1" method="create" user="jane" .* response="201"$/);
});

test('stats count events, and a full queue drops without failing the request', async () => {
  const out: string[] = [];
  const auditor = createAuditor({ policy, logPath: '-', stdout: { write: (s) => out.push(s) }, bufferSize: 2 });
  for (let i = 0; i < 3; i++) auditor.begin(req('secrets'))!.end({ code: 200 });
  await auditor.close();
  assert.equal(auditor.stats.events, 6);
  assert.equal(auditor.stats.dropped, 4);
  assert.equal(auditor.stats.written, 2);
});

describe('start-up errors', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bosun-auditor-'));
  test('an invalid policy file', () => {
    const f = path.join(dir, 'p.yaml');
    fs.writeFileSync(f, 'apiVersion: audit.k8s.io/v1\nkind: Policy\nrules: [{level: Loud}]\n');
    assert.throws(() => createAuditor({ policyFile: f, logPath: path.join(dir, 'audit.log') }), (err: unknown) => {
      assert.ok(isCode(err, 'ERR_INVALID_CONFIG'));
      assert.equal(
        (err as Error).message,
        `loading audit policy file: rules[0].level: Unsupported value: "Loud": supported values: "None", "Metadata", "Request", "RequestResponse": from file ${f}`,
      );
      return true;
    });
  });
  test('bad rotation numbers and format', () => {
    assert.throws(() => createAuditor({ policy, logPath: '-', maxBackups: -1, format: 'xml' as 'json' }), {
      message: `--audit-log-maxbackup -1 can't be a negative number; invalid audit log format xml, allowed formats are "legacy,json"`,
    });
  });
  test('a policy file and a log file: events reach the file', async () => {
    const f = path.join(dir, 'ok.yaml');
    fs.writeFileSync(f, 'apiVersion: audit.k8s.io/v1\nkind: Policy\nrules: [{level: Metadata}]\n');
    const log = path.join(dir, 'logs', 'audit.log');
    const auditor = createAuditor({ policyFile: f, logPath: log });
    auditor.begin(req('secrets'))!.end({ code: 201 });
    await auditor.close();
    const lines = fs.readFileSync(log, 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    assert.deepEqual(lines.map((l) => l.stage), ['RequestReceived', 'ResponseComplete']);
    fs.rmSync(dir, { recursive: true, force: true });
  });
});

describe('auditedResponse', () => {
  /** A response that records what reaches it (a pure unit: no server needed). */
  function fakeResponse() {
    const calls: Array<[string, unknown?, unknown?]> = [];
    const closers: Array<() => void> = [];
    let sent = false;
    let ended = false;
    return {
      calls,
      close: () => closers.forEach((f) => f()),
      res: {
        writeHead(code: number, headers?: Record<string, string>) {
          sent = true;
          calls.push(['writeHead', code, headers]);
          return this;
        },
        write(chunk: string | Uint8Array) {
          sent = true;
          calls.push(['write', String(chunk)]);
          return true;
        },
        end(chunk?: string | Uint8Array) {
          ended = true;
          calls.push(['end', chunk === undefined ? undefined : String(chunk)]);
          return this;
        },
        on(_event: 'close', fn: () => void) {
          closers.push(fn);
          return this;
        },
        get headersSent() {
          return sent;
        },
        get writableEnded() {
          return ended;
        },
      },
    };
  }

  test('an error body: Audit-Id header, the Status fields in responseStatus, the body passed on unchanged', async () => {
    const h = harness();
    const f = fakeResponse();
    const rec = h.auditor.begin(req('secrets', { verb: 'get', name: 's' }))!;
    const res = auditedResponse(f.res, rec);
    const body = JSON.stringify(statusError('NotFound', 'secrets "s" not found', { name: 's', kind: 'secrets' }).status);
    res.writeHead(404, { 'content-type': 'application/json' });
    res.end(body);
    f.close();
    assert.deepEqual(f.calls, [['writeHead', 404, { 'content-type': 'application/json', 'audit-id': 'id-1' }], ['end', body]]);
    const events = await h.lines();
    assert.deepEqual(events.map((e) => e.stage), ['RequestReceived', 'ResponseComplete']);
    assert.deepEqual(events[1]!.responseStatus, { metadata: {}, status: 'Failure', message: 'secrets "s" not found', reason: 'NotFound', details: { name: 's', kind: 'secrets' }, code: 404 });
  });

  test('RequestResponse: the JSON body becomes the responseObject; a non-JSON body is left out', async () => {
    const h = harness();
    const a = auditedResponse(fakeResponse().res, h.auditor.begin(req('pods', { verb: 'get', name: 'p' }))!);
    a.writeHead(200);
    a.end(Buffer.from('{"kind":"Pod","metadata":{"name":"p"}}'));
    const b = auditedResponse(fakeResponse().res, h.auditor.begin(req('pods', { verb: 'get', name: 'p' }))!);
    b.writeHead(200);
    b.end('kind: Pod\n');
    const [first, second] = await h.lines();
    assert.deepEqual(first!.responseObject, { kind: 'Pod', metadata: { name: 'p' } });
    assert.equal(second!.responseObject, undefined);
    assert.deepEqual(second!.responseStatus, { metadata: {}, code: 200 });
  });

  test('a watch closed by the client: ResponseStarted at the headers, ResponseComplete on close with the code written', async () => {
    const h = harness();
    const f = fakeResponse();
    const res = auditedResponse(f.res, h.auditor.begin(req('secrets', { verb: 'watch', longRunning: true }))!);
    res.writeHead(200);
    res.write('{"type":"ADDED"}\n');
    f.close();
    f.close();
    const events = await h.lines();
    assert.deepEqual(events.map((e) => [e.stage, e.responseStatus?.code]), [['RequestReceived', undefined], ['ResponseStarted', 200], ['ResponseComplete', 200]]);
  });
});
