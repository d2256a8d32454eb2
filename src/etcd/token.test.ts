/** The server token: parsing (k3s's forms), formatting, and the token file. */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createHash } from 'node:crypto';
import { ensureServerToken, formatServerToken, parseServerToken, serverTokenFile, tokenPassword } from './token.ts';

const root = fs.mkdtempSync(path.join(os.tmpdir(), 'bosun-token-test-'));
after(() => fs.rmSync(root, { recursive: true, force: true }));
let n = 0;
const dir = () => path.join(root, `d${n++}`);
const ca = '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n';
const otherCa = '-----BEGIN CERTIFICATE-----\nMIIC\n-----END CERTIFICATE-----\n';
const hash = createHash('sha256').update(ca).digest('hex');

const parseCases: { name: string; token: string; want?: { caHash?: string; password: string }; err?: RegExp }[] = [
  { name: 'a bare password has no CA hash', token: 'secret', want: { password: 'secret' } },
  { name: 'the full form carries the CA hash', token: `K10${hash}::server:abc`, want: { caHash: hash, password: 'abc' } },
  { name: 'K10 without a hash', token: 'K10::server:abc', want: { password: 'abc' } },
  { name: 'another user name is taken as server', token: `K10${hash}::node:pw`, want: { caHash: hash, password: 'pw' } },
  { name: 'a password may contain colons', token: `K10${hash}::server:a:b`, want: { caHash: hash, password: 'a:b' } },
  { name: 'surrounding white space is ignored', token: ` secret\n`, want: { password: 'secret' } },
  { name: 'an empty token is refused', token: '', err: /token must not be empty/ },
  { name: 'a short CA hash is refused', token: 'K10abcd::server:pw', err: /invalid token CA hash length/ },
  { name: 'missing credentials are refused', token: `K10${hash}::server:`, err: /invalid token format/ },
  { name: 'a node token is refused by name', token: `K10${hash}::abcdef.0123456789abcdef`, err: /node token/ },
  { name: 'a bare bootstrap token is refused', token: 'abcdef.0123456789abcdef', err: /node token/ },
];
for (const c of parseCases) {
  test(`parseServerToken: ${c.name}`, () => {
    if (c.err) return assert.throws(() => parseServerToken(c.token), c.err);
    const got = parseServerToken(c.token);
    assert.deepEqual({ caHash: got.caHash, password: got.password }, { caHash: c.want!.caHash, password: c.want!.password });
    assert.equal(got.username, 'server');
  });
}

test('formatServerToken is K10<sha256 of the CA>::server:<password> and parses back', () => {
  const t = formatServerToken(ca, 'pw');
  assert.equal(t, `K10${hash}::server:pw`);
  assert.equal(tokenPassword(t), 'pw');
});

test('ensureServerToken generates a 32-hex password once, 0600, and keeps it', async () => {
  const d = dir();
  const t = await ensureServerToken(d, ca);
  assert.match(t, new RegExp(`^K10${hash}::server:[0-9a-f]{32}$`));
  const file = serverTokenFile(d);
  assert.equal(file, path.join(d, 'server', 'token'));
  assert.equal(fs.readFileSync(file, 'utf8'), `${t}\n`);
  assert.equal(fs.statSync(file).mode & 0o777, 0o600);
  assert.equal(await ensureServerToken(d, ca), t);
});

test('ensureServerToken expands a bare --token and re-hashes when the CA changes', async () => {
  const d = dir();
  assert.equal(await ensureServerToken(d, ca, 'mysecret'), `K10${hash}::server:mysecret`);
  assert.equal(await ensureServerToken(d, ca), `K10${hash}::server:mysecret`);
  const t2 = await ensureServerToken(d, otherCa);
  assert.equal(tokenPassword(t2), 'mysecret');
  assert.notEqual(t2, `K10${hash}::server:mysecret`);
});

test('ensureServerToken: a given token wins over the file', async () => {
  const d = dir();
  await ensureServerToken(d, ca, 'one');
  assert.equal(tokenPassword(await ensureServerToken(d, ca, `K10${hash}::server:two`)), 'two');
  assert.equal(tokenPassword(fs.readFileSync(serverTokenFile(d), 'utf8')), 'two');
});

test('ensureServerToken refuses a full token of another CA', async () => {
  const d = dir();
  await assert.rejects(ensureServerToken(d, otherCa, `K10${hash}::server:pw`), /token CA hash does not match the Cluster CA certificate hash/);
  assert.equal(fs.existsSync(serverTokenFile(d)), false);
});

test('ensureServerToken replaces an unreadable file', async () => {
  const d = dir();
  fs.mkdirSync(path.join(d, 'server'), { recursive: true });
  fs.writeFileSync(serverTokenFile(d), '\n');
  assert.match(await ensureServerToken(d, ca), /::server:[0-9a-f]{32}$/);
});
