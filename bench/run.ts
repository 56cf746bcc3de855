/**
 * `npm run bench`: the datagram engines measured side by side on loopback, in one run.
 *
 * Receivers (each fed by the same saturating C GSO sender, one after the other): the C recvmmsg
 * baseline, the batch engine, the node engine and raw node:dgram, for 200 B and 1316 B payloads:
 * pps, Mbit/s, loss, CPU µs per datagram (getrusage / process.cpuUsage over the receiver's window),
 * GC count per million datagrams. Senders (each into the C recvmmsg receiver): the C GSO and
 * sendmmsg baselines, the batch engine with GSO and with sendmmsg, the node engine and raw dgram.
 * Then the command line as processes, fed by the same sender: `mediasock recv` beside the C and
 * dgram receivers, and `mediasock relay` with 1 and 4 outputs beside a C recvmmsg -> sendmmsg
 * relay (bench/c/relay_mmsg.c), all into C recvmmsg sinks; their CPU is read from /proc/<pid>/stat
 * over the feed window minus their idle rate (see measureCli). Skipped in --smoke unless --cli.
 * Then the reuse-port workers row (examples/reuseport-workers.ts, 1 and 2 workers).
 *
 * Receiver pinned to CPU 1, sender to CPU 0 (taskset, when there are 2 CPUs). On loopback the
 * kernel's receive work runs on the sender's CPU (bench/README.md), so receivers are compared only
 * against each other with the same sender in the same run.
 *
 * Flags: --json (end with one JSON line of ratios), --smoke (a few seconds, for CI),
 * --seconds N (per pair; default 3), --sizes 200,1316, --chart PATH (the SVG chart, bench/chart.ts;
 * default bench/results/latest.svg, none with --smoke; `--chart none` writes none; the rows go to
 * the same path with .json), --note TEXT (added to the chart's caption, e.g. what else ran),
 * --cli (the command-line rows in --smoke too).
 * The C baselines are built here with `cc` into bench/.build/ (git-ignored).
 */
import { spawn, spawnSync } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { mkdirSync, existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, release } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import { renderBenchChart } from './chart.js';

const here = dirname(fileURLToPath(import.meta.url));
const root = dirname(here);
const build = join(here, '.build');

const { values } = parseArgs({
  options: {
    json: { type: 'boolean', default: false },
    smoke: { type: 'boolean', default: false },
    seconds: { type: 'string' },
    sizes: { type: 'string' },
    host: { type: 'string', default: '127.0.0.1' },
    chart: { type: 'string' },
    note: { type: 'string' },
    cli: { type: 'boolean', default: false },
  },
});
const smoke = values.smoke === true;
/** The command-line rows (`mediasock recv` / `relay` processes and the C relay): off in --smoke. */
const cliRows = !smoke || values.cli === true;
const seconds = Number(values.seconds ?? (smoke ? 0.5 : 3));
const sizes = (values.sizes ?? (smoke ? '200' : '200,1316')).split(',').map(Number);
const host = values.host ?? '127.0.0.1';
const maxPackets = 50_000_000;
const pin = cpus().length >= 2 && spawnSync('taskset', ['-V']).status === 0;
const chartOption = values.chart ?? (smoke ? 'none' : join(here, 'results', 'latest.svg'));
const chartPath = chartOption === 'none' ? undefined : resolve(chartOption);
const startedAt = new Date();
const loadAtStart = loadavg()[0]!;

/** Writes the chart (SVG) and the rows behind it (JSON, same name) for this run. */
function writeChart(
  path: string,
  rxRows: Record<string, number | string>[],
  txRows: Record<string, number | string>[],
  relayRows: Record<string, number | string>[],
): void {
  const cpu = cpus();
  const when = `${startedAt.toISOString().slice(0, 16).replace('T', ' ')} UTC`;
  const machine = `${cpu.length} × ${cpu[0]?.model.trim() ?? 'unknown CPU'}, Linux ${release()}, Node ${process.versions.node}`;
  const caption = [
    `${when} · ${machine} · ${seconds} s per pair · load average ${loadAtStart.toFixed(1)} at start`,
    values.note ??
      'One run on a shared VM: figures move ±10–40 % between runs; compare bars within this chart only.',
  ];
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, renderBenchChart({ rxRows, txRows, relayRows, sizes, caption }));
  const rows = {
    date: startedAt.toISOString(),
    machine,
    seconds,
    sizes,
    caption,
    rxRows,
    txRows,
    relayRows,
  };
  writeFileSync(path.replace(/\.svg$/, '') + '.json', JSON.stringify(rows, null, 2) + '\n');
  console.log(`\nchart: ${path}`);
}

