/**
 * A pool of outgoing TCP connections keyed by endpoint (`host:port`), for clients that talk to the
 * same servers again and again (RTSP control connections, HTTP-like signalling).
 *
 * `acquire()` hands out a healthy idle connection, or connects (at most `maxPerKey` open or
 * connecting per endpoint), or waits for a connection to be released. `release()` returns a
 * connection for reuse; `destroy()` closes it. Every connection is accounted for in `stats()`:
 * `open === created - destroyed` at all times, so a leak shows as a growing `inUse`.
 *
 * Health without consuming data: an idle connection is kept in paused mode with a `'readable'`
 * listener, plus `'end'`, `'close'` and `'error'` listeners. Any of them firing marks it dead and
 * the pool closes it (counted as `evicted`). Bytes arriving on an idle connection are NOT read and
 * NOT thrown away by the pool: the connection is marked unhealthy (a request/response protocol has
 * lost its framing when a server speaks unasked, e.g. an RTSP server's error before it times out)
 * and destroyed with those bytes still unread. On reuse the pool checks again: not destroyed, not
 * ended, both directions open, nothing buffered. A peer's FIN that the event loop has not yet seen
 * cannot be detected without a system call, so a reused connection can still fail on first use;
 * callers of any pool must be ready for that.
 *
 * Errors: every connection the pool makes carries an `'error'` listener of the pool's for its
 * whole life, also while it is handed out. Node destroys a socket after its `'error'`, and an
 * `'error'` with no listener at all is an uncaught exception: without that guard a peer's reset
 * (`ECONNRESET`) on a connection whose user had not yet attached a listener would end the process.
 * The guard does not hide the error: it counts it (`stats().total.errors`, per key too), keeps
 * the last one as {@link TcpConnectionPool.lastError} (a `SystemCallError`), and a listener the
 * user attaches still receives it. The connection then shows `destroyed`; release or destroy it as
 * usual (a destroyed connection is never pooled again).
 *
 * On `release()` a connection must be at a message boundary: a connection with unread buffered
 * data, or with `'data'`/`'readable'` listeners still attached, is refused (`InvalidStateError`)
 * or, if it is closed or half-closed, destroyed instead of pooled.
 *
 * What this module does not do: resolve names (keys are what you pass: `cam.local:554` and
 * `10.0.0.5:554` are different keys), TLS, or retry failed connects. Per-key statistics are kept
 * while the key has connections or waiters; the pool-wide totals are kept for the pool's life.
 *
 * @module
 */

import {
  AbortError,
  InvalidArgumentError,
  InvalidStateError,
  SystemCallError,
  TimeoutError,
} from '../errors.js';
import { formatHostPort, parseHostPort } from '../address.js';
import { validateAbortSignal, validateInteger } from '../validate.js';
import { connectTcp, TcpConnection, type ConnectTcpOptions } from './connect.js';

/** An endpoint as an object. Strings `host:port` and `[v6]:port` are accepted too. */
export interface TcpEndpoint {
  host: string;
  port: number;
}

/** Options of a {@link TcpConnectionPool}. */
export interface TcpConnectionPoolOptions {
  /** Most connections open or being opened per endpoint, in use or idle. Default: 4. */
  maxPerKey?: number;
  /** Most idle connections kept per endpoint; a release beyond it closes the connection. Default: `maxPerKey`. */
  maxIdle?: number;
  /** An idle connection is closed after this many milliseconds unused. Default: 60 000. */
  idleTimeoutMs?: number;
  /** Options for each new connection (`noDelay`, `keepAlive`, `family`, `localAddress` …). */
  connectOptions?: Omit<ConnectTcpOptions, 'host' | 'port' | 'signal' | 'timeoutMs'>;
}

/** Options of {@link TcpConnectionPool.acquire}. */
export interface AcquireOptions {
  /** Limit on waiting plus connecting, in milliseconds; `TimeoutError` after it. Default: none. */
  timeoutMs?: number;
  /** Cancels the acquire with `AbortError`. */
  signal?: AbortSignal;
}

