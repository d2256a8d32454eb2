/**
 * Node IPAM: the block arithmetic as tables, then the controller against the in-process API
 * server on a temporary SQLite store, with a cluster range of four /24 blocks so that
 * exhaustion, release and the rebuild after a restart are all reached.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Event, Node } from '../api/index.ts';
import type { Clientset, RestClient } from '../client/index.ts';
import { runControllerManager } from './manager.ts';
import { CidrSet, podCidrsOf } from './nodeipam.ts';
import { startTestApi, type TestApi } from './testing.ts';

describe('CidrSet', () => {
  test('hands out the blocks in order, then none', () => {
    const s = new CidrSet('10.42.0.0/22', 24);
    assert.deepEqual([s.allocateNext(), s.allocateNext(), s.allocateNext(), s.allocateNext(), s.allocateNext()], ['10.42.0.0/24', '10.42.1.0/24', '10.42.2.0/24', '10.42.3.0/24', undefined]);
    assert.equal(s.allocated, 4);
  });
  test('skips occupied blocks and does not reuse a released block at once', () => {
    const s = new CidrSet('10.42.0.0/16', 24);
    assert.equal(s.occupy('10.42.0.0/24'), true);
    assert.equal(s.allocateNext(), '10.42.1.0/24');
    assert.equal(s.release('10.42.1.0/24'), true);
    assert.equal(s.allocateNext(), '10.42.2.0/24');
  });
  test('wraps around to released blocks when the end is reached', () => {
    const s = new CidrSet('10.42.0.0/23', 24);
    s.allocateNext();
    s.allocateNext();
    s.release('10.42.0.0/24');
    assert.equal(s.allocateNext(), '10.42.0.0/24');
  });
  test('occupy and release are idempotent', () => {
    const s = new CidrSet('10.42.0.0/16', 24);
    s.occupy('10.42.7.0/24');
    s.occupy('10.42.7.0/24');
    assert.equal(s.allocated, 1);
    s.release('10.42.7.0/24');
    s.release('10.42.7.0/24');
    assert.equal(s.allocated, 0);
  });
  const foreign: [string, string][] = [
    ['a block outside the range', '10.244.0.0/24'],
    ['a block of another size', '10.42.0.0/25'],
    ['an address with host bits', '10.42.3.7/24'],
    ['not a CIDR', 'fe80::/64'],
  ];
  for (const [name, cidr] of foreign) test(`${name} is not marked`, () => {
    const s = new CidrSet('10.42.0.0/16', 24);
    assert.equal(s.occupy(cidr), false);
    assert.equal(s.release(cidr), false);
    assert.equal(s.allocated, 0);
  });
  test('a /8 in /24 blocks has 65536 of them', () => {
    const s = new CidrSet('10.0.0.0/8', 24);
    assert.equal(s.size, 65536);
    assert.equal(s.allocateNext(), '10.0.0.0/24');
  });
  const bad: [string, string, number][] = [
    ['a mask shorter than the range', '10.42.0.0/16', 15],
    ['a mask leaving no pods', '10.42.0.0/16', 31],
    ['more than 65536 blocks', '10.0.0.0/8', 25],
    ['a bad range', '10.42.0.0', 24],
  ];
  for (const [name, cidr, mask] of bad) test(`refuses ${name}`, () => assert.throws(() => new CidrSet(cidr, mask), /ERR_INVALID_CONFIG|must be|more than|not an IPv4/));
});

describe('node IPAM controller', () => {
  let testApi: TestApi | undefined;
  let client: RestClient;
  let cs: Clientset;
  let stopManager: () => Promise<void> = async () => {};

  const startManager = () => {
    const ac = new AbortController();
    const done = runControllerManager({ client, identity: 'nodeipam-test', enabled: ['nodeipam'], config: { clusterCidr: '10.99.0.0/22', nodeCidrMaskSize: 24 } }, ac.signal);
    stopManager = async () => {
      ac.abort();
      await done;
    };
  };
  const until = async <T>(what: string, fn: () => Promise<T | undefined>): Promise<T> => {
    const deadline = Date.now() + 20_000;
    for (;;) {
      const v = await fn();
      if (v !== undefined) return v;
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  };
  const cidrOf = (name: string) => until(`a pod CIDR on ${name}`, async () => {
    const n = await cs.nodes.get(name);
    return n.spec?.podCIDR ? n : undefined;
  });
  const node = (name: string, podCIDR?: string): Node => ({ apiVersion: 'v1', kind: 'Node', metadata: { name }, spec: podCIDR ? { podCIDR, podCIDRs: [podCIDR] } : {} });

  before(async () => {
    testApi = await startTestApi('nodeipam-test');
    ({ client, cs } = testApi);
  });
  after(async () => {
    await stopManager();
    await testApi?.close();
  });

  test('a node created with a pod CIDR keeps it, and its block is not handed out again', async () => {
    await cs.nodes.create(node('pre', '10.99.1.0/24'));
    await cs.nodes.create(node('foreign', '10.244.0.0/24')); // outside the range: ignored
    startManager();
    await cs.nodes.create(node('a'));
    await cs.nodes.create(node('b'));
    const a = await cidrOf('a');
    const b = await cidrOf('b');
    assert.deepEqual(podCidrsOf(a), ['10.99.0.0/24']);
    assert.deepEqual(podCidrsOf(b), ['10.99.2.0/24']);
    assert.deepEqual(a.spec?.podCIDRs, [a.spec?.podCIDR]);
    assert.equal((await cs.nodes.get('pre')).spec?.podCIDR, '10.99.1.0/24');
    assert.equal((await cs.nodes.get('foreign')).spec?.podCIDR, '10.244.0.0/24');
  });

  test('the last block goes, then the next node gets the event CIDRNotAvailable', async () => {
    await cs.nodes.create(node('c'));
    assert.equal((await cidrOf('c')).spec?.podCIDR, '10.99.3.0/24');
    await cs.nodes.create(node('d'));
    const ev = await until('a CIDRNotAvailable event', async () => {
      const list = await cs.events.list({ namespace: 'default' });
      return list.items.find((e: Event) => e.reason === 'CIDRNotAvailable' && e.involvedObject?.name === 'd');
    });
    assert.equal(ev.type, 'Normal');
    assert.equal(ev.message, 'Node d status is now: CIDRNotAvailable');
    assert.equal((await cs.nodes.get('d')).spec?.podCIDR, undefined);
  });

  test('deleting a node releases its block to a node waiting for one', async () => {
    await cs.nodes.delete('b');
    assert.equal((await cidrOf('d')).spec?.podCIDR, '10.99.2.0/24');
  });

  test('after a restart the state is rebuilt from the nodes, including deletions missed while down', async () => {
    await stopManager();
    await cs.nodes.delete('a'); // frees 10.99.0.0/24 while no controller watches
    startManager();
    await cs.nodes.create(node('e'));
    assert.equal((await cidrOf('e')).spec?.podCIDR, '10.99.0.0/24');
    const all = (await cs.nodes.list()).items.flatMap(podCidrsOf).filter((c) => c.startsWith('10.99.'));
    assert.equal(new Set(all).size, all.length, `no block twice: ${all.join(', ')}`);
  });
});
