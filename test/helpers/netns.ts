/**
 * Private multi-host networks for tests, built from Linux network namespaces, and child processes
 * run inside them.
 *
 * {@link createTopology} makes a hub namespace holding a bridge `br0` and N host namespaces, each
 * wired to the bridge by a veth pair (`veth0` in the host, `p<i>` on the bridge). Nothing is created
 * in, or sent through, the root namespace: every `ip` command targets a namespace made here, so tests
 * can send and join multicast freely without any datagram leaving the machine.
 *
 * Node cannot enter a namespace from inside a process, so code that should run "on a host" runs as a
 * child: {@link spawnInNamespace} (any argv) or {@link spawnNodeInNamespace} (a TypeScript fixture
 * under `test/netns/fixtures/`, run with `tsx`). Fixtures talk JSON lines on stdout.
 *
 * What it does not do: it does not need or use `unshare`, it does not route between topologies, and
 * it does not emulate loss or delay (add `tc netem` on a `p<i>` port if a test needs that).
 *
 * Cleanup: {@link Topology.destroy} deletes every namespace the topology made (which removes its
 * veths and bridge); it is idempotent and also runs on process `'exit'`. Namespaces left behind by a
 * process that was killed are swept by the next {@link createTopology} (names carry the creator's pid).
 */
