/**
 * String order as Go's `<` and sort.Strings give it (byte order; for JavaScript's UTF-16 strings
 * the same except between surrogate pairs and the code points U+E000–U+FFFF), not
 * `localeCompare`'s collation: upstream's lists, messages and tie-breaks come in this order
 * ("B" before "a", "10.0.0.10" before "10.0.0.9"), and collation loads ICU's tables.
 */
export function compareStrings(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Whether two byte arrays hold the same bytes (not in constant time: not for secrets). */
export function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a === b || (a.length === b.length && Buffer.compare(a, b) === 0);
}
