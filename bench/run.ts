/**
 * `npm run bench`: the datagram engines measured side by side on loopback, in one run.
 *
 * Receivers (each fed by the same saturating C GSO sender, one after the other): the C recvmmsg
 * baseline, the batch engine, the node engine and raw node:dgram, for 200 B and 1316 B payloads:
 * pps, Mbit/s, loss, CPU µs per datagram (getrusage / process.cpuUsage over the receiver's window),
 * GC count per million datagrams. Senders (each into the C recvmmsg receiver): the C GSO and
 * sendmmsg baselines, the batch engine with GSO and with sendmmsg, the node engine and raw dgram.
 * Then the reuse-port workers row (examples/reuseport-workers.ts, 1 and 2 workers).
 *
 * Receiver pinned to CPU 1, sender to CPU 0 (taskset, when there are 2 CPUs). On loopback the
 * kernel's receive work runs on the sender's CPU (bench/README.md), so receivers are compared only
 * against each other with the same sender in the same run.
 *
 * Flags: --json (end with one JSON line of ratios), --smoke (a few seconds, for CI),
 * --seconds N (per pair; default 3), --sizes 200,1316, --chart PATH (the SVG chart, bench/chart.ts;
 * default bench/results/latest.svg, none with --smoke; `--chart none` writes none; the rows go to
 * the same path with .json), --note TEXT (added to the chart's caption, e.g. what else ran).
 * The C baselines are built here with `cc` into bench/.build/ (git-ignored).
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, existsSync, statSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, release } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
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
  },
});
const smoke = values.smoke === true;
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
  writeFileSync(path, renderBenchChart({ rxRows, txRows, sizes, caption }));
  const rows = { date: startedAt.toISOString(), machine, seconds, sizes, caption, rxRows, txRows };
  writeFileSync(path.replace(/\.svg$/, '') + '.json', JSON.stringify(rows, null, 2) + '\n');
  console.log(`\nchart: ${path}`);
}

function buildC(): void {
  mkdirSync(build, { recursive: true });
  for (const name of ['recv_recvmmsg', 'send_sendmmsg', 'send_gso']) {
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
  const rxP = run(receivers[receiver]!(), 1, (j) => {
    if (j.port !== undefined) gotPort(j.port);
  });
  const port = await Promise.race([portP, rxP.then(() => 0)]);
  if (!port) throw new Error(`${receiver} printed no port`);
  const tx = await run(senders[sender]!(port, size), 0);
  const rx = await rxP;
  return { rx, tx };
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
    cols.map(([k, , d]) => (typeof r[k] === 'number' ? fmt(r[k], d) : String(r[k]))),
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

async function main(): Promise<void> {
  buildC();
  const rxRows: Record<string, number | string>[] = [];
  const txRows: Record<string, number | string>[] = [];
  for (const size of sizes) {
    for (const r of ['c-recvmmsg', 'batch', 'node', 'dgram'])
      rxRows.push(rxRow(r, size, await pair(r, 'c-gso', size)));
    for (const s of ['c-gso', 'batch-gso', 'c-sendmmsg', 'batch-mmsg', 'node', 'dgram'])
      txRows.push(txRow(s, size, await pair('c-recvmmsg', s, size)));
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
  ): number => rows.find((r) => r.case === c && r.size === size)![k] as number;
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
    reuseport_scaling:
      wRows.length === 2 ? (wRows[1]!.rx_pps as number) / (wRows[0]!.rx_pps as number) : null,
    sizes,
    seconds,
    smoke,
  };
  console.log(
    '\nratios (same run; targets: rx vs C <= 1.5, rx vs dgram <= 0.35, GSO tx vs C >= 0.8, vs dgram >= 4, node engine vs dgram within 5%)',
  );
  for (const [k, v] of Object.entries(result))
    if (typeof v === 'number') console.log(`  ${k.padEnd(30)} ${v.toFixed(3)}`);
  if (chartPath !== undefined) writeChart(chartPath, rxRows, txRows);
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