import { execFile, execFileSync, spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { promisify } from 'node:util';

const execFileAsync = promisify(execFile);

/** Prefix of every namespace this helper creates: `msk<pid>-<n>-<role>`. */
const PREFIX = 'msk';
let counter = 0;
let probed: { reason: string | undefined } | undefined;

/** One host of a {@link Topology}. */
export interface TopologyHost {
  /** The namespace name, for `ip netns exec` / {@link spawnInNamespace}. */
  readonly ns: string;
  /** The host's interface towards the bridge (`veth0`). */
  readonly ifname: string;
  /** `10.77.<run>.<i+1>`, on a /24. */
  readonly ipv4: string;
  /** `fd77:<run>::<i+1>`, on a /64, added with `nodad` so it is usable at once. */
  readonly ipv6: string;
  /** The kernel-made `fe80::/64` address of `ifname`, without a zone; `''` with `ipv6: false`. */
  readonly ipv6LinkLocal: string;
  /** The index of `ifname` inside the host's namespace. */
  readonly ifindex: number;
}

/** A private network of hosts on one bridge. */
export interface Topology {
  /** The namespace holding the bridge `br0`. */
  readonly hub: string;
  /** The hosts, in order; host i has `.<i+1>` addresses. */
  readonly hosts: readonly TopologyHost[];
  /** Whether the bridge does IGMP/MLD snooping with a querier (see {@link TopologyOptions.snooping}). */
  readonly snooping: boolean;
  /** Deletes every namespace of the topology. Idempotent. */
  destroy(): Promise<void>;
}

/** Options of {@link createTopology}. */
export interface TopologyOptions {
  /** Number of host namespaces, 1..200. */
  hosts: number;
  /**
   * Default `true`. With `false` the hosts are IPv4-only: IPv6 is disabled in their namespaces, so
   * they have no IPv6 address at all, not even link-local.
   */
  ipv6?: boolean;
  /**
   * Default `false`: the bridge has `mcast_snooping 0` and floods every multicast datagram to every
   * port, whoever joined (a hub; the sender's own port excluded). Tests then see a datagram only
   * because the receiving socket joined, which is what the kernel's host side decides.
   *
   * `true`: `mcast_snooping 1 mcast_querier 1 mcast_igmp_version 3 mcast_mld_version 2`; the bridge
   * forwards a group only to ports whose hosts sent an IGMPv3/MLDv2 report for it, so joins and
   * leaves (and source filters) are observable on the wire, as on a managed switch.
   */
  snooping?: boolean;
}

/**
 * Why network-namespace tests cannot run here, or `undefined` when they can. Probes by creating a
 * namespace with a bridge and a veth pair inside it, then deleting it. The result is remembered for
 * the process.
 */
export function netnsSkipReason(): string | undefined {
  probed ??= { reason: probe() };
  return probed.reason;
}

function probe(): string | undefined {
  if (process.platform !== 'linux')
    return `network namespaces need Linux (this is ${process.platform})`;
  const ns = `${PREFIX}${process.pid}-probe`;
  try {
    execFileSync('ip', ['netns', 'add', ns], { stdio: 'pipe' });
  } catch (err) {
    return `cannot create a network namespace (needs root or CAP_NET_ADMIN and iproute2): ${describe(err)}`;
  }
  try {
    execFileSync('ip', ['-n', ns, 'link', 'add', 'name', 'br0', 'type', 'bridge'], {
      stdio: 'pipe',
    });
    execFileSync(
      'ip',
      ['-n', ns, 'link', 'add', 'name', 'pa', 'type', 'veth', 'peer', 'name', 'pb'],
      {
        stdio: 'pipe',
      },
    );
    return undefined;
  } catch (err) {
    return `cannot create a bridge and a veth pair inside a namespace: ${describe(err)}`;
  } finally {
    execFileSync('ip', ['netns', 'del', ns], { stdio: 'pipe' });
  }
}

function describe(err: unknown): string {
  if (err instanceof Error) {
    const stderr = (err as { stderr?: Buffer | string }).stderr;
    const text = stderr === undefined ? '' : String(stderr).trim();
    return text !== '' ? text : err.message;
  }
  return String(err);
}

/** Namespaces created by this process and not yet deleted; deleted on 'exit' as a last resort. */
const live = new Set<string>();
let exitHookInstalled = false;

function track(ns: string): void {
  live.add(ns);
  if (!exitHookInstalled) {
    exitHookInstalled = true;
    process.on('exit', () => {
      for (const name of live) deleteNamespaceSync(name);
    });
  }
}

function deleteNamespaceSync(ns: string): void {
  try {
    execFileSync('ip', ['netns', 'del', ns], { stdio: 'pipe' });
  } catch (err) {
    // At exit nothing can be thrown to; say so on stderr rather than drop it.
    process.stderr.write(`netns helper: could not delete namespace ${ns}: ${describe(err)}\n`);
  }
  live.delete(ns);
}

async function ip(...args: string[]): Promise<string> {
  try {
    const { stdout } = await execFileAsync('ip', args, { timeout: 10_000 });
    return stdout;
  } catch (err) {
    throw new Error(`ip ${args.join(' ')} failed: ${describe(err)}`, { cause: err });
  }
}

async function inNs(ns: string, ...argv: string[]): Promise<string> {
  return ip('netns', 'exec', ns, ...argv);
}

/** Lists the namespaces known to `ip netns` (names only). */
export function listNamespaces(): string[] {
  try {
    return readdirSync('/run/netns');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
}

/** Deletes namespaces of this helper whose creating process no longer exists. */
function sweepStale(): void {
  for (const name of listNamespaces()) {
    const m = /^msk(\d+)-/.exec(name);
    if (m === null) continue;
    const pid = Number(m[1]);
    if (pid === process.pid || processExists(pid)) continue;
    deleteNamespaceSync(name);
  }
}

function processExists(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Builds a hub namespace with bridge `br0` and `hosts` host namespaces wired to it. In each host:
 * `lo` up; `veth0` up with `10.77.<run>.<i+1>/24` and (unless `ipv6: false`) `fd77:<run>::<i+1>/64`
 * `nodad` plus its link-local address (DAD is off in the namespace, so every address is usable at
 * once); a route for `224.0.0.0/4` and `ff00::/8` via `veth0` so multicast sends go there by default.
 * `run` is a per-topology number, so addresses differ between topologies of one process.
 *
 * Names are `msk<pid>-<n>-hub` and `msk<pid>-<n>-h<i>`, unique across parallel test files. On any
 * failure everything made so far is deleted before the error is thrown.
 */
export async function createTopology(options: TopologyOptions): Promise<Topology> {
  const count = options.hosts;
  if (!Number.isInteger(count) || count < 1 || count > 200) {
    throw new RangeError(`hosts must be an integer in 1..200 (received ${count})`);
  }
  const ipv6 = options.ipv6 ?? true;
  const snooping = options.snooping ?? false;
  sweepStale();
  const n = counter++;
  // 1..250: a 0 would make `fd77:0::1`, which the kernel writes `fd77::1`.
  const run = ((process.pid + n) % 250) + 1;
  const base = `${PREFIX}${process.pid}-${n}`;
  const hub = `${base}-hub`;
  const made: string[] = [];
  let destroyed = false;
  const destroy = async (): Promise<void> => {
    if (destroyed) return;
    destroyed = true;
    const errors: unknown[] = [];
    for (const ns of made) {
      try {
        await ip('netns', 'del', ns);
        live.delete(ns);
      } catch (err) {
        errors.push(err);
      }
    }
    if (errors.length > 0) throw new AggregateError(errors, 'could not delete every namespace');
  };
  const addNs = async (ns: string, withIpv6: boolean): Promise<void> => {
    await ip('netns', 'add', ns);
    made.push(ns);
    track(ns);
    // Before any interface arrives: DAD off, so link-local and global addresses are usable at once,
    // or IPv6 off altogether for IPv4-only hosts.
    const sysctls = withIpv6
      ? ['net.ipv6.conf.all.accept_dad=0', 'net.ipv6.conf.default.accept_dad=0']
      : ['net.ipv6.conf.all.disable_ipv6=1', 'net.ipv6.conf.default.disable_ipv6=1'];
    await inNs(ns, 'sysctl', '-qw', ...sysctls);
    await ip('-n', ns, 'link', 'set', 'lo', 'up');
  };

  try {
    await addNs(hub, true);
    const bridgeOptions = snooping
      ? [
          'mcast_snooping',
          '1',
          'mcast_querier',
          '1',
          'mcast_igmp_version',
          '3',
          'mcast_mld_version',
          '2',
        ]
      : ['mcast_snooping', '0'];
    await ip('-n', hub, 'link', 'add', 'name', 'br0', 'type', 'bridge', ...bridgeOptions);
    await ip('-n', hub, 'link', 'set', 'br0', 'up');

    const hosts: TopologyHost[] = [];
    for (let i = 0; i < count; i++) {
      const ns = `${base}-h${i}`;
      await addNs(ns, ipv6);
      const port = `p${i}`;
      await ip(
        '-n',
        hub,
        'link',
        'add',
        'name',
        port,
        'type',
        'veth',
        'peer',
        'name',
        'veth0',
        'netns',
        ns,
      );
      await ip('-n', hub, 'link', 'set', port, 'master', 'br0', 'up');
      const ipv4 = `10.77.${run}.${i + 1}`;
      const ipv6Address = `fd77:${run.toString(16)}::${(i + 1).toString(16)}`;
      await ip('-n', ns, 'addr', 'add', `${ipv4}/24`, 'dev', 'veth0');
      if (ipv6) await ip('-n', ns, 'addr', 'add', `${ipv6Address}/64`, 'dev', 'veth0', 'nodad');
      await ip('-n', ns, 'link', 'set', 'veth0', 'up');
      await ip('-n', ns, 'route', 'add', '224.0.0.0/4', 'dev', 'veth0');
      if (ipv6) await ip('-n', ns, '-6', 'route', 'add', 'ff00::/8', 'dev', 'veth0');
      hosts.push({ ns, ifname: 'veth0', ipv4, ipv6: ipv6Address, ipv6LinkLocal: '', ifindex: 0 });
    }
    // Link-local addresses appear once both ends of a veth are up; wait for them (bounded).
    const done: TopologyHost[] = [];
    for (const host of hosts) {
      const { ifindex, linkLocal } = await readLink(host.ns, 'veth0', ipv6);
      done.push({ ...host, ifindex, ipv6LinkLocal: linkLocal });
    }
    return { hub, hosts: done, snooping, destroy };
  } catch (err) {
    await destroy();
    throw err;
  }
}

async function readLink(
  ns: string,
  ifname: string,
  wantLinkLocal: boolean,
): Promise<{ ifindex: number; linkLocal: string }> {
  const deadline = Date.now() + 10_000;
  for (let attempt = 0; attempt < 500; attempt++) {
    const json = JSON.parse(await ip('-n', ns, '-j', 'addr', 'show', 'dev', ifname)) as Array<{
      ifindex: number;
      addr_info: Array<{ family: string; local: string; scope: string; tentative?: boolean }>;
    }>;
    const link = json[0];
    if (link === undefined) throw new Error(`no interface ${ifname} in namespace ${ns}`);
    const ll = link.addr_info.find(
      (a) => a.family === 'inet6' && a.scope === 'link' && a.tentative !== true,
    );
    if (!wantLinkLocal || ll !== undefined) {
      return { ifindex: link.ifindex, linkLocal: ll?.local ?? '' };
    }
    if (Date.now() > deadline) break;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  throw new Error(`no usable link-local address on ${ifname} in namespace ${ns} within 10 s`);
}

// ---------------------------------------------------------------------------------------------

/** Options of {@link spawnInNamespace}. */
export interface SpawnOptions {
  /** The child is killed (SIGKILL) after this long. Default 30 000 ms. */
  timeoutMs?: number;
}

/** A process running inside a namespace. */
export interface NamespaceChild {
  /** The underlying child process (stdin is a pipe the test may write to). */
  readonly process: ChildProcess;
  /** Everything the child wrote to stderr so far, for assertion messages. */
  readonly stderr: () => string;
  /**
   * Iterates stdout line by line until the child's stdout ends. Lines already read by
   * {@link NamespaceChild.nextJson} are not repeated. Only one consumer at a time.
   */
  lines(): AsyncIterableIterator<string>;
  /**
   * Resolves with the next stdout line parsed as JSON. Rejects when the child's output ends first,
   * when a line is not JSON, or after `timeoutMs` (default 10 000 ms); the rejection carries stderr.
   */
  nextJson<T = Record<string, unknown>>(timeoutMs?: number): Promise<T>;
  /**
   * Reads JSON lines until one satisfies `predicate`, and resolves with it; same rejections as
   * {@link NamespaceChild.nextJson}, with `timeoutMs` covering the whole wait.
   */
  waitForJson<T = Record<string, unknown>>(
    predicate: (value: T) => boolean,
    timeoutMs?: number,
  ): Promise<T>;
  /** Kills the child (SIGTERM by default). Safe to call after it exited. */
  kill(signal?: NodeJS.Signals): void;
  /** Resolves when the child exits, with its exit code (`null` when killed by a signal). */
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** Runs `ip netns exec <ns> ...argv` with stdout and stderr captured. */
export function spawnInNamespace(
  ns: string,
  argv: readonly string[],
  options: SpawnOptions = {},
): NamespaceChild {
  const timeoutMs = options.timeoutMs ?? 30_000;
  const child = spawn('ip', ['netns', 'exec', ns, ...argv], { stdio: ['pipe', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (chunk: string) => {
    stderr += chunk;
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.once('close', (code, signal) => resolve({ code, signal }));
  });
  const killTimer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
  killTimer.unref();
  void exited.then(() => clearTimeout(killTimer));
  child.once('error', (err) => {
    stderr += `\nspawn error: ${err.message}`;
  });

  const reader = createInterface({ input: child.stdout, crlfDelay: Infinity });
  const iterator = reader[Symbol.asyncIterator]();
  const stderrText = (): string => stderr;

  const nextLine = async (timeoutMs: number, what: string): Promise<string> => {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () =>
          reject(
            new Error(
              `${what}: no line from ${argv.join(' ')} within ${timeoutMs} ms; stderr: ${stderr}`,
            ),
          ),
        timeoutMs,
      );
    });
    try {
      const result = await Promise.race([iterator.next(), timeout]);
      if (result.done === true) {
        const status = await exited;
        throw new Error(
          `${what}: ${argv.join(' ')} ended its output (exit ${status.code ?? status.signal}); stderr: ${stderr}`,
        );
      }
      return result.value;
    } finally {
      clearTimeout(timer);
    }
  };

  const parse = <T>(line: string): T => {
    try {
      return JSON.parse(line) as T;
    } catch (err) {
      throw new Error(`not a JSON line from ${argv.join(' ')}: ${line}; stderr: ${stderr}`, {
        cause: err,
      });
    }
  };

  return {
    process: child,
    stderr: stderrText,
    lines: () => ({
      next: () => iterator.next(),
      [Symbol.asyncIterator]() {
        return this;
      },
    }),
    nextJson: async <T>(timeoutMs = 10_000) => parse<T>(await nextLine(timeoutMs, 'nextJson')),
    waitForJson: async <T>(predicate: (value: T) => boolean, timeoutMs = 10_000) => {
      const deadline = Date.now() + timeoutMs;
      for (let i = 0; i < 100_000; i++) {
        const value = parse<T>(await nextLine(Math.max(1, deadline - Date.now()), 'waitForJson'));
        if (predicate(value)) return value;
      }
      throw new Error(`waitForJson: no matching line among 100000 from ${argv.join(' ')}`);
    },
    kill: (signal: NodeJS.Signals = 'SIGTERM') => {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
    },
    exited,
  };
}

/**
 * Runs a TypeScript (or JavaScript) file inside a namespace with this Node and `tsx`:
 * `ip netns exec <ns> <process.execPath> --import tsx <scriptPath> ...args`.
 */
export function spawnNodeInNamespace(
  ns: string,
  scriptPath: string,
  args: readonly string[] = [],
  options: SpawnOptions = {},
): NamespaceChild {
  // Resolve tsx here, so the child finds it whatever its working directory.
  const tsx = import.meta.resolve('tsx');
  return spawnInNamespace(ns, [process.execPath, '--import', tsx, scriptPath, ...args], options);
}
