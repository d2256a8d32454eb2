/**
 * Encryption at rest: round trips per provider with upstream's value layout, key rotation
 * (stale reads), identity first, wrong keys and tampering as clear errors, resource matching,
 * configuration validation messages, and the encrypting Store wrapper (the Store contract suite
 * over SQLite, plus ciphertext at rest and stale flags).
 */
import { test, describe, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createCipheriv, createDecipheriv } from 'node:crypto';
import nacl from 'tweetnacl';
import { runStoreSuite } from './contract.ts';
import { openSqliteStore } from './sqlite.ts';
import type { KeyValue } from './types.ts';
import {
  encryptingStore,
  encryptionTransformer,
  isStale,
  isTransformError,
  loadEncryptionConfiguration,
  parseEncryptionConfiguration,
  resourceResolver,
  type EncryptionConfiguration,
  type ProviderConfiguration,
  type ValueTransformer,
} from './encryption.ts';
import { isCode } from '../util/errors.ts';

const enc = (s: string): Uint8Array => new TextEncoder().encode(s);
const dec = (b: Uint8Array): string => new TextDecoder().decode(b);
const key16 = Buffer.alloc(16, 1).toString('base64');
const key24 = Buffer.alloc(24, 2).toString('base64');
const key32a = Buffer.alloc(32, 3).toString('base64');
const key32b = Buffer.alloc(32, 4).toString('base64');
const storageKey = '/registry/secrets/default/s1';

function config(providers: ProviderConfiguration[], resources = ['secrets']): EncryptionConfiguration {
  return { apiVersion: 'apiserver.config.k8s.io/v1', kind: 'EncryptionConfiguration', resources: [{ resources, providers }] };
}

function secrets(providers: ProviderConfiguration[]): ValueTransformer {
  const t = encryptionTransformer(config(providers)).forResource('secrets');
  assert.ok(t);
  return t;
}

const aescbc = (...keys: Array<[string, string]>): ProviderConfiguration => ({ aescbc: { keys: keys.map(([name, secret]) => ({ name, secret })) } });
const aesgcm = (...keys: Array<[string, string]>): ProviderConfiguration => ({ aesgcm: { keys: keys.map(([name, secret]) => ({ name, secret })) } });
const box = (...keys: Array<[string, string]>): ProviderConfiguration => ({ secretbox: { keys: keys.map(([name, secret]) => ({ name, secret })) } });
const identity: ProviderConfiguration = { identity: {} };

function prefixOf(stored: Uint8Array, n: number): string {
  return dec(stored.subarray(0, n));
}

/** A read result as text, for comparisons that ignore Buffer versus Uint8Array. */
const read = (r: { plain: Uint8Array; stale: boolean }) => ({ plain: dec(r.plain), stale: r.stale });

describe('round trips', () => {
  const plain = enc('{"kind":"Secret","data":{"password":"aHVudGVyMg=="}}');
  const cases = [
    { name: 'aescbc with a 16-byte key', p: aescbc(['k1', key16]), prefix: 'k8s:enc:aescbc:v1:k1:' },
    { name: 'aescbc with a 24-byte key', p: aescbc(['k1', key24]), prefix: 'k8s:enc:aescbc:v1:k1:' },
    { name: 'aescbc with a 32-byte key', p: aescbc(['k1', key32a]), prefix: 'k8s:enc:aescbc:v1:k1:' },
    { name: 'aesgcm with a 32-byte key', p: aesgcm(['g', key32a]), prefix: 'k8s:enc:aesgcm:v1:g:' },
    { name: 'aesgcm with a 16-byte key', p: aesgcm(['g', key16]), prefix: 'k8s:enc:aesgcm:v1:g:' },
    { name: 'secretbox', p: box(['sb', key32a]), prefix: 'k8s:enc:secretbox:v1:sb:' },
  ];
  for (const c of cases) {
    test(`${c.name}: prefixed ciphertext, random per write, read back not stale`, () => {
      const t = secrets([c.p]);
      const a = t.toStorage(plain, storageKey);
      const b = t.toStorage(plain, storageKey);
      assert.equal(prefixOf(a, c.prefix.length), c.prefix);
      assert.ok(!Buffer.from(a).includes(Buffer.from('hunter')), 'no plaintext at rest');
      assert.notDeepEqual(a, b, 'a fresh IV or nonce per write');
      assert.deepEqual(read(t.fromStorage(a, storageKey)), { plain: dec(plain), stale: false });
      assert.equal(dec(t.fromStorage(b, storageKey).plain), dec(plain));
    });
  }

  test('identity writes the value unchanged and reads it back', () => {
    const t = secrets([identity]);
    assert.equal(dec(t.toStorage(plain, storageKey)), dec(plain));
    assert.deepEqual(t.fromStorage(plain, storageKey), { plain, stale: false });
  });

  test('empty values round-trip through every provider', () => {
    for (const p of [aescbc(['k', key16]), aesgcm(['k', key16]), box(['k', key32a])]) {
      const t = secrets([p]);
      assert.equal(t.fromStorage(t.toStorage(new Uint8Array(0), storageKey), storageKey).plain.length, 0);
    }
  });
});

