/**
 * Network helpers shared by the agent's end-to-end tests: a fake upstream DNS resolver (so no
 * query ever leaves the machine) and the check that the service proxy left no chain behind.
 */
import { after } from 'node:test';
import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import dnsPacket from 'dns-packet';
import { readTable } from '../../src/network/iptables.ts';
import { run } from '../../src/network/exec.ts';
import { NFT_TABLE } from '../../src/proxy/nft.ts';

export interface FakeResolver {
  /** `name type` of every question asked, lower-cased names. */
  asked: string[];
  close(): void;
}

/** A UDP resolver on `address`:53 answering `a.example.test` A 192.0.2.1 and NXDOMAIN for anything else. */
export async function startFakeResolver(address: string): Promise<FakeResolver> {
  const asked: string[] = [];
  const sock = dgram.createSocket('udp4');
  sock.on('message', (msg, rinfo) => {
    const q = dnsPacket.decode(msg);
    const question = q.questions![0]!;
    asked.push(`${question.name.toLowerCase()} ${question.type}`);
    const known = question.name.toLowerCase() === 'a.example.test';
    sock.send(
      dnsPacket.encode({
        type: 'response',
        id: q.id,
        flags: dnsPacket.RECURSION_AVAILABLE | (known ? 0 : 3),
        questions: q.questions,
        answers: known && question.type === 'A' ? [{ name: question.name, type: 'A', class: 'IN', ttl: 60, data: '192.0.2.1' }] : [],
      }),
      rinfo.port,
      rinfo.address,
    );
  });
  await new Promise<void>((resolve) => sock.bind(53, address, () => resolve()));
  return { asked, close: () => sock.close() };
}

/**
 * Registers an after hook asserting that no `KUBE-*` chain is left in nat or filter, and no
 * `ip kube-proxy` table (the nftables mode). Declare it
 * after `useServer` so it runs after the server's clean-up (after hooks run in declaration order).
 */
export function expectNoProxyChainsAfterwards(): void {
  after(async () => {
    for (const table of ['nat', 'filter']) {
      const left = [...(await readTable(table)).keys()].filter((c) => c.startsWith('KUBE-'));
      assert.deepEqual(left, [], `${table} chains left after clean-up`);
    }
    const nft = await run('nft', ['list', 'table', 'ip', NFT_TABLE]);
    assert.notEqual(nft.code, 0, `the nftables proxy table is left after clean-up:\n${nft.stdout.slice(0, 500)}`);
  });
}
