/**
 * ConfigMaps, Secrets and ServiceAccounts (core/v1): upstream's defaulting (Secret type Opaque,
 * stringData merged into data as the v1 conversion does), validation (config keys, the 1 MiB
 * size limit, no key in both data and binaryData, type-specific Secret keys, immutability once
 * `immutable: true`, Secret type immutable) and printers. ServiceAccount secret references are
 * trimmed to their names, as upstream's strategy does.
 */
import type { KubeObject, StatusCause } from '../types.ts';
import type { TableDef } from '../resource.ts';
import { fieldError, forbidden, immutable, invalidValue, jsonEqual, required } from '../validation.ts';
import { ageColumn, ageOf, arr, col, isConfigMapKey, isObj, mapSize, nameColumn, obj, str } from './core-common.ts';

/** Upstream MaxSecretSize, also the ConfigMap limit. */
export const maxConfigSize = 1024 * 1024;

const base64Re = /^[A-Za-z0-9+/]*={0,2}$/;

/** Decoded length of a base64 value, or an error message as Go's decoder reports it. */
function base64Length(v: unknown): { n: number } | { err: string } {
  if (typeof v !== 'string') return { err: 'illegal base64 data at input byte 0' };
  const s = v.replace(/[\r\n]/g, '');
  if (!base64Re.test(s) || s.length % 4 !== 0) {
    const bad = s.search(/[^A-Za-z0-9+/=]/);
    return { err: `illegal base64 data at input byte ${bad >= 0 ? bad : s.length}` };
  }
  return { n: Buffer.from(s, 'base64').length };
}

// ---- ConfigMap ---------------------------------------------------------------------------------

export function validateConfigMap(cm: KubeObject, ctx: { old?: KubeObject }): StatusCause[] {
  const errs: StatusCause[] = [];
  const old = ctx.old;
  if (old && old['immutable'] === true) {
    if (cm['immutable'] !== true) errs.push(forbidden('immutable', 'field is immutable when `immutable` is set'));
    if (!jsonEqual(cm['data'] ?? null, old['data'] ?? null)) errs.push(forbidden('data', 'field is immutable when `immutable` is set'));
    if (!jsonEqual(cm['binaryData'] ?? null, old['binaryData'] ?? null)) errs.push(forbidden('binaryData', 'field is immutable when `immutable` is set'));
  }
  const data = obj(cm['data']);
  const binary = obj(cm['binaryData']);
  let total = 0;
  for (const [key, value] of Object.entries(data)) {
    for (const m of isConfigMapKey(key)) errs.push(invalidValue(`data[${key}]`, key, m));
    if (key in binary) errs.push(invalidValue(`data[${key}]`, key, 'duplicate of key present in binaryData'));
    if (typeof value !== 'string') errs.push(invalidValue(`data[${key}]`, value, 'must be a string'));
    else total += Buffer.byteLength(value, 'utf8');
  }
  for (const [key, value] of Object.entries(binary)) {
    for (const m of isConfigMapKey(key)) errs.push(invalidValue(`binaryData[${key}]`, key, m));
    const len = base64Length(value);
    if ('err' in len) errs.push(invalidValue(`binaryData[${key}]`, '<binary data>', len.err));
    else total += len.n;
  }
  if (total > maxConfigSize) errs.push(fieldError('FieldValueTooLong', '', `Too long: may not be more than ${maxConfigSize} bytes`));
  return errs;
}

export const configMapTable: TableDef = {
  columns: [nameColumn, col('Data', 'Number of keys in data and binaryData.'), ageColumn],
  row: (cm, now) => [cm.metadata.name ?? '', mapSize(cm['data']) + mapSize(cm['binaryData']), ageOf(cm, now)],
};

// ---- Secret ------------------------------------------------------------------------------------

/** Upstream v1 conversion (stringData overwrites data, base64-encoded) and SetDefaults_Secret. */
export function defaultSecret(s: KubeObject): void {
  if (isObj(s['stringData'])) {
    const data = isObj(s['data']) ? s['data'] : (s['data'] = {});
    for (const [k, v] of Object.entries(s['stringData'])) data[k] = Buffer.from(String(v ?? ''), 'utf8').toString('base64');
  }
  delete s['stringData'];
  if (!s['type']) s['type'] = 'Opaque';
}

