import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { UserInfo } from '../../api/types.ts';
import { isCode } from '../../util/errors.ts';
import { csvRecords, parseBearerToken, parseTokenFile, tokenFileAuthenticator, tokenMapAuthenticator } from './tokenfile.ts';

function parse(text: string) {
  const warnings: string[] = [];
  const tokens = parseTokenFile(text, { path: '/etc/tokens.csv', warn: (m) => warnings.push(m) });
  return { tokens: Object.fromEntries(tokens), warnings };
}

const parsed: { name: string; text: string; want: Record<string, UserInfo>; warnings?: string[] }[] = [
  {
    name: 'token, user and uid; system:authenticated added',
    text: 'abc123,alice,1001\n',
    want: { abc123: { username: 'alice', uid: '1001', groups: ['system:authenticated'] } },
  },
  {
    name: 'quoted groups split on commas',
    text: 'abc123,alice,1001,"admins,devs,ops"\n',
    want: { abc123: { username: 'alice', uid: '1001', groups: ['admins', 'devs', 'ops', 'system:authenticated'] } },
  },
  {
    name: 'an unquoted fourth column is one group; further columns ignored',
    text: 'abc123,alice,1001,admins,devs,ops',
    want: { abc123: { username: 'alice', uid: '1001', groups: ['admins', 'system:authenticated'] } },
  },
  {
    name: 'an empty uid is left out',
    text: 'abc123,alice,',
    want: { abc123: { username: 'alice', groups: ['system:authenticated'] } },
  },
  {
    name: 'an empty groups column gives the group "" as upstream',
    text: 'abc123,alice,1,""',
    want: { abc123: { username: 'alice', uid: '1', groups: ['', 'system:authenticated'] } },
  },
  {
    name: 'system:authenticated already listed is not repeated',
    text: 'abc123,alice,1,"system:authenticated,devs"',
    want: { abc123: { username: 'alice', uid: '1', groups: ['system:authenticated', 'devs'] } },
  },
  {
    name: 'system:unauthenticated listed keeps system:authenticated out',
    text: 'abc123,alice,1,system:unauthenticated',
    want: { abc123: { username: 'alice', uid: '1', groups: ['system:unauthenticated'] } },
  },
  {
    name: 'system:anonymous gets no system:authenticated',
    text: 'abc123,system:anonymous,1',
    want: { abc123: { username: 'system:anonymous', uid: '1', groups: [] } },
  },
  {
    name: 'CRLF line ends, blank lines skipped, white space kept',
    text: '\r\nabc123,alice,1\r\n\r\n\n tok2 , bob ,2\r\n',
    want: {
      abc123: { username: 'alice', uid: '1', groups: ['system:authenticated'] },
      ' tok2 ': { username: ' bob ', uid: '2', groups: ['system:authenticated'] },
    },
  },
  {
    name: 'quoted fields with doubled quotes and commas',
    text: '"to,k","al""ice",7',
    want: { 'to,k': { username: 'al"ice', uid: '7', groups: ['system:authenticated'] } },
  },
  {
    name: 'a # line is a record, not a comment',
    text: '#token,user,uid\nabc,alice,1',
    want: {
      '#token': { username: 'user', uid: 'uid', groups: ['system:authenticated'] },
      abc: { username: 'alice', uid: '1', groups: ['system:authenticated'] },
    },
  },
  {
    name: 'an empty token is skipped with a warning',
    text: ',alice,1\nabc,bob,2\n',
    want: { abc: { username: 'bob', uid: '2', groups: ['system:authenticated'] } },
    warnings: ["empty token has been found in token file '/etc/tokens.csv', record number '1'"],
  },
  {
    name: 'a duplicate token warns and the later record wins',
    text: 'abc,alice,1\nxyz,carol,3\nabc,bob,2\n',
    want: {
      abc: { username: 'bob', uid: '2', groups: ['system:authenticated'] },
      xyz: { username: 'carol', uid: '3', groups: ['system:authenticated'] },
    },
    warnings: ["duplicate token has been found in token file '/etc/tokens.csv', record number '3'"],
  },
  { name: 'an empty file has no tokens', text: '', want: {} },
];
for (const c of parsed) {
  test(`parse: ${c.name}`, () => {
    const got = parse(c.text);
    assert.deepEqual(got.tokens, c.want);
    assert.deepEqual(got.warnings, c.warnings ?? []);
  });
}

