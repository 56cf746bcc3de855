/**
 * Listening TCP sockets: {@link listenTcp} and the {@link TcpListener} it resolves to.
 *
 * A `TcpListener` is a `net.Server` with typed errors, a `close()` that resolves once the port is
 * released, async iteration of accepted connections (each a {@link TcpConnection}), options applied
 * to every accepted connection, and `SO_REUSEPORT` on every Node version: Node >= 22.12 / 23.1
 * sets it itself (`listen({ reusePort })`); on older Node the native addon creates, configures,
 * binds and listens on the socket, and Node adopts it with `listen({ fd })`.
 *
 * Who gets an accepted connection: the active async iterator if there is one, otherwise the
 * `'connection'` listeners, otherwise it waits in a queue (at most `backlog` entries) for the next
 * iterator. A connection that arrives when that queue is full is reset and counted in
 * {@link TcpListener.droppedConnections}; none is dropped silently. A queued connection that fails
 * before anyone takes it (the peer resets it) is destroyed, leaves the queue and is counted in
 * {@link TcpListener.queuedConnectionErrors}: it cannot raise an unhandled `'error'`.
 *
 * What this module does not do: TLS, per-connection timeouts, or limits on concurrent connections
 * (use `server.maxConnections`).
 *
 * @module
 */

import { EventEmitter } from 'node:events';
import { assertFactory, kFactory } from '../internal/factory-only.js';
import { closeSync, fstatSync } from 'node:fs';
import { createServer, isIP, type Server, type Socket } from 'node:net';

import { InvalidArgumentError, InvalidStateError, SystemCallError } from '../errors.js';
import { validateBoolean, validateInteger, validatePort } from '../validate.js';
import { TcpConnection } from './connect.js';
import { createReusePortListenFd } from './reuse-port.js';
import {
  applyTcpSocketOptions,
  checkTcpOptionsSupported,
  validateTcpSocketOptions,
  type TcpSocketOptions,
} from './tcp-options.js';
import { nodeHasReusePort } from '../node-features.js';

/** Options of {@link listenTcp}. */
export interface ListenTcpOptions {
  /**
   * Address to listen on. `'::'` listens on every IPv6 and (dual-stack, unless `ipv6Only`) IPv4
   * address. Default: `'::'` where IPv6 is available, else `'0.0.0.0'` (Node's default).
   */
  host?: string | undefined;
  /** Port, 0..65535. Default: 0 (the kernel picks; read it with `address()`). */
  port?: number | undefined;
  /** `listen(2)` backlog, 1..65535 (the kernel caps it at `net.core.somaxconn`). Default: 511. */
  backlog?: number | undefined;
  /**
   * `SO_REUSEPORT`: several listeners (processes or workers) on one port, the kernel spreading
   * connections between them. Platforms: Linux, FreeBSD (load balancing); through Node >= 22.12
   * or the native addon. Default: false.
   */
  reusePort?: boolean | undefined;
  /** `IPV6_V6ONLY` on an IPv6 host: no IPv4-mapped connections. Default: false (dual-stack). */
  ipv6Only?: boolean | undefined;
  /** Node's `exclusive`: do not share the handle with cluster workers. Default: false. */
  exclusive?: boolean | undefined;
  /** Options applied to every accepted connection (`noDelay`, `keepAlive`, `tos` …). */
  connectionOptions?: TcpSocketOptions | undefined;
}

/** The address a listener is bound to. */
export interface TcpListenerAddress {
  address: string;
  family: 'IPv4' | 'IPv6';
  port: number;
}

/** Events of a {@link TcpListener}. */
export interface TcpListenerEvents {
  /** A connection was accepted (when no async iterator is waiting for it). */
  connection: [TcpConnection];
  /** Accepting failed, or options could not be applied to an accepted connection (it was reset). */
  error: [Error];
  /** The listener closed. */
  close: [];
}

const DEFAULT_BACKLOG = 511;

/** Listens for TCP connections; see {@link listenTcp}. */
export class TcpListener extends EventEmitter<TcpListenerEvents> {
  /** The underlying Node server. */
  readonly server: Server;
  readonly #options: TcpSocketOptions | undefined;
  readonly #maxQueued: number;
  readonly #queue: TcpConnection[] = [];
  /** The `'error'` handler of each queued connection, removed when it is handed out. */
  readonly #queuedErrorHandlers = new Map<TcpConnection, (err: Error) => void>();
  readonly #live = new Set<TcpConnection>();
  #waiter: ((conn: TcpConnection | undefined) => void) | undefined;
  #iterating = false;
  #closed = false;
  #dropped = 0;
  #queuedErrors = 0;
  #address: TcpListenerAddress;

