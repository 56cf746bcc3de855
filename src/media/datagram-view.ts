/**
 * The part of a received batch the media helpers read: a count and, per datagram, where its bytes
 * are in one shared buffer. `UdpSocket`'s `'batch'` event hands out exactly this shape (its
 * `DatagramBatch` has more), so the helpers run on batches without a per-datagram allocation.
 *
 * @module
 */

/** Datagrams laid out in one buffer: datagram `i` is `data[offset(i) .. offset(i) + length(i))`. */
export interface DatagramBatchView {
  /** Datagrams in the batch. */
  readonly count: number;
  /** The memory the datagrams live in. */
  readonly data: Uint8Array;
  /** Byte offset of datagram `i` in {@link data}. */
  offset(i: number): number;
  /** Bytes of datagram `i`. */
  length(i: number): number;
}
