/**
 * Receives an RTP/MPEG-TS stream from a media URL and prints RTP and MPEG-TS statistics every
 * second, for ten seconds, computed on whole batches (no allocation per datagram).
 *
 *   npx tsx examples/media-monitor.ts 'rtp://@239.255.1.1:5004?iface=lo'
 */
import { RtpStats, TsChecker, isRtpAt, openMediaReceiver } from '../src/index.js';
import type { DatagramBatchView } from '../src/index.js';

const [url = 'rtp://@239.255.1.1:5004?iface=lo'] = process.argv.slice(2);
const { socket, description } = await openMediaReceiver(url);
const rtp = new RtpStats(90000);
const ts = new TsChecker();
socket.on('batch', (batch: DatagramBatchView) => {
  rtp.addBatch(batch);
  for (let i = 0; i < batch.count; i++) {
    const offset = batch.offset(i);
    const length = batch.length(i);
    // The MPEG-TS packets follow a 12-byte RTP header (no CSRCs, no extension, as senders of
    // MP2T over RTP write it); anything else is checked as raw MPEG-TS in UDP.
    const header =
      isRtpAt(batch.data, offset, length) && (batch.data[offset] ?? 0) === 0x80 ? 12 : 0;
    ts.addPackets(batch.data, offset + header, length - header);
  }
});
const timer = setInterval(() => {
  const r = rtp.snapshot();
  const t = ts.snapshot();
  console.log(
    `${description}: ssrc ${r.ssrc ?? '-'} lost ${r.lost} dup ${r.duplicates} reordered ${r.reordered} ` +
      `jitter ${r.jitterMs.toFixed(3)} ms | TS ${t.packets} packets, ${t.ccErrors} CC errors, PCR PIDs ${t.pcrPids.join(',')}`,
  );
}, 1000);
await new Promise((resolve) => setTimeout(resolve, 10_000));
clearInterval(timer);
await socket.close();