  /** @internal Use {@link listenTcp}. */
  /** @internal */
  constructor(
    token: symbol,
    server: Server,
    maxQueued: number,
    options: TcpSocketOptions | undefined,
  ) {
    assertFactory(token, 'TcpListener', 'listenTcp()');
    super();
    this.server = server;
    this.#maxQueued = maxQueued;
    this.#options = options;
    const a = server.address();
    if (a === null || typeof a === 'string') {
      throw new InvalidStateError('TcpListener needs a listening TCP server');
    }
    this.#address = {
      address: a.address,
      family: a.family === 'IPv6' ? 'IPv6' : 'IPv4',
      port: a.port,
    };
    server.on('connection', (socket) => this.#accept(socket));
    server.on('error', (err) => this.emit('error', SystemCallError.from(err) as Error));
  }

  /** The bound address and port (kept after close). */
  address(): TcpListenerAddress {
    return { ...this.#address };
  }

  /** True until {@link TcpListener.close} is called. */
  get listening(): boolean {
    return !this.#closed;
  }

  /** Accepted connections that are not yet destroyed (queued ones included). */
  get connections(): number {
    return this.#live.size;
  }

  /** Connections reset because nobody took them and the queue was full. */
  get droppedConnections(): number {
    return this.#dropped;
  }

  /**
   * Queued connections (accepted, not yet handed out) that failed while waiting, typically reset
   * by the peer (`ECONNRESET`). Each was destroyed and removed from the queue.
   */
  get queuedConnectionErrors(): number {
    return this.#queuedErrors;
  }

  /**
   * Stops listening and resolves once the listening socket is closed and its port can be bound
   * again. Connections still queued (never handed out) are destroyed; handed-out connections are
   * left open unless `destroyConnections` is true. A pending async iteration ends. Idempotent.
   */
  async close(options: { destroyConnections?: boolean } = {}): Promise<void> {
    if (!this.#closed) {
      this.#closed = true;
      // Node closes the listening fd synchronously (uv_close on a stream closes the fd at once);
      // the server's own 'close' event waits for every connection, which is not what we promise.
      this.server.close();
      for (const conn of this.#queue.splice(0)) this.#unqueue(conn).destroy();
      if (options.destroyConnections === true) for (const conn of this.#live) conn.destroy();
      const waiter = this.#waiter;
      this.#waiter = undefined;
      waiter?.(undefined);
      this.emit('close');
    } else if (options.destroyConnections === true) {
      for (const conn of this.#live) conn.destroy();
    }
    await new Promise<void>((resolve) => setImmediate(resolve));
  }

  /**
   * Iterates over accepted connections until the listener closes. One iteration at a time; while
   * it runs, connections go to it rather than to `'connection'` listeners.
   *
   * @throws InvalidStateError when another iteration is active.
   */
  async *[Symbol.asyncIterator](): AsyncGenerator<TcpConnection, void, undefined> {
    if (this.#iterating)
      throw new InvalidStateError('a TcpListener can be iterated by one loop at a time');
    this.#iterating = true;
    try {
      for (;;) {
        const queued = this.#queue.shift();
        if (queued !== undefined) {
          yield this.#unqueue(queued);
          continue;
        }
        if (this.#closed) return;
        const next = await new Promise<TcpConnection | undefined>((resolve) => {
          this.#waiter = resolve;
        });
        if (next === undefined) return;
        yield next;
      }
    } finally {
      this.#iterating = false;
      this.#waiter = undefined;
    }
  }

  #accept(socket: Socket): void {
    const conn = new TcpConnection(socket);
    this.#live.add(conn);
    socket.once('close', () => this.#live.delete(conn));
    if (this.#options !== undefined) {
      try {
        applyTcpSocketOptions(socket, this.#options);
      } catch (err) {
        socket.resetAndDestroy();
        this.emit('error', err as Error);
        return;
      }
    }
    const waiter = this.#waiter;
    if (waiter !== undefined) {
      this.#waiter = undefined;
      waiter(conn);
    } else if (!this.#iterating && this.listenerCount('connection') > 0) {
      this.emit('connection', conn);
    } else if (this.#queue.length < this.#maxQueued) {
      // Nobody owns the socket while it waits, so its errors are ours to take (and count); the
      // handler goes when the connection is handed out and the new owner's listeners take over.
      const onError = (): void => {
        this.#queuedErrors++;
      };
      socket.on('error', onError);
      this.#queuedErrorHandlers.set(conn, onError);
      this.#queue.push(conn);
      socket.once('close', () => {
        const i = this.#queue.indexOf(conn);
        if (i >= 0) this.#queue.splice(i, 1);
        this.#unqueue(conn);
      });
    } else {
      this.#dropped++;
      socket.resetAndDestroy();
    }
  }

  /** Removes the queued-connection `'error'` handler of `conn` (if any) and returns `conn`. */
  #unqueue(conn: TcpConnection): TcpConnection {
    const onError = this.#queuedErrorHandlers.get(conn);
    if (onError !== undefined) {
      this.#queuedErrorHandlers.delete(conn);
      conn.socket.off('error', onError);
    }
    return conn;
  }
}

function validateListenOptions(options: ListenTcpOptions): void {
  if (typeof options !== 'object' || options === null) {
    throw new InvalidArgumentError('options', options, 'must be an object { host?, port?, ... }');
  }
  const { host, port, backlog, reusePort, ipv6Only, exclusive, connectionOptions } = options;
  if (host !== undefined && (typeof host !== 'string' || isIP(host) === 0)) {
    throw new InvalidArgumentError('host', host, 'must be an IPv4 or IPv6 address to listen on');
  }
  if (port !== undefined) validatePort(port);
  // Node turns a backlog of 0 into 511, so 0 is refused rather than silently changed.
  if (backlog !== undefined) validateInteger(backlog, 'backlog', 1, 65535);
  if (reusePort !== undefined) validateBoolean(reusePort, 'reusePort');
  if (ipv6Only !== undefined) validateBoolean(ipv6Only, 'ipv6Only');
  if (exclusive !== undefined) validateBoolean(exclusive, 'exclusive');
  if (ipv6Only === true && host !== undefined && isIP(host) === 4) {
    throw new InvalidArgumentError('ipv6Only', ipv6Only, `cannot apply to the IPv4 host ${host}`);
  }
  if (connectionOptions !== undefined) {
    if (typeof connectionOptions !== 'object' || connectionOptions === null) {
      throw new InvalidArgumentError('connectionOptions', connectionOptions, 'must be an object');
    }
    validateTcpSocketOptions(connectionOptions, 'connectionOptions.');
  }
}

/**
 * Listens for TCP connections and resolves once listening.
 *
 * @throws InvalidArgumentError for malformed options.
 * @throws NotSupportedError when `reusePort` is asked for on Node < 22.12 without the native addon,
 *   or `connectionOptions` need the addon and it is not loaded.
 * @throws SystemCallError for `bind`/`listen` failures (`EADDRINUSE`, `EADDRNOTAVAIL`, `EACCES`)
 *   with `address` and `port`.
 */
export async function listenTcp(options: ListenTcpOptions = {}): Promise<TcpListener> {
  validateListenOptions(options);
  if (options.connectionOptions !== undefined) checkTcpOptionsSupported(options.connectionOptions);
  const backlog = options.backlog ?? DEFAULT_BACKLOG;
  const port = options.port ?? 0;
  const server = createServer();
  let listenOptions: Parameters<Server['listen']>[0];
  let ownFd: OwnedFd | undefined;
  if (options.reusePort === true && !nodeHasReusePort()) {
    const host = options.host ?? '::';
    const fd = createReusePortListenFd({
      host,
      port,
      backlog,
      ipv6Only: options.ipv6Only ?? false,
    });
    ownFd = ownFdOf(fd);
    listenOptions = { fd, backlog, exclusive: options.exclusive ?? false };
  } else {
    listenOptions = {
      port,
      backlog,
      ...(options.host !== undefined ? { host: options.host } : {}),
      ...(options.ipv6Only !== undefined ? { ipv6Only: options.ipv6Only } : {}),
      ...(options.exclusive !== undefined ? { exclusive: options.exclusive } : {}),
      ...(options.reusePort === true ? { reusePort: true } : {}),
    };
  }
  try {
    await new Promise<void>((resolve, reject) => {
      const onError = (err: Error): void => {
        server.off('listening', onListening);
        reject(
          SystemCallError.from(err, {
            ...(options.host !== undefined ? { address: options.host } : {}),
            port,
          }),
        );
      };
      const onListening = (): void => {
        server.off('error', onError);
        resolve();
      };
      server.once('error', onError);
      server.once('listening', onListening);
      server.listen(listenOptions);
    });
  } catch (err) {
    // Node did not adopt the addon's fd (or adopted and closed it): close it if it is still ours.
    if (ownFd !== undefined) closeIfStillOwned(ownFd);
    throw err;
  }
  return new TcpListener(kFactory, server, backlog, options.connectionOptions);
}

/** A descriptor we created, identified by its inode so it is never confused with a reused number. */
interface OwnedFd {
  fd: number;
  dev: number;
  ino: number;
}

function ownFdOf(fd: number): OwnedFd {
  const { dev, ino } = fstatSync(fd);
  return { fd, dev, ino };
}

/**
 * Closes `owned.fd` unless Node already closed it. When Node adopts the fd and then fails (its
 * `listen` on the handle), it closes the handle itself, and the number may already belong to a
 * new descriptor; the inode tells ours from that one, so nobody else's fd is ever closed.
 */
function closeIfStillOwned(owned: OwnedFd): void {
  let same = false;
  try {
    const st = fstatSync(owned.fd);
    same = st.ino === owned.ino && st.dev === owned.dev;
  } catch {
    // EBADF: already closed by Node; there is nothing of ours to close.
  }
  if (same) closeSync(owned.fd);
}
