/**
 * Where `mediasock send` takes its datagram payloads from: a file (optionally looped), stdin, or
 * a generated MPEG-TS pattern (PID 0x100, continuity counters in order, so a receiver can check
 * them). Each payload is a fresh buffer, safe to hand to an asynchronous send.
 *
 * What it does not do: parse the file (no PCR-based timing); it is cut into equal chunks.
 *
 * @module
 */
import { once } from 'node:events';
import { open } from 'node:fs/promises';
import type { FileHandle } from 'node:fs/promises';

import { UsageError } from './arguments.js';
import { TS_PACKET_BYTES } from './ts-continuity.js';

/** A source of payloads; `next()` resolves `undefined` at the end. */
export interface PayloadSource {
  next(): Promise<Buffer | undefined>;
  close(): Promise<void>;
  /** What the source is, for the status line. */
  readonly description: string;
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
  return {
    description: `${path}${loop ? ' (looped)' : ''}`,
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
      }
      return undefined;
    },
    close: () => handle.close(),
  };
}

/** Reads stdin in chunks of `payloadBytes` (the last may be shorter). */
export function stdinSource(stdin: NodeJS.ReadableStream, payloadBytes: number): PayloadSource {
  const stream = stdin as NodeJS.ReadableStream & { readableEnded?: boolean };
  let ended = false;
  let failure: Error | undefined;
  stream.once('end', () => (ended = true));
  stream.once('error', (err: Error) => (failure = err));
  return {
    description: 'stdin',
    async next() {
      for (;;) {
        if (failure !== undefined) throw failure;
        const chunk = stream.read(payloadBytes) as Buffer | null;
        if (chunk !== null) return Buffer.from(chunk);
        if (ended || stream.readableEnded === true) return undefined;
        const ac = new AbortController();
        await Promise.race([
          once(stream, 'readable', { signal: ac.signal }),
          once(stream, 'end', { signal: ac.signal }).then(() => (ended = true)),
        ]).catch((err: unknown) => {
          if ((err as Error).name !== 'AbortError') throw err;
        });
        ac.abort();
      }
    },
    close() {
      // Stop reading so that a pipe still open on stdin does not keep the process alive.
      (stream as NodeJS.ReadableStream & { destroy?: () => void }).destroy?.();
      return Promise.resolve();
    },
  };
}

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
