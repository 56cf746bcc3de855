/**
 * The rows of one `UdpSocket.sendBatch` before they reach an engine: a payload buffer, and per row
 * an offset, a length, a GSO segment size (0: one datagram) and a destination. Runs of equal-size
 * datagrams to one destination become one row, which the batch engine sends as one UDP GSO
 * super-packet (`UDP_SEGMENT`) and the node engine as one `send` per datagram.
 *
 * What it does not do: system calls. Planning validates everything first, so a malformed batch
 * throws before any datagram leaves.
 *
 * @module
 * @internal
 */
import { InvalidArgumentError } from '../errors.js';
import { validateInteger } from '../validate.js';
import type { DatagramBatchView } from './batch-engine.js';
import type { Destination } from './destination.js';

/** The largest UDP payload over IPv4 (65535 - 8 UDP - 20 IP header bytes). */
export const UDP_MAX_PAYLOAD = 65507;

/** Datagrams per GSO super-packet: the kernel's `UDP_MAX_SEGMENTS`. */
export const GSO_MAX_SEGMENTS = 64;

/** One datagram of `UdpSocket.sendBatch`. */
export interface OutgoingDatagram {
  data: Uint8Array;
  /** Destination; omit both on a connected socket. */
  address?: string;
  port?: number;
}

/**
 * A train of datagrams in one buffer for `UdpSocket.sendBatch`: `buffer` cut into datagrams of
 * `segmentSize` bytes (the last may be shorter; sent with UDP GSO where the kernel has it), or into
 * consecutive datagrams of the given `lengths`.
 */
export interface DatagramTrain {
  buffer: Uint8Array;
  segmentSize?: number;
  lengths?: ArrayLike<number>;
  address?: string;
  port?: number;
}

/** One row: `datagrams` datagrams of `segment` bytes (the last may be shorter), or one of `length`. */
export interface SendRow {
  readonly offset: number;
  readonly length: number;
  /** GSO segment size; 0 when the row is one datagram. */
  readonly segment: number;
  /** `undefined`: the connected peer. */
  readonly to: Destination | undefined;
  readonly datagrams: number;
}

/**
 * Validates a destination: `(port, address)` of a datagram (both `undefined` when it names none),
 * the name of the argument for messages; returns `undefined` for the connected peer.
 */
export type DestinationResolver = (
  port: number | undefined,
  address: string | undefined,
  argument: string,
) => Destination | undefined;

/** A planned batch. */
export class SendPlan {
  /** The buffer every row's offset points into. */
  payload: Uint8Array = new Uint8Array(0);
  readonly rows: SendRow[] = [];
  /** Datagrams in all rows. */
  length = 0;

  add(offset: number, length: number, segment: number, to: Destination | undefined): void {
    const datagrams = segment > 0 && length > segment ? Math.ceil(length / segment) : 1;
    this.rows.push({ offset, length, segment: datagrams > 1 ? segment : 0, to, datagrams });
    this.length += datagrams;
  }
}

/**
 * Plans a batch: an array of payloads / {@link OutgoingDatagram}s, or one {@link DatagramTrain}.
 * `port`/`address` are the call's destination, used where a datagram names none.
 *
 * @throws InvalidArgumentError / InvalidStateError for a malformed batch or destination.
 */
export function planSend(
  datagrams: readonly (Uint8Array | OutgoingDatagram)[] | DatagramTrain,
  port: number | undefined,
  address: string | undefined,
  resolve: DestinationResolver,
): SendPlan {
  if (Array.isArray(datagrams)) return planList(datagrams, port, address, resolve);
  const train = datagrams as DatagramTrain;
  if (typeof train !== 'object' || train === null || !(train.buffer instanceof Uint8Array))
    throw new InvalidArgumentError(
      'datagrams',
      datagrams,
      'must be an array of datagrams or { buffer, segmentSize | lengths }',
    );
  const to = resolve(train.port ?? port, train.address ?? address, 'the train');
  if (train.segmentSize !== undefined) {
    if (train.lengths !== undefined)
      throw new InvalidArgumentError(
        'lengths',
        train.lengths,
        'cannot be combined with segmentSize',
      );
    return planSegments(train.buffer, train.segmentSize, to);
  }
  return planLengths(train.buffer, train.lengths, to);
}

function dataOf(d: Uint8Array | OutgoingDatagram | undefined, i: number): Uint8Array {
  const data = d instanceof Uint8Array ? d : d?.data;
  if (!(data instanceof Uint8Array))
    throw new InvalidArgumentError(
      `datagrams[${i}]`,
      d,
      'must be a Uint8Array or { data, address?, port? }',
    );
  if (data.length > UDP_MAX_PAYLOAD)
    throw new InvalidArgumentError(
      `datagrams[${i}]`,
      data.length,
      `must be at most ${UDP_MAX_PAYLOAD} bytes (the largest UDP payload)`,
    );
  return data;
}

