/**
 * Body decoding: upstream's nesting bounds at their edges (JSON depth, go-yaml flow level and
 * indents), bombs rejected before any parser runs, alias expansion bounded, and decode errors
 * worded as upstream's (Go's JSON scanner messages, `the object provided is unrecognized ...`).
 */
import { test } from 'node:test';
import { PassThrough } from 'node:stream';
import assert from 'node:assert/strict';
import { decodeObject, readBody, type Request, maxJsonDepth, maxYamlFlowLevel, maxYamlIndents, parseJson, parseYamlBody, summarizeBody } from './body.ts';
import { goJsonSyntaxError, jsonDepthExceeded } from '../api/jsonscan.ts';
import { yamlDepthError } from './yamldecode.ts';
import { isStatusError, type StatusError } from '../api/errors.ts';

/** The Status a call throws (sync or async). */
async function rejection(fn: () => unknown): Promise<StatusError> {
  try {
    await fn();
  } catch (err) {
    assert.ok(isStatusError(err), `a Status error, got ${String(err)}`);
    return err;
  }
  assert.fail('expected an error');
}

const json = 'application/json';
const yaml = 'application/yaml';
/** `{"junk":` + n-1 nested arrays: n levels in all. */
const nestedJson = (n: number): string => `{"apiVersion":"v1","kind":"ConfigMap","junk":${'['.repeat(n - 1)}${']'.repeat(n - 1)}}`;

test('the bounds are upstream values', () => {
  assert.equal(maxJsonDepth, 10_000);
  assert.equal(maxYamlFlowLevel, 10_000);
  assert.equal(maxYamlIndents, 10_000);
});

test('JSON nested 10,000 deep is accepted, 10,001 is a 400 with Go decoder text', async () => {
  const ok = await decodeObject(Buffer.from(nestedJson(10_000)), json, { kind: 'ConfigMap' });
  assert.equal(ok.kind, 'ConfigMap');
  const err = await rejection(() => decodeObject(Buffer.from(nestedJson(10_001)), json, { kind: 'ConfigMap' }));
  assert.equal(err.code, 400);
  assert.equal(err.reason, 'BadRequest');
  assert.equal(
    err.message,
    `the object provided is unrecognized (must be of type ConfigMap): couldn't get version/kind; json parse error: invalid character '[' exceeded max depth ({"apiVersion":"v1","kind":"Con ...)`,
  );
});

test('a JSON patch body 100,000 deep is a 400, not a crash', async () => {
  const text = `${'['.repeat(100_000)}${']'.repeat(100_000)}`;
  const err = await rejection(() => parseJson(text));
  assert.equal(err.code, 400);
  assert.equal(err.message, "invalid character '[' exceeded max depth");
  assert.equal(parseJson(`${'['.repeat(10_000)}${']'.repeat(10_000)}`) !== undefined, true);
});

test('the depth pre-scan skips brackets inside strings', () => {
  assert.equal(jsonDepthExceeded(`{"a":"${'['.repeat(20_000)}"}`), false);
  assert.equal(jsonDepthExceeded(`{"a":"\\"${'['.repeat(20_000)}"}`), false);
  assert.equal(jsonDepthExceeded(`${'{"a":'.repeat(10_001)}1${'}'.repeat(10_001)}`), true);
});

const goErrors: { name: string; text: string; want: string | undefined }[] = [
  { name: 'valid JSON has no error', text: '{"a":[1,-2.5e3,true,false,null,"x\\u00e9"]}', want: undefined },
  { name: 'an empty body', text: '', want: 'unexpected end of JSON input' },
  { name: 'an unterminated object', text: '{', want: 'unexpected end of JSON input' },
  { name: 'a bare word', text: 'not json', want: "invalid character 'o' in literal null (expecting 'u')" },
  { name: 'a key that is not a string', text: '{a:1}', want: "invalid character 'a' looking for beginning of object key string" },
  { name: 'a missing colon', text: '{"a" 1}', want: "invalid character '1' after object key" },
  { name: 'a missing comma in an object', text: '{"a":1 "b":2}', want: `invalid character '"' after object key:value pair` },
  { name: 'a missing comma in an array', text: '[1 2]', want: "invalid character '2' after array element" },
  { name: 'text after the value', text: '{}x', want: "invalid character 'x' after top-level value" },
  { name: 'a trailing comma', text: '[1,]', want: "invalid character ']' looking for beginning of value" },
  { name: 'a bad escape', text: '"\\x"', want: "invalid character 'x' in string escape code" },
  { name: 'a control character in a string', text: '"a\nb"', want: "invalid character '\\n' in string literal" },
  { name: 'a bad number', text: '-x', want: "invalid character 'x' in numeric literal" },
  { name: 'a bare decimal point', text: '1.x', want: "invalid character 'x' after decimal point in numeric literal" },
  { name: 'a leading zero', text: '[01]', want: "invalid character '1' after array element" },
  { name: 'a single quote', text: "'a'", want: "invalid character '\\'' looking for beginning of value" },
];
for (const c of goErrors) test(`Go's scanner message: ${c.name}`, () => assert.equal(goJsonSyntaxError(c.text), c.want));

