/**
 * Where `mediasock send` takes its datagram payloads from: a file (optionally looped), stdin, or
 * a generated MPEG-TS pattern (PID 0x100, continuity counters in order, so a receiver can check
 * them). Each payload is a fresh buffer, safe to hand to an asynchronous send.
 *
 * What it does not do: parse the file; it is cut into equal chunks (PCR timing is
 * `TsPlayout`'s, on these chunks).
 *
 * @module
 */
import { open } from 'node:fs/promises';
import type { FileHandle } from 'node:fs/promises';

import { UsageError } from './arguments.js';
import { TS_PACKET_BYTES } from '../index.js';

/** A source of payloads; `next()` resolves `undefined` at the end or once `signal` aborts. */
export interface PayloadSource {
  next(signal?: AbortSignal): Promise<Buffer | undefined>;
  close(): Promise<void>;
  /** What the source is, for the status line. */
  readonly description: string;
  /** Times a looped file started again from its beginning (file sources only). */
  readonly restarts?: number;
}

/**
 * Whether `path` starts like an MPEG-TS file: sync bytes 0x47 at 0, 188, 376 … over its first
 * five packets (or all of them, when shorter, at least two). An unreadable file is `false` (the
 * open that follows reports it).
 */
export async function probeTransportStream(path: string): Promise<boolean> {
  let handle: FileHandle | undefined;
  try {
    handle = await open(path, 'r');
    const b = Buffer.alloc(5 * TS_PACKET_BYTES);
    const { bytesRead } = await handle.read(b, 0, b.length, 0);
    if (bytesRead < 2 * TS_PACKET_BYTES) return false;
    for (let i = 0; i + TS_PACKET_BYTES <= bytesRead; i += TS_PACKET_BYTES)
      if (b[i] !== 0x47) return false;
    return true;
  } catch {
    return false;
  } finally {
    await handle?.close().catch(() => undefined);
  }
}

/** Opens `FILE`; an unreadable file is a {@link UsageError}. */
export async function openFileSource(
  path: string,
  payloadBytes: number,
  loop: boolean,
): Promise<PayloadSource> {
  let handle: FileHandle;
  try {
    handle = await open(path, 'r');
    const stat = await handle.stat();
    if (!stat.isFile()) {
      await handle.close();
      throw new UsageError(`cannot read ${path}: not a regular file`);
    }
    if (stat.size === 0) {
      await handle.close();
      throw new UsageError(`cannot send ${path}: the file is empty`);
    }
  } catch (err) {
    if (err instanceof UsageError) throw err;
    throw new UsageError(`cannot read ${path}: ${(err as Error).message}`);
  }
  let position = 0;
  let restarts = 0;
  return {
    description: `${path}${loop ? ' (looped)' : ''}`,
    get restarts() {
      return restarts;
    },
    async next() {
      for (let attempt = 0; attempt < 2; attempt++) {
        const buffer = Buffer.allocUnsafe(payloadBytes);
        const { bytesRead } = await handle.read(buffer, 0, payloadBytes, position);
        if (bytesRead > 0) {
          position += bytesRead;
          return buffer.subarray(0, bytesRead);
        }
        if (!loop) return undefined;
        position = 0;
        restarts++;
      }
      return undefined;
    },
    close: () => handle.close(),
  };
}

/**
 * Reads stdin in chunks of `payloadBytes` (the last may be shorter). The chunks the pipe delivers
 * are gathered here, whatever their sizes, and handed out once a whole payload is there; while
 * stdin stalls, `next()` waits on an event (no polling) and ends at once when its signal aborts.
 * At most {@link STDIN_HIGH_WATER_BYTES} (or 64 payloads) are held before stdin is paused.
 */
export function stdinSource(stdin: NodeJS.ReadableStream, payloadBytes: number): PayloadSource {
  const highWater = Math.max(STDIN_HIGH_WATER_BYTES, 64 * payloadBytes);
  const chunks: Buffer[] = [];
  let buffered = 0;
  let ended = false;
  let failure: Error | undefined;
  let wake: (() => void) | undefined;
  const notify = (): void => {
    const w = wake;
    wake = undefined;
    w?.();
  };
  stdin.on('data', (chunk: Buffer | string) => {
    const b = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
    if (b.length === 0) return;
    chunks.push(b);
    buffered += b.length;
    if (buffered >= highWater) stdin.pause();
    notify();
  });
  stdin.once('end', () => {
    ended = true;
    notify();
  });
  stdin.once('error', (err: Error) => {
    failure = err;
    notify();
  });
  /** Takes `n` ≤ `buffered` bytes off the front, as a fresh buffer. */
  const take = (n: number): Buffer => {
    const out = Buffer.allocUnsafe(n);
    let filled = 0;
    while (filled < n) {
      const head = chunks[0] as Buffer;
      const used = Math.min(head.length, n - filled);
      head.copy(out, filled, 0, used);
      filled += used;
      if (used === head.length) chunks.shift();
      else chunks[0] = head.subarray(used);
    }
    buffered -= n;
    if (stdin.isPaused() && buffered < highWater / 2 && !ended) stdin.resume();
    return out;
  };
  return {
    description: 'stdin',
    async next(signal?: AbortSignal) {
      // Bounded: each pass either returns or waits for one event (data, end, error or abort).
      for (;;) {
        if (buffered >= payloadBytes) return take(payloadBytes);
        if (failure !== undefined) throw failure;
        if (ended) return buffered > 0 ? take(buffered) : undefined;
        if (signal?.aborted === true) return undefined;
        await new Promise<void>((resolve) => {
          const onAbort = (): void => notify();
          wake = () => {
            signal?.removeEventListener('abort', onAbort);
            resolve();
          };
          signal?.addEventListener('abort', onAbort, { once: true });
        });
      }
    },
    close() {
      // Stop reading so that a pipe still open on stdin does not keep the process alive.
      (stdin as NodeJS.ReadableStream & { destroy?: () => void }).destroy?.();
      notify();
      return Promise.resolve();
    },
  };
}

/** Bytes of stdin held before it is paused (the pipe then holds the writer back). */
export const STDIN_HIGH_WATER_BYTES = 1 << 20;

/**
 * Generates MPEG-TS packets on PID 0x100 with a payload counter and in-order continuity counters,
 * `payloadBytes / 188` per datagram (payloadBytes must be a multiple of 188).
 */
export function patternSource(payloadBytes: number): PayloadSource {
  let cc = 0;
  let counter = 0;
  return {
    description: `generated MPEG-TS pattern (PID 0x100, ${payloadBytes / TS_PACKET_BYTES} packets per datagram)`,
    next() {
      const b = Buffer.alloc(payloadBytes, 0xff);
      for (let i = 0; i < payloadBytes; i += TS_PACKET_BYTES) {
        b[i] = 0x47;
        b[i + 1] = 0x01;
        b[i + 2] = 0x00;
        b[i + 3] = 0x10 | cc;
        b.writeUInt32BE(counter >>> 0, i + 4);
        cc = (cc + 1) & 0x0f;
        counter++;
      }
      return Promise.resolve(b);
    },
    close: () => Promise.resolve(),
  };
}