function buildC(): void {
  mkdirSync(build, { recursive: true });
  for (const name of ['recv_recvmmsg', 'send_sendmmsg', 'send_gso', 'relay_mmsg']) {
    const src = join(here, 'c', `${name}.c`);
    const out = join(build, name);
    if (existsSync(out) && statSync(out).mtimeMs >= statSync(src).mtimeMs) continue;
    const r = spawnSync('cc', ['-O2', '-Wall', '-o', out, src], { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`cc ${name}.c failed:\n${r.stderr}`);
  }
}

type Cmd = [string, ...string[]];

function nodePeer(...args: string[]): Cmd {
  return [process.execPath, '--import', 'tsx', join(here, 'peer.ts'), ...args];
}

const receivers: Record<string, () => Cmd> = {
  'c-recvmmsg': () => [join(build, 'recv_recvmmsg'), host, '12'],
  // 2048-byte slots, as the C baseline's; the default (65536) keeps any datagram whole.
  batch: () => nodePeer('recv', 'batch', host, '12', '2048'),
  node: () => nodePeer('recv', 'node', host, '12'),
  dgram: () => nodePeer('recv', 'dgram', host, '12'),
};
const senders: Record<string, (port: number, size: number) => Cmd> = {
  'c-gso': (p, s) => [
    join(build, 'send_gso'),
    host,
    String(p),
    String(s),
    String(seconds),
    String(maxPackets),
  ],
  'c-sendmmsg': (p, s) => [
    join(build, 'send_sendmmsg'),
    host,
    String(p),
    String(s),
    String(seconds),
    String(maxPackets),
  ],
  'batch-gso': (p, s) =>
    nodePeer('send', 'batch-gso', host, String(p), String(s), String(seconds), String(maxPackets)),
  'batch-mmsg': (p, s) =>
    nodePeer('send', 'batch-mmsg', host, String(p), String(s), String(seconds), String(maxPackets)),
  node: (p, s) =>
    nodePeer('send', 'node', host, String(p), String(s), String(seconds), String(maxPackets)),
  dgram: (p, s) =>
    nodePeer('send', 'dgram', host, String(p), String(s), String(seconds), String(maxPackets)),
};

interface Json {
  [k: string]: number;
}

/** Runs a command (pinned to `cpu`), calls onLine for each stdout line, resolves the last JSON. */
function run(cmd: Cmd, cpu: number, onLine?: (j: Json) => void, timeoutMs = 30_000): Promise<Json> {
  const [file, ...args] = pin && cpu >= 0 ? (['taskset', '-c', String(cpu), ...cmd] as Cmd) : cmd;
  return new Promise((resolve, reject) => {
    const child = spawn(file, args, {
      cwd: root,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: process.env,
    });
    let last: Json | undefined;
    let buffered = '';
    let stderr = '';
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      buffered += chunk;
      for (let nl = buffered.indexOf('\n'); nl !== -1; nl = buffered.indexOf('\n')) {
        const line = buffered.slice(0, nl);
        buffered = buffered.slice(nl + 1);
        if (!line.startsWith('{')) continue;
        const j = JSON.parse(line) as Json;
        last = j;
        onLine?.(j);
      }
    });
    child.stderr.setEncoding('utf8').on('data', (c: string) => (stderr += c));
    child.on('close', (code) => {
      clearTimeout(timer);
      if (code === 0 && last) resolve(last);
      else reject(new Error(`${cmd.join(' ')} exited ${code}: ${stderr.slice(-2000)}`));
    });
  });
}

interface Pair {
  rx: Json;
  tx: Json;
}

async function pair(receiver: string, sender: string, size: number): Promise<Pair> {
  let gotPort: (p: number) => void = () => undefined;
  const portP = new Promise<number>((r) => (gotPort = r));
  // 'c-relay:P1,P2,...': the C relay to those output ports.
  const rxCmd: Cmd = receiver.startsWith('c-relay:')
    ? [join(build, 'relay_mmsg'), host, '12', ...receiver.slice('c-relay:'.length).split(',')]
    : receivers[receiver]!();
  const rxP = run(rxCmd, 1, (j) => {
    if (j.port !== undefined) gotPort(j.port);
  });
  const port = await Promise.race([portP, rxP.then(() => 0)]);
  if (!port) throw new Error(`${receiver} printed no port`);
  const tx = await run(senders[sender]!(port, size), 0);
  const rx = await rxP;
  return { rx, tx };
}

