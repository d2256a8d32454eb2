/**
 * Simulated nodes keep running through API failures: registration that meets a Conflict, a 429,
 * a 503 or a broken connection is retried with backoff (it once ended `bosun virtual-nodes`), and
 * a started pod's status leaves `qosClass` to the API server. A stub client stands in for the
 * API (the behaviour under test is the retry policy, not the API).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { ApiObject, Pod } from '../api/index.ts';
import { alreadyExists, conflict, statusError, tooManyRequests } from '../api/errors.ts';
import type { RestClient, WatchEvent } from '../client/index.ts';
import { retryDelay, retryInitialMs, retryMaxMs, runVirtualNodes } from './nodes.ts';

interface Call {
  verb: string;
  resource: string;
  name?: string;
  body?: unknown;
}

/** A client whose writes fail with `failures` (in order, one per write) before succeeding. */
function stubClient(failures: Error[], podEvents: WatchEvent<Pod>[] = []) {
  const calls: Call[] = [];
  const fail = () => {
    const f = failures.shift();
    if (f) throw f;
  };
  const client = {
    async create(res: { resource: string }, o: ApiObject) {
      calls.push({ verb: 'create', resource: res.resource, name: o.metadata.name, body: o });
      fail();
      return { ...o, metadata: { ...o.metadata, resourceVersion: '1', uid: 'u' } };
    },
    async patch(res: { resource: string }, name: string, body: unknown) {
      calls.push({ verb: 'patch', resource: res.resource, name, body });
      fail();
      return {};
    },
    async patchStatus(res: { resource: string }, name: string, body: unknown) {
      calls.push({ verb: 'patchStatus', resource: res.resource, name, body });
      fail();
      return {};
    },
    async updateStatus(res: { resource: string }, o: ApiObject) {
      calls.push({ verb: 'updateStatus', resource: res.resource, name: o.metadata.name, body: o });
      fail();
      return o;
    },
    async delete() {
      return {};
    },
    async list(res: { resource: string }) {
      return { items: [], metadata: { resourceVersion: res.resource === 'pods' ? '1' : '1' } };
    },
    async watch(res: { resource: string }, opts: { signal?: AbortSignal }) {
      const events = res.resource === 'pods' ? podEvents.splice(0) : [];
      return {
        close() {},
        async *[Symbol.asyncIterator]() {
          for (const e of events) yield e;
          await new Promise<void>((resolve) => opts.signal?.addEventListener('abort', () => resolve(), { once: true }));
        },
      };
    },
  };
  return { client: client as unknown as RestClient, calls };
}

const gr = { group: '', resource: 'nodes' };

test('registration survives a conflict, a 429, a 503 and a reset connection, and keeps running', async () => {
  const failures = [
    alreadyExists(gr, 'virtual-node-0'), // already registered: fine, not a failure
    conflict(gr, 'virtual-node-0', 'the object has been modified; please apply your changes to the latest version and try again'),
    tooManyRequests('too many requests'),
    statusError('ServiceUnavailable', 'the server is shutting down'),
    Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET' }),
  ];
  const { client, calls } = stubClient(failures);
  const logs: string[] = [];
  const ac = new AbortController();
  const run = runVirtualNodes({ client, count: 1, log: (m) => logs.push(m) }, ac.signal);
  const deadline = Date.now() + 20_000;
  while (!logs.some((m) => m.includes('1 registered')) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  assert.ok(logs.some((m) => m.includes('1 registered')), logs.join('\n'));
  assert.equal(failures.length, 0);
  assert.ok(logs.filter((m) => m.includes('(retrying)')).length >= 4, logs.join('\n'));
  // The node status is a merge patch, never an update that a concurrent change could conflict with.
  assert.ok(!calls.some((c) => c.verb === 'updateStatus'));
  ac.abort();
  await run; // resolves: no rejection escaped
});

test('a bad count is the only thing that ends it', async () => {
  const { client } = stubClient([]);
  await assert.rejects(runVirtualNodes({ client, count: -1 }, new AbortController().signal), /count must be a non-negative integer/);
});

test('retry delays double from 200 ms to at most 7 s', () => {
  assert.equal(retryDelay(0), retryInitialMs);
  assert.equal(retryDelay(1), 2 * retryInitialMs);
  assert.equal(retryDelay(5), 32 * retryInitialMs);
  assert.equal(retryDelay(6), retryMaxMs);
  assert.equal(retryDelay(1000), retryMaxMs);
});

test('a started pod is Running and Ready without a qosClass written by the node', async () => {
  const pod: Pod = {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: 'p', namespace: 'default', uid: 'pu', resourceVersion: '2' },
    spec: { nodeName: 'virtual-node-0', containers: [{ name: 'c', image: 'i', resources: { requests: { cpu: '100m' } } }] },
    status: { phase: 'Pending', qosClass: 'Burstable' },
  };
  const { client, calls } = stubClient([], [{ type: 'ADDED', object: pod }]);
  const ac = new AbortController();
  const run = runVirtualNodes({ client, count: 1 }, ac.signal);
  const deadline = Date.now() + 10_000;
  const started = () => calls.find((c) => c.verb === 'patchStatus' && c.resource === 'pods');
  while (!started() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  const body = started()?.body as { status: Record<string, unknown> } | undefined;
  assert.equal(body?.status['phase'], 'Running');
  assert.equal('qosClass' in body!.status, false);
  ac.abort();
  await run;
});
