/**
 * Encryption of stored values at rest (--encryption-provider-config), as upstream's
 * server/options/encryptionconfig, storage/value (prefix transformers) and
 * storage/value/encrypt/{aes,secretbox,identity} do:
 *
 * - `parseEncryptionConfiguration` reads an apiserver.config.k8s.io/v1 EncryptionConfiguration
 *   (YAML or JSON) and validates it with upstream's messages: resources (`secrets`,
 *   `deployments.apps`, `*.` for the core group, `*.apps`, `*.*`), one provider per list element
 *   (aescbc, aesgcm: 16/24/32-byte keys; secretbox: 32 bytes; identity), base64 secrets, key names;
 *   rules masked by an earlier `*.group` or `*.*` rule. KMS providers are refused (not served).
 * - `encryptionTransformer` gives each group-resource its transformer: exact rule, else
 *   `*.<group>`, else `*.*`; none → undefined (values stay plaintext, as upstream's identity).
 *   The first provider (and its first key) encrypts; reading tries every provider whose prefix
 *   the value has — `k8s:enc:aescbc:v1:<key>:`, `k8s:enc:aesgcm:v1:<key>:`,
 *   `k8s:enc:secretbox:v1:<key>:`, identity for unprefixed values — and reports `stale` when the
 *   value was not written by the first provider and key (rewrite it to rotate keys).
 *   aescbc: random 16-byte IV + AES-CBC with PKCS#7 padding; aesgcm: random 12-byte nonce,
 *   AES-GCM with the storage key as authenticated data; secretbox: random 24-byte nonce +
 *   XSalsa20-Poly1305 (tweetnacl). Values cannot be read once no configured key matches: a
 *   TransformError (code ERR_STORAGE_TRANSFORM) names the key and upstream's reason.
 * - `encryptingStore` wraps a Store so that values under encrypted resources are transformed on
 *   every read, write and watch event; `isStale(kv)` tells whether a value read needs rewriting.
 */
import { createCipheriv, createDecipheriv, createSecretKey, randomBytes, type KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';
import nacl from 'tweetnacl';
import { parse as parseYaml } from 'yaml';
import { BosunError } from '../util/errors.ts';
import type { DeleteResult, KeyValue, ListResult, Store, WatchBatch, WriteResult } from './types.ts';
import { isJsonObject } from '../util/json.ts';

// ---- configuration types (apiserver.config.k8s.io/v1) ---------------------------------------

export interface EncryptionKey {
  name: string;
  /** base64 (standard encoding, padded). */
  secret: string;
}

export interface KeysConfiguration {
  keys: EncryptionKey[];
}

export interface ProviderConfiguration {
  aescbc?: KeysConfiguration;
  aesgcm?: KeysConfiguration;
  secretbox?: KeysConfiguration;
  identity?: Record<string, never>;
  kms?: Record<string, unknown>;
}

export interface ResourceConfiguration {
  resources: string[];
  providers: ProviderConfiguration[];
}

export interface EncryptionConfiguration {
  apiVersion: 'apiserver.config.k8s.io/v1';
  kind: 'EncryptionConfiguration';
  resources: ResourceConfiguration[];
}

/** Reads and writes one resource's values. Both directions throw TransformError on failure. */
export interface ValueTransformer {
  /** Encrypts with the first provider; `key` is the storage key (authenticated by aesgcm). */
  toStorage(plain: Uint8Array, key: string): Uint8Array;
  /** Decrypts with whichever provider wrote the value; `stale` when that is not the first provider and key. */
  fromStorage(stored: Uint8Array, key: string): { plain: Uint8Array; stale: boolean };
}

export interface EncryptionTransformer {
  /** The transformer for `resource` or `resource.group` (GroupResource.String()); undefined: stored as plaintext. */
  forResource(groupResource: string): ValueTransformer | undefined;
}

/** A value that cannot be transformed (no matching key, tampered or corrupt data). */
export class TransformError extends Error {
  readonly code = 'ERR_STORAGE_TRANSFORM';
  /** The storage key, when known. */
  readonly key: string;
  constructor(message: string, key = '') {
    super(message);
    this.name = 'TransformError';
    this.key = key;
  }
}

export function isTransformError(err: unknown): err is TransformError {
  return err instanceof TransformError;
}

// ---- parsing and validation -----------------------------------------------------------------

const aesKeySizes = [16, 24, 32];
const secretboxKeySizes = [32];

function configError(message: string): BosunError {
  return new BosunError('ERR_INVALID_CONFIG', message);
}

/** Reads the file named by --encryption-provider-config; errors as upstream's LoadEncryptionConfig words them. */
export function loadEncryptionConfiguration(file: string): EncryptionConfiguration {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw configError(`error while parsing file: error opening encryption provider configuration file ${JSON.stringify(file)}: ${(err as Error).message}`);
  }
  if (!text.length) throw configError(`error while parsing file: encryption provider configuration file ${JSON.stringify(file)} is empty`);
  try {
    return parseEncryptionConfiguration(text);
  } catch (err) {
    throw configError(`error while parsing file: ${(err as Error).message}`);
  }
}

