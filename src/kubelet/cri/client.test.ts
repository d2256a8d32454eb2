/**
 * The CRI client without a runtime: decoded messages have the shapes types.ts declares, the
 * client talks to a gRPC server built on @grpc/proto-loader (the devDependency oracle), errors
 * classify, and connect gives up on an absent socket. No root needed.
 */

import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { readFileSync } from 'node:fs';
import * as grpc from '@grpc/grpc-js';
import { loadSync } from '@grpc/proto-loader';
import { fileURLToPath } from 'node:url';
import { CriClient, CriError, isNotFound } from './client.ts';
import { serviceDefinition } from './codec.ts';
import { parseProto } from './schema.ts';
import type { ContainerStatusResponse, ExecSyncResponse, ListContainerStatsResponse } from './types.ts';

const protoFile = fileURLToPath(new URL('./api.proto', import.meta.url));
const runtimeService = serviceDefinition(parseProto(readFileSync(protoFile, 'utf8')), 'runtime.v1.RuntimeService');
const rpc = (name: string) => runtimeService[name]!;
const roundTrip = <T>(name: string, value: Record<string, unknown>): T => rpc(name).responseDeserialize(rpc(name).responseSerialize(value)) as T;

test('decoded messages have the declared shapes', () => {
  const status = roundTrip<ContainerStatusResponse>('ContainerStatus', {
    status: { id: 'c1', state: 'CONTAINER_EXITED', exit_code: 137, finished_at: '1700000000000000000', labels: { a: 'b' } },
  });
  const s = status.status!;
  assert.equal(s.state, 'CONTAINER_EXITED');
  assert.equal(s.finished_at, '1700000000000000000', 'int64 as a decimal string');
  assert.equal(s.created_at, '0', 'absent int64 defaults to "0"');
  assert.equal(s.exit_code, 137);
  assert.equal(s.image, null, 'absent messages are null');
  assert.deepEqual(s.mounts, [], 'absent repeated fields are []');
  assert.deepEqual(s.labels, { a: 'b' });
  assert.deepEqual(s.annotations, {}, 'absent maps are {}');
  assert.equal(s.stop_signal, 'SIGNAL_RUNTIME_DEFAULT', 'enums by name');
  assert.deepEqual(status.info, {});

  const exec = roundTrip<ExecSyncResponse>('ExecSync', { stdout: Buffer.from('hi\n') });
  assert.ok(Buffer.isBuffer(exec.stdout));
  assert.equal(exec.stdout.toString(), 'hi\n');
  assert.ok(Buffer.isBuffer(exec.stderr));

  const stats = roundTrip<ListContainerStatsResponse>('ListContainerStats', {
    stats: [{ memory: { working_set_bytes: { value: '18446744073709551615' } } }],
  });
  assert.deepEqual(stats.stats[0]!.memory!.working_set_bytes, { value: '18446744073709551615' }, 'uint64 keeps full precision');
  assert.equal(stats.stats[0]!.cpu, null);
});

