/**
 * The declarations upstream's ValidatingAdmissionPolicy type checking compiles against, for the
 * checker in celcheck.ts: cel-go's standard library (common/stdlib, with cross-type numeric
 * comparisons, as Kubernetes enables them), the strings extension at version 2, the sets
 * extension and optional types, and the Kubernetes libraries of the base environment
 * (apiserver/pkg/cel/library: lists, regex, urls, quantity, ip, cidr, authz with selectors,
 * format, semver); the AdmissionRequest and Namespace types of admission/plugin/cel (compile.go
 * BuildRequestType, BuildNamespaceType); and the type names cel-go declares as identifiers.
 * Signatures are written `name(args) -> result`, a member's receiver first (`string.f(int)`);
 * single capital letters are type parameters.
 */
import { T, type CelType, type FunctionDecl, type Overload } from './celcheck.ts';

/** Object types of the authz library (cel-go object types, not opaque ones). */
const structNames = new Set([
  'kubernetes.authorization.Authorizer',
  'kubernetes.authorization.PathCheck',
  'kubernetes.authorization.GroupCheck',
  'kubernetes.authorization.ResourceCheck',
  'kubernetes.authorization.Decision',
]);

const simpleTypes: Record<string, CelType> = {
  bool: T.bool,
  bytes: T.bytes,
  double: T.double,
  int: T.int,
  string: T.string,
  uint: T.uint,
  null: T.null,
  dyn: T.dyn,
  timestamp: T.timestamp,
  duration: T.duration,
};

/** Parses a type as the signatures write it: `int`, `list(A)`, `map(string, list(string))`, `net.IP`. */
function parseType(text: string, params: Set<string>): CelType {
  let i = 0;
  const s = text.replace(/\s+/g, '');
  const one = (): CelType => {
    const m = /^[A-Za-z_][A-Za-z0-9_.]*/.exec(s.slice(i));
    if (!m) throw new Error(`bad type ${text}`);
    const name = m[0];
    i += name.length;
    const args: CelType[] = [];
    if (s[i] === '(') {
      i++;
      while (s[i] !== ')') {
        args.push(one());
        if (s[i] === ',') i++;
      }
      i++;
    }
    if (/^[A-Z]$/.test(name)) {
      params.add(name);
      return T.param(name);
    }
    if (name in simpleTypes) return simpleTypes[name]!;
    if (name === 'list') return T.list(args[0]!);
    if (name === 'map') return T.map(args[0]!, args[1]!);
    if (name === 'type') return T.type(args[0]);
    if (structNames.has(name)) return T.struct(name);
    return T.opaque(name, ...args);
  };
  const t = one();
  if (i !== s.length) throw new Error(`bad type ${text}`);
  return t;
}

/** Splits `a, list(b, c)` at its top-level commas. */
function splitTop(s: string): string[] {
  const out: string[] = [];
  let depth = 0;
  let cur = '';
  for (const ch of s) {
    if (ch === '(') depth++;
    if (ch === ')') depth--;
    if (ch === ',' && depth === 0) {
      out.push(cur);
      cur = '';
    } else cur += ch;
  }
  if (cur.trim()) out.push(cur);
  return out.map((x) => x.trim()).filter(Boolean);
}

/** One overload: `(string, int) -> bool` for a global function, `string.(int) -> bool` for a member. */
function overload(sig: string): Overload {
  const m = /^(?:(.*?)\.)?\((.*)\)\s*->\s*(.+)$/.exec(sig.trim());
  if (!m) throw new Error(`bad signature ${sig}`);
  const params = new Set<string>();
  const args = splitTop(m[2]!).map((a) => parseType(a, params));
  const member = m[1] !== undefined;
  if (member) args.unshift(parseType(m[1]!, params));
  return { member, args, result: parseType(m[3]!, params), typeParams: [...params] };
}

const table: Record<string, string[]> = {};
/** Declares overloads of `name`. */
function fn(name: string, ...sigs: string[]): void {
  (table[name] ??= []).push(...sigs);
}

