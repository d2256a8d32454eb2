/**
 * /openapi/v2: one Swagger 2.0 document for every served group-version, derived from the
 * per-group-version OpenAPI v3 documents (so the schema-to-OpenAPI rules live in one place), in
 * JSON and in the protobuf form of gnostic's `openapi.v2.Document` that kubectl asks for
 * (`application/com.github.proto-openapi.spec.v2@v1.0+protobuf`). kubectl reads it for
 * client-side validation, the fieldValidation parameter check, `explain` and client-side apply
 * (patch strategies and merge keys by group-version-kind). Each group-version is converted (and
 * encoded) once as a SwaggerPart; the merged document is re-assembled from the parts, so a CRD
 * change converts and encodes only its own group-version. Custom resources bring their v2
 * definitions ready-made (src/apiextensions/openapi.ts: upstream's CRD v2 conversion).
 */

import { isJsonObject } from '../util/json.ts';

type Json = Record<string, unknown>;

/** v2 forms of the well-known types whose v3 schemas use constructs Swagger 2.0 lacks. */
const v2Special: Record<string, Json> = {
  'io.k8s.apimachinery.pkg.api.resource.Quantity': { type: 'string' },
  'io.k8s.apimachinery.pkg.util.intstr.IntOrString': { type: 'string', format: 'int-or-string' },
};

/** A v3 schema in Swagger 2.0 form: `#/definitions/` references, single-reference allOf unwrapped. */
export function schemaToV2(s: unknown): unknown {
  if (Array.isArray(s)) return s.map(schemaToV2);
  if (!isJsonObject(s)) return s;
  const allOf = s['allOf'];
  if (Array.isArray(allOf) && allOf.length === 1 && isJsonObject(allOf[0]) && typeof allOf[0]['$ref'] === 'string') {
    const { allOf: _a, ...rest } = s;
    return { ...(schemaToV2(rest) as Json), $ref: refToV2(allOf[0]['$ref']) };
  }
  const out: Json = {};
  for (const [k, v] of Object.entries(s)) {
    if (k === '$ref' && typeof v === 'string') out[k] = refToV2(v);
    else if (k === 'properties' && isJsonObject(v)) out[k] = Object.fromEntries(Object.entries(v).map(([n, p]) => [n, schemaToV2(p)]));
    else if (k === 'oneOf' || k === 'anyOf') continue;
    else out[k] = schemaToV2(v);
  }
  return out;
}

const refToV2 = (r: string) => r.replace('#/components/schemas/', '#/definitions/');

const produces = ['application/json', 'application/yaml', 'application/vnd.kubernetes.protobuf'];

function parameterToV2(p: Json): Json {
  const { schema, ...rest } = p;
  const out: Json = { ...rest };
  if (isJsonObject(schema) && typeof schema['type'] === 'string') out['type'] = schema['type'];
  if (p['in'] === 'query' || p['in'] === 'path') out['uniqueItems'] = true;
  return out;
}

function operationToV2(op: Json): Json {
  const out: Json = {};
  for (const [k, v] of Object.entries(op)) {
    if (k === 'requestBody' || k === 'responses' || k === 'parameters') continue;
    out[k] = v;
  }
  const params = Array.isArray(op['parameters']) ? (op['parameters'] as Json[]).map(parameterToV2) : [];
  const body = op['requestBody'];
  if (isJsonObject(body) && isJsonObject(body['content'])) {
    const types = Object.keys(body['content']);
    const first = (body['content'] as Record<string, Json>)[types[0]!];
    params.unshift({ name: 'body', in: 'body', required: true, schema: schemaToV2(first?.['schema'] ?? { type: 'object' }) });
    out['consumes'] = types.length === 1 && types[0] === 'application/json' ? ['*/*'] : types;
  } else out['consumes'] = ['*/*'];
  out['produces'] = produces;
  out['schemes'] = ['https'];
  if (params.length) out['parameters'] = params;
  const responses: Json = {};
  for (const [code, r] of Object.entries(isJsonObject(op['responses']) ? op['responses'] : {})) {
    const resp = r as Json;
    const content = isJsonObject(resp['content']) ? (resp['content'] as Record<string, Json>)['application/json'] : undefined;
    responses[code] = { description: resp['description'] ?? 'OK', ...(content?.['schema'] ? { schema: schemaToV2(content['schema']) } : {}) };
  }
  responses['401'] = { description: 'Unauthorized' };
  out['responses'] = responses;
  return out;
}

