/**
 * What `mediasock relay` sends to an output, per received batch, as a view `UdpSocket.sendBatch`
 * takes: the batch itself (as-is), the RTP payloads inside it (strip, still no copy), or each
 * datagram behind a new RTP header (wrap, one buffer per batch). The views are reused batch after
 * batch: `sendBatch` is done with a view when it returns.
 *
 * @module
 */
import type { DatagramBatchView } from '../index.js';
import { RTP_HEADER_BYTES, rtpPayloadEnd, rtpPayloadStart } from '../index.js';

/** Datagrams at given offsets and lengths of one buffer; filled per batch, reused. */
class Layout implements DatagramBatchView {
  data: Uint8Array = new Uint8Array(0);
  count = 0;
  #offsets = new Int32Array(64);
  #lengths = new Int32Array(64);

  offset(i: number): number {
    return this.#offsets[i]!;
  }

  length(i: number): number {
    return this.#lengths[i]!;
  }

  protected reset(data: Uint8Array, capacity: number): void {
    this.data = data;
    this.count = 0;
    if (this.#offsets.length < capacity) {
      this.#offsets = new Int32Array(capacity * 2);
      this.#lengths = new Int32Array(capacity * 2);
    }
  }

  protected add(offset: number, length: number): void {
    this.#offsets[this.count] = offset;
    this.#lengths[this.count] = length;
    this.count++;
  }
}

/** The RTP payloads of the first `n` datagrams of a batch, in place; non-RTP ones left out. */
export class StrippedPayloads extends Layout {
  /** Datagrams that were not RTP, over every batch. */
  notRtp = 0;

  load(batch: DatagramBatchView, n: number): this {
    const data = batch.data;
    this.reset(data, n);
    for (let i = 0; i < n; i++) {
      const offset = batch.offset(i);
      const length = batch.length(i);
      const start = rtpPayloadStart(data, offset, length);
      if (start < 0) this.notRtp++;
      else this.add(start, rtpPayloadEnd(data, offset, length) - start);
    }
    return this;
  }
}

/**
 * The first `n` datagrams of a batch, each behind an RTP header (MPEG-TS, 90 kHz clock), in a
 * buffer of this object's: reused when the caller says no send still reads it, else a new one.
 */
export class WrappedPayloads extends Layout {
  readonly #ssrc: number;
  #sequence: number;
  #buffer: Buffer = Buffer.alloc(0);

  constructor(ssrc: number, firstSequence: number) {
    super();
    this.#ssrc = ssrc >>> 0;
    this.#sequence = firstSequence & 0xffff;
  }

  /**
   * `timestamp`: the 90 kHz RTP timestamp of the batch's arrival. `reuse`: no send of the last
   * buffer is pending (a synchronous send, or a send that copied what it kept), so it may be
   * written again.
   */
  load(
    batch: DatagramBatchView,
    n: number,
    payloadType: number,
    timestamp: number,
    reuse: boolean,
  ): this {
    let total = 0;
    for (let i = 0; i < n; i++) total += RTP_HEADER_BYTES + batch.length(i);
    if (!reuse || this.#buffer.length < total)
      this.#buffer = Buffer.allocUnsafeSlow(Math.max(total, reuse ? this.#buffer.length * 2 : 0));
    const out = this.#buffer;
    this.reset(out, n);
    const data = batch.data;
    let at = 0;
    for (let i = 0; i < n; i++) {
      const offset = batch.offset(i);
      const length = batch.length(i);
      out[at] = 0x80;
      out[at + 1] = payloadType & 0x7f;
      out.writeUInt16BE(this.#sequence, at + 2);
      out.writeUInt32BE(timestamp >>> 0, at + 4);
      out.writeUInt32BE(this.#ssrc, at + 8);
      out.set(data.subarray(offset, offset + length), at + RTP_HEADER_BYTES);
      this.#sequence = (this.#sequence + 1) & 0xffff;
      this.add(at, RTP_HEADER_BYTES + length);
      at += RTP_HEADER_BYTES + length;
    }
    return this;
  }
}

/** The first `n` datagrams of a batch (a `--count` that ends inside it). */
export class FirstDatagrams implements DatagramBatchView {
  #batch: DatagramBatchView | undefined;
  count = 0;

  get data(): Uint8Array {
    return this.#batch?.data ?? new Uint8Array(0);
  }

  load(batch: DatagramBatchView, n: number): this {
    this.#batch = batch;
    this.count = n;
    return this;
  }

  offset(i: number): number {
    return this.#batch!.offset(i);
  }

  length(i: number): number {
    return this.#batch!.length(i);
  }
}

/**
 * The datagrams of a view from `first` on: what a synchronous send left over (a full send queue),
 * handed to `sendBatch`. Reused batch after batch, as `sendBatch` is done with a view when it
 * returns.
 */
export class LaterDatagrams implements DatagramBatchView {
  #view: DatagramBatchView | undefined;
  #first = 0;
  count = 0;

  get data(): Uint8Array {
    return this.#view?.data ?? new Uint8Array(0);
  }

  load(view: DatagramBatchView, first: number): this {
    this.#view = view;
    this.#first = first;
    this.count = view.count - first;
    return this;
  }

  offset(i: number): number {
    return this.#view!.offset(this.#first + i);
  }

  length(i: number): number {
    return this.#view!.length(this.#first + i);
  }
}