/** Connection counts of one endpoint or of the whole pool. */
export interface TcpPoolStats {
  /** Connections open now (idle + in use): always `created - destroyed`. */
  open: number;
  /** Open connections waiting in the pool. */
  idle: number;
  /** Open connections handed out and not yet released or destroyed. */
  inUse: number;
  /** Connects in progress. */
  connecting: number;
  /** Callers of `acquire()` waiting for a connection. */
  waiting: number;
  /** Connections made. */
  created: number;
  /** Times an existing connection was handed out again. */
  reused: number;
  /** Idle connections the pool closed: idle timeout, over `maxIdle`, or dead while idle. */
  evicted: number;
  /** Connections closed by the pool for any reason (evictions included). */
  destroyed: number;
  /**
   * `'error'` events on the pool's connections, in use or idle (a peer's reset, a failed write):
   * the pool's own listener caught each one; the last is {@link TcpConnectionPool.lastError}.
   */
  errors: number;
}

interface Counters {
  created: number;
  reused: number;
  evicted: number;
  destroyed: number;
  errors: number;
}

interface Waiter {
  /** Hands over an idle connection, or the right to open one (`undefined`). */
  grant(conn: TcpConnection | undefined): void;
  reject(err: unknown): void;
}

interface KeyState {
  key: string;
  host: string;
  port: number;
  idle: TcpConnection[];
  inUse: Set<TcpConnection>;
  connecting: number;
  waiters: Waiter[];
  counters: Counters;
}

interface Entry {
  state: KeyState;
  idle: boolean;
  dead: boolean;
  timer: NodeJS.Timeout | undefined;
  unwatch: (() => void) | undefined;
}

/** A pool of TCP connections keyed by endpoint; see the module documentation. */
export class TcpConnectionPool {
  readonly #maxPerKey: number;
  readonly #maxIdle: number;
  readonly #idleTimeoutMs: number;
  readonly #connectOptions: Omit<ConnectTcpOptions, 'host' | 'port' | 'signal' | 'timeoutMs'>;
  readonly #keys = new Map<string, KeyState>();
  readonly #entries = new Map<TcpConnection, Entry>();
  /** Connections that belonged to this pool and left it, to tell "released twice" from "foreign". */
  readonly #former = new WeakSet<TcpConnection>();
  readonly #totals: Counters = { created: 0, reused: 0, evicted: 0, destroyed: 0, errors: 0 };
  #lastError: unknown;
  #closed = false;
  /** One controller per connect in progress; `close()` aborts them all. */
  readonly #connects = new Set<AbortController>();

  /** @throws InvalidArgumentError for malformed options. */
  constructor(options: TcpConnectionPoolOptions = {}) {
    if (typeof options !== 'object' || options === null) {
      throw new InvalidArgumentError('options', options, 'must be an object');
    }
    const maxPerKey = options.maxPerKey ?? 4;
    validateInteger(maxPerKey, 'maxPerKey', 1, 65535);
    const maxIdle = options.maxIdle ?? maxPerKey;
    validateInteger(maxIdle, 'maxIdle', 0, maxPerKey);
    const idleTimeoutMs = options.idleTimeoutMs ?? 60_000;
    validateInteger(idleTimeoutMs, 'idleTimeoutMs', 1, 0x7fffffff);
    const connectOptions = options.connectOptions ?? {};
    if (typeof connectOptions !== 'object' || connectOptions === null) {
      throw new InvalidArgumentError('connectOptions', connectOptions, 'must be an object');
    }
    this.#maxPerKey = maxPerKey;
    this.#maxIdle = maxIdle;
    this.#idleTimeoutMs = idleTimeoutMs;
    this.#connectOptions = connectOptions;
  }

  /**
   * The last `'error'` a connection of this pool emitted (counted in `stats().total.errors`), as a
   * `SystemCallError` when it came from a system call (`code` `ECONNRESET`, `syscall` `read` …);
   * `undefined` while there was none.
   */
  get lastError(): unknown {
    return this.#lastError;
  }