const malformed: { name: string; text: string; message: string }[] = [
  {
    name: 'two columns',
    text: 'abc,alice,1\nabc,bob\n',
    message: "token file '/etc/tokens.csv' must have at least 3 columns (token, user name, user uid), found 2",
  },
  {
    name: 'a line of spaces (not blank for Go)',
    text: 'abc,alice,1\n   \n',
    message: "token file '/etc/tokens.csv' must have at least 3 columns (token, user name, user uid), found 1",
  },
  { name: 'a bare quote', text: 'abc,alice,1\nabc,al"ice,2\n', message: 'parse error on line 2, column 7: bare " in non-quoted-field' },
  { name: 'text after a closing quote', text: 'abc,"alice"x,1\n', message: 'parse error on line 1, column 11: extraneous or missing " in quoted-field' },
  { name: 'an unterminated quote', text: 'abc,alice,1,"a,b\n', message: 'parse error on line 1, column 18: extraneous or missing " in quoted-field' },
  {
    name: 'an error on a later line of a multi-line record',
    text: 'abc,"ali\nce"x,1\n',
    message: 'record on line 1; parse error on line 2, column 3: extraneous or missing " in quoted-field',
  },
  { name: 'a bare quote after a multi-byte character (byte columns)', text: 'é,a"b,c', message: 'parse error on line 1, column 5: bare " in non-quoted-field' },
];
for (const c of malformed) {
  test(`malformed: ${c.name}`, () => {
    assert.throws(
      () => parse(c.text),
      (err: unknown) => {
        assert.ok(isCode(err, 'ERR_INVALID_CONFIG'));
        assert.equal((err as Error).message, c.message);
        return true;
      },
    );
  });
}

test('the first malformed record in file order is the one reported', () => {
  assert.throws(() => parse('a,b\nc,"d"x,e\n'), /found 2/);
});

test('csvRecords: a quoted field may span lines (CRLF read as LF)', () => {
  assert.deepEqual([...csvRecords('a,"b\r\nc",d\r\ne,f,g')], [['a', 'b\nc', 'd'], ['e', 'f', 'g']]);
});

test('csvRecords: a trailing comma is an empty last field', () => {
  assert.deepEqual([...csvRecords('a,b,\n')], [['a', 'b', '']]);
});

const bearer: [string | string[] | undefined, string | undefined][] = [
  ['Bearer abc', 'abc'],
  ['bearer abc', 'abc'],
  ['BEARER abc', 'abc'],
  ['  Bearer abc  ', 'abc'],
  ['Bearer abc extra', 'abc'],
  ['Bearer  abc', undefined],
  ['Bearer', undefined],
  ['Bearer ', undefined],
  ['Basic YWxpY2U6cHc=', undefined],
  ['', undefined],
  [undefined, undefined],
  [['Bearer one', 'Bearer two'], 'one'],
];
for (const [header, want] of bearer) {
  test(`parseBearerToken(${JSON.stringify(header)}) is ${JSON.stringify(want)}`, () => assert.equal(parseBearerToken(header), want));
}

test('the authenticator maps a known bearer token to a copy of its user, anything else to null', async () => {
  const a = tokenMapAuthenticator(parseTokenFile('abc123,alice,1001,"admins"', { warn: () => {} }));
  const req = (authorization?: string) => ({ socket: undefined, headers: { authorization } });
  const u = await a.authenticate(req('Bearer abc123'));
  assert.deepEqual(u, { username: 'alice', uid: '1001', groups: ['admins', 'system:authenticated'] });
  u!.groups.push('system:masters');
  assert.deepEqual((await a.authenticate(req('Bearer abc123')))!.groups, ['admins', 'system:authenticated']);
  assert.equal(await a.authenticate(req('Bearer nope')), null);
  assert.equal(await a.authenticate(req('Basic abc123')), null);
  assert.equal(await a.authenticate(req()), null);
});

test('tokenFileAuthenticator reads the file at construction; a missing file is a config error', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bosun-tokenfile-'));
  try {
    const file = path.join(dir, 'tokens.csv');
    fs.writeFileSync(file, 'abc123,alice,1001\n');
    const a = tokenFileAuthenticator(file, { warn: () => {} });
    assert.equal(a.name, 'token-file');
    assert.deepEqual(await a.authenticate({ socket: undefined, headers: { authorization: 'Bearer abc123' } }), { username: 'alice', uid: '1001', groups: ['system:authenticated'] });
    fs.writeFileSync(file, 'abc123,alice\n');
    assert.throws(() => tokenFileAuthenticator(file), (err: unknown) => isCode(err, 'ERR_INVALID_CONFIG') && (err as Error).message.includes(`token file '${file}' must have at least 3 columns`));
    assert.throws(() => tokenFileAuthenticator(path.join(dir, 'missing.csv')), (err: unknown) => isCode(err, 'ERR_INVALID_CONFIG') && /cannot read token file/.test((err as Error).message));
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
