/**
 * Property test of the command line: arbitrary argv for every command ends with exit 0, 1 or 2
 * and never with a stack trace, a signal or a hang.
 *
 * Network safety: argv is built from tokens, and every address in them is loopback (127.0.0.x,
 * ::1, localhost), a multicast group pinned to `iface=lo` (lo never sends off the host), or text
 * that cannot be an address or a host name (no free-form host names: a random name could resolve
 * to a real host). Every valid destination port is a sink socket of this test, so nothing lands on
 * a port another program or test may be using.
 * `--iface` values are `lo` or names that do not exist, so no join reaches another interface.
 * Free-form strings use an alphabet without `:` and `/`, so they never form a URL or a path
 * outside the scratch directory the child runs in (where `--out` files land).
 *
 * `MEDIASOCK_FUZZ_LOG=FILE` records every run (to see how many get past parsing).
 *
 * Bounded: each command gets at most `MEDIASOCK_FUZZ_RUNS` runs (default 20, at most 60) and its
 * share of the file's 70 s (what is left divided by the commands still to run, at most 60 s, so a
 * command that finishes early leaves its time to the next); every child has `--duration`/`--seconds`
 * appended (the last value wins) and a hard timeout. The whole file stays inside the runner's
 * per-file limit on a loaded machine.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { setTimeout as sleep } from 'node:timers/promises';
import * as dgram from 'node:dgram';
import { appendFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';

import { REPO } from './cli-process.js';

const RUNS = Math.min(60, Math.max(1, Number(process.env.MEDIASOCK_FUZZ_RUNS ?? 20) || 20));
const TIME_PER_COMMAND_MS = 60_000;
const TIME_PER_FILE_MS = 70_000;
const fileDeadline = Date.now() + TIME_PER_FILE_MS;
const CHILD_TIMEOUT_MS = 20_000;
const MAIN = join(REPO, 'src', 'cli', 'main.ts');
/** tsx by URL: the child runs in a scratch directory, where the package name would not resolve. */
const TSX = import.meta.resolve('tsx');

/** Free text that can be neither a URL, an address nor a path out of the scratch directory. */
const text = fc.stringMatching(/^[a-z0-9.=@%+\-_ ]{0,8}$/);

const numbers = fc.oneof(
  {
    weight: 4,
    arbitrary: fc.constantFrom('1', '2', '3', '0.5', '100', '1k', '1e3', '0x10', '188'),
  },
  {
    weight: 1,
    arbitrary: fc.constantFrom(
      '0',
      '-1',
      '.5',
      '1e12',
      '1e-9',
      'NaN',
      'Infinity',
      '0xffffffff',
      '2.5M',
      '1G',
      '3000000',
      '65507',
      '65536',
      '',
    ),
  },
  { weight: 1, arbitrary: fc.integer({ min: -70_000, max: 70_000 }).map(String) },
  { weight: 1, arbitrary: fc.double({ noNaN: false }).map(String) },
  { weight: 1, arbitrary: text },
);

const hosts = fc.constantFrom(
  '127.0.0.1',
  '127.0.0.2',
  '[::1]',
  'localhost',
  '',
  '[::1',
  '::1',
  '256.0.0.1',
  'a b',
  '%%',
  '[fe80::1%nosuch0]',
);
/**
 * Ports: invalid ones, 0, or {@link SINK}, which each run replaces by the port of a sink socket of
 * this test, so that no datagram lands on a port another program (or test) may be using.
 */
const SINK = 'SINKPORT';
const ports = fc.constantFrom('0', SINK, SINK, SINK, '65536', '-1', 'x', '');
const queries = fc.constantFrom(
  '',
  '?iface=lo',
  '?iface=nosuch0',
  '?ttl=0',
  '?ttl=300',
  '?dscp=10',
  '?buffer=65536',
  '?buffer=-1',
  '?reuse=1',
  '?sources=127.0.0.2',
  '?bogus=1',
);
const schemes = fc.constantFrom('udp', 'rtp', 'http', 'udp:', '');

/** Unicast URLs: loopback or unparseable. */
const unicastUrl = fc
  .tuple(schemes, fc.constantFrom('', '@'), hosts, ports, queries)
  .map(([s, at, h, p, q]) => `${s}://${at}${h}:${p}${q}`);

/** Multicast URLs: always pinned to lo (packets on lo never leave the host, whatever the TTL). */
const multicastUrl = fc
  .tuple(
    fc.constantFrom('udp', 'rtp'),
    fc.constantFrom('@239.255.71.1', '239.255.71.1', '127.0.0.2@232.0.71.1', '@232.0.71.1'),
    ports,
    fc.constantFrom('?iface=lo', '?iface=lo&ttl=0', '?iface=lo&reuse=1'),
  )
  .map(([s, g, p, q]) => `${s}://${g}:${p}${q}`);

const url = fc.oneof(unicastUrl, multicastUrl);

