/**
 * The node engine: {@link DatagramEngine} over Node's own `node:dgram` (one `recvmsg` and one JS
 * call per datagram). With the native addon the descriptor was created and configured by the addon
 * and adopted with `bind({ fd })`, and options go through the option table on that fd; without it,
 * the options Node has go through `dgram`'s setters and the rest throw `NotSupportedError`.
 *
 * Flow control: `dgram` starts reading at bind and has no public way to stop. The engine stops
 * and restarts its handle's receive watcher (`uv_udp_recv_stop` / `uv_udp_recv_start`, the calls
 * `dgram` itself makes on close), so while nobody consumes, datagrams stay in the kernel. Where a
 * Node version does not expose that handle, the engine keeps reading and the socket queues
 * (bounded, drops counted in `stats.readerDrops`).
 *
 * A per-send TTL is socket state here: set, send, restore. Such sends are serialized, later plain
 * sends wait behind them, and the restore writes back the value read before the set (or set with
 * `setOption` meanwhile), never the per-send one.
 *
 * @module
 * @internal
 */
import type * as dgram from 'node:dgram';
import { readFileSync } from 'node:fs';

import {
  NativeUnavailableError,
  NotSupportedError,
  SocketClosedError,
  SystemCallError,
} from '../errors.js';
import { SendOrder } from '../internal/send-order.js';
import { findInterface, interfaceAddress } from '../interfaces.js';
import type { NativeBinding } from '../native/binding.js';
import { nativeStatus } from '../native/index.js';
import { getSocketOption, ifIndexToName, setSocketOption } from '../options.js';
import type { SocketOptionName, SocketOptionSetValue } from '../options.js';
import type { BatchCapabilities, DatagramBatch, DatagramBatchView } from './batch-engine.js';
import { noBatchCapabilities } from './engine.js';
import type { Destination } from './destination.js';
import type {
  BatchSendResult,
  DatagramEngine,
  EngineSink,
  MembershipRequest,
  ReadableOption,
} from './engine.js';
import { KernelDrops } from './kernel-drops.js';
import { membershipOption } from '../multicast.js';
import type { SendPlan } from './send-plan.js';

/** The addon's view of a descriptor it created. */
export interface NativeFd {
  binding: NativeBinding;
  fd: number;
}

/** The receive watcher of a `dgram` handle (`UDPWrap`). */
interface ReceiveControl {
  recvStart(): number;
  recvStop(): number;
}

function receiveControl(socket: dgram.Socket): ReceiveControl | undefined {
  for (const symbol of Object.getOwnPropertySymbols(socket)) {
    if (symbol.description !== 'state symbol') continue;
    const handle = (socket as unknown as Record<symbol, { handle?: Partial<ReceiveControl> }>)[
      symbol
    ]?.handle;
    if (typeof handle?.recvStart === 'function' && typeof handle.recvStop === 'function')
      return handle as ReceiveControl;
  }
  return undefined;
}

/** One datagram of the node engine as a batch of one; reused for every datagram. */
export class DgramBatch implements DatagramBatch {
  data: Uint8Array = new Uint8Array(0);
  rinfo: dgram.RemoteInfo = { address: '', family: 'IPv4', port: 0, size: 0 };

  get count(): number {
    return 1;
  }

  #check(i: number): void {
    if (i !== 0)
      throw new RangeError(
        `datagram index ${i} is outside 0..0 (a batch is valid only until its listener returns)`,
      );
  }

  offset(i: number): number {
    this.#check(i);
    return 0;
  }

  length(i: number): number {
    this.#check(i);
    return this.data.length;
  }

  payload(i: number): Uint8Array {
    this.#check(i);
    return this.data;
  }

  address(i: number): string {
    this.#check(i);
    return this.rinfo.address;
  }

  port(i: number): number {
    this.#check(i);
    return this.rinfo.port;
  }

  family(i: number): 4 | 6 {
    this.#check(i);
    return this.rinfo.family === 'IPv6' ? 6 : 4;
  }

  truncated(i: number): boolean {
    this.#check(i);
    return false;
  }

  localAddress(i: number): undefined {
    this.#check(i);
    return undefined;
  }

  ifindex(i: number): undefined {
    this.#check(i);
    return undefined;
  }

  timestampNs(i: number): undefined {
    this.#check(i);
    return undefined;
  }

  segmentSize(i: number): number {
    this.#check(i);
    return 0;
  }
}

/** The TTL options a per-send TTL sets and restores. */
type TtlOption = 'IP_TTL' | 'IPV6_UNICAST_HOPS' | 'IP_MULTICAST_TTL' | 'IPV6_MULTICAST_HOPS';

