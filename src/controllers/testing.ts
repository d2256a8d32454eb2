/**
 * Test fixtures for controllers: an in-process API server on a temporary SQLite store (with the
 * admission plugins a test wants), an admin client for it, and a polling wait. Only tests import
 * this file.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { builtinResources } from '../api/groups/index.ts';
import type { AdmissionPlugin } from '../apiserver/admission/types.ts';
import { bootstrap } from '../apiserver/bootstrap.ts';
import { ApiServer } from '../apiserver/server.ts';
import { clientset, createClient, type Clientset, type RestClient } from '../client/index.ts';
import { ensurePki } from '../pki/index.ts';
import { openStore } from '../storage/index.ts';

export interface TestApi {
  api: ApiServer;
  client: RestClient;
  cs: Clientset;
  /** Stops the server and removes its folder. */
  close(): Promise<void>;
}

/** Starts an API server (bootstrapped, on a free port) and an admin client named `component`. */
export async function startTestApi(component: string, admission: AdmissionPlugin[] = []): Promise<TestApi> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `bosun-${component}-`));
  const pki = await ensurePki(path.join(dir, 'tls'), { hostnames: [], addresses: [] });
  const store = await openStore(undefined, dir);
  const api = new ApiServer({ store, resources: builtinResources, tls: { certPem: pki.servingCertPem, keyPem: pki.servingKeyPem, caPem: pki.caCertPem }, port: 0, admission });
  const port = await api.start({ beforeReady: (p) => bootstrap(api, { port: p }) });
  const client = await createClient({ component, connection: { server: `https://127.0.0.1:${port}`, ca: pki.caCertPem, cert: pki.adminCertPem, key: pki.adminKeyPem } });
  return {
    api,
    client,
    cs: clientset(client),
    async close() {
      await client.transport.close();
      await api.close();
      await store.close();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Polls `fn` every 50 ms until it answers something other than undefined, for up to `ms`. */
export async function until<T>(what: string, fn: () => Promise<T | undefined>, ms = 30_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
