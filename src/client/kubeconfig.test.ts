import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { stringify } from 'yaml';
import { kubeconfigYaml } from '../pki/kubeconfig.ts';
import { isCode } from '../util/errors.ts';
import { loadKubeconfig, parseKubeconfig } from './kubeconfig.ts';

const b64 = (s: string) => Buffer.from(s).toString('base64');

function twoContexts(): string {
  return stringify({
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [
      { name: 'one', cluster: { server: 'https://10.0.0.1:6443', 'certificate-authority-data': b64('CA1') } },
      { name: 'two', cluster: { server: 'https://two.example:6443', 'certificate-authority': 'certs/ca.crt', 'tls-server-name': 'kubernetes' } },
    ],
    users: [
      { name: 'admin', user: { 'client-certificate-data': b64('CERT'), 'client-key-data': b64('KEY') } },
      { name: 'files', user: { 'client-certificate': 'certs/me.crt', 'client-key': '/abs/me.key' } },
      { name: 'tok', user: { token: 'abc' } },
      { name: 'half', user: { 'client-certificate-data': b64('CERT') } },
    ],
    contexts: [
      { name: 'a', context: { cluster: 'one', user: 'admin' } },
      { name: 'b', context: { cluster: 'two', user: 'files' } },
      { name: 'c', context: { cluster: 'one', user: 'tok' } },
      { name: 'd', context: { cluster: 'one', user: 'half' } },
      { name: 'e', context: { cluster: 'nope', user: 'admin' } },
    ],
    'current-context': 'a',
  });
}

const cases: { name: string; context?: string; want?: unknown; error?: RegExp }[] = [
  {
    name: 'the current context with inline data is decoded',
    want: { server: 'https://10.0.0.1:6443', ca: { data: 'CA1' }, cert: { data: 'CERT' }, key: { data: 'KEY' } },
  },
  {
    name: 'file references are resolved against the kubeconfig directory',
    context: 'b',
    want: {
      server: 'https://two.example:6443',
      ca: { file: '/etc/kube/certs/ca.crt' },
      cert: { file: '/etc/kube/certs/me.crt' },
      key: { file: '/abs/me.key' },
      tlsServerName: 'kubernetes',
    },
  },
  { name: 'a bearer token is taken', context: 'c', want: { server: 'https://10.0.0.1:6443', ca: { data: 'CA1' }, token: { data: 'abc' } } },
  { name: 'a certificate without a key is refused', context: 'd', error: /without a key/ },
  { name: 'a context naming a missing cluster is refused', context: 'e', error: /cluster "nope" not found/ },
  { name: 'an unknown context is refused', context: 'zz', error: /context "zz" not found/ },
];

for (const c of cases) {
  test(`parseKubeconfig: ${c.name}`, () => {
    const run = () => parseKubeconfig(twoContexts(), { context: c.context, dir: '/etc/kube' });
    if (c.error) {
      assert.throws(run, (err: unknown) => isCode(err, 'ERR_INVALID_CONFIG') && c.error!.test((err as Error).message));
    } else {
      assert.deepEqual(run(), c.want);
    }
  });
}

test('loadKubeconfig reads the server-written kubeconfig and referenced files', async () => {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'bosun-kc-'));
  try {
    const inline = path.join(dir, 'inline.yaml');
    await fs.writeFile(inline, kubeconfigYaml({ server: 'https://127.0.0.1:6443', caPem: 'CA-PEM', certPem: 'CERT-PEM', keyPem: 'KEY-PEM' }));
    assert.deepEqual(await loadKubeconfig(inline), { server: 'https://127.0.0.1:6443', ca: 'CA-PEM', cert: 'CERT-PEM', key: 'KEY-PEM' });

    await fs.mkdir(path.join(dir, 'pki'));
    await fs.writeFile(path.join(dir, 'pki/ca.crt'), 'FILE-CA');
    await fs.writeFile(path.join(dir, 'pki/c.crt'), 'FILE-CERT');
    await fs.writeFile(path.join(dir, 'pki/c.key'), 'FILE-KEY');
    const files = path.join(dir, 'files.yaml');
    await fs.writeFile(
      files,
      stringify({
        clusters: [{ name: 'x', cluster: { server: 'https://127.0.0.1:1', 'certificate-authority': 'pki/ca.crt' } }],
        users: [{ name: 'x', user: { 'client-certificate': 'pki/c.crt', 'client-key': 'pki/c.key' } }],
        contexts: [{ name: 'x', context: { cluster: 'x', user: 'x' } }],
        'current-context': 'x',
      }),
    );
    assert.deepEqual(await loadKubeconfig(files), { server: 'https://127.0.0.1:1', ca: 'FILE-CA', cert: 'FILE-CERT', key: 'FILE-KEY' });

    await fs.rm(path.join(dir, 'pki/c.key'));
    await assert.rejects(loadKubeconfig(files), (err: unknown) => isCode(err, 'ERR_INVALID_CONFIG') && /client-key/.test((err as Error).message));
  } finally {
    await fs.rm(dir, { recursive: true, force: true });
  }
});
