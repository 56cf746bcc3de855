/**
 * Sends 7 × 188-byte MPEG-TS null packets to a multicast group on one interface, 1000 per second,
 * for five seconds. Defaults keep the stream on the loopback interface with TTL 0.
 *
 *   npx tsx examples/multicast-sender.ts 239.1.1.1 5004 eth0 16
 */
import { UdpSocket } from '../src/index.js';

const [group = '239.255.1.1', port = '5004', iface = 'lo', ttl = '0'] = process.argv.slice(2);
const tx = await UdpSocket.open({
  type: 'udp4',
  multicastInterface: iface,
  multicastTtl: Number(ttl),
});
const packet = Buffer.alloc(7 * 188);
for (let i = 0; i < 7; i++) packet.set([0x47, 0x1f, 0xff, 0x10], i * 188);
for (let n = 0; n < 5000; n++) {
  await tx.send(packet, Number(port), group);
  if (n % 10 === 9) await new Promise((resolve) => setTimeout(resolve, 10));
}
console.log(`sent ${tx.stats.packetsSent} datagrams to ${group}:${port} via ${iface}`);
await tx.close();
