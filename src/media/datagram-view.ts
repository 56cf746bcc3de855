/**
 * The part of a received batch the media helpers read: a count and, per datagram, where its bytes
 * are in one shared buffer. `UdpSocket`'s `'batch'` event hands out exactly this shape (its
 * `DatagramBatch` has more), so the helpers run on batches without a per-datagram allocation.
 *
 * @module
 */

export type { DatagramBatchView } from '../udp/batch-engine.js';
