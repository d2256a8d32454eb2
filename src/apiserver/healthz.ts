/**
 * /healthz, /livez and /readyz as upstream's healthz package serves them: the root path runs
 * every named check (`?exclude=NAME` skips one, `?verbose` lists them), answering `ok` or, on a
 * failure, 500 with one `[+]`/`[-]` line per check; `/<endpoint>/<check>` runs one check. Only
 * the checks installed exist: any other path under the endpoints is 404, as upstream's mux.
 */

/** One named check: resolves to null when healthy, or to the reason it is not. */
export interface HealthCheck {
  name: string;
  check: () => Promise<string | null> | string | null;
}

export interface HealthResponse {
  status: number;
  headers: Record<string, string>;
  body: string;
}

const textPlain = 'text/plain; charset=utf-8';

/** Go's `http.NotFound`: what upstream answers for a path no handler serves. */
export function pageNotFound(): HealthResponse {
  return { status: 404, headers: { 'content-type': textPlain, 'x-content-type-options': 'nosniff' }, body: '404 page not found\n' };
}

/** Go's `http.Error`. */
function httpError(status: number, message: string): HealthResponse {
  return { status, headers: { 'content-type': textPlain, 'x-content-type-options': 'nosniff' }, body: `${message}\n` };
}

/**
 * Serves a health path. `endpoints` maps `healthz`, `livez`, `readyz` to their checks, in the
 * order they are reported. Returns null for a path outside the three endpoints.
 */
export async function serveHealth(path: string, query: URLSearchParams, endpoints: ReadonlyMap<string, readonly HealthCheck[]>): Promise<HealthResponse | null> {
  const parts = path.split('/');
  const endpoint = parts[1] ?? '';
  const checks = endpoints.get(endpoint);
  if (!checks) return null;
  if (parts.length === 2) return root(endpoint, checks, query);
  const name = parts.slice(2).join('/');
  const c = checks.find((x) => x.name === name);
  if (!c) return pageNotFound();
  const err = await c.check();
  if (err !== null) return httpError(500, `internal server error: ${err}`);
  return { status: 200, headers: { 'content-type': textPlain }, body: 'ok' };
}

async function root(endpoint: string, checks: readonly HealthCheck[], query: URLSearchParams): Promise<HealthResponse> {
  const excluded = new Set(query.getAll('exclude'));
  const unknownExcluded = new Set(excluded);
  const results = await Promise.all(checks.map((c) => (excluded.has(c.name) ? null : c.check())));
  let lines = '';
  let failed = false;
  checks.forEach((c, i) => {
    if (excluded.has(c.name)) {
      unknownExcluded.delete(c.name);
      lines += `[+]${c.name} excluded: ok\n`;
      return;
    }
    if (results[i] !== null) {
      failed = true;
      // The reason stays out of the public answer, as upstream does; the single-check path gives it.
      lines += `[-]${c.name} failed: reason withheld\n`;
    } else {
      lines += `[+]${c.name} ok\n`;
    }
  });
  if (unknownExcluded.size) {
    lines += `warn: some health checks cannot be excluded: no matches for ${[...unknownExcluded].sort().map((n) => JSON.stringify(n)).join(',')}\n`;
  }
  if (failed) return httpError(500, `${lines}${endpoint} check failed`);
  const headers = { 'content-type': textPlain, 'x-content-type-options': 'nosniff' };
  if (!query.has('verbose')) return { status: 200, headers, body: 'ok' };
  return { status: 200, headers, body: `${lines}${endpoint} check passed\n` };
}

/** Upstream's etcd health check timeout (`--etcd-healthcheck-timeout`, 2 s). */
export const storeCheckTimeoutMs = 2000;

/** Resolves to null when `probe` settles successfully within the timeout, else to the reason. */
export async function probeWithin(probe: () => Promise<unknown>, timeoutMs = storeCheckTimeoutMs): Promise<string | null> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      probe().then(() => null),
      new Promise<string>((resolve) => {
        timer = setTimeout(() => resolve(`timed out after ${timeoutMs} ms`), timeoutMs);
      }),
    ]);
  } catch (err) {
    return err instanceof Error ? err.message : String(err);
  } finally {
    clearTimeout(timer);
  }
}
