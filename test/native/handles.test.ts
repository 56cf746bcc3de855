/**
 * Native handles are type-tagged (napi_type_tag_object): a batch engine handle, a DTLS context,
 * a DTLS connection and a pacer (sender thread) passed to another kind's functions (or any other value passed as a
 * handle) throw InvalidArgumentError and never reach C code that would read the wrong struct.
 * Before the tags, msock_batch_close(<a DTLS context>) was a SIGSEGV, so every cross call runs in a
 * child process: a crash shows up as a failed test, not as a dead test runner.
 *
 * Also: msock_dtls_live() stays at its baseline across rejected DTLS configurations (it once went
 * to -1: the count was decremented on a failure path before it had been incremented).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { InvalidArgumentError } from '../../src/errors.js';
import { nativeStatus, requireNative } from '../../src/native/index.js';

const status = nativeStatus();
const skipNoNative = status.loaded
  ? false
  : `native addon not loaded: ${status.loadError?.message ?? 'unknown reason'}`;
const skipNoBatch =
  skipNoNative !== false
    ? skipNoNative
    : process.platform !== 'linux'
      ? `the batch engine needs Linux (this is ${process.platform})`
      : false;

/**
 * Runs in a child: makes one handle of each kind, calls every handle-taking export with each
 * handle of another kind and with non-handles, and prints one JSON line per call.
 */
const crossCalls = `
  const { requireNative } = await import('./src/native/index.ts');
  const b = requireNative('test');
  const sock = b.msock_udp_socket({ family: 4, address: '127.0.0.1', port: 0 });
  const opened = b.msock_batch_open(sock.fd, new Int32Array(16), () => {}, {
    slots: 4, slotBytes: 2048, gro: false, maxBatchesPerWake: 1,
  });
  const context = b.msock_dtls_context({ role: 'client' });
  const connection = b.msock_dtls_connection(context, { mtu: 1200 });
  const sock2 = b.msock_udp_socket({ family: 4, address: '127.0.0.1', port: 0 });
  const pacer = b.msock_pacer_open(sock2.fd, {
    address: '127.0.0.1', port: 9, slots: 4, slotBytes: 64, lateUs: 1000,
  });
  const handles = { batch: opened.handle, context, connection, pacer };
  const row = new Int32Array(12);
  const payload = new Uint8Array(1);
  const calls = {
    batch: [
      ['msock_batch_close', (h) => b.msock_batch_close(h)],
      ['msock_batch_ref', (h) => b.msock_batch_ref(h, true)],
      ['msock_batch_read', (h) => b.msock_batch_read(h, true)],
      ['msock_batch_poll_writable', (h) => b.msock_batch_poll_writable(h)],
      ['msock_batch_connect', (h) => b.msock_batch_connect(h, row)],
      ['msock_batch_send', (h) => b.msock_batch_send(h, payload, row, 0, 0, 0)],
    ],
    context: [
      ['msock_dtls_connection', (h) => b.msock_dtls_connection(h, { mtu: 1200 })],
      ['msock_dtls_context_free', (h) => b.msock_dtls_context_free(h)],
    ],
    connection: [
      ['msock_dtls_listen', (h) => b.msock_dtls_listen(h, payload, 'peer')],
      ['msock_dtls_handshake', (h) => b.msock_dtls_handshake(h)],
      ['msock_dtls_read', (h) => b.msock_dtls_read(h, payload)],
      ['msock_dtls_write', (h) => b.msock_dtls_write(h, payload)],
      ['msock_dtls_take_output', (h) => b.msock_dtls_take_output(h)],
      ['msock_dtls_timeout', (h) => b.msock_dtls_timeout(h)],
      ['msock_dtls_handle_timeout', (h) => b.msock_dtls_handle_timeout(h)],
      ['msock_dtls_shutdown', (h) => b.msock_dtls_shutdown(h)],
      ['msock_dtls_info', (h) => b.msock_dtls_info(h)],
      ['msock_dtls_free', (h) => b.msock_dtls_free(h)],
    ],
    pacer: [
      ['msock_pacer_now', (h) => b.msock_pacer_now(h)],
      ['msock_pacer_push', (h) => b.msock_pacer_push(h, payload, 0)],
      ['msock_pacer_stats', (h) => b.msock_pacer_stats(h, new Float64Array(12))],
      ['msock_pacer_close', (h) => b.msock_pacer_close(h)],
    ],
  };
  const others = { number: 3, object: {}, undefined: undefined, buffer: new Uint8Array(8) };
  for (const [kind, fns] of Object.entries(calls)) {
    const wrong = [
      ...Object.entries(handles).filter(([k]) => k !== kind),
      ...Object.entries(others),
    ];
    for (const [name, fn] of fns) {
      for (const [what, value] of wrong) {
        let outcome = 'returned';
        try { fn(value); } catch (e) {
          outcome = e.constructor.name + ':' + e.code + ':' + e.argument + ':' + e.message;
        }
        console.log(JSON.stringify({ name, what, outcome }));
      }
    }
  }
  b.msock_batch_close(opened.handle);
  b.msock_dtls_free(connection);
  b.msock_dtls_context_free(context);
  b.msock_pacer_close(pacer);
  b.msock_close(sock2.fd);
  console.log(JSON.stringify({ done: true, pacersLive: b.msock_pacer_live() }));
`;