/**
 * One v3 group-version document in Swagger 2.0 form, before merging: its paths and definitions,
 * and (filled by encodeSwaggerParts on first use) their protobuf encodings, so that a merged
 * document is re-assembled from unchanged parts without converting or encoding them again.
 */
export interface SwaggerPart {
  paths: Record<string, Json>;
  definitions: Record<string, Json>;
  proto?: { paths: Map<string, Uint8Array>; definitions: Map<string, Uint8Array> };
}

/**
 * Converts one v3 group-version document. `definitions`: definitions already in Swagger 2.0
 * form, used instead of converting the v3 schema of the same name (custom resources, whose v2
 * form follows upstream's CRD conversion rather than this one).
 */
export function swaggerPart(doc: Json, opts: { definitions?: Record<string, Json> } = {}): SwaggerPart {
  const given = opts.definitions ?? {};
  const paths: Record<string, Json> = {};
  const definitions: Record<string, Json> = {};
  for (const [p, item] of Object.entries(isJsonObject(doc['paths']) ? doc['paths'] : {})) {
    const outItem: Json = {};
    for (const [k, v] of Object.entries(item as Json)) {
      if (k === 'parameters') outItem[k] = (v as Json[]).map(parameterToV2);
      else outItem[k] = operationToV2(v as Json);
    }
    paths[p] = outItem;
  }
  const schemas = isJsonObject(doc['components']) && isJsonObject(doc['components']['schemas']) ? doc['components']['schemas'] : {};
  for (const [name, s] of Object.entries(schemas)) definitions[name] = (given[name] ?? v2Special[name] ?? schemaToV2(s)) as Json;
  return { paths, definitions };
}

/** Which part each merged path and definition comes from: a path from the last part that has it, a definition from the first. */
function owners(parts: readonly SwaggerPart[]): { paths: Map<string, SwaggerPart>; definitions: Map<string, SwaggerPart> } {
  const paths = new Map<string, SwaggerPart>();
  const definitions = new Map<string, SwaggerPart>();
  for (const part of parts) {
    for (const p of Object.keys(part.paths)) paths.set(p, part);
    for (const d of Object.keys(part.definitions)) if (!definitions.has(d)) definitions.set(d, part);
  }
  return { paths, definitions };
}

const sortedKeys = <T>(m: Map<string, T>): string[] => [...m.keys()].sort();
const swaggerInfo = { title: 'Kubernetes', version: 'v1.33.0' };

/** Merges converted group-version parts into one Swagger 2.0 document (paths and definitions sorted). */
export function mergeSwagger(parts: readonly SwaggerPart[]): Json {
  const o = owners(parts);
  const paths = Object.fromEntries(sortedKeys(o.paths).map((k) => [k, o.paths.get(k)!.paths[k]]));
  const definitions = Object.fromEntries(sortedKeys(o.definitions).map((k) => [k, o.definitions.get(k)!.definitions[k]]));
  return { swagger: '2.0', info: { ...swaggerInfo }, paths, definitions };
}

/** Merges v3 group-version documents into one Swagger 2.0 document (see swaggerPart for `definitions`). */
export function swaggerFromV3(docs: readonly Json[], opts: { definitions?: Record<string, Json> } = {}): Json {
  return mergeSwagger(docs.map((d) => swaggerPart(d, opts)));
}

// ---- gnostic protobuf encoding -------------------------------------------------------------------

/** A protobuf writer: length-delimited fields are built bottom-up into byte chunks. */
class Writer {
  chunks: Uint8Array[] = [];
  length = 0;

