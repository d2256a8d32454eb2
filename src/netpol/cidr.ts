/**
 * IPv4 range arithmetic for ipBlock peers (on src/network/cidr.ts): parsing that tolerates what
 * the API accepts (undefined for IPv6 or malformed text instead of throwing), and `cidr minus
 * except` as a list of disjoint CIDRs, so that an ipBlock compiles to plain `-s`/`-d` matches.
 */
import { cidrCovers, formatIpv4, parseCidr, type Ipv4Cidr } from '../network/cidr.ts';

export type { Ipv4Cidr };

/** The IPv4 CIDR in `text` (host bits cleared), or undefined for IPv6 or malformed text. */
export function parseIpv4Cidr(text: string): Ipv4Cidr | undefined {
  try {
    return parseCidr(text);
  } catch {
    return undefined;
  }
}

function make(base: number, prefix: number): Ipv4Cidr {
  return { base: base >>> 0, prefix, text: `${formatIpv4(base >>> 0)}/${prefix}` };
}

/**
 * `cidr` without the addresses of `except`, as disjoint CIDRs in address order. Each except
 * inside the range costs at most (its prefix − cidr's prefix) entries.
 */
export function cidrMinus(cidr: Ipv4Cidr, except: readonly Ipv4Cidr[]): string[] {
  let parts: Ipv4Cidr[] = [cidr];
  for (const x of except) {
    const next: Ipv4Cidr[] = [];
    for (const p of parts) {
      if (cidrCovers(x, p)) continue; // removed entirely
      if (!cidrCovers(p, x)) {
        next.push(p); // disjoint
        continue;
      }
      // Split p into halves down to x, keeping the halves that do not hold x.
      let cur = p;
      while (cur.prefix < x.prefix) {
        const prefix = cur.prefix + 1;
        const low = make(cur.base, prefix);
        const high = make(cur.base + 2 ** (32 - prefix), prefix);
        if (cidrCovers(low, x)) {
          next.push(high);
          cur = low;
        } else {
          next.push(low);
          cur = high;
        }
      }
    }
    parts = next;
  }
  return parts.sort((a, b) => a.base - b.base).map((p) => p.text);
}
