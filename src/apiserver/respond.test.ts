import { test } from 'node:test';
import assert from 'node:assert/strict';
import { goJson, wantsPretty, writeError, writeJsonString, writeObject, writeRawJson, type Response } from './respond.ts';
import { routeNotFound, statusError } from '../api/errors.ts';

function fakeResponse(req?: { url?: string; headers?: Record<string, unknown> }): Response & { body: string; code: number } {
  const r = {
    req,
    body: '',
    code: 0,
    headersSent: false,
    writableEnded: false,
    writeHead(code: number) {
      r.code = code;
      r.headersSent = true;
      return r;
    },
    write(chunk: string | Uint8Array) {
      r.body += String(chunk);
      return true;
    },
    end(chunk?: string | Uint8Array) {
      if (chunk !== undefined) r.body += String(chunk);
      r.writableEnded = true;
      return r;
    },
    on() {
      return r;
    },
  };
  return r;
}

test('JSON bodies end in one newline, as json.Encoder writes them', () => {
  const res = fakeResponse({ url: '/api/v1/namespaces', headers: {} });
  writeJsonString(res, 200, '{"a":1}');
  assert.equal(res.body, '{"a":1}\n');
  const obj = fakeResponse();
  writeObject(obj, 200, { kind: 'APIVersions', versions: ['v1'] });
  assert.equal(obj.body, '{"kind":"APIVersions","versions":["v1"]}\n');
});

test('an error is a Status in Go field order, with a newline', () => {
  const res = fakeResponse();
  // details given out of order, with an empty group: written as Go would.
  writeError(res, statusError('Conflict', 'm', { kind: 'configmaps', group: '', name: 'c' }));
  assert.equal(res.code, 409);
  assert.equal(res.body, '{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"m","reason":"Conflict","details":{"name":"c","kind":"configmaps"},"code":409}\n');
  const nf = fakeResponse();
  writeError(nf, routeNotFound());
  assert.equal(nf.body, '{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"the server could not find the requested resource","reason":"NotFound","details":{},"code":404}\n');
});

test('<, >, &, U+2028 and U+2029 are escaped as Go escapes them', () => {
  assert.equal(goJson(JSON.stringify({ 'a<b': '<x>&\u2028\u2029' })), '{"a\\u003cb":"\\u003cx\\u003e\\u0026\\u2028\\u2029"}');
  const plain = '{"a":"b"}';
  assert.equal(goJson(plain), plain);
});

const prettyCases: { name: string; url: string; ua?: string; want: boolean }[] = [
  { name: 'no parameter, a program', url: '/api/v1/pods', ua: 'kubectl/v1.33.0', want: false },
  { name: 'pretty=true', url: '/api/v1/pods?pretty=true', want: true },
  { name: 'pretty=1', url: '/api/v1/pods?pretty=1', want: true },
  { name: 'pretty=True', url: '/api/v1/pods?pretty=True', want: true },
  { name: 'pretty=yes is not a strconv.ParseBool true', url: '/api/v1/pods?pretty=yes', want: false },
  { name: 'pretty=false wins over a curl User-Agent', url: '/api/v1/pods?pretty=false', ua: 'curl/8.5.0', want: false },
  { name: 'an empty pretty falls back to the User-Agent', url: '/api/v1/pods?pretty=', ua: 'curl/8.5.0', want: true },
  { name: 'curl', url: '/api/v1/pods', ua: 'curl/8.5.0', want: true },
  { name: 'Wget', url: '/api/v1/pods', ua: 'Wget/1.21', want: true },
  { name: 'a browser', url: '/api/v1/pods', ua: 'Mozilla/5.0 (X11)', want: true },
];
for (const c of prettyCases) {
  test(`pretty: ${c.name}`, () => {
    assert.equal(wantsPretty({ url: c.url, headers: c.ua ? { 'user-agent': c.ua } : {} }), c.want);
  });
}

test('a pretty body is indented by two spaces without a final newline (json.MarshalIndent)', () => {
  const res = fakeResponse({ url: '/x?pretty=1', headers: {} });
  writeJsonString(res, 200, '{"a":{"b":[1,"<"]},"c":{}}');
  assert.equal(res.body, '{\n  "a": {\n    "b": [\n      1,\n      "\\u003c"\n    ]\n  },\n  "c": {}\n}');
});

test('raw JSON (/version) is always indented, without a final newline (WriteRawJSON)', () => {
  const res = fakeResponse({ url: '/version', headers: {} });
  writeRawJson(res, 200, { major: '1', minor: '33' });
  assert.equal(res.body, '{\n  "major": "1",\n  "minor": "33"\n}');
});
