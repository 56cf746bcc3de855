/**
 * Validators of argument values, shared by every module that takes options from a caller.
 *
 * Each validator checks one value and throws {@link InvalidArgumentError} naming the argument, the
 * value received and the range expected; on success it returns nothing and narrows the type. They
 * run before any system call, so bad input never reaches the kernel.
 *
 * What this module does not do: coerce (`'5004'` is not a port), apply defaults, or know about
 * sockets, addresses or URLs. Address syntax lives in `address.ts`, URL syntax in `url.ts`.
 *
 * @module
 */

import { InvalidArgumentError } from './errors.js';

/**
 * Checks that `value` is an integer in `min..max` (both inclusive).
 *
 * @param argument - The name reported in the error (`'port'`, `'recvBufferBytes'` …).
 * @param min - Smallest value allowed. Default `Number.MIN_SAFE_INTEGER`.
 * @param max - Largest value allowed. Default `Number.MAX_SAFE_INTEGER`.
 * @throws InvalidArgumentError `MEDIASOCK_ERR_INVALID_ARG` when `value` is not such an integer.
 */
export function validateInteger(
  value: unknown,
  argument: string,
  min: number = Number.MIN_SAFE_INTEGER,
  max: number = Number.MAX_SAFE_INTEGER,
): asserts value is number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw new InvalidArgumentError(argument, value, `must be an integer in ${min}..${max}`);
  }
}

/**
 * Checks that `value` is a UDP or TCP port number: an integer in `0..65535`. Port 0 asks the
 * kernel for an ephemeral port when binding.
 *
 * @throws InvalidArgumentError `MEDIASOCK_ERR_INVALID_ARG` otherwise.
 */
export function validatePort(value: unknown, argument = 'port'): asserts value is number {
  validateInteger(value, argument, 0, 65535);
}

/**
 * Checks that `value` is an IPv4 time-to-live (`IP_TTL`, `IP_MULTICAST_TTL`): an integer in
 * `0..255`. Zero is allowed: as a multicast TTL it keeps datagrams on the sending host.
 *
 * @throws InvalidArgumentError `MEDIASOCK_ERR_INVALID_ARG` otherwise.
 */
export function validateTtl(value: unknown, argument = 'ttl'): asserts value is number {
  validateInteger(value, argument, 0, 255);
}

/**
 * Checks that `value` is an IPv6 hop limit (`IPV6_UNICAST_HOPS`, `IPV6_MULTICAST_HOPS`): an
 * integer in `0..255`. (The kernel's `-1`, "use the route default", is expressed by leaving the
 * option unset, not by passing -1.)
 *
 * @throws InvalidArgumentError `MEDIASOCK_ERR_INVALID_ARG` otherwise.
 */
export function validateHopLimit(value: unknown, argument = 'hopLimit'): asserts value is number {
  validateInteger(value, argument, 0, 255);
}

/**
 * Checks that `value` is a Differentiated Services code point: an integer in `0..63` (RFC 2474),
 * the upper six bits of the IPv4 TOS byte / IPv6 traffic class (`IP_TOS`, `IPV6_TCLASS`).
 *
 * @throws InvalidArgumentError `MEDIASOCK_ERR_INVALID_ARG` otherwise.
 */
export function validateDscp(value: unknown, argument = 'dscp'): asserts value is number {
  validateInteger(value, argument, 0, 63);
}

/**
 * Checks that `value` is a whole IPv4 TOS byte or IPv6 traffic class (`IP_TOS`, `IPV6_TCLASS`):
 * an integer in `0..255`, DSCP in the upper six bits and ECN in the lower two.
 *
 * @throws InvalidArgumentError `MEDIASOCK_ERR_INVALID_ARG` otherwise.
 */
export function validateTos(value: unknown, argument = 'tos'): asserts value is number {
  validateInteger(value, argument, 0, 255);
}

/**
 * Checks that `value` is a positive number of bytes (buffer sizes, datagram sizes): a safe
 * integer of at least 1.
 *
 * @throws InvalidArgumentError `MEDIASOCK_ERR_INVALID_ARG` otherwise.
 */
export function validateByteCount(value: unknown, argument: string): asserts value is number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 1) {
    throw new InvalidArgumentError(argument, value, 'must be a positive safe integer of bytes');
  }
}

/**
 * Checks that `value` is a duration in milliseconds: a finite number of at least 0. Fractions are
 * allowed (timers round them).
 *
 * @throws InvalidArgumentError `MEDIASOCK_ERR_INVALID_ARG` otherwise.
 */
export function validateTimeoutMs(value: unknown, argument = 'timeoutMs'): asserts value is number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) {
    throw new InvalidArgumentError(
      argument,
      value,
      'must be a finite, non-negative number of milliseconds',
    );
  }
}

/**
 * Checks that `value` is a boolean; truthy stand-ins such as `1` or `'yes'` are refused.
 *
 * @throws InvalidArgumentError `MEDIASOCK_ERR_INVALID_ARG` otherwise.
 */
export function validateBoolean(value: unknown, argument: string): asserts value is boolean {
  if (typeof value !== 'boolean') {
    throw new InvalidArgumentError(argument, value, 'must be a boolean');
  }
}

/**
 * Checks that `value` is a string, and with `nonEmpty` that it has at least one character.
 *
 * @throws InvalidArgumentError `MEDIASOCK_ERR_INVALID_ARG` otherwise.
 */
export function validateString(
  value: unknown,
  argument: string,
  { nonEmpty = false }: { nonEmpty?: boolean } = {},
): asserts value is string {
  if (typeof value !== 'string') {
    throw new InvalidArgumentError(argument, value, 'must be a string');
  }
  if (nonEmpty && value.length === 0) {
    throw new InvalidArgumentError(argument, value, 'must be a non-empty string');
  }
}

/**
 * Checks that `value` is `undefined` or an `AbortSignal`.
 *
 * @throws InvalidArgumentError `MEDIASOCK_ERR_INVALID_ARG` otherwise.
 */
export function validateAbortSignal(
  value: unknown,
  argument = 'signal',
): asserts value is AbortSignal | undefined {
  if (value !== undefined && !(value instanceof AbortSignal)) {
    throw new InvalidArgumentError(argument, value, 'must be an AbortSignal or undefined');
  }
}

/**
 * Checks that `value` is an options object (possibly empty): never `null` or a primitive.
 *
 * @throws InvalidArgumentError `MEDIASOCK_ERR_INVALID_ARG` otherwise.
 */
export function validateOptionsObject(
  value: unknown,
  argument = 'options',
): asserts value is object {
  if (typeof value !== 'object' || value === null)
    throw new InvalidArgumentError(argument, value, 'must be an object');
}