// ---------------------------------------------------------------------------------------------
// The command line as a process: `mediasock recv` and `mediasock relay`, against the C relay.
//
// Only the CLI's command line and its `--json` lines are used (the first line on stdout says it
// is up; the last `"type":"summary"` line gives the datagrams it counted), never its internals.
// CPU is read from outside, /proc/<pid>/stat (utime + stime, all threads), over the feed window:
// from just before the sender starts until the process is idle again after the sender ends. Its
// idle CPU rate (timers, statistics lines), measured for 1 s before the feed, is subtracted.

const cliMain = join(root, 'src', 'cli', 'main.ts');
const gcPreload = pathToFileURL(join(here, 'cli-gc.ts')).href;
const clkTck = Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout) || 100;
/** The 4 MiB receive buffer the C baseline and the Node receivers ask for. */
const cliBuffer = 4 << 20;
const urlHost = host.includes(':') ? `[${host}]` : host;
/** Children still running, killed whatever way this process ends. */
const live = new Set<ChildProcess>();
process.on('exit', () => {
  for (const c of live) c.kill('SIGKILL');
});
for (const sig of ['SIGINT', 'SIGTERM'] as const)
  process.once(sig, () => {
    for (const c of live) c.kill('SIGKILL');
    process.exit(130);
  });

/** CPU seconds (user + system, all threads) of a process, from /proc/<pid>/stat. */
function procCpu(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(f[11]) + Number(f[12])) / clkTck;
}

/** A port on `host` that was free a moment ago (the CLI binds it next). */
async function freePort(): Promise<number> {
  const s = createSocket(host.includes(':') ? 'udp6' : 'udp4');
  await new Promise<void>((r) => s.bind(0, host, r));
  const port = s.address().port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

interface CliProcess {
  child: ChildProcess;
  pid: number;
  /** Resolves on the first JSON line on stdout (the command is up). */
  started: Promise<void>;
  /** Resolves when the process has exited: its code, JSON lines (stdout) and stderr. */
  exited: Promise<{ code: number | null; lines: Json[]; stderr: string }>;
}

/** Starts `node --import tsx --import bench/cli-gc.ts src/cli/main.ts ...args` on CPU 1. */
function startCli(args: string[], boundMs: number): CliProcess {
  const cmd: Cmd = [process.execPath, '--import', 'tsx', '--import', gcPreload, cliMain, ...args];
  const [file, ...rest] = pin ? (['taskset', '-c', '1', ...cmd] as Cmd) : cmd;
  // taskset execs node: the pid is the CLI's own.
  const child = spawn(file, rest, {
    cwd: root,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: process.env,
  });
  if (child.pid === undefined) throw new Error(`spawn ${cmd.join(' ')} failed`);
  live.add(child);
  const timer = setTimeout(() => child.kill('SIGKILL'), boundMs);
  const lines: Json[] = [];
  let stderr = '';
  let buffered = '';
  let up: () => void = () => undefined;
  const started = new Promise<void>((r) => (up = r));
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
    buffered += chunk;
    for (let nl = buffered.indexOf('\n'); nl !== -1; nl = buffered.indexOf('\n')) {
      const line = buffered.slice(0, nl);
      buffered = buffered.slice(nl + 1);
      if (!line.startsWith('{')) continue;
      try {
        lines.push(JSON.parse(line) as Json);
        up();
      } catch {
        // Not a JSON line: ignored.
      }
    }
  });
  child.stderr.setEncoding('utf8').on('data', (c: string) => (stderr += c));
  const exited = new Promise<{ code: number | null; lines: Json[]; stderr: string }>((r) =>
    child.on('close', (code) => {
      clearTimeout(timer);
      live.delete(child);
      r({ code, lines, stderr });
    }),
  );
  return { child, pid: child.pid, started, exited };
}