/** The node engine. */
export class DgramEngine implements DatagramEngine {
  readonly name = 'node';
  readonly sourceAddresses = true;
  readonly #socket: dgram.Socket;
  readonly #family: 4 | 6;
  readonly #native: NativeFd | undefined;
  readonly #receive: ReceiveControl | undefined;
  readonly #batch = new DgramBatch();
  #sink: EngineSink | undefined;
  #reading = true;
  #closing: Promise<void> | undefined;
  /** The `reject` of each send and connect dgram has not called back yet, with the operation. */
  readonly #unanswered = new Map<(err: Error) => void, 'send' | 'connect'>();
  #kernelDrops: KernelDrops | undefined;
  /** Values of TTL options as last set, so a per-send TTL restores the right one. */
  readonly #ttls = new Map<TtlOption, number>();
  /** Sends with their own TTL in flight; plain sends wait behind them. */
  readonly #ttlOrder = new SendOrder();
  /** The TTL option a per-send TTL holds right now (set, sending, not yet restored). */
  #ttlActive: TtlOption | undefined;
  #zoneNames = new Map<number, string>();

  /** Takes over a bound `dgram.Socket` (created over the addon's fd when `native` is given). */
  constructor(socket: dgram.Socket, family: 4 | 6, native: NativeFd | undefined) {
    this.#socket = socket;
    this.#family = family;
    this.#native = native;
    this.#receive = receiveControl(socket);
    socket.on('message', (data: Buffer, rinfo: dgram.RemoteInfo) => {
      // One reusable batch where pausing protects it (a held batch is never overwritten).
      const batch = this.#receive ? this.#batch : new DgramBatch();
      batch.data = data;
      batch.rinfo = rinfo;
      this.#sink?.batch(batch);
    });
    socket.on('error', (err: unknown) => {
      this.#sink?.error(SystemCallError.from(err, { syscall: 'recvmsg' }) as SystemCallError);
    });
    this.pause();
  }

  get fd(): number | undefined {
    return this.#native?.fd;
  }

  /** Whether reading can be paused (the handle's receive watcher is reachable). */
  get pausable(): boolean {
    return this.#receive !== undefined;
  }

  localAddress(): { address: string; port: number } {
    const a = this.#socket.address();
    return { address: a.address, port: a.port };
  }

  attach(sink: EngineSink): void {
    this.#sink = sink;
  }

