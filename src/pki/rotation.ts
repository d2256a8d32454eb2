/**
 * Renewal of the leaf certificates `bosun server` (and a `bosun agent` beside it) issued, while
 * it runs, with no restart. Upstream rotates only the kubelet's certificates this way
 * (client-go's certificate manager); k3s renews its own only at start. Bosun does for every
 * leaf it issues what the kubelet does for its own:
 *
 * - Schedule: each certificate is renewed at a jittered 70–90 % of its validity, counted from
 *   notBefore (upstream's `nextRotationDeadline`: notBefore + validity × (0.7 + 0.2 × rand)).
 *   Chosen over k3s's "90 days before expiry" because it works for any lifetime (the one-year
 *   default, and the seconds-long ones tests use) and the jitter spreads renewals apart; the
 *   certificate still has 10–30 % of its life left when it is replaced, time for retries.
 * - Retries: a renewal that fails (the child process that issues, a bad result, a consumer that
 *   could not take the new pair) is logged and retried after 2, 4, 8, 16, 32 s and then every
 *   32 s, as upstream's manager backs off (2 s × 2, five steps, then a 32 s poll). It never
 *   throws out of `run`.
 * - Issuing is the caller's `reissue` (the server passes `reissueIsolated`: a short-lived child
 *   process writes each new key and certificate atomically, key first). Leaves due together are
 *   reissued in one call.
 * - Taking a new pair into use is up to each consumer (`onChange`): the API server swaps its
 *   listener's secure context, clients read `current()` per request, the admin kubeconfig is
 *   rewritten. Connections already open keep the certificate they were opened with.
 * - The CA is not rotated: it lives ten years and is renewed at start when within 30 days of
 *   expiry (index.ts). A leaf never outlives the CA; when a new leaf would not outlive the one it
 *   replaces (the CA ends first), rotation of that leaf stops with a message to restart.
 *
 * `BOSUN_CERT_LIFETIME_SECONDS` (read once at start, `certLifetimeFromEnv`) is for tests only:
 * leaves issued from then on live that many seconds instead of a year, as k3s's
 * CATTLE_NEW_SIGNED_CERT_EXPIRATION_DAYS shortens its certificates for testing.
 */
import type { Clock, TimerHandle } from '../client/clock.ts';
import { X509Certificate } from 'node:crypto';
import { BosunError } from '../util/errors.ts';
import { certFacts, keyMatches, type CertAndKey } from './x509.ts';

/** Share of the validity after which renewal starts, and the jittered share added to it (upstream: 0.7 + 0.2 × rand). */
export const rotationStart = 0.7;
export const rotationJitter = 0.2;
/** Waits between failed attempts (upstream: 2 s doubling, five steps), then `retryPollMs` for good. */
export const retryBackoffMs: readonly number[] = [2_000, 4_000, 8_000, 16_000, 32_000];
export const retryPollMs = 32_000;
/** setTimeout's largest delay; longer waits are taken in steps. */
const maxTimerMs = 2 ** 31 - 1;

/** The environment variable for short-lived test certificates. */
export const certLifetimeEnv = 'BOSUN_CERT_LIFETIME_SECONDS';

/**
 * The leaf lifetime `BOSUN_CERT_LIFETIME_SECONDS` asks for, in seconds; undefined when unset or
 * empty. Testing only. Throws ERR_INVALID_CONFIG unless it is a whole number of at least 10.
 */
export function certLifetimeFromEnv(env: Record<string, string | undefined>): number | undefined {
  const v = env[certLifetimeEnv];
  if (v === undefined || v === '') return undefined;
  const n = Number(v);
  if (!/^\d+$/.test(v) || n < 10) throw new BosunError('ERR_INVALID_CONFIG', `${certLifetimeEnv} must be a whole number of seconds, at least 10: ${JSON.stringify(v)}`);
  return n;
}

/** When a certificate valid from notBefore to notAfter should be renewed, for `random()` in [0, 1). */
export function rotationDeadline(validity: { notBefore: Date; notAfter: Date }, random: () => number = Math.random): Date {
  const from = validity.notBefore.getTime();
  const total = validity.notAfter.getTime() - from;
  return new Date(from + total * (rotationStart + rotationJitter * random()));
}

