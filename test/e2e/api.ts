/**
 * A small HTTPS client for end-to-end tests that talk to the API directly (watch parameters,
 * raw Status bodies, 401): uses the admin certificate from the server's kubeconfig.
 */
import https from 'node:https';
import fs from 'node:fs';
import { parse as parseYaml } from 'yaml';

export interface Creds {
  ca: Buffer;
  cert?: Buffer;
  key?: Buffer;
  server: string;
}

export function credsFromKubeconfig(file: string): Creds {
  const kc = parseYaml(fs.readFileSync(file, 'utf8')) as {
    clusters: { cluster: { server: string; 'certificate-authority-data': string } }[];
    users: { user: { 'client-certificate-data': string; 'client-key-data': string } }[];
  };
  const c = kc.clusters[0]!.cluster;
  const u = kc.users[0]!.user;
  return {
    server: c.server,
    ca: Buffer.from(c['certificate-authority-data'], 'base64'),
    cert: Buffer.from(u['client-certificate-data'], 'base64'),
    key: Buffer.from(u['client-key-data'], 'base64'),
  };
}

export interface HttpResult {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
  json<T = any>(): T;
}

export function request(creds: Creds, method: string, path: string, opts: { body?: string | Buffer; headers?: Record<string, string>; anonymous?: boolean } = {}): Promise<HttpResult> {
  const url = new URL(path, creds.server);
  return new Promise((resolve, reject) => {
    const req = https.request(
      url,
      {
        method,
        ca: creds.ca,
        cert: opts.anonymous ? undefined : creds.cert,
        key: opts.anonymous ? undefined : creds.key,
        headers: { accept: 'application/json', ...(opts.body ? { 'content-type': 'application/json' } : {}), ...opts.headers },
        agent: false,
      },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => (body += d));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body, json: () => JSON.parse(body) }));
      },
    );
    req.on('error', reject);
    req.end(opts.body);
  });
}

/**
 * A `data` handler for a newline-delimited JSON stream (a watch, decoded as utf8): each complete
 * non-empty line is parsed and handed to `onValue`.
 */
export function jsonLines<T = any>(onValue: (v: T) => void): (chunk: string) => void {
  let buf = '';
  return (chunk) => {
    buf += chunk;
    let i;
    while ((i = buf.indexOf('\n')) >= 0) {
      const line = buf.slice(0, i);
      buf = buf.slice(i + 1);
      if (line.trim()) onValue(JSON.parse(line) as T);
    }
  };
}

/** Opens a watch and collects events until `until` says stop or the timeout passes. */
export function watch(creds: Creds, path: string, until: (events: any[]) => boolean, timeoutMs = 10_000): Promise<any[]> {
  const url = new URL(path, creds.server);
  return new Promise((resolve, reject) => {
    const events: any[] = [];
    const split = jsonLines((ev) => events.push(ev));
    let done = false;
    const finish = () => {
      if (done) return;
      done = true;
      clearTimeout(t);
      req.destroy();
      resolve(events);
    };
    const t = setTimeout(finish, timeoutMs);
    const req = https.request(url, { method: 'GET', ca: creds.ca, cert: creds.cert, key: creds.key, agent: false, headers: { accept: 'application/json' } }, (res) => {
      res.setEncoding('utf8');
      res.on('data', (d: string) => {
        split(d);
        if (until(events)) finish();
      });
      res.on('end', finish);
    });
    req.on('error', (e) => (done ? undefined : reject(e)));
    req.end();
  });
}