  /** True once {@link TcpConnectionPool.close} was called. */
  get closed(): boolean {
    return this.#closed;
  }

  /**
   * Resolves to a connection to `endpoint`: a healthy idle one if there is one (most recently used
   * first), else a new one if fewer than `maxPerKey` are open, else the next one released.
   *
   * @throws InvalidStateError when the pool is closed (also for waiters when it closes).
   * @throws InvalidArgumentError for a malformed endpoint or options.
   * @throws TimeoutError, AbortError; and whatever {@link connectTcp} rejects with.
   */
  async acquire(
    endpoint: string | TcpEndpoint,
    options: AcquireOptions = {},
  ): Promise<TcpConnection> {
    if (this.#closed)
      throw new InvalidStateError('acquire failed: the TcpConnectionPool is closed');
    const { key, host, port } = parseEndpoint(endpoint);
    if (typeof options !== 'object' || options === null)
      throw new InvalidArgumentError(
        'options',
        options,
        'must be an object { timeoutMs?, signal? }',
      );
    const { timeoutMs, signal } = options;
    if (timeoutMs !== undefined) validateInteger(timeoutMs, 'timeoutMs', 1, 0x7fffffff);
    validateAbortSignal(signal);
    if (signal?.aborted === true) throw new AbortError(`acquire of ${key}`, signal.reason);
    const deadline = timeoutMs === undefined ? undefined : Date.now() + timeoutMs;
    const state = this.#state(key, host, port);

    const idle = this.#takeIdle(state);
    if (idle !== undefined) return idle;
    if (this.#open(state) + state.connecting < this.#maxPerKey) {
      return this.#connect(state, deadline, timeoutMs, signal, false);
    }

    const granted = await new Promise<TcpConnection | undefined>((resolve, reject) => {
      let timer: NodeJS.Timeout | undefined;
      const cleanup = (): void => {
        if (timer !== undefined) clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
        const i = state.waiters.indexOf(waiter);
        if (i >= 0) state.waiters.splice(i, 1);
      };
      const waiter: Waiter = {
        grant: (conn) => {
          cleanup();
          resolve(conn);
        },
        reject: (err) => {
          cleanup();
          reject(err);
          this.#forget(state);
        },
      };
      function onAbort(): void {
        waiter.reject(new AbortError(`acquire of ${key}`, signal?.reason));
      }
      state.waiters.push(waiter);
      signal?.addEventListener('abort', onAbort, { once: true });
      if (timeoutMs !== undefined) {
        timer = setTimeout(() => {
          waiter.reject(new TimeoutError(`acquire of ${key} from the pool`, timeoutMs));
        }, timeoutMs);
      }
    });
    if (granted !== undefined) return granted;
    // #dispatch reserved a connecting slot for this waiter (state.connecting was incremented).
    return this.#connect(state, deadline, timeoutMs, signal, true);
  }

  /**
   * Returns a connection acquired from this pool for reuse. A closed or half-closed connection is
   * destroyed instead; one beyond `maxIdle` is closed (evicted). A waiter for the same endpoint
   * gets it at once. After `close()` this does nothing (close destroyed the connection).
   *
   * @throws InvalidArgumentError when `conn` is not from this pool.
   * @throws InvalidStateError when it was already released or destroyed, or still has unread data
   *   or `'data'`/`'readable'` listeners (it would not be at a message boundary).
   */
  release(conn: TcpConnection): void {
    const entry = this.#entry(conn, 'release');
    if (entry === undefined) return;
    const socket = conn.socket;
    if (!socket.destroyed) {
      if (socket.listenerCount('data') > 0 || socket.listenerCount('readable') > 0) {
        throw new InvalidStateError(
          `release of a connection to ${entry.state.key} refused: remove its 'data' and 'readable' listeners first`,
        );
      }
      if (socket.readableLength > 0) {
        throw new InvalidStateError(
          `release of a connection to ${entry.state.key} refused: ${socket.readableLength} bytes are buffered unread; read them or destroy() the connection`,
        );
      }
    }
    const state = entry.state;
    state.inUse.delete(conn);
    if (!isReusable(conn)) {
      this.#remove(conn, entry, false);
      this.#dispatch(state);
      return;
    }
    const waiter = state.waiters.shift();
    if (waiter !== undefined) {
      state.inUse.add(conn);
      this.#count(state, 'reused');
      waiter.grant(conn);
      return;
    }
    if (state.idle.length >= this.#maxIdle) {
      this.#remove(conn, entry, true);
      this.#forget(state);
      return;
    }
    this.#park(conn, entry);
  }

  /**
   * Closes a connection acquired from this pool (FIN, at once) and frees its slot. After `close()`
   * this does nothing.
   *
   * @throws InvalidArgumentError when `conn` is not from this pool; InvalidStateError when it was
   *   already released or destroyed.
   */
  destroy(conn: TcpConnection): void {
    const entry = this.#entry(conn, 'destroy');
    if (entry === undefined) return;
    entry.state.inUse.delete(conn);
    this.#remove(conn, entry, false);
    this.#dispatch(entry.state);
  }

  /**
   * Counts of the whole pool (`total`) and per endpoint key (`byKey`, keys as `host:port`).
   */
  stats(): { total: TcpPoolStats; byKey: Record<string, TcpPoolStats> } {
    const byKey: Record<string, TcpPoolStats> = {};
    const total: TcpPoolStats = {
      ...this.#totals,
      open: 0,
      idle: 0,
      inUse: 0,
      connecting: 0,
      waiting: 0,
    };
    for (const state of this.#keys.values()) {
      const s: TcpPoolStats = {
        ...state.counters,
        open: this.#open(state),
        idle: state.idle.length,
        inUse: state.inUse.size,
        connecting: state.connecting,
        waiting: state.waiters.length,
      };
      byKey[state.key] = s;
      total.open += s.open;
      total.idle += s.idle;
      total.inUse += s.inUse;
      total.connecting += s.connecting;
      total.waiting += s.waiting;
    }
    return { total, byKey };
  }

  /**
   * Closes the pool: rejects every waiter with `InvalidStateError`, destroys every connection, idle
   * or in use, and aborts those still connecting (their acquires reject with `InvalidStateError`
   * at once, not when the connect would have ended); resolves once every destroyed socket has
   * emitted `'close'`. Idempotent.
   */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    const closing: Promise<void>[] = [];
    // A connect whose SYN goes unanswered would keep its acquire pending for minutes.
    for (const stop of this.#connects) stop.abort(POOL_CLOSED);
    for (const state of this.#keys.values()) {
      for (const waiter of state.waiters.splice(0)) {
        waiter.reject(new InvalidStateError('acquire failed: the TcpConnectionPool was closed'));
      }
      state.idle.length = 0;
    }
    for (const [conn, entry] of [...this.#entries]) {
      const socket = conn.socket;
      if (!socket.closed) {
        closing.push(new Promise<void>((resolve) => socket.once('close', () => resolve())));
      }
      entry.state.inUse.delete(conn);
      this.#remove(conn, entry, false);
      this.#forget(entry.state);
    }
    await Promise.all(closing);
  }

  #state(key: string, host: string, port: number): KeyState {
    let state = this.#keys.get(key);
    if (state === undefined) {
      state = {
        key,
        host,
        port,
        idle: [],
        inUse: new Set(),
        connecting: 0,
        waiters: [],
        counters: { created: 0, reused: 0, evicted: 0, destroyed: 0, errors: 0 },
      };
      this.#keys.set(key, state);
    }
    return state;
  }

  /** Drops a key's state once nothing refers to it. */
  #forget(state: KeyState): void {
    if (
      state.idle.length === 0 &&
      state.inUse.size === 0 &&
      state.connecting === 0 &&
      state.waiters.length === 0
    ) {
      this.#keys.delete(state.key);
    }
  }