  resume(): void {
    if (this.#reading || this.#closing) return;
    this.#reading = true;
    this.#receive?.recvStart();
  }

  pause(): void {
    if (!this.#reading || this.#closing || !this.#receive) return;
    this.#reading = false;
    this.#receive.recvStop();
  }

  setOption<N extends SocketOptionName>(name: N, value: SocketOptionSetValue<N>): void {
    if (isTtlOption(name)) {
      this.#ttls.set(name, value as number);
      // A per-send TTL holds this option: it restores the new value when it is done.
      if (this.#ttlActive === name) return;
    }
    this.#set(name, value);
  }

  #set<N extends SocketOptionName>(name: N, value: SocketOptionSetValue<N>): void {
    if (this.#native) {
      setSocketOption(this.#native.fd, name, value);
      return;
    }
    try {
      this.#setThroughDgram(name, value);
    } catch (err) {
      if (err instanceof NotSupportedError) throw err;
      throw SystemCallError.from(err, { syscall: 'setsockopt', option: name });
    }
  }

  /** The options `node:dgram` has a setter for; the others need the addon. */
  #setThroughDgram(name: SocketOptionName, value: unknown): void {
    const s = this.#socket;
    switch (name) {
      case 'IP_TTL':
      case 'IPV6_UNICAST_HOPS':
        s.setTTL(value as number);
        return;
      case 'IP_MULTICAST_TTL':
      case 'IPV6_MULTICAST_HOPS':
        s.setMulticastTTL(value as number);
        return;
      case 'IP_MULTICAST_LOOP':
      case 'IPV6_MULTICAST_LOOP':
        s.setMulticastLoopback(value as boolean);
        return;
      case 'IP_MULTICAST_IF':
        s.setMulticastInterface(
          typeof value === 'number' ? interfaceAddress(findInterface(value), 4) : (value as string),
        );
        return;
      case 'IPV6_MULTICAST_IF':
        s.setMulticastInterface(
          `::%${typeof value === 'number' ? ifIndexToName(value) : (value as string)}`,
        );
        return;
      case 'SO_BROADCAST':
        s.setBroadcast(value as boolean);
        return;
      case 'SO_RCVBUF':
        s.setRecvBufferSize(value as number);
        return;
      case 'SO_SNDBUF':
        s.setSendBufferSize(value as number);
        return;
      default:
        throw new NotSupportedError(
          name,
          nativeStatus().loadError?.message ?? 'the native addon is not loaded',
        );
    }
  }

  getOption(name: ReadableOption): number | undefined {
    if (this.#native) return Number(getSocketOption(this.#native.fd, name));
    if (name === 'SO_RCVBUF') return this.#socket.getRecvBufferSize();
    if (name === 'SO_SNDBUF') return this.#socket.getSendBufferSize();
    return this.#ttls.get(name) ?? defaultTtl(name);
  }

  membership(request: MembershipRequest): void {
    const { op, group, source, iface } = request;
    const filter = op === 'block' || op === 'unblock';
    // node:dgram has no MCAST_BLOCK_SOURCE: an exclude-mode filter needs the addon's descriptor.
    const native = iface.index !== 0 || filter ? this.#native : undefined;
    const option = membershipOption(op, this.#family, source !== undefined, native !== undefined);
    if (filter && native === undefined) {
      throw new NativeUnavailableError(
        `${option} (blockSource: exclude-mode source filters; node:dgram has no such call)`,
        nativeStatus().loadError,
      );
    }
    try {
      if (native) {
        native.binding.msock_mcast_membership(native.fd, {
          family: this.#family,
          op,
          group,
          source,
          ifindex: iface.index,
        });
        return;
      }
      const where =
        iface.index === 0 ? undefined : this.#family === 4 ? iface.ipv4 : `::%${iface.name}`;
      const s = this.#socket;
      if (filter) return; // unreachable: filters went through the addon above
      if (source === undefined) {
        if (op === 'join') s.addMembership(group, where);
        else s.dropMembership(group, where);
      } else if (op === 'join') {
        s.addSourceSpecificMembership(source, group, where);
      } else {
        s.dropSourceSpecificMembership(source, group, where);
      }
    } catch (err) {
      throw SystemCallError.from(err, { syscall: 'setsockopt', option, address: group });
    }
  }

  connect(peer: Destination | undefined): Promise<void> {
    if (peer === undefined) {
      this.#socket.disconnect();
      return Promise.resolve();
    }
    return new Promise<void>((resolve, reject) => {
      const failed = (err: unknown): void =>
        reject(
          SystemCallError.from(err, { syscall: 'connect', address: peer.address, port: peer.port }),
        );
      this.#unanswered.set(reject, 'connect');
      try {
        this.#socket.connect(peer.port, this.#dgramAddress(peer), (err?: Error) => {
          this.#unanswered.delete(reject);
          if (err) failed(err);
          else resolve();
        });
      } catch (err) {
        this.#unanswered.delete(reject);
        failed(err);
      }
    });
  }

  /** `dgram` takes a zone by interface name only (libuv reads `%3` as a name and gets scope 0). */
  #dgramAddress(to: Destination): string {
    if (to.scopeId === 0) return to.literal;
    let name = this.#zoneNames.get(to.scopeId);
    if (name === undefined) {
      name = ifIndexToName(to.scopeId);
      this.#zoneNames.set(to.scopeId, name);
    }
    return `${to.literal}%${name}`;
  }

  send(payload: Uint8Array, to: Destination | undefined, ttl: number | undefined): Promise<number> {
    if (ttl !== undefined) return this.#sendWithTtl(payload, to, ttl);
    // While a send with its own TTL is in flight, the socket's TTL is not the socket's: wait.
    if (this.#ttlOrder.busy) return this.#ttlOrder.after(() => this.#sendNow(payload, to));
    return this.#sendNow(payload, to);
  }

  #sendNow(payload: Uint8Array, to: Destination | undefined): Promise<number> {
    return new Promise<number>((resolve, reject) => {
      const done = (err: Error | null, bytes: number): void => {
        this.#unanswered.delete(reject);
        if (err)
          reject(
            SystemCallError.from(err, { syscall: 'send', address: to?.address, port: to?.port }),
          );
        else resolve(bytes);
      };
      this.#unanswered.set(reject, 'send');
      try {
        if (to === undefined) this.#socket.send(payload, done);
        else this.#socket.send(payload, to.port, this.#dgramAddress(to), done);
      } catch (err) {
        this.#unanswered.delete(reject);
        reject(
          SystemCallError.from(err, { syscall: 'send', address: to?.address, port: to?.port }),
        );
      }
    });
  }

  #sendWithTtl(payload: Uint8Array, to: Destination | undefined, ttl: number): Promise<number> {
    const option = this.#ttlOption(to);
    return this.#ttlOrder.after(async () => {
      const before = this.#ttlBefore(option);
      this.#set(option, ttl);
      this.#ttlActive = option;
      try {
        return await this.#sendNow(payload, to);
      } finally {
        this.#ttlActive = undefined;
        if (!this.#closing) this.#set(option, this.#ttls.get(option) ?? before);
      }
    });
  }

  #ttlOption(to: Destination | undefined): TtlOption {
    const address = to?.literal ?? this.#socket.remoteAddress().address;
    const multicast = this.#family === 4 ? isIPv4Multicast(address) : /^ff/i.test(address);
    if (this.#family === 4) return multicast ? 'IP_MULTICAST_TTL' : 'IP_TTL';
    return multicast ? 'IPV6_MULTICAST_HOPS' : 'IPV6_UNICAST_HOPS';
  }

  /** The option's value before a per-send TTL: as set, else read from the fd, else the default. */
  #ttlBefore(option: TtlOption): number {
    const known = this.#ttls.get(option);
    if (known !== undefined) return known;
    if (this.#native) return Number(getSocketOption(this.#native.fd, option));
    return defaultTtl(option);
  }

  sendView(view: DatagramBatchView, to: Destination | undefined): Promise<BatchSendResult> {
    const sends: Promise<number>[] = [];
    const data = view.data;
    for (let i = 0; i < view.count; i++) {
      const offset = view.offset(i);
      sends.push(this.send(data.subarray(offset, offset + view.length(i)), to, undefined));
    }
    return settleSends(sends);
  }

  /** `node:dgram` has no synchronous send: always 0, the caller sends with `sendView`. */
  trySendView(): number {
    return 0;
  }

  takeTrySendError(): undefined {
    return undefined;
  }

  async sendBatch(plan: SendPlan): Promise<BatchSendResult> {
    const sends: Promise<number>[] = [];
    for (const row of plan.rows) {
      const seg = row.segment > 0 ? row.segment : row.length;
      if (row.length === 0) {
        sends.push(this.send(plan.payload.subarray(row.offset, row.offset), row.to, undefined));
        continue;
      }
      for (let off = 0; off < row.length; off += seg) {
        const view = plan.payload.subarray(
          row.offset + off,
          row.offset + Math.min(off + seg, row.length),
        );
        sends.push(this.send(view, row.to, undefined));
      }
    }
    return settleSends(sends);
  }

  kernelDrops(): number | undefined {
    if (this.#closing) return undefined;
    this.#kernelDrops ??= new KernelDrops(
      this.localAddress().port,
      this.#native?.fd,
      this.#native?.binding,
    );
    return this.#kernelDrops.read();
  }

  truncated(): number {
    return 0;
  }

  capabilities(): BatchCapabilities {
    return { ...noBatchCapabilities };
  }

  ref(on: boolean): void {
    if (on) this.#socket.ref();
    else this.#socket.unref();
  }

  close(): Promise<void> {
    this.#closing ??= new Promise<void>((resolve) => {
      this.#socket.close(() => {
        // dgram drops a send or connect whose address lookup ends after close() without calling
        // back (one made in the same tick as the close): it did not happen, and says so.
        for (const [reject, operation] of this.#unanswered)
          reject(new SocketClosedError(operation));
        this.#unanswered.clear();
        resolve();
      });
    });
    return this.#closing;
  }
}