describe("upstream's value layout", () => {
  const plain = enc('hello world, seventeen+ bytes');
  test('aescbc: 16-byte IV, then AES-CBC with PKCS#7 padding', () => {
    const stored = secrets([aescbc(['k1', key32a])]).toStorage(plain, storageKey);
    const body = stored.subarray('k8s:enc:aescbc:v1:k1:'.length);
    assert.equal((body.length - 16) % 16, 0);
    const d = createDecipheriv('aes-256-cbc', Buffer.from(key32a, 'base64'), body.subarray(0, 16));
    assert.equal(Buffer.concat([d.update(body.subarray(16)), d.final()]).toString(), dec(plain));
  });
  test('aesgcm: 12-byte nonce, ciphertext, 16-byte tag; the storage key is authenticated', () => {
    const stored = secrets([aesgcm(['k1', key32a])]).toStorage(plain, storageKey);
    const body = stored.subarray('k8s:enc:aesgcm:v1:k1:'.length);
    const d = createDecipheriv('aes-256-gcm', Buffer.from(key32a, 'base64'), body.subarray(0, 12));
    d.setAAD(Buffer.from(storageKey));
    d.setAuthTag(body.subarray(body.length - 16));
    assert.equal(Buffer.concat([d.update(body.subarray(12, body.length - 16)), d.final()]).toString(), dec(plain));
  });
  test('secretbox: 24-byte nonce, then the NaCl box (tag first)', () => {
    const stored = secrets([box(['k1', key32a])]).toStorage(plain, storageKey);
    const body = stored.subarray('k8s:enc:secretbox:v1:k1:'.length);
    const out = nacl.secretbox.open(body.subarray(24), body.subarray(0, 24), Buffer.from(key32a, 'base64'));
    assert.ok(out);
    assert.equal(dec(out), dec(plain));
  });
});

