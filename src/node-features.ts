/**
 * Which features of `node:dgram` and `node:net` the running Node has, by version, so that
 * mediasock prefers Node's own implementation where it exists and falls back to the addon where it
 * does not.
 *
 * @module
 */

/**
 * Whether `dgram.createSocket({ reusePort })` and `server.listen({ reusePort })` exist: Node
 * 22.12+ and 23.1+ (nodejs/node#55403, #55408).
 */
export function nodeHasReusePort(version: string = process.versions.node): boolean {
  const [major = 0, minor = 0] = version.split('.').map(Number);
  return major >= 24 || (major === 23 && minor >= 1) || (major === 22 && minor >= 12);
}