test('the client talks to a proto-loader gRPC server over a unix socket', async () => {
  const oracle = loadSync(protoFile, { keepCase: true, longs: String, enums: String, defaults: true, oneofs: true });
  const dir = await mkdtemp(path.join(tmpdir(), 'bosun-cri-client-'));
  const sock = path.join(dir, 'cri.sock');
  const server = new grpc.Server();
  const received: Record<string, unknown> = {};
  type Handler = (call: grpc.ServerUnaryCall<Record<string, unknown>, object>, cb: grpc.sendUnaryData<object>) => void;
  const answer = (name: string, reply: object | grpc.ServiceError): Handler => (call, cb) => {
    received[name] = call.request;
    if (reply instanceof Error) cb(reply);
    else cb(null, reply);
  };
  server.addService(oracle['runtime.v1.RuntimeService'] as grpc.ServiceDefinition, {
    Version: answer('Version', { version: '0.1.0', runtime_name: 'fake', runtime_version: 'v9', runtime_api_version: 'v1' }),
    ContainerStatus: answer('ContainerStatus', {
      status: { id: 'c1', state: 'CONTAINER_RUNNING', started_at: '-1', labels: { app: 'web' }, resources: { linux: { cpu_quota: '-1', memory_limit_in_bytes: '9223372036854775807' } } },
    }),
    ExecSync: answer('ExecSync', { stdout: Buffer.from([0, 255, 10]), exit_code: -2 }),
    StopContainer: answer('StopContainer', Object.assign(new Error('no such container'), { code: grpc.status.NOT_FOUND, details: 'container "x": not found', metadata: new grpc.Metadata() })),
  });
  await new Promise<void>((resolve, reject) => server.bindAsync(`unix://${sock}`, grpc.ServerCredentials.createInsecure(), (err) => (err ? reject(err) : resolve())));
  let client: CriClient | undefined;
  try {
    client = await CriClient.connect(sock, { timeoutMs: 10_000 });
    assert.deepEqual(received.Version, { version: 'v1' });
    const st = await client.containerStatus({ container_id: 'c1', verbose: true });
    assert.deepEqual(received.ContainerStatus, { container_id: 'c1', verbose: true });
    assert.equal(st.status!.state, 'CONTAINER_RUNNING');
    assert.equal(st.status!.started_at, '-1');
    assert.deepEqual(st.status!.labels, { app: 'web' });
    assert.equal(st.status!.resources!.linux!.memory_limit_in_bytes, '9223372036854775807');
    assert.equal(st.status!.image, null);
    const ex = await client.execSync({ container_id: 'c1', cmd: ['sh', '-c', 'x'], timeout: '5' });
    assert.deepEqual(received.ExecSync, { cmd: ['sh', '-c', 'x'], container_id: 'c1', timeout: '5' });
    assert.deepEqual(ex.stdout, Buffer.from([0, 255, 10]));
    assert.equal(ex.exit_code, -2);
    await assert.rejects(client.stopContainer({ container_id: 'x', timeout: '0' }), (err) => isNotFound(err) && (err as CriError).method === 'StopContainer');
    await assert.rejects(client.listImages(), (err) => err instanceof CriError && err.code === grpc.status.UNIMPLEMENTED);
  } finally {
    client?.close();
    server.forceShutdown();
    await rm(dir, { recursive: true, force: true });
  }
});

test('isNotFound recognises NOT_FOUND and containerd wording only', () => {
  const cases = [
    { name: 'gRPC NOT_FOUND', err: new CriError('ContainerStatus', 5, 'an error occurred when try to find container "x": not found'), want: true },
    { name: 'UNKNOWN saying not found', err: new CriError('StopPodSandbox', 2, 'failed to stop: sandbox "x": not found'), want: true },
    { name: 'UNKNOWN about something else', err: new CriError('RunPodSandbox', 2, 'failed to reserve sandbox name'), want: false },
    { name: 'DEADLINE_EXCEEDED', err: new CriError('Version', 4, 'Deadline exceeded'), want: false },
    { name: 'a plain Error', err: new Error('not found'), want: false },
  ];
  for (const c of cases) assert.equal(isNotFound(c.err), c.want, c.name);
  const e = new CriError('ContainerStatus', 5, 'gone');
  assert.equal(e.message, 'ContainerStatus: NOT_FOUND: gone');
  assert.equal(e.name, 'CriError');
});

test('connect gives up after its timeout when no runtime listens', async () => {
  const dir = await mkdtemp(path.join(tmpdir(), 'bosun-cri-client-'));
  try {
    const t = Date.now();
    await assert.rejects(CriClient.connect(path.join(dir, 'absent.sock'), { timeoutMs: 300 }), (err) => err instanceof CriError);
    assert.ok(Date.now() - t < 5_000);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('an aborted signal cancels a call before it starts', async () => {
  const client = new CriClient('/nonexistent/bosun.sock');
  try {
    await assert.rejects(client.version(undefined, { signal: AbortSignal.abort() }), (err) => err instanceof CriError && err.code === 1);
  } finally {
    client.close();
  }
});
