/**
 * The RTSP session (RFC 2326 §12.37): its identifier and timeout from the `Session` header, and
 * the keepalive that stops the server from reaping it.
 *
 * A server drops a session it has not heard from within its timeout (60 s by default; GStreamer's
 * server lets the application set it). The keepalive sends a request well under the timeout. The request is GET_PARAMETER when the server lists
 * it in `Public` (it has no side effect), else OPTIONS, as live555 and rtspsrc do. Half the
 * timeout leaves room for one lost keepalive's TCP retransmission or a slow answer.
 *
 * @module
 */
import { RtspProtocolError } from '../errors.js';

/** RFC 2326's default session timeout, in seconds. */
export const DEFAULT_SESSION_TIMEOUT_S = 60;

/** A parsed `Session` header. */
export interface SessionHeader {
  id: string;
  /** The timeout in seconds (60 when the server gives none). */
  timeoutS: number;
}

/**
 * Parses `Session: id[;timeout=N]`.
 *
 * @throws RtspProtocolError for an empty or malformed identifier or timeout.
 */
export function parseSessionHeader(value: string): SessionHeader {
  const [idPart = '', ...params] = value.split(';').map((p) => p.trim());
  if (!/^[\w$\-.+]{1,256}$/.test(idPart)) {
    throw new RtspProtocolError('the Session header must start with a session identifier', value);
  }
  let timeoutS = DEFAULT_SESSION_TIMEOUT_S;
  for (const p of params) {
    const m = /^timeout\s*=\s*(\d{1,7})$/i.exec(p);
    if (m !== null) timeoutS = Number(m[1]);
    else if (/^timeout/i.test(p)) {
      throw new RtspProtocolError('the Session timeout must be a number of seconds', value);
    }
  }
  if (timeoutS < 1) throw new RtspProtocolError('the Session timeout must be at least 1 s', value);
  return { id: idPart, timeoutS };
}

/** The keepalive period for a session timeout: half of it, at least 0.5 s. */
export function keepaliveIntervalMs(timeoutS: number): number {
  return Math.max(500, (timeoutS * 1000) / 2);
}

/**
 * Runs `send` every interval until stopped. A send that fails is reported to `onError` once and
 * the keepalive goes on (the next one may succeed); the session's own close path reports the
 * connection loss.
 */
export class Keepalive {
  #timer: NodeJS.Timeout | undefined;
  #sent = 0;
  #failed = 0;
  #inFlight = false;

  constructor(
    private readonly intervalMs: number,
    private readonly send: () => Promise<unknown>,
    private readonly onError: (err: unknown) => void,
  ) {}

  /** Keepalives sent and failed so far. */
  get counts(): { sent: number; failed: number } {
    return { sent: this.#sent, failed: this.#failed };
  }

  /** Starts the timer. */
  start(): void {
    if (this.#timer !== undefined) return;
    this.#timer = setInterval(() => this.#tick(), this.intervalMs);
    this.#timer.unref();
  }

  #tick(): void {
    if (this.#inFlight) return; // the previous one is still waiting: do not pile requests up
    this.#inFlight = true;
    this.#sent++;
    this.send().then(
      () => {
        this.#inFlight = false;
      },
      (err: unknown) => {
        this.#inFlight = false;
        this.#failed++;
        this.onError(err);
      },
    );
  }

  /** Stops the timer. Idempotent. */
  stop(): void {
    if (this.#timer !== undefined) clearInterval(this.#timer);
    this.#timer = undefined;
  }
}