  #open(state: KeyState): number {
    return state.idle.length + state.inUse.size;
  }

  #count(state: KeyState, what: keyof Counters): void {
    state.counters[what]++;
    this.#totals[what]++;
  }

  #entry(conn: TcpConnection, operation: string): Entry | undefined {
    const entry = this.#entries.get(conn);
    if (entry !== undefined && !entry.idle) return entry;
    if (entry !== undefined) {
      throw new InvalidStateError(
        `${operation} of a connection to ${entry.state.key} failed: it was already released to the pool`,
      );
    }
    if (this.#former.has(conn)) {
      if (this.#closed) return undefined;
      throw new InvalidStateError(
        `${operation} failed: the connection was already released or destroyed and has left the pool`,
      );
    }
    throw new InvalidArgumentError(
      'connection',
      conn,
      'must be a connection acquired from this pool',
    );
  }

  /** Takes the most recently used healthy idle connection, evicting dead ones on the way. */
  #takeIdle(state: KeyState): TcpConnection | undefined {
    for (let conn = state.idle.pop(); conn !== undefined; conn = state.idle.pop()) {
      const entry = this.#entries.get(conn);
      if (entry === undefined) continue;
      entry.idle = false;
      this.#unpark(entry);
      if (entry.dead || !isReusable(conn)) {
        this.#remove(conn, entry, true);
        continue;
      }
      state.inUse.add(conn);
      this.#count(state, 'reused');
      return conn;
    }
    return undefined;
  }

  async #connect(
    state: KeyState,
    deadline: number | undefined,
    timeoutMs: number | undefined,
    signal: AbortSignal | undefined,
    reserved: boolean,
  ): Promise<TcpConnection> {
    // Runs synchronously up to the first await, so the slot is taken before anyone else looks.
    if (!reserved) state.connecting++;
    if (this.#closed) {
      // A waiter granted a slot just before close(): it must not start a connect nobody aborts.
      state.connecting--;
      this.#forget(state);
      throw new InvalidStateError('acquire failed: the TcpConnectionPool was closed');
    }
    const remaining = deadline === undefined ? undefined : deadline - Date.now();
    if (remaining !== undefined && remaining <= 0) {
      state.connecting--;
      this.#dispatch(state);
      throw new TimeoutError(`acquire of ${state.key} from the pool`, timeoutMs ?? 0);
    }
    let conn: TcpConnection;
    // Aborted by the caller's signal (with its reason) or by close().
    const stop = new AbortController();
    const onAbort = (): void => stop.abort(signal?.reason);
    if (signal?.aborted === true) onAbort();
    else signal?.addEventListener('abort', onAbort, { once: true });
    this.#connects.add(stop);
    try {
      conn = await connectTcp({
        ...this.#connectOptions,
        host: state.host,
        port: state.port,
        ...(remaining !== undefined ? { timeoutMs: remaining } : {}),
        signal: stop.signal,
      });
    } catch (err) {
      state.connecting--;
      this.#dispatch(state);
      if (stop.signal.reason === POOL_CLOSED) {
        throw new InvalidStateError(
          'acquire failed: the TcpConnectionPool was closed while connecting',
        );
      }
      throw err;
    } finally {
      signal?.removeEventListener('abort', onAbort);
      this.#connects.delete(stop);
    }
    state.connecting--;
    this.#count(state, 'created');
    this.#guard(conn, state);
    const entry: Entry = { state, idle: false, dead: false, timer: undefined, unwatch: undefined };
    this.#entries.set(conn, entry);
    state.inUse.add(conn);
    if (this.#closed) {
      state.inUse.delete(conn);
      this.#remove(conn, entry, false);
      this.#forget(state);
      throw new InvalidStateError(
        'acquire failed: the TcpConnectionPool was closed while connecting',
      );
    }
    return conn;
  }

  /**
   * Attaches the pool's `'error'` listener for the connection's whole life (see the module notes):
   * no reset can become an uncaught exception, and each error is counted and kept. It stays after
   * the connection leaves the pool, which only happens by destroying it.
   */
  #guard(conn: TcpConnection, state: KeyState): void {
    const { host, port } = state;
    conn.socket.on('error', (err: Error) => {
      this.#count(state, 'errors');
      this.#lastError = SystemCallError.from(err, { address: host, port });
    });
  }

  /** Puts a released connection in the idle list and watches it without reading from it. */
  #park(conn: TcpConnection, entry: Entry): void {
    const socket = conn.socket;
    entry.idle = true;
    entry.state.idle.push(conn);
    const onDead = (): void => {
      entry.dead = true;
      this.#evictIdle(conn, entry);
    };
    const onReadable = (): void => {
      if (socket.readableLength > 0) {
        onDead();
        return;
      }
      // No bytes: this is the end of the stream. read(0) consumes nothing and lets 'end' fire.
      socket.read(0);
    };
    socket.on('readable', onReadable);
    socket.on('end', onDead);
    socket.on('close', onDead);
    socket.on('error', onDead);
    entry.unwatch = () => {
      socket.off('readable', onReadable);
      socket.off('end', onDead);
      socket.off('close', onDead);
      socket.off('error', onDead);
    };
    entry.timer = setTimeout(() => this.#evictIdle(conn, entry), this.#idleTimeoutMs);
    entry.timer.unref();
  }

  #unpark(entry: Entry): void {
    if (entry.timer !== undefined) clearTimeout(entry.timer);
    entry.timer = undefined;
    entry.unwatch?.();
    entry.unwatch = undefined;
  }

  #evictIdle(conn: TcpConnection, entry: Entry): void {
    if (!entry.idle || this.#entries.get(conn) !== entry) return;
    const list = entry.state.idle;
    const i = list.indexOf(conn);
    if (i >= 0) list.splice(i, 1);
    entry.idle = false;
    this.#remove(conn, entry, true);
    this.#dispatch(entry.state);
  }

  /** Forgets and destroys a connection that is in neither list any more. */
  #remove(conn: TcpConnection, entry: Entry, evicted: boolean): void {
    this.#unpark(entry);
    this.#entries.delete(conn);
    this.#former.add(conn);
    if (evicted) this.#count(entry.state, 'evicted');
    this.#count(entry.state, 'destroyed');
    // The guard of #guard stays attached: an error after destroy() is counted, not thrown.
    if (!conn.socket.destroyed) conn.socket.destroy();
  }

  /** Serves waiters of a key with idle connections or free capacity. */
  #dispatch(state: KeyState): void {
    while (state.waiters.length > 0) {
      const idle = this.#takeIdle(state);
      if (idle !== undefined) {
        state.waiters.shift()?.grant(idle);
        continue;
      }
      if (this.#open(state) + state.connecting >= this.#maxPerKey) return;
      // The waiter connects itself; reserve the slot now so that no one else takes it.
      const waiter = state.waiters.shift();
      if (waiter === undefined) return;
      state.connecting++;
      waiter.grant(undefined);
    }
    this.#forget(state);
  }
}

/** The reason `close()` aborts connects in progress with. */
const POOL_CLOSED = Symbol('TcpConnectionPool closed');

/** True when a connection can go back to (or come out of) the idle list. */
function isReusable(conn: TcpConnection): boolean {
  const s = conn.socket;
  return (
    !s.destroyed &&
    !s.readableEnded &&
    !s.writableEnded &&
    s.readyState === 'open' &&
    s.readableLength === 0
  );
}

function parseEndpoint(endpoint: string | TcpEndpoint): {
  key: string;
  host: string;
  port: number;
} {
  let host: string;
  let port: number;
  if (typeof endpoint === 'string') {
    ({ host, port } = parseHostPort(endpoint, { argument: 'endpoint' }));
  } else if (typeof endpoint === 'object' && endpoint !== null) {
    ({ host, port } = endpoint);
  } else {
    throw new InvalidArgumentError('endpoint', endpoint, 'must be "host:port" or { host, port }');
  }
  if (port === 0)
    throw new InvalidArgumentError('endpoint', endpoint, 'must have a port in 1..65535');
  const key = formatHostPort({ host, port });
  return { key, host, port };
}
