/**
 * Opaque CEL values for the Kubernetes CEL libraries (Quantity, URL, IP, CIDR, the authorizer's
 * check and decision objects), as upstream's apiservercel types: values with receiver functions
 * and no fields of their own.
 *
 * @bufbuild/cel has no extension point for custom value types outside protobuf messages, so an
 * opaque value passes through it as a map: it carries the brand @bufbuild/cel uses to recognise
 * maps (a registered global symbol) and answers the map interface with a single entry, its
 * type name mapped to its `key`. Hence equality of two opaque values is equality of their keys
 * (a canonical form: `quantity('1') == quantity('1000m')`, as upstream's Equal), and `type(v)`
 * is `map` where upstream says e.g. `kubernetes.Quantity`. Library functions are declared with a
 * `dyn` receiver and check the class of their receiver themselves (`opaqueOf`).
 */

/** The brand @bufbuild/cel's isCelMap tests (Symbol.for, so shared across module copies). */
const mapBrand = Symbol.for('@bufbuild/cel/map');

let nextId = 0;

export abstract class Opaque {
  /** Upstream's type name, e.g. `kubernetes.Quantity`. */
  abstract readonly typeName: string;
  /** What equality compares; by default the object's identity. */
  readonly #id = `#${++nextId}`;
  key(): string {
    return this.#id;
  }
  get size(): number {
    return 1;
  }
  get(k: unknown): string | undefined {
    return k === this.typeName ? this.key() : undefined;
  }
  has(k: unknown): boolean {
    return k === this.typeName;
  }
  *entries(): IterableIterator<[string, string]> {
    yield [this.typeName, this.key()];
  }
  *keys(): IterableIterator<string> {
    yield this.typeName;
  }
  *values(): IterableIterator<string> {
    yield this.key();
  }
  forEach(cb: (v: string, k: string, m: this) => void, thisArg?: unknown): void {
    cb.call(thisArg, this.key(), this.typeName, this);
  }
  [Symbol.iterator](): IterableIterator<[string, string]> {
    return this.entries();
  }
}
Object.defineProperty(Opaque.prototype, mapBrand, { value: {} });

/** cel-go's wording for a call with no overload for its receiver. */
export function noSuchOverload(fn: string, receiver: unknown): Error {
  const t = receiver instanceof Opaque ? receiver.typeName : typeNameOf(receiver);
  return new Error(`found no matching overload for '${fn}' applied to '${t}'`);
}

/** The receiver as an instance of `cls`, or an error naming the function. */
export function opaqueOf<T extends Opaque>(cls: abstract new (...args: never[]) => T, fn: string, v: unknown): T {
  if (v instanceof cls) return v;
  throw noSuchOverload(fn, v);
}

/** A CEL value's type name for messages (int, double, string, bool, null_type, list, map, ...). */
export function typeNameOf(v: unknown): string {
  if (v instanceof Opaque) return v.typeName;
  switch (typeof v) {
    case 'bigint':
      return 'int';
    case 'number':
      return 'double';
    case 'string':
      return 'string';
    case 'boolean':
      return 'bool';
  }
  if (v === null) return 'null_type';
  if (v instanceof Uint8Array) return 'bytes';
  if (typeof v === 'object') {
    const o = v as Record<string | symbol, unknown>;
    if (Symbol.for('@bufbuild/cel/list') in o) return 'list';
    if (mapBrand in o) return 'map';
    if (Symbol.for('@bufbuild/cel/uint') in o) return 'uint';
    const desc = (o as { desc?: { typeName?: string } }).desc;
    if (desc?.typeName === 'google.protobuf.Timestamp') return 'google.protobuf.Timestamp';
    if (desc?.typeName === 'google.protobuf.Duration') return 'google.protobuf.Duration';
    if (desc?.typeName) return desc.typeName;
  }
  return 'dyn';
}