function planList(
  list: readonly (Uint8Array | OutgoingDatagram)[],
  port: number | undefined,
  address: string | undefined,
  resolve: DestinationResolver,
): SendPlan {
  const plan = new SendPlan();
  let total = 0;
  let shared: ArrayBufferLike | undefined;
  for (let i = 0; i < list.length; i++) {
    const data = dataOf(list[i], i);
    total += data.length;
    if (i === 0) shared = data.buffer;
    else if (shared !== data.buffer) shared = undefined;
  }
  // One payload buffer for the engine: the shared ArrayBuffer when all are views of one, else a copy.
  const payload = shared !== undefined ? new Uint8Array(shared) : new Uint8Array(total);
  let base = 0;
  let last: { port: number | undefined; address: string | undefined; to: Destination | undefined };
  last = { port: undefined, address: undefined, to: undefined };
  for (let i = 0; i < list.length; i++) {
    const d = list[i]!;
    const data = d instanceof Uint8Array ? d : d.data;
    const p = d instanceof Uint8Array ? port : (d.port ?? port);
    const a = d instanceof Uint8Array ? address : (d.address ?? address);
    // Consecutive datagrams to one destination (the common case) are validated once.
    if (i === 0 || p !== last.port || a !== last.address)
      last = { port: p, address: a, to: resolve(p, a, `datagrams[${i}]`) };
    let offset = data.byteOffset;
    if (shared === undefined) {
      payload.set(data, base);
      offset = base;
      base += data.length;
    }
    plan.add(offset, data.length, 0, last.to);
  }
  plan.payload = payload;
  return plan;
}

function planSegments(
  buffer: Uint8Array,
  segmentSize: number,
  to: Destination | undefined,
): SendPlan {
  validateInteger(segmentSize, 'segmentSize', 1, UDP_MAX_PAYLOAD);
  const plan = new SendPlan();
  // One row per GSO super-packet: at most GSO_MAX_SEGMENTS segments and one UDP payload of bytes.
  const perRow = Math.max(1, Math.min(GSO_MAX_SEGMENTS, Math.floor(UDP_MAX_PAYLOAD / segmentSize)));
  for (let off = 0; off < buffer.length; off += perRow * segmentSize) {
    const len = Math.min(perRow * segmentSize, buffer.length - off);
    plan.add(buffer.byteOffset + off, len, len > segmentSize ? segmentSize : 0, to);
  }
  plan.payload = new Uint8Array(buffer.buffer);
  return plan;
}

function planLengths(
  buffer: Uint8Array,
  lengths: ArrayLike<number> | undefined,
  to: Destination | undefined,
): SendPlan {
  if (lengths === undefined || lengths === null || typeof lengths.length !== 'number')
    throw new InvalidArgumentError(
      'lengths',
      lengths,
      'must be given (an array of datagram sizes) or segmentSize',
    );
  const plan = new SendPlan();
  let off = 0;
  let i = 0;
  while (i < lengths.length) {
    const len = lengths[i]!;
    validateInteger(len, `lengths[${i}]`, 0, UDP_MAX_PAYLOAD);
    // A run of equal lengths (plus one shorter tail) goes out as one GSO row.
    let j = i + 1;
    while (
      j < lengths.length &&
      lengths[j] === len &&
      j - i < GSO_MAX_SEGMENTS &&
      (j - i + 1) * len <= UDP_MAX_PAYLOAD
    )
      j++;
    let runBytes = (j - i) * len;
    if (j < lengths.length && j - i < GSO_MAX_SEGMENTS && len > 0) {
      const tail = lengths[j]!;
      validateInteger(tail, `lengths[${j}]`, 0, UDP_MAX_PAYLOAD);
      if (tail < len && tail > 0 && runBytes + tail <= UDP_MAX_PAYLOAD) {
        runBytes += tail;
        j++;
      }
    }
    if (off + runBytes > buffer.length)
      throw new InvalidArgumentError(
        'lengths',
        lengths,
        `must add up to at most buffer.length (${buffer.length})`,
      );
    plan.add(buffer.byteOffset + off, runBytes, j - i > 1 ? len : 0, to);
    off += runBytes;
    i = j;
  }
  plan.payload = new Uint8Array(buffer.buffer);
  return plan;
}

/** Whether `value` is a {@link DatagramBatchView} (a received batch, or datagrams in one buffer). */
export function isDatagramBatchView(value: unknown): value is DatagramBatchView {
  const v = value as Partial<DatagramBatchView> | null;
  return (
    typeof v === 'object' &&
    v !== null &&
    !Array.isArray(v) &&
    typeof v.offset === 'function' &&
    typeof v.length === 'function' &&
    v.data instanceof Uint8Array
  );
}