describe('rotation and provider order', () => {
  const plain = enc('v');
  test('a value written with an older key of the first provider reads as stale', () => {
    const old = secrets([aescbc(['k1', key32a])]).toStorage(plain, storageKey);
    const rotated = secrets([aescbc(['k2', key32b], ['k1', key32a])]);
    assert.deepEqual(read(rotated.fromStorage(old, storageKey)), { plain: dec(plain), stale: true });
    const rewritten = rotated.toStorage(plain, storageKey);
    assert.equal(prefixOf(rewritten, 21), 'k8s:enc:aescbc:v1:k2:');
    assert.equal(rotated.fromStorage(rewritten, storageKey).stale, false);
  });

  test('a value written by a later provider reads as stale', () => {
    const old = secrets([aescbc(['k1', key32a])]).toStorage(plain, storageKey);
    const moved = secrets([box(['b1', key32b]), aescbc(['k1', key32a])]);
    assert.deepEqual(read(moved.fromStorage(old, storageKey)), { plain: dec(plain), stale: true });
    assert.equal(prefixOf(moved.toStorage(plain, storageKey), 24), 'k8s:enc:secretbox:v1:b1:');
  });

  test('identity first writes plaintext and still reads encrypted values (stale)', () => {
    const encrypted = secrets([aesgcm(['k1', key32a])]).toStorage(plain, storageKey);
    const decrypting = secrets([identity, aesgcm(['k1', key32a])]);
    assert.equal(dec(decrypting.toStorage(plain, storageKey)), dec(plain));
    assert.deepEqual(read(decrypting.fromStorage(encrypted, storageKey)), { plain: dec(plain), stale: true });
    assert.deepEqual(decrypting.fromStorage(plain, storageKey), { plain, stale: false });
  });

  test('identity last reads values stored before encryption was turned on (stale)', () => {
    const t = secrets([aescbc(['k1', key32a]), identity]);
    assert.deepEqual(t.fromStorage(plain, storageKey), { plain, stale: true });
  });

  test('two entries of the same provider with different keys: a failure in the first does not stop the second', () => {
    const old = secrets([aescbc(['k', key32a])]).toStorage(plain, storageKey);
    const t = secrets([aesgcm(['k', key32b]), aesgcm(['x', key32b]), aescbc(['k', key32a])]);
    assert.deepEqual(read(t.fromStorage(old, storageKey)), { plain: dec(plain), stale: true });
  });
});

describe('unreadable values are clear errors', () => {
  const plain = enc('{"secret":"x"}');
  const rejects = (fn: () => unknown, message: string | RegExp) =>
    assert.throws(fn, (err: unknown) => {
      assert.ok(isTransformError(err), String(err));
      assert.equal(err.code, 'ERR_STORAGE_TRANSFORM');
      if (typeof message === 'string') assert.equal(err.message, message);
      else assert.match(err.message, message);
      return true;
    });

  test('plaintext under an encrypt-only configuration: no matching prefix', () => {
    rejects(() => secrets([aescbc(['k1', key32a])]).fromStorage(plain, storageKey), `unable to transform key "${storageKey}": no matching prefix found`);
  });

  test('a key name the configuration does not have', () => {
    const stored = secrets([aescbc(['gone', key32a])]).toStorage(plain, storageKey);
    rejects(() => secrets([aescbc(['k1', key32a])]).fromStorage(stored, storageKey), /: no matching key was found for the provided AES transformer$/);
    const sb = secrets([box(['gone', key32a])]).toStorage(plain, storageKey);
    rejects(() => secrets([box(['k1', key32a])]).fromStorage(sb, storageKey), /: no matching key was found for the provided Secretbox transformer$/);
  });

  test('the right key name with the wrong secret: aesgcm fails authentication', () => {
    const stored = secrets([aesgcm(['k1', key32a])]).toStorage(plain, storageKey);
    rejects(() => secrets([aesgcm(['k1', key32b])]).fromStorage(stored, storageKey), `unable to transform key "${storageKey}": cipher: message authentication failed`);
  });

  test('the right key name with the wrong secret: secretbox fails to open', () => {
    const stored = secrets([box(['k1', key32a])]).toStorage(plain, storageKey);
    rejects(() => secrets([box(['k1', key32b])]).fromStorage(stored, storageKey), /: output array was not large enough for encryption$/);
  });

  test('the right key name with the wrong secret: aescbc fails its padding check', () => {
    // A fixed IV and plaintext, so that the wrong key's output is the same on every run.
    const iv = Buffer.alloc(16, 7);
    const c = createCipheriv('aes-256-cbc', Buffer.from(key32a, 'base64'), iv);
    const stored = Buffer.concat([Buffer.from('k8s:enc:aescbc:v1:k1:'), iv, c.update(plain), c.final()]);
    assert.equal(dec(secrets([aescbc(['k1', key32a])]).fromStorage(stored, storageKey).plain), dec(plain));
    rejects(() => secrets([aescbc(['k1', key32b])]).fromStorage(stored, storageKey), /: (invalid padding on input|invalid PKCS7 data \(empty or not padded\))$/);
  });

  test('an aesgcm value copied under another storage key does not authenticate', () => {
    const t = secrets([aesgcm(['k1', key32a])]);
    const stored = t.toStorage(plain, storageKey);
    rejects(() => t.fromStorage(stored, '/registry/secrets/default/other'), /cipher: message authentication failed$/);
  });

  test('truncated and misaligned values', () => {
    rejects(() => secrets([aescbc(['k1', key32a])]).fromStorage(enc('k8s:enc:aescbc:v1:k1:short'), storageKey), /the stored data was shorter than the required size$/);
    rejects(() => secrets([aescbc(['k1', key32a])]).fromStorage(enc('k8s:enc:aescbc:v1:k1:0123456789abcdefXYZ'), storageKey), /the stored data is not a multiple of the block size$/);
    rejects(() => secrets([box(['k1', key32a])]).fromStorage(enc('k8s:enc:secretbox:v1:k1:tiny'), storageKey), /the stored data was shorter than the required size$/);
  });

  test('identity alone refuses encrypted values', () => {
    const stored = secrets([aesgcm(['k1', key32a])]).toStorage(plain, storageKey);
    rejects(() => secrets([identity]).fromStorage(stored, storageKey), /: no matching prefix found$/);
  });

  test('several matching providers that all fail: their errors aggregated', () => {
    const stored = secrets([aesgcm(['k1', key32a])]).toStorage(plain, storageKey);
    rejects(
      () => secrets([aesgcm(['k1', key32b]), aesgcm(['k1', key16])]).fromStorage(stored, storageKey),
      `unable to transform key "${storageKey}": [cipher: message authentication failed, cipher: message authentication failed]`,
    );
  });
});