function decoded(v: unknown): string | undefined {
  const len = base64Length(v);
  return 'err' in len ? undefined : Buffer.from(String(v).replace(/[\r\n]/g, ''), 'base64').toString('utf8');
}

export function validateSecret(s: KubeObject, ctx: { old?: KubeObject }): StatusCause[] {
  const errs: StatusCause[] = [];
  const old = ctx.old;
  if (old) {
    errs.push(...immutable('type', s['type'] ?? '', old['type'] ?? ''));
    if (old['immutable'] === true) {
      if (s['immutable'] !== true) errs.push(forbidden('immutable', 'field is immutable when `immutable` is set'));
      if (!jsonEqual(s['data'] ?? null, old['data'] ?? null)) errs.push(forbidden('data', 'field is immutable when `immutable` is set'));
    }
  }
  const data = obj(s['data']);
  let total = 0;
  for (const [key, value] of Object.entries(data)) {
    for (const m of isConfigMapKey(key)) errs.push(invalidValue(`data[${key}]`, key, m));
    const len = base64Length(value);
    if ('err' in len) errs.push(invalidValue(`data[${key}]`, '<secret contents redacted>', len.err));
    else total += len.n;
  }
  if (total > maxConfigSize) errs.push(fieldError('FieldValueTooLong', 'data', `Too long: may not be more than ${maxConfigSize} bytes`));
  const has = (k: string) => Object.prototype.hasOwnProperty.call(data, k);
  switch (s['type']) {
    case 'kubernetes.io/service-account-token':
      if (!str(obj(s.metadata.annotations)['kubernetes.io/service-account.name'])) {
        errs.push(required('metadata.annotations[kubernetes.io/service-account.name]'));
      }
      break;
    case 'kubernetes.io/dockercfg':
    case 'kubernetes.io/dockerconfigjson': {
      const key = s['type'] === 'kubernetes.io/dockercfg' ? '.dockercfg' : '.dockerconfigjson';
      if (!has(key)) {
        errs.push(required(`data[${key}]`));
        break;
      }
      const text = decoded(data[key]);
      if (text !== undefined) {
        try {
          const v = JSON.parse(text);
          if (!isObj(v)) throw new Error('json: cannot unmarshal into Go value of type map[string]interface {}');
        } catch (e) {
          errs.push(invalidValue(`data[${key}]`, '<secret contents redacted>', (e as Error).message));
        }
      }
      break;
    }
    case 'kubernetes.io/basic-auth':
      if (!has('username') && !has('password')) errs.push(required('data[username]'), required('data[password]'));
      break;
    case 'kubernetes.io/ssh-auth':
      if (!str(data['ssh-privatekey'])) errs.push(required('data[ssh-privatekey]'));
      break;
    case 'kubernetes.io/tls':
      if (!has('tls.crt')) errs.push(required('data[tls.crt]'));
      if (!has('tls.key')) errs.push(required('data[tls.key]'));
      break;
  }
  return errs;
}

export const secretTable: TableDef = {
  columns: [nameColumn, col('Type', 'The type of the secret.'), col('Data', 'Number of keys in data.'), ageColumn],
  row: (s, now) => [s.metadata.name ?? '', str(s['type']), mapSize(s['data']), ageOf(s, now)],
};

// ---- ServiceAccount ----------------------------------------------------------------------------

/** Upstream cleanSecretReferences: only the name of each referenced secret is kept. */
export function cleanSecretReferences(sa: KubeObject): void {
  if (!Array.isArray(sa['secrets'])) return;
  sa['secrets'] = sa['secrets'].map((r: unknown) => {
    const name = obj(r)['name'];
    return name === undefined ? {} : { name };
  });
}

export const serviceAccountTable: TableDef = {
  columns: [nameColumn, col('Secrets', 'Number of secrets the service account references.'), ageColumn],
  row: (sa, now) => [sa.metadata.name ?? '', arr(sa['secrets']).length, ageOf(sa, now)],
};