/** The wait before attempt `failures + 1` after `failures` failed ones (≥ 1). */
export function retryDelayMs(failures: number): number {
  return retryBackoffMs[failures - 1] ?? retryPollMs;
}

/** A leaf certificate that may be replaced while the process runs. */
export interface RotatingCert {
  readonly name: string;
  /** The pair in use now. */
  current(): CertAndKey;
  /**
   * Calls `fn` with each new pair, after it is on disk, in subscription order; a consumer that
   * throws makes the renewal count as failed (retried with a newer pair). Returns an unsubscribe.
   */
  onChange(fn: (pair: CertAndKey) => void | Promise<void>): () => void;
}

/**
 * A `CertAndKey` that reads the rotating pair each time a field is read: for code that reads
 * `certPem`/`keyPem` per use (the API server's kubelet client, client credentials getters).
 * Spreading it copies today's values.
 */
export function liveCertAndKey(cert: RotatingCert): CertAndKey {
  return {
    get certPem() {
      return cert.current().certPem;
    },
    get keyPem() {
      return cert.current().keyPem;
    },
  };
}

export interface CertRotatorOptions {
  /** Issues new pairs for the named leaves, replacing those on disk; answers them by name. */
  reissue: (names: string[]) => Promise<Record<string, CertAndKey>>;
  clock?: Clock;
  /** In [0, 1); default Math.random. */
  random?: () => number;
  log?: (msg: string) => void;
}

interface Leaf {
  name: string;
  pair: CertAndKey;
  notBefore: Date;
  notAfter: Date;
  /** Next attempt. */
  due: number;
  failures: number;
  /** Rotation gave up (the CA ends before a new leaf could outlive this one). */
  stuck: boolean;
  listeners: Set<(pair: CertAndKey) => void | Promise<void>>;
}

const defaultClock: Clock = {
  now: () => Date.now(),
  setTimeout: (fn, ms) => setTimeout(fn, Math.max(0, ms)),
  clearTimeout: (h) => clearTimeout(h as ReturnType<typeof setTimeout>),
};

/**
 * Keeps a set of leaf certificates renewed (see the file comment). Add every leaf, then `run`.
 * One renewal at a time; leaves due at once are renewed together.
 */
export class CertRotator {
  #leaves = new Map<string, Leaf>();
  #reissue: CertRotatorOptions['reissue'];
  #clock: Clock;
  #random: () => number;
  #log: (msg: string) => void;
  #timer: TimerHandle | undefined;
  #busy: Promise<void> | undefined;
  #stopped = true;

  constructor(opts: CertRotatorOptions) {
    this.#reissue = opts.reissue;
    this.#clock = opts.clock ?? defaultClock;
    this.#random = opts.random ?? Math.random;
    this.#log = opts.log ?? (() => {});
  }