/** The options of each command that take a value, and its flags. */
const COMMAND_OPTIONS: Record<string, { values: string[]; flags: string[] }> = {
  ifaces: { values: [], flags: ['--json'] },
  recv: {
    values: ['clock-rate', 'out-buffer', 'count', 'duration', 'interval', 'iface', 'out'],
    flags: ['--rtp', '--json'],
  },
  send: {
    values: [
      'pps',
      'bitrate',
      'payload-size',
      'payload-type',
      'ssrc',
      'clock-rate',
      'iface',
      'bind',
      'ttl',
      'dscp',
      'count',
      'duration',
      'gap',
      'interval',
    ],
    flags: ['--rtp', '--loop', '--json'],
  },
  relay: {
    values: ['iface', 'count', 'duration', 'interval', 'max-in-flight'],
    flags: ['--json'],
  },
  bench: { values: ['seconds', 'size'], flags: ['--json'] },
  demo: { values: ['duration', 'pps', 'group'], flags: ['--json'] },
};

/** Values of the options that name interfaces, addresses, groups or files. */
const NAMED: Record<string, fc.Arbitrary<string>> = {
  iface: fc.constantFrom('lo', '1', '127.0.0.1', 'nosuch0', ''),
  bind: fc.constantFrom('127.0.0.1', '127.0.0.2', '::1', 'nosuch', ''),
  group: fc.constantFrom('239.255.71.2', '239.255.71.3', '10.0.0.1', '239.999.1.1', ''),
  out: fc.oneof(fc.constantFrom('-', 'out.ts', ''), text),
};

/** One option of `command` (one or two tokens); now and then one it does not have. */
function option(command: string): fc.Arbitrary<string[]> {
  const { values, flags } = COMMAND_OPTIONS[command] ?? { values: [], flags: [] };
  const all = [...new Set(Object.values(COMMAND_OPTIONS).flatMap((o) => o.values))];
  const valued = (names: string[]): fc.Arbitrary<string[]> =>
    fc
      .constantFrom(...names)
      .chain((name) =>
        fc
          .tuple(NAMED[name] ?? numbers, fc.boolean())
          .map(([v, inline]) => (inline ? [`--${name}=${v}`] : [`--${name}`, v])),
      );
  return fc.oneof(
    ...(values.length > 0 ? [{ weight: 6, arbitrary: valued(values) }] : []),
    { weight: 2, arbitrary: fc.constantFrom(...flags).map((f) => [f]) },
    { weight: 1, arbitrary: valued(all) },
    {
      weight: 1,
      arbitrary: fc
        .constantFrom('--help', '-h', '--debug', '--bogus', '--rtp', '--loop', '-', '--')
        .map((f) => [f]),
    },
  );
}

const token = fc.oneof(
  { weight: 1, arbitrary: url.map((u) => [u]) },
  { weight: 1, arbitrary: text.map((t) => [t]) },
);

/** Well-formed loopback URLs, so that many runs get past parsing and really run. */
const listenUrl = fc
  .tuple(fc.constantFrom('udp', 'rtp'), fc.constantFrom('@127.0.0.1:0', '@:0', '@[::1]:0'))
  .map(([s, a]) => `${s}://${a}`);
const sendUrl = fc
  .tuple(fc.constantFrom('udp', 'rtp'), fc.constantFrom('127.0.0.1', '[::1]', 'localhost'))
  .map(([s, h]) => `${s}://${h}:${SINK}`);

/** Well-formed three times out of four, else anything. */
function mostly(good: fc.Arbitrary<string[]>, any: fc.Arbitrary<string[]>): fc.Arbitrary<string[]> {
  return fc.oneof({ weight: 3, arbitrary: good }, { weight: 1, arbitrary: any });
}

/** The positionals each command expects. */
const HEADS: Record<string, fc.Arbitrary<string[]>> = {
  ifaces: fc.constant([]),
  recv: mostly(
    listenUrl.map((u) => [u]),
    url.map((u) => [u]),
  ),
  send: mostly(
    fc
      .tuple(sendUrl, fc.constantFrom(undefined, '-', MAIN))
      .map(([u, f]) => (f === undefined ? [u] : [u, f])),
    url.map((u) => [u]),
  ),
  relay: mostly(
    fc
      .tuple(listenUrl, fc.array(sendUrl, { minLength: 1, maxLength: 3 }))
      .map(([i, o]) => [i, ...o]),
    fc.array(url, { maxLength: 3 }),
  ),
  bench: fc.constant([]),
  demo: fc.constant([]),
};

/** Options of the command, and now and then a stray URL or word. */
function argvTail(command: string): fc.Arbitrary<string[]> {
  return fc
    .tuple(
      fc.array(option(command), { maxLength: 3 }),
      fc.oneof(
        { weight: 4, arbitrary: fc.constant([]) },
        { weight: 1, arbitrary: fc.array(token, { minLength: 1, maxLength: 2 }) },
      ),
    )
    .map(([options, tokens]) => [...options.flat(), ...tokens.flat()]);
}