// ---- cel-go's standard library --------------------------------------------------------------
fn('_?_:_', '(bool, A, A) -> A');
fn('_&&_', '(bool, bool) -> bool');
fn('_||_', '(bool, bool) -> bool');
fn('!_', '(bool) -> bool');
fn('@not_strictly_false', '(bool) -> bool');
fn('_==_', '(A, A) -> bool');
fn('_!=_', '(A, A) -> bool');
fn('_+_', '(bytes, bytes) -> bytes', '(double, double) -> double', '(duration, duration) -> duration', '(duration, timestamp) -> timestamp', '(timestamp, duration) -> timestamp', '(int, int) -> int', '(list(A), list(A)) -> list(A)', '(string, string) -> string', '(uint, uint) -> uint');
fn('_/_', '(double, double) -> double', '(int, int) -> int', '(uint, uint) -> uint');
fn('_%_', '(int, int) -> int', '(uint, uint) -> uint');
fn('_*_', '(double, double) -> double', '(int, int) -> int', '(uint, uint) -> uint');
fn('-_', '(double) -> double', '(int) -> int');
fn('_-_', '(double, double) -> double', '(duration, duration) -> duration', '(int, int) -> int', '(timestamp, duration) -> timestamp', '(timestamp, timestamp) -> duration', '(uint, uint) -> uint');
const comparisons = ['bool, bool', 'int, int', 'int, double', 'int, uint', 'uint, uint', 'uint, double', 'uint, int', 'double, double', 'double, int', 'double, uint', 'string, string', 'bytes, bytes', 'timestamp, timestamp', 'duration, duration'].map((a) => `(${a}) -> bool`);
for (const op of ['_<_', '_<=_', '_>_', '_>=_']) fn(op, ...comparisons);
fn('_[_]', '(list(A), int) -> A', '(map(A, B), A) -> B');
fn('@in', '(A, list(A)) -> bool', '(A, map(A, B)) -> bool');
fn('size', '(bytes) -> int', 'bytes.() -> int', '(list(A)) -> int', 'list(A).() -> int', '(map(A, B)) -> int', 'map(A, B).() -> int', '(string) -> int', 'string.() -> int');
fn('type', '(A) -> type(A)');
fn('bool', '(bool) -> bool', '(string) -> bool');
fn('bytes', '(bytes) -> bytes', '(string) -> bytes');
fn('double', '(double) -> double', '(int) -> double', '(string) -> double', '(uint) -> double');
fn('duration', '(duration) -> duration', '(int) -> duration', '(string) -> duration');
fn('dyn', '(A) -> dyn');
fn('int', '(int) -> int', '(double) -> int', '(duration) -> int', '(string) -> int', '(timestamp) -> int', '(uint) -> int');
fn('string', '(string) -> string', '(bool) -> string', '(bytes) -> string', '(double) -> string', '(duration) -> string', '(int) -> string', '(timestamp) -> string', '(uint) -> string');
fn('timestamp', '(timestamp) -> timestamp', '(int) -> timestamp', '(string) -> timestamp');
fn('uint', '(uint) -> uint', '(double) -> uint', '(int) -> uint', '(string) -> uint');
fn('contains', 'string.(string) -> bool');
fn('endsWith', 'string.(string) -> bool');
fn('startsWith', 'string.(string) -> bool');
fn('matches', '(string, string) -> bool', 'string.(string) -> bool');
for (const f of ['getFullYear', 'getMonth', 'getDayOfYear', 'getDayOfMonth', 'getDate', 'getDayOfWeek']) fn(f, 'timestamp.() -> int', 'timestamp.(string) -> int');
for (const f of ['getHours', 'getMinutes', 'getSeconds', 'getMilliseconds']) fn(f, 'timestamp.() -> int', 'timestamp.(string) -> int', 'duration.() -> int');

// ---- cel-go extensions: strings (version 2), sets, optional types ------------------------------
fn('charAt', 'string.(int) -> string');
fn('indexOf', 'string.(string) -> int', 'string.(string, int) -> int');
fn('lastIndexOf', 'string.(string) -> int', 'string.(string, int) -> int');
fn('lowerAscii', 'string.() -> string');
fn('replace', 'string.(string, string) -> string', 'string.(string, string, int) -> string');
fn('split', 'string.(string) -> list(string)', 'string.(string, int) -> list(string)');
fn('substring', 'string.(int) -> string', 'string.(int, int) -> string');
fn('trim', 'string.() -> string');
fn('upperAscii', 'string.() -> string');
fn('format', 'string.(list(dyn)) -> string');
fn('strings.quote', '(string) -> string');
fn('join', 'list(string).() -> string', 'list(string).(string) -> string');
for (const f of ['sets.contains', 'sets.equivalent', 'sets.intersects']) fn(f, '(list(A), list(A)) -> bool');
fn('optional.of', '(V) -> optional_type(V)');
fn('optional.ofNonZeroValue', '(V) -> optional_type(V)');
fn('optional.none', '() -> optional_type(V)');
fn('hasValue', 'optional_type(V).() -> bool');
fn('value', 'optional_type(V).() -> V');
fn('or', 'optional_type(V).(optional_type(V)) -> optional_type(V)');
fn('orValue', 'optional_type(V).(V) -> V');