test('a handle of one kind passed to another kind throws InvalidArgumentError, never crashes', {
  skip: skipNoBatch,
  timeout: 60_000,
}, () => {
  const child = spawnSync(
    process.execPath,
    ['--import', 'tsx', '--input-type=module', '-e', crossCalls],
    { encoding: 'utf8', timeout: 30_000 },
  );
  assert.equal(child.signal, null, `the child died of ${child.signal}: ${child.stderr}`);
  assert.equal(child.status, 0, child.stderr);
  const lines = child.stdout
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as { name?: string; what?: string; outcome?: string; done?: boolean });
  assert.deepEqual(lines.at(-1), { done: true, pacersLive: 0 });
  const results = lines.slice(0, -1);
  // 6 batch calls, 2 context calls, 10 connection calls and 4 pacer calls, x 7 wrong values each.
  assert.equal(results.length, (6 + 2 + 10 + 4) * 7);
  for (const r of results) {
    assert.match(
      r.outcome!,
      /^InvalidArgumentError:MEDIASOCK_ERR_INVALID_ARG[A-Z_]*:(handle|context|connection):/,
      `${r.name}(${r.what})`,
    );
  }
  const batchClose = results.find((r) => r.name === 'msock_batch_close' && r.what === 'context');
  assert.match(batchClose!.outcome!, /must be a batch engine handle/);
});

test('a rejected DTLS configuration leaves msock_dtls_live() at its baseline', {
  skip: skipNoNative,
}, () => {
  const b = requireNative('test');
  const before = b.msock_dtls_live();
  const rejected: Array<Record<string, unknown>> = [
    {},
    { role: 'nobody' },
    { role: 'client', cert: 'x' },
    { role: 'client', psk: new Uint8Array(4) },
    { role: 'client', fingerprint: new Uint8Array(3) },
    { role: 'client', retransmitInitialMs: 0 },
    { role: 'server', ciphers: 'NO-SUCH-CIPHER' },
    { role: 'server', cert: 'not a PEM', key: 'not a PEM either' },
  ];
  for (const options of rejected) {
    assert.throws(() => b.msock_dtls_context(options as never), Error, JSON.stringify(options));
    assert.deepEqual(b.msock_dtls_live(), before, `after ${JSON.stringify(Object.keys(options))}`);
  }
  assert.throws(() => b.msock_dtls_context({ role: 'server', cert: 'x' } as never), (err: unknown) => {
    assert.ok(err instanceof InvalidArgumentError, String(err));
    assert.equal(err.argument, 'key');
    return true;
  });
  const context = b.msock_dtls_context({ role: 'client' });
  assert.equal(b.msock_dtls_live().contexts, before.contexts + 1);
  b.msock_dtls_context_free(context);
  assert.deepEqual(b.msock_dtls_live(), before);
});