describe('which resources a configuration encrypts', () => {
  const cases: Array<{ name: string; resources: string[]; yes: string[]; no: string[] }> = [
    { name: 'one core resource', resources: ['secrets'], yes: ['secrets'], no: ['configmaps', 'secrets.apps'] },
    { name: 'a resource of a group', resources: ['deployments.apps'], yes: ['deployments.apps'], no: ['deployments', 'replicasets.apps'] },
    { name: '*. is every core resource', resources: ['*.'], yes: ['secrets', 'configmaps'], no: ['deployments.apps'] },
    { name: '*.apps is every resource of apps', resources: ['*.apps'], yes: ['deployments.apps', 'statefulsets.apps'], no: ['secrets', 'jobs.batch'] },
    { name: '*.* is everything', resources: ['*.*'], yes: ['secrets', 'deployments.apps', 'widgets.example.com'], no: [] },
  ];
  for (const c of cases) {
    test(c.name, () => {
      const t = encryptionTransformer(config([aescbc(['k', key16])], c.resources));
      for (const r of c.yes) assert.ok(t.forResource(r), `${r} encrypted`);
      for (const r of c.no) assert.equal(t.forResource(r), undefined, `${r} not encrypted`);
    });
  }

  test('an exact rule wins over a wildcard of a later entry', () => {
    const cfg: EncryptionConfiguration = {
      apiVersion: 'apiserver.config.k8s.io/v1',
      kind: 'EncryptionConfiguration',
      resources: [
        { resources: ['secrets'], providers: [box(['s', key32a])] },
        { resources: ['*.'], providers: [aescbc(['c', key16])] },
      ],
    };
    const t = encryptionTransformer(cfg);
    assert.equal(prefixOf(t.forResource('secrets')!.toStorage(enc('x'), 'k'), 20), 'k8s:enc:secretbox:v1');
    assert.equal(prefixOf(t.forResource('configmaps')!.toStorage(enc('x'), 'k'), 17), 'k8s:enc:aescbc:v1');
  });
});