  #push(b: Uint8Array): void {
    this.chunks.push(b);
    this.length += b.length;
  }

  #varint(n: number): void {
    const bytes: number[] = [];
    let v = n;
    while (v > 0x7f) {
      bytes.push((v & 0x7f) | 0x80);
      v = Math.floor(v / 128);
    }
    bytes.push(v);
    this.#push(Uint8Array.from(bytes));
  }

  string(field: number, s: string | undefined): void {
    if (s === undefined || s === '') return;
    const b = Buffer.from(s, 'utf8');
    this.#varint((field << 3) | 2);
    this.#varint(b.length);
    this.#push(b);
  }

  strings(field: number, xs: unknown): void {
    if (Array.isArray(xs)) for (const x of xs) if (typeof x === 'string') this.string(field, x);
  }

  bool(field: number, v: unknown): void {
    if (v !== true) return;
    this.#varint(field << 3);
    this.#varint(1);
  }

  int(field: number, v: unknown): void {
    if (typeof v !== 'number' || !Number.isInteger(v) || v <= 0) return;
    this.#varint(field << 3);
    this.#varint(v);
  }

  double(field: number, v: unknown): void {
    if (typeof v !== 'number') return;
    this.#varint((field << 3) | 1);
    const b = Buffer.alloc(8);
    b.writeDoubleLE(v);
    this.#push(b);
  }

  /** Bytes already encoded (whole fields). */
  raw(b: Uint8Array): void {
    this.#push(b);
  }

  message(field: number, w: Writer | undefined): void {
    if (!w) return;
    this.#varint((field << 3) | 2);
    this.#varint(w.length);
    for (const c of w.chunks) this.#push(c);
  }

  bytes(): Uint8Array {
    return Buffer.concat(this.chunks, this.length);
  }
}

/** gnostic `Any`: the value as YAML (JSON is YAML). */
function anyValue(v: unknown): Writer {
  const w = new Writer();
  w.string(2, `${JSON.stringify(v)}\n`);
  return w;
}

/** Vendor extensions (`x-*` keys) as repeated NamedAny at `field`. */
function extensions(w: Writer, field: number, o: Json): void {
  for (const [k, v] of Object.entries(o)) {
    if (!k.startsWith('x-')) continue;
    const n = new Writer();
    n.string(1, k);
    n.message(2, anyValue(v));
    w.message(field, n);
  }
}

function schemaMsg(s: Json): Writer {
  const w = new Writer();
  if (typeof s['$ref'] === 'string') w.string(1, s['$ref']);
  w.string(2, s['format'] as string | undefined);
  w.string(3, s['title'] as string | undefined);
  w.string(4, s['description'] as string | undefined);
  if (s['default'] !== undefined) w.message(5, anyValue(s['default']));
  w.double(7, s['maximum']);
  w.double(9, s['minimum']);
  w.int(11, s['maxLength']);
  w.int(12, s['minLength']);
  w.string(13, s['pattern'] as string | undefined);
  w.strings(19, s['required']);
  if (Array.isArray(s['enum'])) for (const e of s['enum']) w.message(20, anyValue(e));
  const ap = s['additionalProperties'];
  if (ap !== undefined) {
    const a = new Writer();
    if (isJsonObject(ap)) a.message(1, schemaMsg(ap));
    else a.bool(2, ap);
    w.message(21, a);
  }
  if (typeof s['type'] === 'string') {
    const t = new Writer();
    t.string(1, s['type']);
    w.message(22, t);
  }
  if (isJsonObject(s['items'])) {
    const it = new Writer();
    it.message(1, schemaMsg(s['items']));
    w.message(23, it);
  }
  if (Array.isArray(s['allOf'])) for (const x of s['allOf']) if (isJsonObject(x)) w.message(24, schemaMsg(x));
  if (isJsonObject(s['properties'])) {
    const props = new Writer();
    for (const [name, p] of Object.entries(s['properties'])) {
      const n = new Writer();
      n.string(1, name);
      n.message(2, schemaMsg(p as Json));
      props.message(1, n);
    }
    w.message(25, props);
  }
  extensions(w, 31, s);
  return w;
}

function parameterMsg(p: Json): Writer {
  const item = new Writer();
  const param = new Writer();
  if (p['in'] === 'body') {
    const b = new Writer();
    b.string(1, p['description'] as string | undefined);
    b.string(2, p['name'] as string);
    b.string(3, 'body');
    b.bool(4, p['required']);
    if (isJsonObject(p['schema'])) b.message(5, schemaMsg(p['schema']));
    extensions(b, 6, p);
    param.message(1, b);
  } else {
    const sub = new Writer();
    const path = p['in'] === 'path';
    sub.bool(1, p['required']);
    sub.string(2, p['in'] as string);
    sub.string(3, p['description'] as string | undefined);
    sub.string(4, p['name'] as string);
    if (path) {
      sub.string(5, p['type'] as string | undefined);
      sub.bool(19, p['uniqueItems']);
      extensions(sub, 22, p);
    } else {
      sub.string(6, p['type'] as string | undefined);
      sub.bool(20, p['uniqueItems']);
      extensions(sub, 23, p);
    }
    const nb = new Writer();
    nb.message(path ? 4 : 3, sub);
    param.message(2, nb);
  }
  item.message(1, param);
  return item;
}