/**
 * Parses and validates an EncryptionConfiguration. Throws a BosunError (ERR_INVALID_CONFIG):
 * decoding errors, then upstream's field errors aggregated (`[a, b]` when several), then a rule
 * masked by an earlier wildcard rule. Secrets never appear in messages (`"REDACTED"`).
 */
export function parseEncryptionConfiguration(text: string): EncryptionConfiguration {
  if (!text.trim()) throw configError('encryption provider configuration is empty');
  let doc: unknown;
  try {
    doc = parseYaml(text);
  } catch (err) {
    throw configError(`error decoding encryption provider configuration: ${(err as Error).message}`);
  }
  const config = decodeConfiguration(doc);
  checkConfiguration(config);
  return config;
}

function checkConfiguration(config: EncryptionConfiguration): void {
  const errs = validateEncryptionConfiguration(config);
  if (errs.length) throw configError(errs.length === 1 ? errs[0]! : `[${errs.join(', ')}]`);
  const masked = maskedRule(config);
  if (masked) throw configError(masked);
}

function decodeConfiguration(doc: unknown): EncryptionConfiguration {
  const fail = (m: string) => configError(`error decoding encryption provider configuration: ${m}`);
  if (!isJsonObject(doc)) throw fail('not an object');
  if (doc['kind'] !== 'EncryptionConfiguration' || doc['apiVersion'] !== 'apiserver.config.k8s.io/v1') {
    throw fail(`no kind ${JSON.stringify(doc['kind'] ?? '')} is registered for version ${JSON.stringify(doc['apiVersion'] ?? '')} (want apiVersion apiserver.config.k8s.io/v1, kind EncryptionConfiguration)`);
  }
  const list = <T>(v: unknown, where: string, item: (x: unknown, at: string) => T): T[] => {
    if (v === undefined || v === null) return [];
    if (!Array.isArray(v)) throw fail(`${where}: expected a list`);
    return v.map((x, i) => item(x, `${where}[${i}]`));
  };
  const str = (v: unknown, where: string): string => {
    if (v === undefined || v === null) return '';
    if (typeof v !== 'string') throw fail(`${where}: expected a string`);
    return v;
  };
  const keys = (v: unknown, where: string): KeysConfiguration => {
    if (v === null) return { keys: [] };
    if (!isJsonObject(v)) throw fail(`${where}: expected an object`);
    return { keys: list(v['keys'], `${where}.keys`, (k, at) => {
      if (!isJsonObject(k)) throw fail(`${at}: expected an object`);
      return { name: str(k['name'], `${at}.name`), secret: str(k['secret'], `${at}.secret`) };
    }) };
  };
  return {
    apiVersion: 'apiserver.config.k8s.io/v1',
    kind: 'EncryptionConfiguration',
    resources: list(doc['resources'], 'resources', (r, at) => {
      if (!isJsonObject(r)) throw fail(`${at}: expected an object`);
      return {
        resources: list(r['resources'], `${at}.resources`, (s, a) => str(s, a)),
        providers: list(r['providers'], `${at}.providers`, (p, pat) => {
          if (!isJsonObject(p)) throw fail(`${pat}: expected an object`);
          const out: ProviderConfiguration = {};
          // A provider key present with an empty value (`identity: {}` or `identity:`) counts as given.
          for (const name of ['aescbc', 'aesgcm', 'secretbox'] as const) if (name in p) out[name] = keys(p[name], `${pat}.${name}`);
          if ('identity' in p) out.identity = {};
          if ('kms' in p) out.kms = isJsonObject(p['kms']) ? p['kms'] : {};
          return out;
        }),
      };
    }),
  };
}