describe('configuration parsing and validation', () => {
  const yaml = (body: string) => `apiVersion: apiserver.config.k8s.io/v1\nkind: EncryptionConfiguration\n${body}`;

  test('a documented configuration parses (YAML)', () => {
    const c = parseEncryptionConfiguration(
      yaml(`resources:
  - resources: [secrets, configmaps]
    providers:
      - aescbc:
          keys:
            - name: key1
              secret: ${key32a}
      - identity: {}
`),
    );
    assert.deepEqual(c.resources[0]!.resources, ['secrets', 'configmaps']);
    assert.deepEqual(c.resources[0]!.providers, [{ aescbc: { keys: [{ name: 'key1', secret: key32a }] } }, { identity: {} }]);
  });

  test('JSON is accepted too, and `identity:` with no value counts', () => {
    const c = parseEncryptionConfiguration(
      JSON.stringify({ apiVersion: 'apiserver.config.k8s.io/v1', kind: 'EncryptionConfiguration', resources: [{ resources: ['secrets'], providers: [{ identity: null }] }] }),
    );
    assert.deepEqual(c.resources[0]!.providers, [{ identity: {} }]);
  });

  const bad: Array<{ name: string; text: string; message: string }> = [
    { name: 'no resources', text: yaml('resources: []\n'), message: 'resources: Required value: at least one resources is required' },
    {
      name: 'an aescbc key of the wrong length',
      text: yaml(`resources:\n- resources: [secrets]\n  providers:\n  - aescbc: {keys: [{name: k, secret: ${Buffer.alloc(8).toString('base64')}}]}\n`),
      message: 'resources[0].providers[0].aescbc.keys[0].secret: Invalid value: "REDACTED": secret is not of the expected length, got 8, expected one of [16 24 32]',
    },
    {
      name: 'a secretbox key of 16 bytes',
      text: yaml(`resources:\n- resources: [secrets]\n  providers:\n  - secretbox: {keys: [{name: k, secret: ${key16}}]}\n`),
      message: 'resources[0].providers[0].secretbox.keys[0].secret: Invalid value: "REDACTED": secret is not of the expected length, got 16, expected one of [32]',
    },
    {
      name: 'a secret that is not base64',
      text: yaml('resources:\n- resources: [secrets]\n  providers:\n  - aesgcm: {keys: [{name: k, secret: "not base64!"}]}\n'),
      message: 'resources[0].providers[0].aesgcm.keys[0].secret: Invalid value: "REDACTED": secrets must be base64 encoded',
    },
    {
      name: 'a key without a name or keys at all',
      text: yaml(`resources:\n- resources: [secrets]\n  providers:\n  - aescbc: {keys: [{secret: ${key16}}]}\n  - secretbox: {keys: []}\n`),
      message: '[resources[0].providers[0].aescbc.keys[0].name: Required value: name is a mandatory field for a key, resources[0].providers[1].secretbox.keys: Required value: at least one keys is required]',
    },
    {
      name: 'two providers in one element',
      text: yaml(`resources:\n- resources: [secrets]\n  providers:\n  - aescbc: {keys: [{name: k, secret: ${key16}}]}\n    identity: {}\n`),
      message: 'resources[0].providers[0]: Invalid value: []string{"aescbc", "identity"}: more than one provider specified in a single element, should split into different list elements',
    },
    {
      name: 'no providers, and an unknown one',
      text: yaml('resources:\n- resources: [secrets]\n  providers: []\n- resources: [configmaps]\n  providers:\n  - aesbc: {}\n'),
      message: '[resources[0].providers: Required value: at least one resources[0].providers is required, resources[1].providers[0]: Invalid value: []string{}: provider does not contain any of the expected providers: KMS, AESGCM, AESCBC, Secretbox, Identity]',
    },
    {
      name: 'a bare * and a capitalised resource',
      text: yaml('resources:\n- resources: ["*", Secrets]\n  providers: [{identity: {}}]\n'),
      // The overlap check runs first and sees `*` (core, any resource) beside `Secrets`.
      message: "[resources[0].resources: Invalid value: []string{\"*\", \"Secrets\"}: using overlapping resources such as 'secrets' and '*.' in the same resource list is not allowed as they will be masked, resources[0].resources[0]: Invalid value: \"*\": use '*.' to encrypt all the resources from core API group or *.* to encrypt all resources, resources[0].resources[1]: Invalid value: \"Secrets\": resource name should not contain capital letters]",
    },
    {
      name: 'overlapping resources in one list',
      text: yaml('resources:\n- resources: [secrets, "*."]\n  providers: [{identity: {}}]\n'),
      message: "resources[0].resources: Invalid value: []string{\"secrets\", \"*.\"}: using overlapping resources such as 'secrets' and '*.' in the same resource list is not allowed as they will be masked",
    },
    {
      name: 'a resource listed twice',
      text: yaml('resources:\n- resources: [secrets, secrets]\n  providers: [{identity: {}}]\n'),
      message: 'resources[0].resources: Invalid value: []string{"secrets", "secrets"}: the same resource cannot be specified multiple times',
    },
    {
      name: 'events.k8s.io, extensions and resource.*',
      text: yaml('resources:\n- resources: [events.events.k8s.io, ingresses.extensions, "secrets.*"]\n  providers: [{identity: {}}]\n'),
      message:
        "[resources[0].resources[0]: Invalid value: \"events.events.k8s.io\": '*.events.k8s.io' objects are stored using the 'events' API group in etcd. Use 'events' instead in the config file, resources[0].resources[1]: Invalid value: \"ingresses.extensions\": 'extensions' group has been removed and cannot be used for encryption, resources[0].resources[2]: Invalid value: \"secrets.*\": encrypting the same resource across groups is not supported]",
    },
    {
      name: 'a rule masked by an earlier wildcard',
      text: yaml('resources:\n- resources: ["*."]\n  providers: [{identity: {}}]\n- resources: [secrets]\n  providers: [{identity: {}}]\n'),
      message: 'resource "secrets" is masked by earlier rule "*."',
    },
    {
      name: 'a rule masked by *.*',
      text: yaml('resources:\n- resources: ["*.*"]\n  providers: [{identity: {}}]\n- resources: [deployments.apps]\n  providers: [{identity: {}}]\n'),
      message: 'resource "deployments.apps" is masked by earlier rule "*.*"',
    },
    {
      name: 'a KMS provider',
      text: yaml('resources:\n- resources: [secrets]\n  providers: [{kms: {name: vault, endpoint: "unix:///kms.sock"}}]\n'),
      message: 'resources[0].providers[0].kms: Invalid value: "vault": KMS providers are not supported by Bosun (use aescbc, aesgcm or secretbox)',
    },
    {
      name: 'another kind',
      text: 'apiVersion: v1\nkind: ConfigMap\n',
      message: 'error decoding encryption provider configuration: no kind "ConfigMap" is registered for version "v1" (want apiVersion apiserver.config.k8s.io/v1, kind EncryptionConfiguration)',
    },
    { name: 'an empty text', text: '  \n', message: 'encryption provider configuration is empty' },
  ];
  for (const c of bad) {
    test(`refused: ${c.name}`, () => {
      assert.throws(() => parseEncryptionConfiguration(c.text), (err: unknown) => {
        assert.ok(isCode(err, 'ERR_INVALID_CONFIG'), String(err));
        assert.equal((err as Error).message, c.message);
        return true;
      });
    });
  }

  test('secrets never appear in messages', () => {
    const secret = Buffer.from('0123456789').toString('base64');
    assert.throws(() => parseEncryptionConfiguration(yaml(`resources:\n- resources: [secrets]\n  providers: [{aescbc: {keys: [{name: k, secret: ${secret}}]}}]\n`)), (err: Error) => !err.message.includes(secret));
  });

  test('loading a file: errors name the file, as upstream', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bosun-enc-'));
    try {
      const empty = path.join(dir, 'empty.yaml');
      fs.writeFileSync(empty, '');
      assert.throws(() => loadEncryptionConfiguration(empty), { message: `error while parsing file: encryption provider configuration file ${JSON.stringify(empty)} is empty` });
      assert.throws(() => loadEncryptionConfiguration(path.join(dir, 'missing.yaml')), /^BosunError: error while parsing file: error opening encryption provider configuration file ".*missing\.yaml": /);
      const good = path.join(dir, 'enc.yaml');
      fs.writeFileSync(good, yaml(`resources:\n- resources: [secrets]\n  providers: [{secretbox: {keys: [{name: k, secret: ${key32a}}]}}]\n`));
      assert.ok(encryptionTransformer(loadEncryptionConfiguration(good)).forResource('secrets'));
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('resourceResolver', () => {
  const resolve = resourceResolver([
    { group: '', plural: 'secrets' },
    { group: '', plural: 'services', storagePrefix: 'services/specs' },
    { group: '', plural: 'endpoints', storagePrefix: 'services/endpoints' },
    { group: 'apps', plural: 'deployments' },
    { group: '', plural: 'events' },
    { group: 'events.k8s.io', plural: 'events', storagePrefix: 'events', storedAs: {} },
    { group: 'authorization.k8s.io', plural: 'subjectaccessreviews', review: true },
    { group: 'apiextensions.k8s.io', plural: 'customresourcedefinitions', storagePrefix: 'apiextensions.k8s.io/customresourcedefinitions' },
  ]);
  const cases: Array<[string, string | undefined]> = [
    ['/registry/secrets/default/s1', 'secrets'],
    ['/registry/services/specs/default/kubernetes', 'services'],
    ['/registry/services/endpoints/default/kubernetes', 'endpoints'],
    ['/registry/deployments/default/web', 'deployments.apps'],
    ['/registry/events/default/e1', 'events'],
    ['/registry/apiextensions.k8s.io/customresourcedefinitions/widgets.example.com', 'customresourcedefinitions.apiextensions.k8s.io'],
    ['/registry/secretsx/default/s1', undefined],
    ['/registry/subjectaccessreviews/x', undefined],
    ['/other', undefined],
  ];
  for (const [key, want] of cases) test(`${key} → ${want}`, () => assert.equal(resolve(key), want));
});

// ---- the Store wrapper -------------------------------------------------------------------------

const root = fs.mkdtempSync(path.join(os.tmpdir(), 'bosun-enc-store-'));
after(() => fs.rmSync(root, { recursive: true, force: true }));
let n = 0;
const tmpDb = (): string => path.join(root, `s${n++}`, 'state.db');
const everything = encryptionTransformer(config([aesgcm(['k1', key32a])], ['*.*']));

// Every key of the suite is encrypted: the wrapper must keep every Store promise.
runStoreSuite({
  name: 'sqlite behind encryptingStore',
  newStore: async () => encryptingStore(openSqliteStore(tmpDb(), { compactIntervalMs: 0 }), everything, () => 'secrets'),
});

describe('encryptingStore', () => {
  test('values of encrypted resources are ciphertext at rest, others plaintext; reads give plaintext', async () => {
    const raw = openSqliteStore(tmpDb(), { compactIntervalMs: 0 });
    const t = encryptionTransformer(config([box(['b', key32a])]));
    const s = encryptingStore(raw, t, resourceResolver([{ group: '', plural: 'secrets' }, { group: '', plural: 'configmaps' }]));
    try {
      const created = await s.create('/registry/secrets/ns/a', enc('top secret'));
      assert.ok(created.ok);
      assert.equal(dec(created.kv.value), 'top secret');
      await s.create('/registry/configmaps/ns/a', enc('public'));
      assert.equal(prefixOf((await raw.get('/registry/secrets/ns/a'))!.value, 23), 'k8s:enc:secretbox:v1:b:');
      assert.equal(dec((await raw.get('/registry/configmaps/ns/a'))!.value), 'public');
      assert.equal(dec((await s.get('/registry/secrets/ns/a'))!.value), 'top secret');
      assert.deepEqual((await s.list('/registry/secrets/')).items.map((kv) => dec(kv.value)), ['top secret']);
      const lost = await s.create('/registry/secrets/ns/a', enc('again'));
      assert.equal(lost.ok, false);
      assert.equal(!lost.ok && lost.current && dec(lost.current.value), 'top secret');
      const del = await s.delete('/registry/secrets/ns/a');
      assert.equal(dec(del.current!.value), 'top secret');
    } finally {
      await s.close();
    }
  });

  test('a plaintext resource\'s watch event carries the very bytes written, an encrypted one\'s its plaintext', async () => {
    const raw = openSqliteStore(tmpDb(), { compactIntervalMs: 0 });
    const s = encryptingStore(raw, encryptionTransformer(config([box(['b', key32a])])), resourceResolver([{ group: '', plural: 'secrets' }]));
    const abort = new AbortController();
    try {
      const from = await s.currentRevision();
      const plain = enc('public');
      const secret = enc('top secret');
      // The watch must be live when the writes happen (a replay from history reads values back):
      // once it has delivered a first write, the later ones come live.
      const seen: KeyValue[] = [];
      const watching = (async () => {
        for await (const batch of s.watch('/registry/', from, { signal: abort.signal })) {
          for (const ev of batch.events) seen.push(ev.kv);
          if (seen.length >= 3) break;
        }
      })();
      await s.create('/registry/configmaps/ns/first', enc('first'));
      for (const deadline = Date.now() + 10_000; !seen.length && Date.now() < deadline; ) await new Promise((r) => setTimeout(r, 10));
      await s.create('/registry/configmaps/ns/a', plain);
      await s.create('/registry/secrets/ns/a', secret);
      await watching;
      seen.shift();
      assert.equal(seen[0]!.value, plain, 'the same Uint8Array');
      assert.notEqual(seen[1]!.value, secret);
      assert.equal(dec(seen[1]!.value), 'top secret');
    } finally {
      abort.abort();
      await s.close();
    }
  });

  test('values written under an old key read as stale until rewritten; an unknown key is a TransformError', async () => {
    const raw = openSqliteStore(tmpDb(), { compactIntervalMs: 0 });
    const resolve = () => 'secrets';
    const before = encryptingStore(raw, encryptionTransformer(config([aescbc(['k1', key32a])])), resolve);
    await before.create('/registry/secrets/ns/a', enc('v1'));
    const after = encryptingStore(raw, encryptionTransformer(config([aescbc(['k2', key32b], ['k1', key32a])])), resolve);
    const kv = (await after.get('/registry/secrets/ns/a'))!;
    assert.equal(dec(kv.value), 'v1');
    assert.equal(isStale(kv), true);
    const res = await after.update(kv.key, kv.value, kv.modRevision);
    assert.ok(res.ok);
    const again = (await after.get('/registry/secrets/ns/a'))!;
    assert.equal(isStale(again), false);
    const only1 = encryptingStore(raw, encryptionTransformer(config([aescbc(['k1', key32a])])), resolve);
    await assert.rejects(only1.get('/registry/secrets/ns/a'), (err: unknown) => isTransformError(err) && /no matching key was found for the provided AES transformer/.test(err.message));
    await raw.close();
  });

  test('watch events are decrypted; an unreadable one is passed on as stored and reported', async () => {
    const raw = openSqliteStore(tmpDb(), { compactIntervalMs: 0 });
    const reported: string[] = [];
    const s = encryptingStore(raw, encryptionTransformer(config([aesgcm(['k1', key32a])])), () => 'secrets', { onWatchError: (e) => reported.push(e.message) });
    const ac = new AbortController();
    const from = await s.currentRevision();
    await s.create('/registry/secrets/ns/a', enc('one'));
    await raw.create('/registry/secrets/ns/b', enc('k8s:enc:aesgcm:v1:k1:garbage-garbage-garbage'));
    const seen: string[] = [];
    for await (const batch of s.watch('/registry/secrets/', from, { signal: ac.signal })) {
      for (const ev of batch.events) seen.push(dec(ev.kv.value));
      if (seen.length >= 2) ac.abort();
    }
    assert.deepEqual(seen, ['one', 'k8s:enc:aesgcm:v1:k1:garbage-garbage-garbage']);
    assert.equal(reported.length, 1);
    assert.match(reported[0]!, /unable to transform key "\/registry\/secrets\/ns\/b": cipher: message authentication failed/);
    await s.close();
  });
});