function operationMsg(op: Json): Writer {
  const w = new Writer();
  w.strings(1, op['tags']);
  w.string(3, op['description'] as string | undefined);
  w.string(5, op['operationId'] as string | undefined);
  w.strings(6, op['produces']);
  w.strings(7, op['consumes']);
  if (Array.isArray(op['parameters'])) for (const p of op['parameters']) w.message(8, parameterMsg(p as Json));
  if (isJsonObject(op['responses'])) {
    const rs = new Writer();
    for (const [code, r] of Object.entries(op['responses'])) {
      const resp = new Writer();
      resp.string(1, (r as Json)['description'] as string);
      const schema = (r as Json)['schema'];
      if (isJsonObject(schema)) {
        const si = new Writer();
        si.message(1, schemaMsg(schema));
        resp.message(2, si);
      }
      const value = new Writer();
      value.message(1, resp);
      const named = new Writer();
      named.string(1, code);
      named.message(2, value);
      rs.message(1, named);
    }
    w.message(9, rs);
  }
  w.strings(10, op['schemes']);
  extensions(w, 13, op);
  return w;
}

const pathItemFields: Record<string, number> = { get: 2, put: 3, post: 4, delete: 5, options: 6, head: 7, patch: 8 };

/** A path item as the repeated NamedPathItem field (2) of gnostic's `Paths`. */
function pathField(p: string, item: Json): Uint8Array {
  const pi = new Writer();
  for (const [k, v] of Object.entries(item)) {
    const f = pathItemFields[k];
    if (f) pi.message(f, operationMsg(v as Json));
  }
  const params = item['parameters'];
  if (Array.isArray(params)) for (const x of params) pi.message(9, parameterMsg(x as Json));
  extensions(pi, 10, item);
  const named = new Writer();
  named.string(1, p);
  named.message(2, pi);
  const out = new Writer();
  out.message(2, named);
  return out.bytes();
}

/** A definition as the repeated NamedSchema field (1) of gnostic's `Definitions`. */
function definitionField(name: string, s: Json): Uint8Array {
  const named = new Writer();
  named.string(1, name);
  named.message(2, schemaMsg(s));
  const out = new Writer();
  out.message(1, named);
  return out.bytes();
}

/** The document around its encoded paths and definitions. */
function documentProto(swagger: string, info: Json, pathFields: readonly Uint8Array[], defFields: readonly Uint8Array[]): Uint8Array {
  const w = new Writer();
  w.string(1, swagger);
  const i = new Writer();
  i.string(1, info['title'] as string);
  i.string(2, info['version'] as string);
  w.message(2, i);
  const paths = new Writer();
  for (const b of pathFields) paths.raw(b);
  w.message(8, paths);
  const defs = new Writer();
  for (const b of defFields) defs.raw(b);
  w.message(9, defs);
  return w.bytes();
}

/** The gnostic `openapi.v2.Document` protobuf encoding of a Swagger 2.0 document. */
export function encodeSwaggerProto(doc: Json): Uint8Array {
  return documentProto(
    doc['swagger'] as string,
    (doc['info'] ?? {}) as Json,
    Object.entries((doc['paths'] ?? {}) as Json).map(([p, item]) => pathField(p, item as Json)),
    Object.entries((doc['definitions'] ?? {}) as Json).map(([n, s]) => definitionField(n, s as Json)),
  );
}

/**
 * The protobuf encoding of mergeSwagger(parts), reusing (and caching on each part) the encoded
 * paths and definitions: byte for byte what encodeSwaggerProto gives for the merged document.
 */
export function encodeSwaggerParts(parts: readonly SwaggerPart[]): Uint8Array {
  const o = owners(parts);
  const cached = (part: SwaggerPart, kind: 'paths' | 'definitions', name: string): Uint8Array => {
    part.proto ??= { paths: new Map(), definitions: new Map() };
    const m = part.proto[kind];
    let b = m.get(name);
    if (!b) m.set(name, (b = kind === 'paths' ? pathField(name, part.paths[name]!) : definitionField(name, part.definitions[name]!)));
    return b;
  };
  return documentProto(
    '2.0',
    swaggerInfo,
    sortedKeys(o.paths).map((k) => cached(o.paths.get(k)!, 'paths', k)),
    sortedKeys(o.definitions).map((k) => cached(o.definitions.get(k)!, 'definitions', k)),
  );
}
