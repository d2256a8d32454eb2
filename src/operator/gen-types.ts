/**
 * Typed objects from a CRD's schema: turns each served version's openAPIV3Schema into
 * TypeScript interfaces (plain data, as src/api's generated types) and a resource descriptor for
 * the client, so an operator reads `db.spec.replicas`, never untyped maps.
 *
 *   node src/operator/gen-types.ts crd.yaml [--import bosun/operator] > types.ts
 *
 * Mapping: string/integer/number/boolean as themselves; `enum` as a union of literals;
 * `x-kubernetes-int-or-string` as `number | string`; `nullable` adds `| null`; arrays as `T[]`;
 * objects with properties as named interfaces (`<Parent><Field>`, array items `<...>Item`;
 * `required` fields non-optional); `additionalProperties` as `Record<string, T>`; objects
 * without properties, and `x-kubernetes-preserve-unknown-fields`, as `Record<string, unknown>`
 * (or an index signature beside the properties); `x-kubernetes-embedded-resource` adds
 * apiVersion/kind/metadata. Descriptions and defaults become doc comments. The storage version
 * is named `<Kind>`; other served versions `<Kind><Version>` (e.g. `DatabaseV1beta1`).
 * Output is deterministic (property order as in the schema).
 */
import fs from 'node:fs';
import { parseAllDocuments } from 'yaml';
import type { CustomResourceDefinition, JSONSchemaProps } from '../api/index.ts';

export interface GenerateOptions {
  /** Where `ObjectMeta` is imported from. Default 'bosun/operator'. */
  importFrom?: string;
  /** The command line to name in the header. */
  source?: string;
}

const pascal = (s: string) => s.replace(/(^|[^A-Za-z0-9])([A-Za-z0-9])/g, (_m, _p, c: string) => c.toUpperCase()).replace(/^[0-9]/, (d) => `_${d}`);
const camel = (s: string) => {
  const p = pascal(s);
  return p.charAt(0).toLowerCase() + p.slice(1);
};
const ident = /^[A-Za-z_$][A-Za-z0-9_$]*$/;
const propName = (k: string) => (ident.test(k) ? k : JSON.stringify(k));

function doc(lines: string[], indent: string): string {
  const text = lines.filter(Boolean).join('\n').replace(/\*\//g, '*\\/');
  if (!text) return '';
  const parts = text.split('\n');
  if (parts.length === 1) return `${indent}/** ${parts[0]} */\n`;
  return `${indent}/**\n${parts.map((l) => `${indent} *${l ? ` ${l}` : ''}`).join('\n')}\n${indent} */\n`;
}

function docOf(s: JSONSchemaProps): string[] {
  const out: string[] = [];
  if (s.description) out.push(s.description.trim());
  if (s.default !== undefined) out.push(`@default ${JSON.stringify(s.default)}`);
  return out;
}

class Emitter {
  #decls: string[] = [];
  #used = new Set<string>();

  reserve(name: string): string {
    let n = name;
    for (let i = 2; this.#used.has(n); i++) n = `${name}${i}`;
    this.#used.add(n);
    return n;
  }

  push(decl: string): void {
    this.#decls.push(decl);
  }

  get decls(): string[] {
    return this.#decls;
  }

  /** The type expression of `s`; named interfaces for objects with properties. */
  typeOf(s: JSONSchemaProps | undefined, hint: string): string {
    if (!s) return 'unknown';
    const t = this.#bare(s, hint);
    return s.nullable ? `${t} | null` : t;
  }

  #bare(s: JSONSchemaProps, hint: string): string {
    if (s['x-kubernetes-int-or-string']) return 'number | string';
    if (s.enum?.length) return s.enum.map((v) => JSON.stringify(v)).join(' | ');
    const type = s.type ?? (s.properties ? 'object' : s.items ? 'array' : '');
    switch (type) {
      case 'string':
        return 'string';
      case 'integer':
      case 'number':
        return 'number';
      case 'boolean':
        return 'boolean';
      case 'array': {
        const items = Array.isArray(s.items) ? s.items[0] : s.items;
        const t = this.typeOf(items, `${hint}Item`);
        return /[|&]/.test(t) ? `(${t})[]` : `${t}[]`;
      }
      case 'object': {
        const embedded = !!s['x-kubernetes-embedded-resource'];
        if (s.properties && Object.keys(s.properties).length) return this.#interface(s, hint, embedded);
        if (embedded) return this.#interface({ ...s, properties: {} }, hint, true);
        const ap = s.additionalProperties;
        if (ap && typeof ap === 'object') return `Record<string, ${this.typeOf(ap, `${hint}Value`)}>`;
        return 'Record<string, unknown>';
      }
      default:
        return 'unknown';
    }
  }

  #interface(s: JSONSchemaProps, hint: string, embedded: boolean): string {
    const name = this.reserve(hint);
    const required = new Set(s.required ?? []);
    let body = '';
    if (embedded) body += '  apiVersion?: string;\n  kind?: string;\n  metadata?: ObjectMeta;\n';
    for (const [k, p] of Object.entries(s.properties ?? {})) {
      if (embedded && (k === 'apiVersion' || k === 'kind' || k === 'metadata')) continue;
      body += doc(docOf(p), '  ');
      body += `  ${propName(k)}${required.has(k) ? '' : '?'}: ${this.typeOf(p, `${hint}${pascal(k)}`)};\n`;
    }
    if (s['x-kubernetes-preserve-unknown-fields'] || (s.additionalProperties && typeof s.additionalProperties === 'object')) {
      body += `  [field: string]: unknown;\n`;
    }
    this.#decls.push(`${doc(docOf(s), '')}export interface ${name} {\n${body}}\n`);
    return name;
  }
}

