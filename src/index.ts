/**
 * mediasock: the socket layer for streaming media on Node.js.
 *
 * Public re-exports only; each module documents what it does and what it does not do.
 *
 * @packageDocumentation
 */
export * from './errors.js';