const unrecognized: { name: string; body: string; type: string; want: string }[] = [
  {
    name: 'an unterminated object',
    body: '{',
    type: json,
    want: "the object provided is unrecognized (must be of type Namespace): couldn't get version/kind; json parse error: unexpected end of JSON input ({)",
  },
  {
    name: 'text that is not JSON',
    body: 'not json',
    type: json,
    want: "the object provided is unrecognized (must be of type Namespace): couldn't get version/kind; json parse error: invalid character 'o' in literal null (expecting 'u') (6e6f74206a736f6e)",
  },
  {
    name: 'a JSON array',
    body: '[]',
    type: json,
    want: `the object provided is unrecognized (must be of type Namespace): couldn't get version/kind; json parse error: json: cannot unmarshal array into Go value of type struct { APIVersion string "json:\\"apiVersion,omitempty\\""; Kind string "json:\\"kind,omitempty\\"" } (5b5d)`,
  },
  {
    name: 'an empty body',
    body: '',
    type: json,
    want: "the object provided is unrecognized (must be of type Namespace): couldn't get version/kind; json parse error: unexpected end of JSON input (<empty>)",
  },
  {
    name: 'a kind that is not a string',
    body: '{"kind":1}',
    type: json,
    want: "the object provided is unrecognized (must be of type Namespace): couldn't get version/kind; json parse error: json: cannot unmarshal number into Go struct field .kind of type string ({\"kind\":1})",
  },
  {
    name: 'a YAML list',
    body: '- a\n',
    type: yaml,
    want: `the object provided is unrecognized (must be of type Namespace): couldn't get version/kind; json parse error: json: cannot unmarshal array into Go value of type struct { APIVersion string "json:\\"apiVersion,omitempty\\""; Kind string "json:\\"kind,omitempty\\"" } (2d20610a)`,
  },
];
for (const c of unrecognized) {
  test(`a body that does not decode is unrecognized: ${c.name}`, async () => {
    const err = await rejection(() => decodeObject(Buffer.from(c.body), c.type, { kind: 'Namespace' }));
    assert.equal(err.code, 400);
    assert.equal(err.reason, 'BadRequest');
    assert.equal(err.message, c.want);
  });
}

test('metadata of the wrong type is reported as the typed decoder does', async () => {
  const err = await rejection(() => decodeObject(Buffer.from('{"apiVersion":"v1","kind":"Namespace","metadata":"x"}'), json, { kind: 'Namespace' }));
  assert.equal(err.message, 'Namespace in version "v1" cannot be handled as a Namespace: json: cannot unmarshal string into Go struct field Namespace.metadata of type v1.ObjectMeta');
});

test('summaries are the first 30 bytes, as text for objects and hex otherwise', () => {
  assert.equal(summarizeBody(Buffer.from('{"a":1}')), '{"a":1}');
  assert.equal(summarizeBody(Buffer.from(`{"${'a'.repeat(40)}"}`)), `{"${'a'.repeat(28)} ...`);
  assert.equal(summarizeBody(Buffer.from('[1]')), '5b315d');
  assert.equal(summarizeBody(Buffer.alloc(0)), '<empty>');
});

/** A YAML object whose `junk` value is n levels of flow sequences (n+1 levels with the object). */
const flowYaml = (n: number): string => `apiVersion: v1\nkind: ConfigMap\njunk: ${'['.repeat(n)}${']'.repeat(n)}\n`;

