/**
 * msock_kernel_drops(fd): the kernel drop counter of one socket, read with
 * getsockopt(SO_MEMINFO). It matches the `drops` column of /proc/net/udp for the same socket
 * (the two read the same counter), refuses what is not a socket with the errno shape, and refuses
 * a bad fd argument with InvalidArgumentError.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { openSync, closeSync } from 'node:fs';
import { InvalidArgumentError, SystemCallError } from '../../src/errors.js';
import { nativeStatus, requireNative } from '../../src/native/index.js';
import { UdpSocket } from '../../src/udp/udp-socket.js';
import { KernelDrops } from '../../src/udp/kernel-drops.js';

const status = nativeStatus();
const skip = !status.loaded
  ? `native addon not loaded: ${status.loadError?.message ?? 'unknown reason'}`
  : process.platform !== 'linux'
    ? `SO_MEMINFO and /proc/net/udp are Linux (this is ${process.platform})`
    : false;

test('SO_MEMINFO drops equal /proc/net/udp drops for the same socket', { skip }, async () => {
  const binding = requireNative('test');
  const rx = await UdpSocket.open({
    type: 'udp4',
    address: '127.0.0.1',
    engine: 'batch',
    recvBufferBytes: 4096,
  });
  const tx = await UdpSocket.open({ type: 'udp4', address: '127.0.0.1', engine: 'batch' });
  try {
    const fd = rx.fd!;
    assert.equal(binding.msock_kernel_drops(fd), 0);
    const r = await tx.sendBatch(
      { buffer: new Uint8Array(100 * 200), segmentSize: 100 },
      rx.address().port,
      '127.0.0.1',
    );
    assert.equal(r.sent, 200);
    const viaMeminfo = binding.msock_kernel_drops(fd);
    const viaProc = new KernelDrops(rx.address().port, fd).read();
    assert.ok(viaMeminfo > 0, 'the kernel dropped some');
    assert.equal(viaMeminfo, viaProc);
  } finally {
    await tx.close();
    await rx.close();
  }
});

test('msock_kernel_drops refuses a file and a bad fd', { skip }, () => {
  const binding = requireNative('test');
  const fd = openSync('/dev/null', 'r');
  try {
    assert.throws(
      () => binding.msock_kernel_drops(fd),
      (err: unknown) => err instanceof SystemCallError && err.code === 'ENOTSOCK',
    );
  } finally {
    closeSync(fd);
  }
  for (const bad of [-1, 1.5, '3', undefined]) {
    assert.throws(
      () => (binding.msock_kernel_drops as (fd: unknown) => number)(bad),
      InvalidArgumentError,
    );
  }
});
