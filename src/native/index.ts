/**
 * Loader of the optional native addon (C, N-API 8; sources in `native/src/`).
 *
 * The addon is found with `node-gyp-build` from the package root: a local `build/Release` first
 * (`npm run build:native`), then `prebuilds/<platform>-<arch>/` (`npm run prebuilds`). It is loaded
 * lazily, once; the outcome, including the load error, is kept and reported by
 * {@link nativeStatus}, never dropped. Without the addon everything Node itself can do still works.
 *
 * Environment:
 * - `MEDIASOCK_NO_NATIVE=1` turns the addon off (the suite runs once this way in CI);
 * - `MEDIASOCK_NATIVE_PATH=/abs/path/mediasock.node` loads that exact file instead (used by
 *   `scripts/sanitize-native.sh` to test a sanitizer build without touching `build/Release`).
 *
 * Every function of the binding handed out here is wrapped so that errors come out typed: a failed
 * system call as {@link SystemCallError} (`code` = errno name, `syscall`, `option`, `address`,
 * `port`), an argument the C side rejected as {@link InvalidArgumentError}, a DTLS failure as
 * `DtlsError` (`MEDIASOCK_ERR_DTLS`) and a record too large for the MTU as `MessageTooLargeError`.
 *
 * This module does not validate option values; the modules that call the addon do, before calling.
 *
 * @module
 */

import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { InvalidArgumentError, NativeUnavailableError, SystemCallError } from '../errors.js';
import { DtlsError, MessageTooLargeError } from '../errors.js';
import type { DtlsFailure } from '../errors.js';
import type { NativeBinding } from './binding.js';

export type * from './binding.js';

/** What {@link nativeStatus} reports. */
export interface NativeStatus {
  /** Whether the addon is loaded in this process. */
  loaded: boolean;
  /** The file that was loaded. */
  path?: string;
  /** Why it is not loaded: the load error, or an error naming `MEDIASOCK_NO_NATIVE`. */
  loadError?: Error;
}

let state: { binding: NativeBinding | undefined; status: NativeStatus } | undefined;

/** The directory holding mediasock's package.json (the repository or the installed package). */
function packageRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 6; i++) {
    if (existsSync(join(dir, 'package.json')) && existsSync(join(dir, 'binding.gyp'))) return dir;
    const parent = dirname(dir);
    if (parent === dir) break;
    dir = parent;
  }
  // Installed without binding.gyp (prebuilds only): the first directory with a package.json.
  dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 6; i++) {
    if (existsSync(join(dir, 'package.json'))) return dir;
    dir = dirname(dir);
  }
  return dirname(dirname(dirname(fileURLToPath(import.meta.url))));
}

function load(): { binding: NativeBinding | undefined; status: NativeStatus } {
  if (process.env.MEDIASOCK_NO_NATIVE === '1') {
    return {
      binding: undefined,
      status: { loaded: false, loadError: new Error('disabled by MEDIASOCK_NO_NATIVE=1') },
    };
  }
  const require = createRequire(import.meta.url);
  try {
    const override = process.env.MEDIASOCK_NATIVE_PATH;
    let path: string;
    if (override !== undefined && override !== '') {
      path = override;
    } else {
      const gypBuild = require('node-gyp-build') as { resolve(dir: string): string };
      path = gypBuild.resolve(packageRoot());
    }
    const raw = require(path) as NativeBinding;
    return { binding: wrap(raw), status: { loaded: true, path } };
  } catch (err) {
    const loadError = err instanceof Error ? err : new Error(String(err));
    return { binding: undefined, status: { loaded: false, loadError } };
  }
}

/** Turns what C throws into the library's error classes; anything else passes unchanged. */
function convert(err: unknown): unknown {
  if (typeof err !== 'object' || err === null) return err;
  const e = err as {
    errno?: unknown;
    syscall?: unknown;
    option?: unknown;
    address?: unknown;
    port?: unknown;
    argument?: unknown;
    expected?: unknown;
    value?: unknown;
    dtlsReason?: unknown;
    openssl?: unknown;
    alert?: unknown;
    verifyResult?: unknown;
    size?: unknown;
    maxBytes?: unknown;
    message?: unknown;
  };
  if (typeof e.dtlsReason === 'string') {
    if (e.dtlsReason === 'too-large' && typeof e.size === 'number' && typeof e.maxBytes === 'number')
      return new MessageTooLargeError(e.size, e.maxBytes);
    return new DtlsError(e.dtlsReason as DtlsFailure, String(e.message), {
      openssl: typeof e.openssl === 'string' ? e.openssl : undefined,
      alert: typeof e.alert === 'string' ? e.alert : undefined,
      verifyResult: typeof e.verifyResult === 'string' ? e.verifyResult : undefined,
    });
  }
  if (typeof e.errno === 'number' && typeof e.syscall === 'string') {
    return new SystemCallError(e.syscall, e.errno, {
      option: typeof e.option === 'string' ? e.option : undefined,
      address: typeof e.address === 'string' ? e.address : undefined,
      port: typeof e.port === 'number' ? e.port : undefined,
    });
  }
  if (typeof e.argument === 'string' && typeof e.expected === 'string') {
    return new InvalidArgumentError(e.argument, e.value, e.expected, { cause: err });
  }
  return err;
}

function wrap(raw: NativeBinding): NativeBinding {
  const wrapped: Record<string, unknown> = {
    constants: raw.constants,
    platform: raw.platform,
    dtlsOpenssl: raw.dtlsOpenssl,
  };
  for (const [key, value] of Object.entries(raw)) {
    if (typeof value !== 'function' || !key.startsWith('msock_')) continue;
    const fn = value as (...args: unknown[]) => unknown;
    wrapped[key] = (...args: unknown[]): unknown => {
      try {
        return fn(...args);
      } catch (err) {
        throw convert(err);
      }
    };
  }
  return Object.freeze(wrapped) as unknown as NativeBinding;
}

function ensure(): { binding: NativeBinding | undefined; status: NativeStatus } {
  state ??= load();
  return state;
}

/** Whether the addon is loaded, from where, or why not. Loads it on first call. */
export function nativeStatus(): NativeStatus {
  const { status } = ensure();
  return { ...status };
}

/** The addon's binding, or `undefined` when it is not available (see {@link nativeStatus}). */
export function loadNative(): NativeBinding | undefined {
  return ensure().binding;
}

/**
 * The addon's binding for an operation that cannot work without it.
 *
 * @param feature - what needs the addon, named for the user (`IP_MULTICAST_ALL`, `recvmmsg`).
 * @throws NativeUnavailableError (`MEDIASOCK_ERR_NATIVE_UNAVAILABLE`) carrying the load error.
 */
export function requireNative(feature: string): NativeBinding {
  const { binding, status } = ensure();
  if (binding === undefined) throw new NativeUnavailableError(feature, status.loadError);
  return binding;
}