/** The CRDs in a YAML (or JSON) text: every document of kind CustomResourceDefinition. */
export function parseCrds(text: string): CustomResourceDefinition[] {
  const out: CustomResourceDefinition[] = [];
  for (const d of parseAllDocuments(text)) {
    if (d.errors.length) throw new Error(`invalid YAML: ${d.errors[0]!.message}`);
    const obj = d.toJS() as CustomResourceDefinition | null;
    if (obj && obj.kind === 'CustomResourceDefinition') out.push(obj);
  }
  return out;
}

/** TypeScript source for the CRDs (see the file's doc comment). */
export function generateTypes(crds: readonly CustomResourceDefinition[], opts: GenerateOptions = {}): string {
  const e = new Emitter();
  const descriptors: string[] = [];
  for (const crd of crds) {
    const { group, names, scope } = crd.spec;
    const served = crd.spec.versions.filter((v) => v.served);
    const storage = served.find((v) => v.storage) ?? served[0];
    for (const v of served) {
      const kind = v === storage ? names.kind : `${names.kind}${pascal(v.name)}`;
      const root = v.schema?.openAPIV3Schema ?? { type: 'object', 'x-kubernetes-preserve-unknown-fields': true };
      const name = e.reserve(kind);
      const required = new Set(root.required ?? []);
      let body = `  apiVersion?: '${group}/${v.name}';\n  kind?: '${names.kind}';\n  metadata: ObjectMeta;\n`;
      for (const [k, p] of Object.entries(root.properties ?? {})) {
        if (k === 'apiVersion' || k === 'kind' || k === 'metadata') continue;
        body += doc(docOf(p), '  ');
        body += `  ${propName(k)}${required.has(k) ? '' : '?'}: ${e.typeOf(p, `${kind}${pascal(k)}`)};\n`;
      }
      if (root['x-kubernetes-preserve-unknown-fields']) body += '  [field: string]: unknown;\n';
      const header = [root.description?.trim() ?? '', `${names.kind} ${group}/${v.name} (${scope}), resource ${names.plural}.`];
      e.push(`${doc(header, '')}export interface ${name} {\n${body}}\n`);
      const constName = e.reserve(v === storage ? camel(names.plural) : `${camel(names.plural)}${pascal(v.name)}`);
      descriptors.push(
        `/** The ${names.plural}.${group}/${v.name} resource, for the client and informers. */\n` +
          `export const ${constName} = { group: '${group}', version: '${v.name}', resource: '${names.plural}', kind: '${names.kind}', namespaced: ${scope === 'Namespaced'} } as const;\n`,
      );
    }
  }
  const from = opts.importFrom ?? 'bosun/operator';
  const head = `// Generated by ${opts.source ?? 'src/operator/gen-types.ts'} from the CustomResourceDefinition schema; do not edit.\n`;
  return `${head}import type { ObjectMeta } from '${from}';\n\n${e.decls.join('\n')}\n${descriptors.join('\n')}`;
}

/** The command line: `gen-types.ts <crd.yaml> [--import <module>]`, output on stdout. */
export function main(argv: string[]): number {
  const args = [...argv];
  let importFrom: string | undefined;
  const i = args.indexOf('--import');
  if (i >= 0) {
    importFrom = args[i + 1];
    args.splice(i, 2);
  }
  const file = args[0];
  if (!file || !importFrom && i >= 0) {
    process.stderr.write('usage: gen-types.ts <crd.yaml> [--import <module>]\n');
    return 2;
  }
  const crds = parseCrds(fs.readFileSync(file === '-' ? 0 : file, 'utf8'));
  if (!crds.length) {
    process.stderr.write(`${file}: no CustomResourceDefinition found\n`);
    return 1;
  }
  process.stdout.write(generateTypes(crds, { importFrom, source: `gen-types.ts ${file}` }));
  return 0;
}

if (import.meta.main) process.exitCode = main(process.argv.slice(2));