/** A GroupResource as schema.ParseGroupResource reads `resource.group`. */
export function parseGroupResource(s: string): { group: string; resource: string } {
  const i = s.indexOf('.');
  return i >= 0 ? { group: s.slice(i + 1), resource: s.slice(0, i) } : { group: '', resource: s };
}

/** How upstream prints a rule in messages: `*.` for all of core, else GroupResource.String(). */
function grString(gr: { group: string; resource: string }): string {
  if (gr.group === '' && gr.resource === '*') return '*.';
  return gr.group ? `${gr.resource}.${gr.group}` : gr.resource;
}

const goStrings = (v: readonly string[]) => `[]string{${v.map((s) => JSON.stringify(s)).join(', ')}}`;

const providerNames = ['kms', 'aesgcm', 'aescbc', 'secretbox', 'identity'] as const;

/** Upstream's ValidateEncryptionConfiguration, as field error strings in its order. */
export function validateEncryptionConfiguration(c: EncryptionConfiguration): string[] {
  const errs: string[] = [];
  if (!c.resources.length) return ['resources: Required value: at least one resources is required'];
  for (const [i, conf] of c.resources.entries()) {
    const r = `resources[${i}].resources`;
    const p = `resources[${i}].providers`;
    if (!conf.resources.length) errs.push(`${r}: Required value: at least one ${r} is required`);
    errs.push(...validateResourceOverlap(conf.resources, r));
    errs.push(...validateResourceNames(conf.resources, r));
    if (!conf.providers.length) errs.push(`${p}: Required value: at least one ${p} is required`);
    for (const [j, provider] of conf.providers.entries()) {
      const at = `${p}[${j}]`;
      const present = providerNames.filter((n) => provider[n] !== undefined);
      if (present.length === 0) {
        errs.push(`${at}: Invalid value: ${goStrings(present)}: provider does not contain any of the expected providers: KMS, AESGCM, AESCBC, Secretbox, Identity`);
        continue;
      }
      if (present.length > 1) {
        errs.push(`${at}: Invalid value: ${goStrings(present)}: more than one provider specified in a single element, should split into different list elements`);
        continue;
      }
      if (provider.kms) errs.push(`${at}.kms: Invalid value: ${JSON.stringify(String(provider.kms['name'] ?? ''))}: KMS providers are not supported by Bosun (use aescbc, aesgcm or secretbox)`);
      else if (provider.aesgcm) errs.push(...validateKeys(provider.aesgcm.keys, `${at}.aesgcm.keys`, aesKeySizes));
      else if (provider.aescbc) errs.push(...validateKeys(provider.aescbc.keys, `${at}.aescbc.keys`, aesKeySizes));
      else if (provider.secretbox) errs.push(...validateKeys(provider.secretbox.keys, `${at}.secretbox.keys`, secretboxKeySizes));
    }
  }
  return errs;
}

function validateResourceOverlap(resources: readonly string[], field: string): string[] {
  if (resources.length < 2) return [];
  const grs = resources.map(parseGroupResource);
  let overlap = false;
  let duplicate = false;
  for (const [i, a] of grs.entries()) {
    for (const [j, b] of grs.entries()) {
      if (i === j) continue;
      if (a.group === b.group && a.resource === b.resource && !duplicate) {
        duplicate = true;
        continue;
      }
      if (overlap) continue;
      if (a.group === '*' && a.resource === '*') {
        overlap = true;
        continue;
      }
      if (a.group !== b.group) continue;
      if (a.resource === '*' || b.resource === '*') overlap = true;
    }
  }
  const out: string[] = [];
  if (duplicate) out.push(`${field}: Invalid value: ${goStrings(resources)}: the same resource cannot be specified multiple times`);
  if (overlap) {
    out.push(`${field}: Invalid value: ${goStrings(resources)}: using overlapping resources such as 'secrets' and '*.' in the same resource list is not allowed as they will be masked`);
  }
  return out;
}

