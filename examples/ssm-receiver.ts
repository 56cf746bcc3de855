/**
 * Receives a source-specific multicast stream given as a media URL and prints a line per second.
 *
 *   npx tsx examples/ssm-receiver.ts 'udp://10.0.0.1@232.1.1.1:5004?iface=eth0'
 */
import { UdpSocket, parseMediaUrl } from '../src/index.js';

const url = parseMediaUrl(process.argv[2] ?? 'udp://127.0.0.2@232.0.1.1:5004?iface=lo');
const rx = await UdpSocket.open({
  type: url.family === 6 ? 'udp6' : 'udp4',
  address: url.host || undefined,
  port: url.port,
  reuseAddr: true,
  recvBufferBytes: url.bufferBytes ?? 'max',
});
if (url.ssm)
  for (const source of url.sources) rx.addSourceSpecificMembership(source, url.host, url.iface);
else if (url.multicast) rx.addMembership(url.host, url.iface);
console.log(
  `listening on ${url.host || '*'}:${url.port}, receive buffer ${rx.recvBufferBytes} bytes`,
);

const timer = setInterval(() => {
  const s = rx.stats;
  console.log(`${s.packetsReceived} datagrams, ${s.bytesReceived} bytes`);
}, 1000);
process.once('SIGINT', () => {
  clearInterval(timer);
  void rx.close();
});
try {
  for await (const datagram of rx) void datagram;
} catch (err) {
  if (!(err instanceof Error && 'code' in err && err.code === 'MEDIASOCK_ERR_SOCKET_CLOSED'))
    throw err;
}