// ---- Kubernetes libraries ------------------------------------------------------------------
const comparable = ['int', 'uint', 'double', 'bool', 'duration', 'timestamp', 'string', 'bytes'];
fn('isSorted', ...comparable.map((t) => `list(${t}).() -> bool`));
fn('sum', ...['int', 'uint', 'double', 'duration'].map((t) => `list(${t}).() -> ${t}`));
fn('max', ...comparable.map((t) => `list(${t}).() -> ${t}`));
fn('min', ...comparable.map((t) => `list(${t}).() -> ${t}`));
fn('indexOf', 'list(A).(A) -> int');
fn('lastIndexOf', 'list(A).(A) -> int');
fn('find', 'string.(string) -> string');
fn('findAll', 'string.(string) -> list(string)', 'string.(string, int) -> list(string)');
fn('url', '(string) -> kubernetes.URL');
fn('isURL', '(string) -> bool');
for (const f of ['getScheme', 'getHost', 'getHostname', 'getPort', 'getEscapedPath']) fn(f, 'kubernetes.URL.() -> string');
fn('getQuery', 'kubernetes.URL.() -> map(string, list(string))');
fn('quantity', '(string) -> kubernetes.Quantity');
fn('isQuantity', '(string) -> bool');
fn('sign', 'kubernetes.Quantity.() -> int');
fn('isInteger', 'kubernetes.Quantity.() -> bool');
fn('asInteger', 'kubernetes.Quantity.() -> int');
fn('asApproximateFloat', 'kubernetes.Quantity.() -> double');
fn('add', 'kubernetes.Quantity.(kubernetes.Quantity) -> kubernetes.Quantity', 'kubernetes.Quantity.(int) -> kubernetes.Quantity');
fn('sub', 'kubernetes.Quantity.(kubernetes.Quantity) -> kubernetes.Quantity', 'kubernetes.Quantity.(int) -> kubernetes.Quantity');
fn('isGreaterThan', 'kubernetes.Quantity.(kubernetes.Quantity) -> bool', 'kubernetes.Semver.(kubernetes.Semver) -> bool');
fn('isLessThan', 'kubernetes.Quantity.(kubernetes.Quantity) -> bool', 'kubernetes.Semver.(kubernetes.Semver) -> bool');
fn('compareTo', 'kubernetes.Quantity.(kubernetes.Quantity) -> int', 'kubernetes.Semver.(kubernetes.Semver) -> int');
fn('ip', '(string) -> net.IP', 'net.CIDR.() -> net.IP');
fn('isIP', '(string) -> bool');
fn('ip.isCanonical', '(string) -> bool');
fn('family', 'net.IP.() -> int');
for (const f of ['isUnspecified', 'isLoopback', 'isLinkLocalMulticast', 'isLinkLocalUnicast', 'isGlobalUnicast']) fn(f, 'net.IP.() -> bool');
fn('string', '(net.IP) -> string', '(net.CIDR) -> string');
fn('cidr', '(string) -> net.CIDR');
fn('isCIDR', '(string) -> bool');
fn('containsIP', 'net.CIDR.(string) -> bool', 'net.CIDR.(net.IP) -> bool');
fn('containsCIDR', 'net.CIDR.(string) -> bool', 'net.CIDR.(net.CIDR) -> bool');
fn('masked', 'net.CIDR.() -> net.CIDR');
fn('prefixLength', 'net.CIDR.() -> int');
const authz = 'kubernetes.authorization';
fn('path', `${authz}.Authorizer.(string) -> ${authz}.PathCheck`);
fn('group', `${authz}.Authorizer.(string) -> ${authz}.GroupCheck`);
fn('serviceAccount', `${authz}.Authorizer.(string, string) -> ${authz}.Authorizer`);
fn('resource', `${authz}.GroupCheck.(string) -> ${authz}.ResourceCheck`);
for (const f of ['subresource', 'namespace', 'name', 'fieldSelector', 'labelSelector']) fn(f, `${authz}.ResourceCheck.(string) -> ${authz}.ResourceCheck`);
fn('check', `${authz}.PathCheck.(string) -> ${authz}.Decision`, `${authz}.ResourceCheck.(string) -> ${authz}.Decision`);
fn('errored', `${authz}.Decision.() -> bool`);
fn('error', `${authz}.Decision.() -> string`);
fn('allowed', `${authz}.Decision.() -> bool`);
fn('reason', `${authz}.Decision.() -> string`);
fn('format.named', '(string) -> optional_type(kubernetes.NamedFormat)');
for (const f of ['dns1123Label', 'dns1123Subdomain', 'dns1035Label', 'qualifiedName', 'dns1123LabelPrefix', 'dns1123SubdomainPrefix', 'dns1035LabelPrefix', 'labelValue', 'uri', 'uuid', 'byte', 'date', 'datetime']) {
  fn(`format.${f}`, '() -> kubernetes.NamedFormat');
}
fn('validate', 'kubernetes.NamedFormat.(string) -> optional_type(list(string))');
fn('semver', '(string) -> kubernetes.Semver', '(string, bool) -> kubernetes.Semver');
fn('isSemver', '(string) -> bool', '(string, bool) -> bool');
for (const f of ['major', 'minor', 'patch']) fn(f, 'kubernetes.Semver.() -> int');