  /** Tracks a leaf from its current pair. Throws for a name already added or a certificate that does not parse. */
  add(name: string, pair: CertAndKey): RotatingCert {
    if (this.#leaves.has(name)) throw new Error(`certificate ${name} is already rotated`);
    const leaf: Leaf = { name, pair, notBefore: new Date(0), notAfter: new Date(0), due: 0, failures: 0, stuck: false, listeners: new Set() };
    this.#take(leaf, pair);
    this.#leaves.set(name, leaf);
    if (!this.#stopped) this.#arm();
    return {
      name,
      current: () => leaf.pair,
      onChange: (fn) => {
        leaf.listeners.add(fn);
        return () => leaf.listeners.delete(fn);
      },
    };
  }

  /** When each leaf is next renewed (tests and logs). */
  schedule(): Record<string, Date> {
    return Object.fromEntries([...this.#leaves.values()].map((l) => [l.name, new Date(l.due)]));
  }

  /** Renews leaves as they fall due until `signal` aborts; then waits for a renewal in progress. Never rejects. */
  async run(signal: AbortSignal): Promise<void> {
    if (signal.aborted) return;
    this.#stopped = false;
    const first = [...this.#leaves.values()].sort((a, b) => a.due - b.due)[0];
    if (first) this.#log(`pki: leaf certificates are renewed at 70-90 % of their validity while running; first: ${first.name}.crt at ${new Date(first.due).toISOString()}`);
    this.#arm();
    await new Promise<void>((resolve) => signal.addEventListener('abort', () => resolve(), { once: true }));
    this.#stopped = true;
    if (this.#timer !== undefined) this.#clock.clearTimeout(this.#timer);
    this.#timer = undefined;
    await this.#busy;
  }

  /** Renews every leaf due now (also what the timer calls). Resolves when done; never rejects. */
  tick(): Promise<void> {
    this.#busy ??= this.#renewDue().finally(() => {
      this.#busy = undefined;
      if (!this.#stopped) this.#arm();
    });
    return this.#busy;
  }

  #take(leaf: Leaf, pair: CertAndKey): void {
    const f = certFacts(pair.certPem);
    leaf.pair = pair;
    leaf.notBefore = f.notBefore;
    leaf.notAfter = f.notAfter;
    leaf.due = rotationDeadline(f, this.#random).getTime();
    leaf.failures = 0;
  }

  #arm(): void {
    if (this.#timer !== undefined) this.#clock.clearTimeout(this.#timer);
    this.#timer = undefined;
    if (this.#busy) return;
    let next = Infinity;
    for (const l of this.#leaves.values()) if (!l.stuck && l.due < next) next = l.due;
    if (next === Infinity) return;
    this.#timer = this.#clock.setTimeout(() => {
      this.#timer = undefined;
      void this.tick();
    }, Math.min(Math.max(0, next - this.#clock.now()), maxTimerMs));
  }

  async #renewDue(): Promise<void> {
    const now = this.#clock.now();
    const due = [...this.#leaves.values()].filter((l) => !l.stuck && l.due <= now);
    if (due.length === 0) return;
    const names = due.map((l) => `${l.name}.crt`).join(', ');
    this.#log(`pki: rotating ${names}`);
    let issued: Record<string, CertAndKey>;
    try {
      issued = await this.#reissue(due.map((l) => l.name));
    } catch (err) {
      for (const l of due) this.#failed(l, `issuing failed: ${(err as Error).message}`);
      return;
    }
    for (const leaf of due) {
      const pair = issued[leaf.name];
      const bad = pair ? badPair(pair, leaf) : 'no certificate returned';
      if (bad === 'not newer') {
        leaf.stuck = true;
        this.#log(`pki: ${leaf.name}.crt cannot be renewed past ${leaf.notAfter.toISOString()}: the cluster CA expires first; restart the server to renew the CA`);
        continue;
      }
      if (bad) {
        this.#failed(leaf, bad);
        continue;
      }
      const failures = leaf.failures;
      this.#take(leaf, pair!);
      this.#log(`pki: ${leaf.name}.crt renewed (serial ${serialOf(pair!.certPem)}, expires ${leaf.notAfter.toISOString()}); next rotation ${new Date(leaf.due).toISOString()}`);
      for (const fn of leaf.listeners) {
        try {
          await fn(pair!);
        } catch (err) {
          // The new pair stays (it is on disk); the consumer gets another one after the backoff.
          leaf.failures = failures;
          this.#failed(leaf, `taking it into use failed: ${(err as Error).message}`);
          break;
        }
      }
    }
  }

  #failed(leaf: Leaf, why: string): void {
    leaf.failures++;
    const wait = retryDelayMs(leaf.failures);
    leaf.due = this.#clock.now() + wait;
    this.#log(`pki: renewing ${leaf.name}.crt failed (${why}); retrying in ${wait / 1000}s`);
  }
}

/** Why a reissued pair cannot replace `leaf`'s, or undefined. 'not newer': it does not outlive the old one. */
function badPair(pair: CertAndKey, leaf: Leaf): string | undefined {
  let f;
  try {
    f = certFacts(pair.certPem);
  } catch (err) {
    return `the new certificate does not parse (${(err as Error).message})`;
  }
  if (pair.certPem === leaf.pair.certPem) return 'the certificate was not replaced';
  if (!keyMatches(pair.certPem, pair.keyPem)) return 'the new key does not match the new certificate';
  if (f.notAfter.getTime() <= leaf.notAfter.getTime()) return 'not newer';
  return undefined;
}

function serialOf(pem: string): string {
  try {
    return new X509Certificate(pem).serialNumber;
  } catch {
    return '?';
  }
}
