/**
 * A minimal Reflect metadata shim. `@peculiar/x509` uses tsyringe, which refuses to load unless
 * `Reflect.getMetadata` exists (the README asks the application for a polyfill such as
 * `reflect-metadata`). Rather than add a dependency, this installs the three functions tsyringe
 * calls — `defineMetadata`, `getOwnMetadata`, `getMetadata` (which walks the prototype chain) —
 * backed by a WeakMap. It does nothing when a real polyfill is already present.
 *
 * Side effect on import: it patches the global `Reflect`. Import it before `@peculiar/x509`
 * (x509.ts does, and is the only module that imports the library).
 */

type MetaKey = unknown;
type Prop = string | symbol | undefined;
type ReflectMeta = {
  defineMetadata?: (key: MetaKey, value: unknown, target: object, prop?: Prop) => void;
  getOwnMetadata?: (key: MetaKey, target: object, prop?: Prop) => unknown;
  getMetadata?: (key: MetaKey, target: object, prop?: Prop) => unknown;
};

const R = Reflect as unknown as ReflectMeta;

if (typeof R.getMetadata !== 'function') {
  const store = new WeakMap<object, Map<Prop, Map<MetaKey, unknown>>>();
  const bucket = (target: object, prop: Prop, create: boolean): Map<MetaKey, unknown> | undefined => {
    let byProp = store.get(target);
    if (!byProp) {
      if (!create) return undefined;
      byProp = new Map();
      store.set(target, byProp);
    }
    let b = byProp.get(prop);
    if (!b && create) {
      b = new Map();
      byProp.set(prop, b);
    }
    return b;
  };
  R.defineMetadata = (key, value, target, prop) => void bucket(target, prop, true)!.set(key, value);
  R.getOwnMetadata = (key, target, prop) => bucket(target, prop, false)?.get(key);
  R.getMetadata = (key, target, prop) => {
    for (let o: object | null = target; o !== null; o = Object.getPrototypeOf(o) as object | null) {
      const b = bucket(o, prop, false);
      if (b?.has(key)) return b.get(key);
    }
    return undefined;
  };
}

export {};