test('YAML flow nesting: the pre-scan stops at the 10,001st level, on its line', () => {
  assert.equal(yamlDepthError(`${'['.repeat(10_000)}${']'.repeat(10_000)}`), undefined);
  assert.equal(yamlDepthError(`${'['.repeat(10_001)}${']'.repeat(10_001)}`), 'yaml: exceeded max depth of 10000');
  assert.equal(yamlDepthError(flowYaml(10_001)), 'yaml: line 3: exceeded max depth of 10000');
  assert.equal(yamlDepthError(`a: "${'['.repeat(20_000)}"\nb: '${'{'.repeat(20_000)}'\nc: x[${'['.repeat(20_000)}\nd: |\n  ${'['.repeat(20_000)}\n`), undefined);
});

test('YAML block nesting: 10,000 levels of `- ` pass the pre-scan, 10,001 do not', () => {
  assert.equal(yamlDepthError(`${'- '.repeat(10_000)}x\n`), undefined);
  assert.equal(yamlDepthError(`${'- '.repeat(10_001)}x\n`), 'yaml: exceeded max depth of 10000');
  assert.equal(yamlDepthError(`a:\n${'- '.repeat(9_999)}b: x\n`), undefined);
  assert.equal(yamlDepthError(`---\n${'- '.repeat(10_001)}x\n`), 'yaml: line 2: exceeded max depth of 10000');
});

test('3 MB of `[` in YAML is rejected as upstream words it', async () => {
  const err = await rejection(() => decodeObject(Buffer.from('['.repeat(3 * 1024 * 1024 - 1)), yaml, { kind: 'ConfigMap' }));
  assert.equal(err.code, 400);
  assert.equal(
    err.message,
    `the object provided is unrecognized (must be of type ConfigMap): error converting YAML to JSON: yaml: exceeded max depth of 10000 (${'5b'.repeat(30)} ...)`,
  );
});

test('YAML within the limits decodes off the event loop, with duplicates reported', async () => {
  const dups = { json: [], yaml: [] as string[] };
  const obj = await decodeObject(Buffer.from('apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\n  name: b\n'), yaml, { kind: 'ConfigMap', dups });
  assert.equal(obj.metadata.name, 'b');
  assert.deepEqual(dups.yaml, ['line 5: key "name" already set in map']);
  // flow nesting at the edge: 10,000 YAML flow levels inside the object are 10,001 JSON levels
  const deep = await rejection(() => decodeObject(Buffer.from(flowYaml(10_000)), yaml, { kind: 'ConfigMap' }));
  assert.match(deep.message, /couldn't get version\/kind; json parse error: invalid character '\[' exceeded max depth/);
  const edge = await decodeObject(Buffer.from(flowYaml(9_999)), yaml, { kind: 'ConfigMap' });
  assert.equal(edge.kind, 'ConfigMap');
});

test('YAML aliases: ordinary use decodes, a billion laughs is refused', async () => {
  const ok = (await parseYamlBody('a: &x {k: v}\nb: *x\nc: *x\n')) as Record<string, unknown>;
  assert.deepEqual(ok, { a: { k: 'v' }, b: { k: 'v' }, c: { k: 'v' } });
  let laughs = 'a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]\n';
  for (let i = 1; i < 9; i++) {
    const prev = String.fromCharCode(96 + i);
    const cur = String.fromCharCode(97 + i);
    laughs += `${cur}: &${cur} [${Array(9).fill(`*${prev}`).join(',')}]\n`;
  }
  const err = await rejection(() => parseYamlBody(laughs));
  assert.equal(err.code, 400);
  assert.equal(err.message, 'error converting YAML to JSON: yaml: document contains excessive aliasing');
});

test('readBody joins the chunks, refuses a body past the limit (413) and rejects a request closed before its end', async () => {
  const stream = () => new PassThrough();
  const whole = stream();
  const read = readBody(whole as unknown as Request, 10);
  whole.write('01234');
  whole.end('56789');
  assert.equal((await read).toString(), '0123456789');

  const over = stream();
  const refused = rejection(() => readBody(over as unknown as Request, 10));
  over.write('0123456789');
  over.write('a');
  const err = await refused;
  assert.equal(err.status.code, 413);
  assert.equal(err.status.message, 'Request entity too large: limit is 3145728');
  assert.ok(over.destroyed, 'the request is reset');

  const cut = stream();
  const closed = readBody(cut as unknown as Request);
  cut.write('{"a":');
  cut.destroy();
  await assert.rejects(closed, /Premature close/);
  const failed = stream();
  const errored = readBody(failed as unknown as Request);
  failed.destroy(new Error('boom'));
  await assert.rejects(errored, /boom/);
});