/** Rejects after `ms` with `what`. */
function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    p,
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${what}: no answer within ${ms} ms`)), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}

interface CliMeasure {
  /** Datagrams of the feed the command counted (the sender's 3-byte end markers left out). */
  received: number;
  /** Feed window, s: sender start to idle again. */
  seconds: number;
  /** CPU over the window minus idle rate × window, s. */
  cpu_s: number;
  idle_util: number;
  gc_count: number;
  /** Scavenges (young-generation collections) among them: what garbage per datagram causes. */
  scavenge_count: number;
  summary: Json;
  tx: Json;
}

/**
 * Runs one CLI command fed by the C GSO sender at `port`: waits until it is up, measures its idle
 * CPU rate for 1 s, runs the sender, waits until the process is idle again, ends it with SIGINT
 * and reads its summary. The child is killed on every path.
 */
async function measureCli(args: string[], port: number, size: number): Promise<CliMeasure> {
  const cli = startCli(args, 60_000 + seconds * 1000);
  try {
    await within(
      Promise.race([
        cli.started,
        cli.exited.then((e) => {
          throw new Error(`exited ${e.code} before starting: ${e.stderr.slice(-1000)}`);
        }),
      ]),
      30_000,
      `mediasock ${args[0]} start`,
    );
    await sleep(300); // the first statistics timer and lazy compilation out of the way
    const i0 = { t: performance.now(), c: procCpu(cli.pid) };
    await sleep(1000);
    const i1 = { t: performance.now(), c: procCpu(cli.pid) };
    const idle = (i1.c - i0.c) / ((i1.t - i0.t) / 1000);
    const t0 = performance.now();
    const epoch0 = Date.now();
    const c0 = procCpu(cli.pid);
    const tx = await run(senders['c-gso']!(port, size), 0);
    // Drained when a 100 ms step costs at most one clock tick (the backlog in its buffer is done).
    let c1 = procCpu(cli.pid);
    for (let i = 0; i < 50; i++) {
      await sleep(100);
      const c = procCpu(cli.pid);
      const step = c - c1;
      c1 = c;
      if (step <= 1.5 / clkTck) break;
    }
    const t1 = performance.now();
    const epoch1 = Date.now();
    cli.child.kill('SIGINT');
    const e = await within(cli.exited, 20_000, `mediasock ${args[0]} exit after SIGINT`);
    const summary = [...e.lines]
      .reverse()
      .find((l) => (l as { type?: unknown }).type === 'summary');
    if (e.code !== 0 || summary === undefined)
      throw new Error(`mediasock ${args[0]} exited ${e.code}: ${e.stderr.slice(-1000)}`);
    // recv: packets/bytes at the top; relay: under input. The sender's 3-byte end markers are
    // counted there too: data = (bytes - 3 × packets) / (size - 3).
    const counts = (summary as unknown as { input?: Json }).input ?? summary;
    const packets = counts.packets ?? NaN;
    const bytes = counts.bytes;
    const received = bytes === undefined ? packets : Math.round((bytes - 3 * packets) / (size - 3));
    const gcLine = /^\{"type":"bench-gc".*$/m.exec(e.stderr)?.[0];
    const gcs =
      gcLine === undefined
        ? undefined
        : (JSON.parse(gcLine) as { gc_epoch_ms: number[]; scavenge_epoch_ms: number[] });
    const inWindow = (ts: number[]): number => ts.filter((t) => t >= epoch0 && t <= epoch1).length;
    const seconds_ = (t1 - t0) / 1000;
    return {
      received,
      seconds: seconds_,
      cpu_s: c1 - c0 - idle * seconds_,
      idle_util: idle,
      gc_count: gcs ? inWindow(gcs.gc_epoch_ms) : NaN,
      scavenge_count: gcs ? inWindow(gcs.scavenge_epoch_ms) : NaN,
      summary,
      tx,
    };
  } finally {
    if (cli.child.exitCode === null && cli.child.signalCode === null) cli.child.kill('SIGKILL');
  }
}

/** `mediasock recv udp://@host:P?buffer=4194304 --json` fed by the C GSO sender: one row. */
async function cliRecvRow(size: number): Promise<Record<string, number | string>> {
  const port = await freePort();
  const m = await measureCli(
    ['recv', `udp://@${urlHost}:${port}?buffer=${cliBuffer}`, '--json'],
    port,
    size,
  );
  const pps = m.received / m.tx.seconds!;
  return {
    case: 'cli-recv',
    size,
    rx_pps: pps,
    mbit: (pps * size * 8) / 1e6,
    tx_pps: m.tx.sent! / m.tx.seconds!,
    loss_pct: Math.max(0, 100 * (1 - m.received / m.tx.sent!)),
    rx_cpu_us: (1e6 * m.cpu_s) / m.received,
    // Share of a core while the sender ran (the window also has the drain and the end markers).
    rx_util: m.cpu_s / m.tx.seconds!,
    gc_per_million: (1e6 * m.gc_count) / m.received,
    scavenges_per_million: (1e6 * m.scavenge_count) / m.received,
    received: m.received,
    idle_util: m.idle_util,
  };
}

