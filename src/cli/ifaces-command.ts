/**
 * `mediasock ifaces`: the interface table (index, name, flags, MTU, addresses) and this host's
 * IPv4 and IPv6 address as live555's `ourIPv4Address()` / `ourIPv6Address()` pick them.
 *
 * @module
 */
import { nativeStatus, networkInterfaces, ourIPv4Address, ourIPv6Address } from '../index.js';
import { COMMON_OPTIONS, UsageError, parseCommandArgs } from './arguments.js';
import type { CommandIo } from './command-io.js';
import { ExitCode } from './command-io.js';

export const IFACES_HELP = `Usage: mediasock ifaces [--json]

Lists the network interfaces with index, name, flags, MTU and addresses, and the address
this host uses as its own (the first non-loopback interface that is up).

Flags: UP, RUNNING, LOOPBACK, MULTICAST, BROADCAST, POINTOPOINT.
Note: on Linux lo has no MULTICAST flag, yet IPv4 multicast on lo works when named.

Options:
  --json        one JSON object: { interfaces, ourIPv4Address, ourIPv6Address, native }
  --debug       print stacks of errors
  -h, --help    this help

Examples:
  mediasock ifaces
  mediasock ifaces --json | jq '.interfaces[] | select(.flags.multicast) | .name'

Exit codes: 0 ok, 1 runtime failure, 2 usage error.
`;

const OPTIONS = { ...COMMON_OPTIONS, json: { type: 'boolean' } } as const;

/** Runs `mediasock ifaces`. */
export function ifacesCommand(args: string[], io: CommandIo): number {
  const { values, positionals } = parseCommandArgs(args, OPTIONS);
  if (values.help === true) {
    io.stdout.write(IFACES_HELP);
    return ExitCode.OK;
  }
  if (positionals.length > 0)
    throw new UsageError(`ifaces takes no arguments (received ${positionals[0]})`);
  const list = networkInterfaces();
  const v4 = ourIPv4Address();
  const v6 = ourIPv6Address();
  if (values.json === true) {
    const native = nativeStatus();
    io.stdout.write(
      `${JSON.stringify({
        interfaces: list,
        ourIPv4Address: v4 ?? null,
        ourIPv6Address: v6 ?? null,
        native: { loaded: native.loaded, loadError: native.loadError?.message ?? null },
      })}\n`,
    );
    return ExitCode.OK;
  }
  const rows = list.map((i) => {
    const f = i.flags;
    const flags = [
      f.up && 'UP',
      f.running && 'RUNNING',
      f.loopback && 'LOOPBACK',
      f.multicast && 'MULTICAST',
      f.broadcast && 'BROADCAST',
      f.pointToPoint && 'POINTOPOINT',
    ].filter((x): x is string => typeof x === 'string');
    return {
      index: i.index === undefined ? '-' : String(i.index),
      name: i.name,
      flags: flags.join(','),
      mtu: i.mtu === undefined ? '-' : String(i.mtu),
      addresses: i.addresses.map((a) => `${a.address}/${a.prefixLength}`),
    };
  });
  const head = { index: 'INDEX', name: 'NAME', flags: 'FLAGS', mtu: 'MTU' };
  const w = {
    index: Math.max(head.index.length, ...rows.map((r) => r.index.length)),
    name: Math.max(head.name.length, ...rows.map((r) => r.name.length)),
    flags: Math.max(head.flags.length, ...rows.map((r) => r.flags.length)),
    mtu: Math.max(head.mtu.length, ...rows.map((r) => r.mtu.length)),
  };
  const line = (
    r: { index: string; name: string; flags: string; mtu: string },
    addr: string,
  ): string =>
    `${r.index.padStart(w.index)}  ${r.name.padEnd(w.name)}  ${r.flags.padEnd(w.flags)}  ${r.mtu.padStart(w.mtu)}  ${addr}`.trimEnd();
  const out = [line(head, 'ADDRESSES')];
  for (const r of rows) {
    out.push(line(r, r.addresses[0] ?? ''));
    const blank = { index: '', name: '', flags: '', mtu: '' };
    for (const a of r.addresses.slice(1)) out.push(line(blank, a));
  }
  out.push('', `our IPv4 address: ${v4 ?? '(none)'}`, `our IPv6 address: ${v6 ?? '(none)'}`);
  io.stdout.write(`${out.join('\n')}\n`);
  return ExitCode.OK;
}
