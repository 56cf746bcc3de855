/**
 * DTLS interoperability with the OpenSSL command line (`openssl s_server -dtls1_2` and
 * `openssl s_client -dtls1_2`) on 127.0.0.1: our client against s_server and s_client against
 * our server, with certificates (mutual, verified against a throwaway CA) and with PSK
 * (`-nocert -psk`); a handshake and data both ways each. The child processes are killed after
 * each test and on timeout.
 */
import { spawn } from 'node:child_process';
import type { ChildProcessWithoutNullStreams } from 'node:child_process';
import { once } from 'node:events';
import { test } from 'node:test';
import assert from 'node:assert/strict';

import { RistTransport } from '../../src/rist/rist-transport.js';
import { UdpSocket } from '../../src/udp/udp-socket.js';
import { dtlsSkipReason, makePki } from './fixtures/dtls-pki.js';
import type { Pki } from './fixtures/dtls-pki.js';

const skip = dtlsSkipReason() ?? false;
const pki: Pki | undefined = skip ? undefined : makePki();
process.on('exit', () => pki?.remove());
const psk = { identity: 'rist', hex: '5a5b5c5d5e5f60616263646566676869' };

interface Child {
  proc: ChildProcessWithoutNullStreams;
  /** Resolves once stdout+stderr matched `pattern`; rejects after `timeoutMs` or on exit. */
  waitFor(pattern: RegExp, timeoutMs?: number): Promise<void>;
  output(): string;
}

/** Spawns `openssl args`, killed (SIGKILL) when the test ends. */
function openssl(t: { after(fn: () => Promise<void>): void }, args: string[]): Child {
  const proc = spawn('openssl', args, { stdio: ['pipe', 'pipe', 'pipe'] });
  let text = '';
  const watchers = new Set<() => void>();
  const onData = (chunk: Buffer): void => {
    text += chunk.toString('latin1');
    for (const w of [...watchers]) w();
  };
  proc.stdout.on('data', onData);
  proc.stderr.on('data', onData);
  const exited = once(proc, 'exit');
  t.after(async () => {
    if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGKILL');
    await exited;
  });
  return {
    proc,
    output: () => text,
    waitFor: (pattern, timeoutMs = 10_000) =>
      new Promise<void>((resolve, reject) => {
        const done = (err?: Error): void => {
          watchers.delete(check);
          clearTimeout(timer);
          proc.off('exit', onExit);
          if (err) reject(err);
          else resolve();
        };
        const check = (): void => {
          if (pattern.test(text)) done();
        };
        const onExit = (): void =>
          done(new Error(`openssl exited before ${String(pattern)}; output:\n${text}`));
        const timer = setTimeout(
          () => done(new Error(`no ${String(pattern)} within ${timeoutMs} ms; output:\n${text}`)),
          timeoutMs,
        );
        watchers.add(check);
        proc.once('exit', onExit);
        check();
      }),
  };
}

async function freePort(): Promise<number> {
  const s = await UdpSocket.open({ type: 'udp4', address: '127.0.0.1' });
  const port = s.address().port;
  await s.close();
  return port;
}

function must(p: Pki | undefined): Pki {
  assert.ok(p, 'PKI missing');
  return p;
}

/** Our client against `openssl s_server`; data both ways. */
async function clientAgainstServer(
  t: { after(fn: () => Promise<void>): void },
  serverArgs: string[],
  config: Parameters<RistTransport['enableDtlsClient']>[1],
): Promise<void> {
  const port = await freePort();
  const server = openssl(t, [
    's_server',
    '-dtls1_2',
    '-accept',
    `127.0.0.1:${port}`,
    '-mtu',
    '1400',
    '-naccept',
    '1',
    ...serverArgs,
  ]);
  await server.waitFor(/ACCEPT/);
  const tx = await RistTransport.listenEphemeralSingle({ address: '127.0.0.1' });
  t.after(() => tx.close());
  tx.enableDtlsClient({ address: '127.0.0.1', port }, { ...config, maxDatagramBytes: 1400 });
  const info = await tx.handshake({ timeoutMs: 10_000 });
  assert.equal(info.version, 'DTLSv1.2');
  await tx.writeMedia(Buffer.from('hello from mediasock\n'));
  await server.waitFor(/hello from mediasock/);
  server.proc.stdin.write('hello from openssl\n');
  const got = await tx.readMedia({ signal: AbortSignal.timeout(10_000) });
  assert.equal(got.data.toString(), 'hello from openssl\n');
  assert.equal(got.port, port);
}

/** `openssl s_client` against our server; data both ways. */
async function serverAgainstClient(
  t: { after(fn: () => Promise<void>): void },
  clientArgs: string[],
  config: Parameters<RistTransport['enableDtlsServer']>[0],
): Promise<void> {
  const rx = await RistTransport.listenSingle('127.0.0.1', await freePort());
  t.after(() => rx.close());
  rx.enableDtlsServer({ ...config, maxDatagramBytes: 1400 });
  const handshake = rx.handshake({ timeoutMs: 10_000 });
  const client = openssl(t, [
    's_client',
    '-dtls1_2',
    '-connect',
    `127.0.0.1:${rx.mediaPort}`,
    '-mtu',
    '1400',
    '-ign_eof',
    ...clientArgs,
  ]);
  const info = await handshake;
  assert.equal(info.peer.address, '127.0.0.1');
  await client.waitFor(/Cipher is|New, /);
  client.proc.stdin.write('hello from openssl\n');
  const got = await rx.readMedia({ signal: AbortSignal.timeout(10_000) });
  assert.equal(got.data.toString(), 'hello from openssl\n');
  await rx.writeMedia(Buffer.from('hello from mediasock\n'));
  await client.waitFor(/hello from mediasock/);
}

test('our client, openssl s_server: mutual certificates', { skip }, async (t) => {
  const p = must(pki);
  await clientAgainstServer(
    t,
    [
      '-cert',
      p.files.serverCert,
      '-key',
      p.files.serverKey,
      '-CAfile',
      p.files.caCert,
      '-Verify',
      '2',
      '-verify_return_error',
    ],
    { ca: p.caCert, cert: p.clientCert, key: p.clientKey, hostname: 'localhost' },
  );
});

test('our client, openssl s_server -listen (cookies): PSK', { skip }, async (t) => {
  await clientAgainstServer(
    t,
    ['-nocert', '-listen', '-psk', psk.hex, '-psk_identity', psk.identity],
    { psk: { identity: psk.identity, key: psk.hex } },
  );
});

test('openssl s_client, our server: certificates verified by the client', { skip }, async (t) => {
  const p = must(pki);
  await serverAgainstClient(
    t,
    [
      '-CAfile',
      p.files.caCert,
      '-verify_return_error',
      '-verify_hostname',
      'localhost',
      '-servername',
      'localhost',
    ],
    { cert: p.serverCert, key: p.serverKey },
  );
});

test('openssl s_client, our server: client certificate required', { skip }, async (t) => {
  const p = must(pki);
  await serverAgainstClient(
    t,
    [
      '-CAfile',
      p.files.caCert,
      '-verify_return_error',
      '-cert',
      p.files.clientCert,
      '-key',
      p.files.clientKey,
    ],
    { cert: p.serverCert, key: p.serverKey, ca: p.caCert, verifyPeer: true },
  );
});

test('openssl s_client, our server: PSK', { skip }, async (t) => {
  await serverAgainstClient(t, ['-psk', psk.hex, '-psk_identity', psk.identity], {
    psk: { identity: psk.identity, key: psk.hex },
  });
});