/** Starts `outputs` C recvmmsg sinks on CPU 0 (with the sender); their ports and results. */
async function startSinks(outputs: number): Promise<{ ports: number[]; results: Promise<Json[]> }> {
  const ports: number[] = [];
  const results: Promise<Json>[] = [];
  for (let i = 0; i < outputs; i++) {
    let gotPort: (p: number) => void = () => undefined;
    const portP = new Promise<number>((r) => (gotPort = r));
    const rx = run(
      [join(build, 'recv_recvmmsg'), host, String(90 + seconds)],
      0,
      (j) => {
        if (j.port !== undefined) gotPort(j.port);
      },
      120_000 + seconds * 1000,
    );
    rx.catch(() => undefined); // awaited below; a failed relay run ends the sinks (endSinks)
    const port = await Promise.race([portP, rx.then(() => 0)]);
    if (!port) throw new Error('sink printed no port');
    ports.push(port);
    results.push(rx);
  }
  return { ports, results: Promise.all(results) };
}

/** One relay row: the C relay or `mediasock relay`, to `outputs` sinks, fed by the C GSO sender. */
async function relayRow(
  kind: 'c' | 'cli',
  outputs: number,
  size: number,
): Promise<Record<string, number | string>> {
  const sinks = await startSinks(outputs);
  try {
    return await relayMeasure(kind, outputs, size, sinks);
  } catch (err) {
    // The relay never forwarded the end marker: end the sinks from here, then report.
    const s = createSocket(host.includes(':') ? 'udp6' : 'udp4');
    s.on('error', () => undefined);
    for (let i = 0; i < 5; i++) {
      for (const q of sinks.ports) s.send('END', q, host);
      await sleep(10);
    }
    s.close();
    await sinks.results.catch(() => undefined);
    throw err;
  }
}

async function relayMeasure(
  kind: 'c' | 'cli',
  outputs: number,
  size: number,
  sinks: { ports: number[]; results: Promise<Json[]> },
): Promise<Record<string, number | string>> {
  let received: number;
  let cpu: number;
  let secs: number;
  let forwarded: number;
  let gc = NaN;
  let scavenges = NaN;
  let idle = NaN;
  let tx: Json;
  if (kind === 'c') {
    const p = await pair(`c-relay:${sinks.ports.join(',')}`, 'c-gso', size);
    received = p.rx.received!;
    cpu = p.rx.cpu_s!;
    secs = p.rx.seconds!;
    forwarded = received * outputs - p.rx.unsent!;
    tx = p.tx;
  } else {
    const port = await freePort();
    const m = await measureCli(
      [
        'relay',
        `udp://@${urlHost}:${port}?buffer=${cliBuffer}`,
        ...sinks.ports.map((q) => `udp://${urlHost}:${q}`),
        '--json',
      ],
      port,
      size,
    );
    received = m.received;
    cpu = m.cpu_s;
    secs = m.tx.seconds!; // share of a core while the sender ran, as for cli-recv
    gc = m.gc_count;
    scavenges = m.scavenge_count;
    idle = m.idle_util;
    tx = m.tx;
    // Datagrams handed to the outputs (their packet counters; the end markers are a rounding).
    const outs = (m.summary as unknown as { outputs?: { packets?: number }[] }).outputs ?? [];
    forwarded = outs.reduce((a, o) => a + (o.packets ?? 0), 0);
  }
  const delivered = (await sinks.results).reduce((a, j) => a + j.received!, 0);
  const pps = received / tx.seconds!;
  return {
    case: `${kind === 'c' ? 'c-relay' : 'cli-relay'}-${outputs}`,
    size,
    outputs,
    rx_pps: pps,
    tx_pps: tx.sent! / tx.seconds!,
    loss_pct: Math.max(0, 100 * (1 - received / tx.sent!)),
    fwd_pct: Math.min(100, (100 * forwarded) / (received * outputs)),
    sink_pct: Math.min(100, (100 * delivered) / (received * outputs)),
    rx_cpu_us: (1e6 * cpu) / received,
    rx_util: cpu / secs,
    gc_per_million: (1e6 * gc) / received,
    scavenges_per_million: (1e6 * scavenges) / received,
    received,
    idle_util: idle,
  };
}