/** `{ sent }` of datagrams sent one by one: the first failure stops the count, as `sendmmsg` does. */
async function settleSends(sends: Promise<number>[]): Promise<BatchSendResult> {
  const settled = await Promise.allSettled(sends);
  let sent = 0;
  let bytes = 0;
  for (const r of settled) {
    if (r.status === 'fulfilled') {
      sent++;
      bytes += r.value;
      continue;
    }
    if (sent === 0) throw r.reason;
    return { sent, bytes, error: r.reason as SystemCallError };
  }
  return { sent, bytes };
}

function isTtlOption(name: SocketOptionName): name is TtlOption {
  return (
    name === 'IP_TTL' ||
    name === 'IPV6_UNICAST_HOPS' ||
    name === 'IP_MULTICAST_TTL' ||
    name === 'IPV6_MULTICAST_HOPS'
  );
}

function isIPv4Multicast(address: string): boolean {
  const first = Number.parseInt(address, 10);
  return first >= 224 && first <= 239;
}

/**
 * The system's default for a TTL option: `net.ipv4.ip_default_ttl` /
 * `net.ipv6.conf.default.hop_limit` for unicast (Linux; 64 elsewhere), 1 for multicast (RFC 1112).
 */
function defaultTtl(option: TtlOption): number {
  if (option === 'IP_MULTICAST_TTL' || option === 'IPV6_MULTICAST_HOPS') return 1;
  if (process.platform !== 'linux') return 64;
  const path =
    option === 'IP_TTL'
      ? '/proc/sys/net/ipv4/ip_default_ttl'
      : '/proc/sys/net/ipv6/conf/default/hop_limit';
  return Number.parseInt(readFileSync(path, 'utf8'), 10);
}