function validateResourceNames(resources: readonly string[], field: string): string[] {
  const out: string[] = [];
  for (const [j, res] of resources.entries()) {
    const f = `${field}[${j}]: Invalid value: ${JSON.stringify(res)}`;
    const gr = parseGroupResource(res);
    if (res.toLowerCase() !== res) out.push(`${f}: resource name should not contain capital letters`);
    else if (res === '*') out.push(`${f}: use '*.' to encrypt all the resources from core API group or *.* to encrypt all resources`);
    else if (res === 'apiserveripinfo' || res === 'serviceipallocations' || res === 'servicenodeportallocations') {
      out.push(`${f}: resources which do not have REST API/s cannot be encrypted`);
    } else if (gr.group === 'events.k8s.io') {
      out.push(`${f}: '*.events.k8s.io' objects are stored using the 'events' API group in etcd. Use 'events' instead in the config file`);
    } else if (gr.group === 'extensions') out.push(`${f}: 'extensions' group has been removed and cannot be used for encryption`);
    else if (gr.group === '*' && gr.resource !== '*') out.push(`${f}: encrypting the same resource across groups is not supported`);
  }
  return out;
}

/** Go's base64.StdEncoding.DecodeString (padded, strict alphabet; CR and LF ignored), or null. */
function decodeBase64Strict(s: string): Buffer | null {
  const t = s.replace(/[\r\n]/g, '');
  if (!/^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/.test(t)) return null;
  return Buffer.from(t, 'base64');
}

function validateKeys(keys: readonly EncryptionKey[], field: string, sizes: readonly number[]): string[] {
  if (!keys.length) return [`${field}: Required value: at least one keys is required`];
  const out: string[] = [];
  for (const [i, key] of keys.entries()) {
    const at = `${field}[${i}]`;
    if (!key.name) out.push(`${at}.name: Required value: name is a mandatory field for a key`);
    if (!key.secret) {
      out.push(`${at}.secret: Required value: secret is a mandatory field for a key`);
      continue;
    }
    const secret = decodeBase64Strict(key.secret);
    if (!secret) out.push(`${at}.secret: Invalid value: "REDACTED": secrets must be base64 encoded`);
    else if (!sizes.includes(secret.length)) {
      out.push(`${at}.secret: Invalid value: "REDACTED": secret is not of the expected length, got ${secret.length}, expected one of [${sizes.join(' ')}]`);
    }
  }
  return out;
}

/** Upstream's check while building transformers: a rule after `*.group` or `*.*` would never apply. */
function maskedRule(config: EncryptionConfiguration): string | null {
  const seen = new Set<string>();
  for (const conf of config.resources) {
    for (const res of conf.resources) {
      const gr = parseGroupResource(res);
      const anyInGroup = { group: gr.group, resource: '*' };
      if (seen.has(grKey(anyInGroup))) return `resource ${JSON.stringify(grString(gr))} is masked by earlier rule ${JSON.stringify(grString(anyInGroup))}`;
      if (seen.has('*|*')) return `resource ${JSON.stringify(grString(gr))} is masked by earlier rule "*.*"`;
    }
    // Rules of one entry do not mask each other (the overlap check covers them).
    for (const res of conf.resources) seen.add(grKey(parseGroupResource(res)));
  }
  return null;
}

const grKey = (gr: { group: string; resource: string }) => `${gr.group}|${gr.resource}`;

// ---- transformers -------------------------------------------------------------------------

/** A transformer below the prefix layer; throws Error with upstream's message. */
interface Transformer {
  from(data: Uint8Array, ad: Uint8Array): { plain: Uint8Array; stale: boolean };
  to(data: Uint8Array, ad: Uint8Array): Uint8Array;
}

interface Prefixed {
  prefix: Uint8Array;
  t: Transformer;
}

const enc = new TextEncoder();
const encryptedPrefix = enc.encode('k8s:enc:');

function hasPrefix(data: Uint8Array, prefix: Uint8Array): boolean {
  if (data.length < prefix.length) return false;
  for (let i = 0; i < prefix.length; i++) if (data[i] !== prefix[i]) return false;
  return true;
}

