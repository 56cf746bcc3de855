/**
 * Classes the package creates through a factory (`UdpSocket.open`, `listenTcp`, …) take this
 * token as the first argument of their constructor, so `new` from outside the package is a typed
 * error rather than an object in a broken state.
 *
 * @module
 * @internal
 */
import { InvalidStateError } from '../errors.js';

/** Passed by the package's factories to the constructors they call. */
export const kFactory: unique symbol = Symbol('mediasock factory');

/** @throws InvalidStateError unless `token` is {@link kFactory}. */
export function assertFactory(token: unknown, name: string, factory: string): void {
  if (token !== kFactory)
    throw new InvalidStateError(`${name} is created with ${factory}, not with new ${name}()`);
}