let functionsCache: ReadonlyMap<string, FunctionDecl> | undefined;

/** Every function, by name (shared; never changed). */
export function functions(): ReadonlyMap<string, FunctionDecl> {
  if (functionsCache) return functionsCache;
  const out = new Map<string, FunctionDecl>();
  for (const [name, sigs] of Object.entries(table)) out.set(name, { name, overloads: sigs.map(overload) });
  functionsCache = out;
  return out;
}

/** The type names cel-go declares as identifiers of type `type(T)`. */
export const typeIdents: ReadonlyMap<string, CelType> = new Map([
  ['bool', T.type(T.bool)],
  ['bytes', T.type(T.bytes)],
  ['double', T.type(T.double)],
  ['google.protobuf.Duration', T.type(T.duration)],
  ['int', T.type(T.int)],
  ['list', T.type(T.list(T.param('A')))],
  ['map', T.type(T.map(T.param('A'), T.param('B')))],
  ['null_type', T.type(T.null)],
  ['string', T.type(T.string)],
  ['google.protobuf.Timestamp', T.type(T.timestamp)],
  ['type', T.type(T.type())],
  ['uint', T.type(T.uint)],
]);

const fieldsOf = (spec: Record<string, string>): ReadonlyMap<string, CelType> => new Map(Object.entries(spec).map(([k, v]) => [k, parseType(v, new Set())]));

/** The hand-written object types of `request` and `namespaceObject`, by name. */
export const admissionStructs: ReadonlyMap<string, ReadonlyMap<string, CelType>> = new Map([
  ['kubernetes.GroupVersionKind', fieldsOf({ group: 'string', version: 'string', kind: 'string' })],
  ['kubernetes.GroupVersionResource', fieldsOf({ group: 'string', version: 'string', resource: 'string' })],
  ['kubernetes.UserInfo', fieldsOf({ username: 'string', uid: 'string', groups: 'list(string)', extra: 'map(string, list(string))' })],
  [
    'kubernetes.AdmissionRequest',
    new Map<string, CelType>([
      ['kind', T.struct('kubernetes.GroupVersionKind')],
      ['resource', T.struct('kubernetes.GroupVersionResource')],
      ['subResource', T.string],
      ['requestKind', T.struct('kubernetes.GroupVersionKind')],
      ['requestResource', T.struct('kubernetes.GroupVersionResource')],
      ['requestSubResource', T.string],
      ['name', T.string],
      ['namespace', T.string],
      ['operation', T.string],
      ['userInfo', T.struct('kubernetes.UserInfo')],
      ['dryRun', T.bool],
      ['options', T.dyn],
    ]),
  ],
  ['kubernetes.NamespaceSpec', fieldsOf({ finalizers: 'list(string)' })],
  ['kubernetes.NamespaceCondition', fieldsOf({ status: 'string', type: 'string', lastTransitionTime: 'timestamp', message: 'string', reason: 'string' })],
  ['kubernetes.NamespaceStatus', new Map<string, CelType>([['conditions', T.list(T.struct('kubernetes.NamespaceCondition'))], ['phase', T.string]])],
  [
    'kubernetes.NamespaceMetadata',
    // `UID`, capitalised, as upstream declares it.
    fieldsOf({ name: 'string', generateName: 'string', namespace: 'string', labels: 'map(string, string)', annotations: 'map(string, string)', UID: 'string', creationTimestamp: 'timestamp', deletionGracePeriodSeconds: 'int', deletionTimestamp: 'timestamp', generation: 'int', resourceVersion: 'string', finalizers: 'list(string)' }),
  ],
  [
    'kubernetes.Namespace',
    new Map<string, CelType>([
      ['metadata', T.struct('kubernetes.NamespaceMetadata')],
      ['spec', T.struct('kubernetes.NamespaceSpec')],
      ['status', T.struct('kubernetes.NamespaceStatus')],
    ]),
  ],
]);