function concat(...parts: Uint8Array[]): Uint8Array {
  return Buffer.concat(parts);
}

/**
 * upstream value.NewPrefixTransformers: writes with the first; reads with every transformer whose
 * prefix matches, in order — an empty-prefix (identity) failure is skipped, other failures are
 * collected and the next match is tried; the first success is stale unless it is the first.
 */
function prefixTransformers(list: readonly Prefixed[], noMatch: string): Transformer {
  return {
    from(data, ad) {
      const errs: string[] = [];
      for (const [i, p] of list.entries()) {
        if (!hasPrefix(data, p.prefix)) continue;
        let res: { plain: Uint8Array; stale: boolean };
        try {
          res = p.t.from(data.subarray(p.prefix.length), ad);
        } catch (err) {
          if (p.prefix.length) errs.push((err as Error).message);
          continue;
        }
        return { plain: res.plain, stale: res.stale || i !== 0 };
      }
      if (errs.length) throw new Error(errs.length === 1 ? errs[0] : `[${errs.join(', ')}]`);
      throw new Error(noMatch);
    },
    to(data, ad) {
      const first = list[0]!;
      return concat(first.prefix, first.t.to(data, ad));
    },
  };
}

const shortData = 'the stored data was shorter than the required size';

function aesCbc(key: KeyObject, bits: number): Transformer {
  const algo = `aes-${bits}-cbc`;
  return {
    to(data) {
      const iv = randomBytes(16);
      const c = createCipheriv(algo, key, iv); // PKCS#7 padding
      return concat(iv, c.update(data), c.final());
    },
    from(data) {
      if (data.length < 16) throw new Error(shortData);
      const body = data.subarray(16);
      if (body.length % 16 !== 0) throw new Error('the stored data is not a multiple of the block size');
      const d = createDecipheriv(algo, key, data.subarray(0, 16));
      d.setAutoPadding(false);
      const out = Buffer.concat([d.update(body), d.final()]);
      const pad = out.length ? out[out.length - 1]! : 0;
      if (pad === 0 || pad > out.length) throw new Error('invalid PKCS7 data (empty or not padded)');
      for (let i = out.length - pad; i < out.length; i++) if (out[i] !== pad) throw new Error('invalid padding on input');
      return { plain: out.subarray(0, out.length - pad), stale: false };
    },
  };
}

const gcmNonceSize = 12;
const gcmTagSize = 16;

function aesGcm(key: KeyObject, bits: number): Transformer {
  const algo = bits === 128 ? 'aes-128-gcm' : bits === 192 ? 'aes-192-gcm' : 'aes-256-gcm';
  return {
    to(data, ad) {
      const nonce = randomBytes(gcmNonceSize);
      const c = createCipheriv(algo, key, nonce, { authTagLength: gcmTagSize });
      c.setAAD(ad);
      const body = Buffer.concat([c.update(data), c.final()]);
      return concat(nonce, body, c.getAuthTag());
    },
    from(data, ad) {
      if (data.length < gcmNonceSize) throw new Error(shortData);
      if (data.length < gcmNonceSize + gcmTagSize) throw new Error('cipher: message authentication failed');
      try {
        const d = createDecipheriv(algo, key, data.subarray(0, gcmNonceSize), { authTagLength: gcmTagSize });
        d.setAAD(ad);
        d.setAuthTag(data.subarray(data.length - gcmTagSize));
        const out = Buffer.concat([d.update(data.subarray(gcmNonceSize, data.length - gcmTagSize)), d.final()]);
        return { plain: out, stale: false };
      } catch {
        throw new Error('cipher: message authentication failed');
      }
    },
  };
}

const secretboxNonceSize = 24;

function secretbox(key: Uint8Array): Transformer {
  return {
    to(data) {
      const nonce = randomBytes(secretboxNonceSize);
      return concat(nonce, nacl.secretbox(data, nonce, key));
    },
    from(data) {
      if (data.length < nacl.secretbox.overheadLength + secretboxNonceSize) throw new Error(shortData);
      const out = nacl.secretbox.open(data.subarray(secretboxNonceSize), data.subarray(0, secretboxNonceSize), key);
      if (!out) throw new Error('output array was not large enough for encryption');
      return { plain: out, stale: false };
    },
  };
}