const fmt = (n: number, d = 0): string =>
  Number.isFinite(n)
    ? n.toLocaleString('en-US', { maximumFractionDigits: d, minimumFractionDigits: d })
    : '-';

function rxRow(name: string, size: number, p: Pair): Record<string, number | string> {
  const pps = p.rx.received! / p.rx.seconds!;
  return {
    case: name,
    size,
    rx_pps: pps,
    mbit: (pps * size * 8) / 1e6,
    tx_pps: p.tx.sent! / p.tx.seconds!,
    loss_pct: Math.max(0, 100 * (1 - p.rx.received! / p.tx.sent!)),
    rx_cpu_us: (1e6 * p.rx.cpu_s!) / p.rx.received!,
    rx_util: p.rx.cpu_s! / p.rx.seconds!,
    gc_per_million: p.rx.gc_count === undefined ? NaN : (1e6 * p.rx.gc_count) / p.rx.received!,
    received: p.rx.received!,
  };
}

function txRow(name: string, size: number, p: Pair): Record<string, number | string> {
  const pps = p.tx.sent! / p.tx.seconds!;
  return {
    case: name,
    size,
    tx_pps: pps,
    mbit: (pps * size * 8) / 1e6,
    loss_pct: Math.max(0, 100 * (1 - p.rx.received! / p.tx.sent!)),
    tx_cpu_us: (1e6 * p.tx.cpu_s!) / p.tx.sent!,
    tx_util: p.tx.cpu_s! / p.tx.seconds!,
  };
}

function table(rows: Record<string, number | string>[], cols: [string, string, number][]): void {
  const head = cols.map(([, h]) => h);
  const body = rows.map((r) =>
    cols.map(([k, , d]) => (typeof r[k] === 'number' ? fmt(r[k], d) : String(r[k] ?? '-'))),
  );
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((b) => b[i]!.length)));
  const line = (cells: string[]): string =>
    `| ${cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join(' | ')} |`;
  console.log(line(head));
  console.log(
    `|${widths.map((w, i) => (i === 0 ? '-'.repeat(w + 2) : `${'-'.repeat(w + 1)}:`)).join('|')}|`,
  );
  for (const b of body) console.log(line(b));
}

async function workersRow(size: number): Promise<Record<string, number | string>[]> {
  const rows: Record<string, number | string>[] = [];
  for (const workers of [1, 2]) {
    const cmd: Cmd = [
      process.execPath,
      '--import',
      'tsx',
      join(root, 'examples', 'reuseport-workers.ts'),
      '--workers',
      String(workers),
      '--senders',
      '4',
      '--size',
      String(size),
      '--seconds',
      String(seconds),
      '--json',
    ];
    const j = await run(cmd, -1, undefined, 60_000).catch((err: Error) => {
      console.error(`workers=${workers}: ${err.message}`);
      return undefined;
    });
    if (j)
      rows.push({
        case: `reuseport x${workers}`,
        size,
        rx_pps: j.rx_pps!,
        tx_pps: j.tx_pps!,
        loss_pct: j.loss_pct!,
        spread: j.spread!,
      });
  }
  return rows;
}

/** Targets of the command-line rows (issue 12; DESIGN.md §5), printed next to their ratios. */
const targets: Record<string, number> = {
  cli_recv_cpu_ratio_vs_c: 1.3,
  cli_recv_cpu_ratio_vs_dgram: 0.3,
  cli_relay_cpu_ratio_vs_c: 1.4,
  cli_relay4_cpu_ratio_vs_c: 1.5,
};