/** What keeps each run short: appended last, so it wins over generated values of the same option. */
const LIMITS: Record<string, string[]> = {
  ifaces: [],
  recv: ['--duration', '0.3'],
  send: ['--duration', '0.3'],
  relay: ['--duration', '0.3'],
  bench: ['--seconds', '0.05'],
  demo: ['--duration', '0.3'],
};

interface Run {
  code: number | null;
  signal: NodeJS.Signals | null;
  stderr: string;
}

/**
 * Runs still going: fast-check abandons the run in flight when a command's time is up, and the
 * command's test kills it (with whatever it started) before it ends.
 */
const live = new Set<ChildProcess>();

/** SIGKILL to the child's process group: the command and every process it started (bench's peer). */
function killGroup(child: ChildProcess): void {
  try {
    process.kill(-child.pid!, 'SIGKILL');
  } catch (err) {
    // ESRCH: the group is gone already.
    if ((err as NodeJS.ErrnoException).code !== 'ESRCH') throw err;
  }
}

function run(argv: string[], cwd: string): Promise<Run> {
  // A process group of its own, so a kill reaches what the command started too.
  const child = spawn(process.execPath, ['--import', TSX, MAIN, ...argv], {
    cwd,
    stdio: ['pipe', 'ignore', 'pipe'],
    detached: true,
  });
  live.add(child);
  child.stdin.on('error', () => undefined);
  child.stdin.end();
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const timer = setTimeout(() => killGroup(child), CHILD_TIMEOUT_MS);
  return new Promise((resolve) => {
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      live.delete(child);
      resolve({ code, signal, stderr });
    });
  });
}

/** Kills the runs a test left behind and waits (at most 5 s) until their pipes closed. */
async function killLeftovers(): Promise<void> {
  const closing = [...live].map((child) => {
    killGroup(child);
    return once(child, 'close');
  });
  await Promise.race([Promise.all(closing), sleep(5000)]);
}

/**
 * A socket that swallows what the runs send: dual-stack on the wildcard where IPv6 works (so
 * 127.0.0.1 and ::1 both land here), else IPv4 on 127.0.0.1. Resolves with its port.
 */
async function openSink(t: { after: (fn: () => void) => void }): Promise<number> {
  for (const [type, address] of [
    ['udp6', '::'],
    ['udp4', '127.0.0.1'],
  ] as const) {
    const socket = dgram.createSocket({ type, ipv6Only: false });
    const bound = await new Promise<boolean>((resolve) => {
      socket.once('error', () => resolve(false));
      socket.bind(0, address, () => resolve(true));
    });
    if (bound) {
      socket.on('message', () => undefined);
      t.after(() => socket.close());
      return socket.address().port;
    }
    socket.close();
  }
  throw new Error('cannot bind a sink socket on loopback');
}

const commands = Object.keys(LIMITS);
for (const [index, command] of commands.entries()) {
  test(`fuzz: mediasock ${command} with arbitrary arguments exits 0, 1 or 2 without a stack`, async (t) => {
    const dir = mkdtempSync(join(tmpdir(), 'mediasock-fuzz-'));
    t.after(async () => {
      await killLeftovers();
      rmSync(dir, { recursive: true, force: true });
    });
    const sink = String(await openSink(t));
    const share = (fileDeadline - Date.now()) / (commands.length - index);
    const timeLimit = Math.max(1000, Math.min(TIME_PER_COMMAND_MS, share));
    await fc.assert(
      fc.asyncProperty(HEADS[command] ?? fc.constant([]), argvTail(command), async (head, tail) => {
        const argv = [command, ...head, ...tail, ...(LIMITS[command] ?? [])].map((a) =>
          a.replaceAll(SINK, sink),
        );
        // --debug prints stacks on purpose; judge the run without it.
        const r = await run(
          argv.filter((a) => a !== '--debug'),
          dir,
        );
        const shown = JSON.stringify(argv);
        assert.ok(
          r.code === 0 || r.code === 1 || r.code === 2,
          `${shown}: exit ${String(r.code)} signal ${String(r.signal)}: ${r.stderr}`,
        );
        assert.doesNotMatch(r.stderr, /\n\s+at |Unhandled|TypeError|RangeError/, shown);
        // MEDIASOCK_FUZZ_LOG=FILE keeps every run's argv, exit code and first line of stderr.
        const log = process.env.MEDIASOCK_FUZZ_LOG;
        if (log !== undefined) {
          appendFileSync(log, `${String(r.code)} ${shown} ${r.stderr.split('\n')[0] ?? ''}\n`);
        }
      }),
      {
        numRuns: RUNS,
        interruptAfterTimeLimit: timeLimit,
        markInterruptAsFailure: false,
      },
    );
  });
}
