/**
 * The Kubernetes CEL libraries a ValidatingAdmissionPolicy may use, as the base environment of
 * upstream's apiserver/pkg/cel/environment (base.go): cel-go's strings extension (from
 * @bufbuild/cel/ext), Kubernetes lists, regex, urls, quantity, ip/cidr, authz, and cel-go's
 * sets extension. Not provided: `cel.bind`, optional types (`?.`, `optional.of`), two-variable
 * comprehensions, math and encoders extensions, the format and semver libraries: @bufbuild/cel's
 * parser does not know their syntax or they are not needed by common policies.
 *
 * Importing this module loads @bufbuild/cel: load it lazily (see engine.ts).
 */
import type { CelFunc } from '@bufbuild/cel';
import { strings } from '@bufbuild/cel/ext';
import { authzFuncs } from './authz.ts';
import { ipFuncs } from './ip.ts';
import { listFuncs } from './lists.ts';
import { quantityFuncs } from './quantity.ts';
import { regexFuncs } from './regex.ts';
import { urlFuncs } from './urls.ts';

/** Every library function, in registration order. */
export const libraryFuncs: readonly CelFunc[] = [...strings, ...listFuncs, ...regexFuncs, ...urlFuncs, ...quantityFuncs, ...ipFuncs, ...authzFuncs];

/** Identifiers that name a function namespace (`sets.contains`, `ip.isCanonical`), not a variable. */
export const functionNamespaces: ReadonlySet<string> = new Set(['sets', 'strings', 'ip']);