/** upstream identity.NewEncryptCheckTransformer: plaintext both ways, refusing values that look encrypted. */
const identity: Transformer = {
  to: (data) => data,
  from(data) {
    if (hasPrefix(data, encryptedPrefix)) throw new Error('identity transformer tried to read encrypted data');
    return { plain: data, stale: false };
  },
};

function keyed(keys: readonly EncryptionKey[], make: (secret: Buffer) => Transformer, what: string): Transformer {
  return prefixTransformers(
    keys.map((k) => ({ prefix: enc.encode(`${k.name}:`), t: make(decodeBase64Strict(k.secret)!) })),
    `no matching key was found for the provided ${what} transformer`,
  );
}

function providerTransformer(p: ProviderConfiguration): Prefixed {
  if (p.aescbc) return { prefix: enc.encode('k8s:enc:aescbc:v1:'), t: keyed(p.aescbc.keys, (s) => aesCbc(createSecretKey(s), s.length * 8), 'AES') };
  if (p.aesgcm) return { prefix: enc.encode('k8s:enc:aesgcm:v1:'), t: keyed(p.aesgcm.keys, (s) => aesGcm(createSecretKey(s), s.length * 8), 'AES') };
  if (p.secretbox) return { prefix: enc.encode('k8s:enc:secretbox:v1:'), t: keyed(p.secretbox.keys, (s) => secretbox(new Uint8Array(s)), 'Secretbox') };
  return { prefix: new Uint8Array(0), t: identity };
}

/**
 * Builds the transformers of a configuration (validated again here; throws ERR_INVALID_CONFIG).
 * A group-resource listed in several entries gets their providers in order, as upstream appends them.
 */
export function encryptionTransformer(config: EncryptionConfiguration): EncryptionTransformer {
  checkConfiguration(config);
  const lists = new Map<string, Prefixed[]>();
  for (const conf of config.resources) {
    const providers = conf.providers.map(providerTransformer);
    for (const res of conf.resources) {
      const k = grKey(parseGroupResource(res));
      lists.set(k, [...(lists.get(k) ?? []), ...providers]);
    }
  }
  const byResource = new Map<string, ValueTransformer>();
  for (const [k, list] of lists) byResource.set(k, valueTransformer(prefixTransformers(list, 'no matching prefix found')));
  return {
    forResource(groupResource) {
      const gr = parseGroupResource(groupResource);
      return byResource.get(grKey(gr)) ?? byResource.get(`${gr.group}|*`) ?? byResource.get('*|*');
    },
  };
}

function valueTransformer(t: Transformer): ValueTransformer {
  return {
    toStorage(plain, key) {
      try {
        return t.to(plain, enc.encode(key));
      } catch (err) {
        throw new TransformError(`unable to transform key ${JSON.stringify(key)}: ${(err as Error).message}`, key);
      }
    },
    fromStorage(stored, key) {
      try {
        return t.from(stored, enc.encode(key));
      } catch (err) {
        throw new TransformError(`unable to transform key ${JSON.stringify(key)}: ${(err as Error).message}`, key);
      }
    },
  };
}

// ---- the Store wrapper -----------------------------------------------------------------------

const staleValues = new WeakSet<KeyValue>();

/** Whether `kv`, as read through an encrypting store, was written by another provider or key than the first. */
export function isStale(kv: KeyValue | null | undefined): boolean {
  return kv ? staleValues.has(kv) : false;
}

/** What a resource declaration must say for `resourceResolver` (ResourceDef fits). */
export interface StoredResource {
  group: string;
  plural: string;
  storagePrefix?: string;
  /** Kinds stored as another group's kind (events.k8s.io Events as core Events) are skipped. */
  storedAs?: unknown;
  review?: unknown;
}

/**
 * Maps a storage key (`/registry/<prefix>/...`, the prefix one or two segments) to the group
 * resource stored there, from the served resources' declarations.
 */