async function main(): Promise<void> {
  buildC();
  const rxRows: Record<string, number | string>[] = [];
  const txRows: Record<string, number | string>[] = [];
  const relayRows: Record<string, number | string>[] = [];
  for (const size of sizes) {
    for (const r of ['c-recvmmsg', 'batch', 'node', 'dgram'])
      rxRows.push(rxRow(r, size, await pair(r, 'c-gso', size)));
    for (const s of ['c-gso', 'batch-gso', 'c-sendmmsg', 'batch-mmsg', 'node', 'dgram'])
      txRows.push(txRow(s, size, await pair('c-recvmmsg', s, size)));
    if (cliRows) {
      // A failing command line (it is being changed by others) costs its row, not the run.
      const keep = async (
        rows: Record<string, number | string>[],
        what: string,
        row: () => Promise<Record<string, number | string>>,
      ): Promise<void> => {
        try {
          rows.push(await row());
        } catch (err) {
          console.error(`${what}, ${size} B: not measured: ${(err as Error).message}`);
        }
      };
      await keep(rxRows, 'mediasock recv', () => cliRecvRow(size));
      for (const outputs of [1, 4]) {
        await keep(relayRows, `C relay x${outputs}`, () => relayRow('c', outputs, size));
        await keep(relayRows, `mediasock relay x${outputs}`, () => relayRow('cli', outputs, size));
      }
    }
  }
  const wRows = smoke ? [] : await workersRow(sizes[0]!);

  console.log(`\nreceivers fed by the C GSO sender (${host}, ${seconds} s each, pinned: ${pin})\n`);
  table(rxRows, [
    ['case', 'receiver', 0],
    ['size', 'size', 0],
    ['rx_pps', 'rx pps', 0],
    ['mbit', 'Mbit/s', 0],
    ['loss_pct', 'loss %', 1],
    ['rx_cpu_us', 'CPU µs/dgram', 3],
    ['rx_util', 'rx util', 2],
    ['gc_per_million', 'GCs / 1M', 1],
    ['scavenges_per_million', 'scav. / 1M', 1],
    ['received', 'datagrams', 0],
  ]);
  console.log(`\nsenders into the C recvmmsg receiver\n`);
  table(txRows, [
    ['case', 'sender', 0],
    ['size', 'size', 0],
    ['tx_pps', 'tx pps', 0],
    ['mbit', 'Mbit/s', 0],
    ['loss_pct', 'loss %', 1],
    ['tx_cpu_us', 'CPU µs/dgram', 3],
    ['tx_util', 'tx util', 2],
  ]);
  if (relayRows.length) {
    console.log(
      `\nrelays fed by the C GSO sender, to 1 and 4 C recvmmsg sinks (CPU per datagram received; the CLI's idle CPU subtracted)\n`,
    );
    table(relayRows, [
      ['case', 'relay', 0],
      ['size', 'size', 0],
      ['rx_pps', 'rx pps', 0],
      ['loss_pct', 'loss %', 1],
      ['fwd_pct', 'fwd %', 1],
      ['sink_pct', 'at sinks %', 1],
      ['rx_cpu_us', 'CPU µs/dgram', 3],
      ['rx_util', 'util', 2],
      ['idle_util', 'idle util', 3],
      ['gc_per_million', 'GCs / 1M', 1],
      ['scavenges_per_million', 'scav. / 1M', 1],
      ['received', 'datagrams', 0],
    ]);
  } else {
    console.log(
      '\nmediasock recv / relay rows and the C relay: skipped in --smoke (each starts a CLI process and idles it 1 s; about 30 s per size). Run without --smoke, or add --cli.',
    );
  }
  if (wRows.length) {
    console.log(`\nSO_REUSEPORT workers (batch engine), 4 senders with distinct source ports\n`);
    table(wRows, [
      ['case', 'receivers', 0],
      ['size', 'size', 0],
      ['rx_pps', 'rx pps', 0],
      ['tx_pps', 'tx pps', 0],
      ['loss_pct', 'loss %', 1],
      ['spread', 'min/max share', 2],
    ]);
  }

  // Ratios: averaged over sizes, each from pairs of the same run.
  const avg = (xs: number[]): number => xs.reduce((a, b) => a + b, 0) / xs.length;
  const get = (
    rows: Record<string, number | string>[],
    c: string,
    size: number,
    k: string,
  ): number => (rows.find((r) => r.case === c && r.size === size)?.[k] as number) ?? NaN;
  const ratio = (
    rows: Record<string, number | string>[],
    a: string,
    b: string,
    k: string,
  ): number => avg(sizes.map((s) => get(rows, a, s, k) / get(rows, b, s, k)));
  const result = {
    rx_cpu_ratio_vs_c: ratio(rxRows, 'batch', 'c-recvmmsg', 'rx_cpu_us'),
    rx_cpu_ratio_vs_dgram: ratio(rxRows, 'batch', 'dgram', 'rx_cpu_us'),
    gso_tx_ratio_vs_c: ratio(txRows, 'batch-gso', 'c-gso', 'tx_pps'),
    gso_tx_ratio_vs_dgram: ratio(txRows, 'batch-gso', 'dgram', 'tx_pps'),
    mmsg_tx_ratio_vs_c: ratio(txRows, 'batch-mmsg', 'c-sendmmsg', 'tx_pps'),
    node_engine_ratio_vs_dgram: ratio(rxRows, 'node', 'dgram', 'rx_cpu_us'),
    node_engine_tx_ratio_vs_dgram: ratio(txRows, 'node', 'dgram', 'tx_pps'),
    gc_per_million: avg(sizes.map((s) => get(rxRows, 'batch', s, 'gc_per_million'))),
    gc_per_million_dgram: avg(sizes.map((s) => get(rxRows, 'dgram', s, 'gc_per_million'))),
    cli_recv_cpu_ratio_vs_c: cliRows ? ratio(rxRows, 'cli-recv', 'c-recvmmsg', 'rx_cpu_us') : null,
    cli_recv_cpu_ratio_vs_dgram: cliRows ? ratio(rxRows, 'cli-recv', 'dgram', 'rx_cpu_us') : null,
    cli_relay_cpu_ratio_vs_c: cliRows
      ? ratio(relayRows, 'cli-relay-1', 'c-relay-1', 'rx_cpu_us')
      : null,
    cli_relay4_cpu_ratio_vs_c: cliRows
      ? ratio(relayRows, 'cli-relay-4', 'c-relay-4', 'rx_cpu_us')
      : null,
    cli_recv_gc_per_million: cliRows
      ? avg(sizes.map((s) => get(rxRows, 'cli-recv', s, 'gc_per_million')))
      : null,
    cli_relay_gc_per_million: cliRows
      ? avg(sizes.map((s) => get(relayRows, 'cli-relay-1', s, 'gc_per_million')))
      : null,
    cli_relay4_gc_per_million: cliRows
      ? avg(sizes.map((s) => get(relayRows, 'cli-relay-4', s, 'gc_per_million')))
      : null,
    cli_recv_scavenges_per_million: cliRows
      ? avg(sizes.map((s) => get(rxRows, 'cli-recv', s, 'scavenges_per_million')))
      : null,
    cli_relay_scavenges_per_million: cliRows
      ? avg(sizes.map((s) => get(relayRows, 'cli-relay-1', s, 'scavenges_per_million')))
      : null,
    cli_relay4_scavenges_per_million: cliRows
      ? avg(sizes.map((s) => get(relayRows, 'cli-relay-4', s, 'scavenges_per_million')))
      : null,
    reuseport_scaling:
      wRows.length === 2 ? (wRows[1]!.rx_pps as number) / (wRows[0]!.rx_pps as number) : null,
    sizes,
    seconds,
    smoke,
  };
  console.log(
    '\nratios (same run; targets: rx vs C <= 1.5, rx vs dgram <= 0.35, GSO tx vs C >= 0.8, vs dgram >= 4, node engine vs dgram within 5%)',
  );
  for (const [k, v] of Object.entries(result)) {
    if (typeof v !== 'number') continue;
    const target = targets[k];
    const verdict =
      target === undefined || !Number.isFinite(v) ? '' : v <= target ? '  (met)' : '  (NOT met)';
    console.log(
      `  ${k.padEnd(30)} ${Number.isFinite(v) ? v.toFixed(3).padStart(8) : 'not measured'}${target === undefined ? '' : `   target <= ${target}${verdict}`}`,
    );
  }
  if (!cliRows) console.log('  cli_* ratios: not measured (--smoke without --cli)');
  if (chartPath !== undefined) writeChart(chartPath, rxRows, txRows, relayRows);
  if (values.json) {
    const rounded = Object.fromEntries(
      Object.entries(result).map(([k, v]) => [
        k,
        typeof v === 'number' ? Math.round(v * 1000) / 1000 : v,
      ]),
    );
    console.log(JSON.stringify(rounded));
  }
}

await main();