export function resourceResolver(defs: Iterable<StoredResource>): (key: string) => string | undefined {
  const byPrefix = new Map<string, string>();
  for (const d of defs) {
    if (d.review || d.storedAs) continue;
    const prefix = `/registry/${d.storagePrefix ?? d.plural}/`;
    if (!byPrefix.has(prefix)) byPrefix.set(prefix, d.group ? `${d.plural}.${d.group}` : d.plural);
  }
  return (key) => {
    if (!key.startsWith('/registry/')) return undefined;
    const a = key.indexOf('/', 10); // the end of the first segment after "/registry/"
    if (a < 0) return undefined;
    const b = key.indexOf('/', a + 1);
    return (b >= 0 ? byPrefix.get(key.slice(0, b + 1)) : undefined) ?? byPrefix.get(key.slice(0, a + 1));
  };
}

export interface EncryptingStoreOptions {
  /**
   * Told when a value in a watch event or a write/delete result cannot be read: it is passed on
   * as stored (the watch cache skips a value it cannot decode; the write has happened already).
   */
  onWatchError?: (err: TransformError) => void;
}

/**
 * A Store whose values under resources the configuration encrypts are encrypted on the way in
 * and decrypted on the way out (get, list, write results, watch events and their prevKv). Other
 * keys pass through untouched. Reads of values no provider can read reject with a TransformError
 * (the API should answer 500 Internal error); in watch events and write results they are passed
 * on as stored.
 */
export function encryptingStore(
  store: Store,
  transformer: EncryptionTransformer,
  resourceOf: (key: string) => string | undefined,
  opts: EncryptingStoreOptions = {},
): Store {
  const byResource = new Map<string, ValueTransformer | null>();
  const forKey = (key: string): ValueTransformer | null => {
    const gr = resourceOf(key);
    if (gr === undefined) return null;
    let t = byResource.get(gr);
    if (t === undefined) byResource.set(gr, (t = transformer.forResource(gr) ?? null));
    return t;
  };
  const read = (kv: KeyValue): KeyValue => {
    const t = forKey(kv.key);
    if (!t) return kv;
    const { plain, stale } = t.fromStorage(kv.value, kv.key);
    const out: KeyValue = { ...kv, value: plain };
    if (stale) staleValues.add(out);
    return out;
  };
  const readOrNull = (kv: KeyValue | null): KeyValue | null => (kv ? read(kv) : null);
  /** For watch events and write results: an unreadable value is passed on as stored. */
  const readLenient = (kv: KeyValue): KeyValue => {
    try {
      return read(kv);
    } catch (err) {
      if (err instanceof TransformError) opts.onWatchError?.(err);
      return kv;
    }
  };
  const write = (key: string, value: Uint8Array): Uint8Array => forKey(key)?.toStorage(value, key) ?? value;
  const written = (res: WriteResult, plain: Uint8Array): WriteResult =>
    res.ok ? { ok: true, kv: { ...res.kv, value: plain } } : { ok: false, current: res.current && readLenient(res.current) };

  return {
    // Values of resources without a provider pass through as they are, events too.
    get: async (key, o) => readOrNull(await store.get(key, o)),
    async list(prefix, o): Promise<ListResult> {
      const res = await store.list(prefix, o);
      return res.items.length ? { ...res, items: res.items.map(read) } : res;
    },
    currentRevision: () => store.currentRevision(),
    create: async (key, value, wo) => written(await store.create(key, write(key, value), wo), value),
    update: async (key, value, expected, wo) => written(await store.update(key, write(key, value), expected, wo), value),
    async delete(key, expected): Promise<DeleteResult> {
      const res = await store.delete(key, expected);
      return res.current ? { ...res, current: readLenient(res.current) } : res;
    },
    watch(prefix, from, o): AsyncIterable<WatchBatch> {
      const inner = store.watch(prefix, from, o);
      return {
        async *[Symbol.asyncIterator]() {
          for await (const batch of inner) {
            if (!batch.events.length) {
              yield batch;
              continue;
            }
            yield {
              revision: batch.revision,
              events: batch.events.map((ev) => ({
                ...ev,
                kv: readLenient(ev.kv),
                ...(ev.prevKv ? { prevKv: readLenient(ev.prevKv) } : {}),
              })),
            };
          }
        },
      };
    },
    compact: (rev) => store.compact(rev),
    compactedRevision: () => store.compactedRevision(),
    ...(store.snapshot ? { snapshot: (file: string) => store.snapshot!(file) } : {}),
    close: () => store.close(),
  };
}
