/**
 * `npm run soak`: a long run at media rates that fails when memory, file descriptors or loss
 * grow, or when a process under test dies.
 *
 *   npm run soak                         # 10 minutes
 *   npm run soak -- --duration 30s       # what CI runs
 *   npm run soak -- --duration 1h --interval 30s
 *
 * What runs (everything on 127.0.0.1):
 * - a paced sender in this process: valid RTP (sequence numbers, 90 kHz timestamps, payload type
 *   33, seven 188-byte MPEG-TS packets per datagram with continuity counters, 1328 bytes) at
 *   `--rate` (20,000/s) to each of the next two, in bursts of at most 128 per timer tick with
 *   `sendBatch` (UDP GSO), credit-paced from the clock (a debt of up to 1 s caught up after a
 *   stall), the achieved rate measured;
 * - `mediasock recv 'udp://@127.0.0.1:0?buffer=33554432' --rtp --json` (the real CLI, a child
 *   process);
 * - `mediasock relay 'udp://@127.0.0.1:0?buffer=33554432' udp://127.0.0.1:Q --json` (a child
 *   process), with a plain receiver on Q in this process (batch engine) counting and
 *   sequence-checking what arrives;
 * - a DTLS pair in a child process (`soak-dtls.ts`): RIST Main-profile transports, sender the DTLS
 *   client, receiver the server, PSK, the same RTP stream as records at `--dtls-rate` (2,000/s).
 *
 * Every `--interval` (10 s) it samples each part: RSS and open fds from `/proc/<pid>` (from
 * outside), CPU from `/proc/<pid>/stat`, and the live JS memory after full GCs (`heapUsed`, and
 * `external`: Buffer backing stores and addon memory) from `soak-probe.ts`, which is preloaded
 * into the children (the CLI's `--json` statistics have no memory figures) and called directly
 * for this process. It prints one markdown table row per sample and, at the end, a verdict per
 * bound and one JSON summary line.
 *
 * Bounds (each part: recv, relay, dtls, harness; measured against the first sample at or after the
 * warm-up, `--warmup`, default min(60 s, duration / 3)):
 * - RSS growth <= 24 MB. After warm-up a process that does not leak holds a flat RSS: its V8 heap
 *   has reached its working size and its socket memory is preallocated. What still moves is
 *   allocator and collector noise: V8 sizes its young generation (semispaces up to 16 MB) and
 *   keeps freed pages for reuse, glibc arenas keep freed chunks; a few MB either way between
 *   samples. 24 MB is well above that noise and well below what a per-datagram leak does: one
 *   leaked 1328-byte datagram in 100 at 20k/s is 265 KB/s, 24 MB in 90 s.
 * - Live JS heap growth (`heapUsed` after two full GCs 20 ms apart, see `soak-probe.ts`) <= 4 MB.
 *   The GCs make garbage not count, so this is what the process holds on to; it stays within
 *   ~0.4 MB here. 4 MB catches anything that keeps ~7 KB/s of JS objects over a 10-minute run
 *   (one small object per 100 datagrams), and a leak a sixth of that over an hour.
 * - External memory growth (`external` after the same GCs: Buffer backing stores, addon memory)
 *   <= 16 MB. Noisier: the Buffers of datagrams in flight at the sample count, and V8 releases
 *   collected backing stores in the background; on `recv` (one Buffer per datagram) single
 *   samples moved by up to ~6 MB in 10 minutes. 16 MB still catches one retained 1328-byte
 *   Buffer per 500 datagrams (53 KB/s) within 10 minutes, and RSS catches the rest.
 * - Open fds: no more than at the baseline, at every later sample. Nothing in these processes
 *   opens descriptors per datagram or per second after start-up, so any growth is a leak.
 * - Loss after the warm-up <= 0.1 % of what was sent after it, per part (lost at the end, that is
 *   sent - received after a 1 s drain, minus lost at the baseline sample; totals are reported).
 *   Loopback does not lose by itself; what drops is a receive buffer overflowing while its
 *   process waits for a CPU. The receivers ask for 32 MiB (`?buffer=`; 64 MiB effective, ~31,000
 *   of these datagrams, 1.5 s at 20k/s) so that the scheduling stalls of a shared 2-core machine
 *   are ridden out, as a live receiver on a busy host would be set up. 0.1 % then still fails a
 *   part that falls behind the rate for seconds, or whose per-datagram cost grows during the run.
 * - Damaged datagrams (not a 1328-byte RTP packet) at the relay's receiver or in DTLS: none.
 * - Achieved send rate >= 98 % of `--rate` (else the run did not apply the load it reports).
 * - Every child alive until told to stop, then exiting 0 within 10 s of SIGINT.
 *
 * Exit: 0 when every bound holds, 1 otherwise (each failure named on stderr and in the JSON),
 * 130 on SIGINT, 2 on bad arguments. Every child is killed on any exit, SIGINT or failure; the
 * children also carry their own time bound (`--duration` of the CLI, `maxSeconds` of the DTLS
 * child) in case this process is killed outright. All loops are bounded in count and time.
 *
 * @module
 */
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { Duplex } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';

import { UdpSocket, nativeStatus } from '../src/index.js';
// The batch type is not re-exported from src/index.ts; bench/peer.ts takes it from here too.
import type { DatagramBatch } from '../src/udp/udp-socket.js';
import { memorySample } from './soak-probe.js';
import { RTP_PACKET_BYTES, RtpTsWriter, SeqTracker } from './soak-rtp.js';

const here = dirname(fileURLToPath(import.meta.url));
const root = dirname(here);
const HOST = '127.0.0.1';
const MB = 1024 * 1024;

/** The bounds; the module comment and bench/README.md say why each is what it is. */
const BOUNDS = {
  rssGrowthMB: 24,
  heapGrowthMB: 4,
  externalGrowthMB: 16,
  fdGrowth: 0,
  lossFraction: 0.001,
  minRateFraction: 0.98,
  childExitMs: 10_000,
} as const;

/** Datagrams per destination per sender tick at most (a 1 ms tick needs 20 at 20k/s). */
const BURST_MAX = 128;
/**
 * Schedule debt carried at most (sent in catch-up bursts after a stall of this process); beyond
 * it the schedule is skipped and the achieved rate falls short. The receivers hold 1.5 s.
 */
const BACKLOG_MS = 1000;
/**
 * Receive buffer asked for by every receiver under test (`?buffer=` of the CLI URLs) and by Q:
 * 32 MiB, which Linux doubles to 64 MiB (as root `SO_RCVBUFFORCE` passes `rmem_max`; elsewhere
 * the kernel clamps it to `rmem_max`). Measured here: 2,160 bytes of buffer per queued 1328-byte
 * datagram, so about 31,000 datagrams, 1.5 s of this stream. With the 4 MiB `rmem_max` (8 MiB,
 * ~3,900 datagrams, 190 ms) the relay lost 1-2 % in bursts of 600-2,400 datagrams while other
 * work held the CPUs.
 */
const RECV_BUFFER_BYTES = 32 << 20;
/** Send buffer of the paced sender. */
const SEND_BUFFER_BYTES = 4 << 20;
const PROBE_TIMEOUT_MS = 5_000;
const START_TIMEOUT_MS = 60_000;
const DRAIN_MS = 1_000;
/** Linux's USER_HZ on x86-64 and arm64: the unit of utime/stime in /proc/<pid>/stat. */
const CLOCK_TICKS_PER_S = 100;

// ---------------------------------------------------------------------------------------------
// Arguments

function usage(message: string): never {
  process.stderr.write(
    `soak: ${message}\nusage: npm run soak -- [--duration 10m] [--interval 10s] [--warmup 60s] [--rate 20000] [--dtls-rate 2000]\n`,
  );
  process.exit(2);
}

/** `30s`, `10m`, `1h`, `45` (seconds), `1.5m` → seconds. */
function seconds(name: string, text: string): number {
  const m = /^(\d+(?:\.\d+)?)(s|m|h)?$/.exec(text.trim());
  if (!m) usage(`--${name} ${JSON.stringify(text)}: expected a number with s, m or h`);
  const v = Number(m[1]) * (m[2] === 'h' ? 3600 : m[2] === 'm' ? 60 : 1);
  if (!(v > 0)) usage(`--${name} must be more than 0`);
  return v;
}

function rateArg(name: string, text: string, max: number): number {
  const v = Number(text);
  if (!Number.isInteger(v) || v < 1 || v > max) usage(`--${name} must be an integer in 1..${max}`);
  return v;
}

let parsed;
try {
  parsed = parseArgs({
    options: {
      duration: { type: 'string', default: '10m' },
      interval: { type: 'string', default: '10s' },
      warmup: { type: 'string' },
      rate: { type: 'string', default: '20000' },
      'dtls-rate': { type: 'string', default: '2000' },
    },
  });
} catch (err) {
  usage(err instanceof Error ? err.message : String(err));
}
const { values } = parsed;
const durationS = seconds('duration', values.duration);
const intervalS = seconds('interval', values.interval);
const warmupS =
  values.warmup !== undefined ? seconds('warmup', values.warmup) : Math.min(60, durationS / 3);
const rate = rateArg('rate', values.rate, 200_000);
const dtlsRate = rateArg('dtls-rate', values['dtls-rate'], 20_000);
if (intervalS > durationS) usage('--interval must not be longer than --duration');
if (warmupS >= durationS) usage('--warmup must be shorter than --duration');
/** The children's own time bound, in case this process is killed before it can stop them. */
const childMaxS = Math.ceil(durationS + 120);

// ---------------------------------------------------------------------------------------------
// Failures and cleanup

const failures: string[] = [];
const stopRun = new AbortController();
let interrupted = false;

function failRun(message: string): void {
  failures.push(message);
  process.stderr.write(`soak: FAIL ${message}\n`);
  stopRun.abort();
}

type JsonRecord = Record<string, unknown>;

interface Part {
  name: string;
  pid: number;
  proc?: ChildProcess;
  /** The latest `type: "stats"` record, the `start` and `summary` records of its stdout. */
  stats?: JsonRecord;
  start?: JsonRecord;
  summary?: JsonRecord;
  stderrTail: string;
  exited: boolean;
  /** Set when we asked it to stop: an exit before that is a failure. */
  stopping: boolean;
  exit?: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  probe?: Duplex;
  probeWaiters: Array<(r: JsonRecord) => void>;
  cpuTicks?: number;
  cpuAt?: number;
}

const parts: Part[] = [];

process.on('exit', () => {
  for (const p of parts) if (p.proc && !p.exited) p.proc.kill('SIGKILL');
});
process.on('SIGINT', () => {
  if (interrupted) process.exit(130); // a second Ctrl-C: now (the exit handler kills children)
  interrupted = true;
  failRun('interrupted (SIGINT)');
});
process.on('SIGTERM', () => {
  interrupted = true;
  failRun('terminated (SIGTERM)');
});

/** Splits a stream into lines; calls `onLine` for each complete one. */
function lines(stream: NodeJS.ReadableStream, onLine: (line: string) => void): void {
  let buffered = '';
  stream.setEncoding('utf8');
  stream.on('data', (chunk: string) => {
    buffered += chunk;
    for (let nl = buffered.indexOf('\n'); nl !== -1; nl = buffered.indexOf('\n')) {
      onLine(buffered.slice(0, nl));
      buffered = buffered.slice(nl + 1);
    }
    // A line without a newline longer than 1 MB is not ours: keep the tail only.
    if (buffered.length > MB) buffered = buffered.slice(-4096);
  });
}

function parseJson(line: string): JsonRecord | undefined {
  if (!line.startsWith('{')) return undefined;
  try {
    return JSON.parse(line) as JsonRecord;
  } catch (err) {
    process.stderr.write(`soak: unreadable JSON line (${(err as Error).message}): ${line}\n`);
    return undefined;
  }
}

/** Starts `node --import tsx --import soak-probe.ts <args>` as a part under test. */
function spawnPart(name: string, args: string[], keepStdin: boolean): Part {
  const probeUrl = pathToFileURL(join(here, 'soak-probe.ts')).href;
  const proc = spawn(process.execPath, ['--import', 'tsx', '--import', probeUrl, ...args], {
    cwd: root,
    stdio: [keepStdin ? 'pipe' : 'ignore', 'pipe', 'pipe', 'pipe'],
    env: { ...process.env, MEDIASOCK_SOAK_PROBE_FD: '3' },
  });
  if (proc.pid === undefined) throw new Error(`${name}: spawn failed`);
  const part: Part = {
    name,
    pid: proc.pid,
    proc,
    stderrTail: '',
    exited: false,
    stopping: false,
    probeWaiters: [],
  };
  lines(proc.stdout!, (line) => {
    const r = parseJson(line);
    if (r?.type === 'stats') part.stats = r;
    else if (r?.type === 'start') part.start = r;
    else if (r?.type === 'summary') part.summary = r;
  });
  proc.stderr!.setEncoding('utf8');
  proc.stderr!.on('data', (c: string) => {
    part.stderrTail = (part.stderrTail + c).slice(-4000);
  });
  const probe = proc.stdio[3] as Duplex;
  part.probe = probe;
  lines(probe, (line) => {
    const r = parseJson(line);
    const w = part.probeWaiters.shift();
    if (r && w) w(r);
  });
  probe.on('error', (err: Error) => {
    if (!part.stopping) failRun(`${name}: probe channel: ${err.message}`);
  });
  part.exit = new Promise((resolve) => {
    proc.once('exit', (code, signal) => {
      part.exited = true;
      // Checked a moment later: a Ctrl-C on the terminal reaches the children and this process
      // at once, and then their exit is not a death.
      setTimeout(() => {
        if (!part.stopping && !interrupted)
          failRun(
            `${name} (pid ${part.pid}) died: exit code ${code}, signal ${signal}; stderr: ${part.stderrTail.trim() || '(empty)'}`,
          );
      }, 200);
      resolve({ code, signal });
    });
  });
  proc.once('error', (err) => failRun(`${name}: ${err.message}`));
  parts.push(part);
  return part;
}

/** Resolves when `check()` is true, polling every 50 ms; false after `ms` or when the run stops. */
async function waitFor(check: () => boolean, ms: number): Promise<boolean> {
  const until = performance.now() + ms;
  for (let i = 0; i < Math.ceil(ms / 50) + 1; i++) {
    if (check()) return true;
    if (stopRun.signal.aborted || performance.now() > until) return false;
    await sleep(50);
  }
  return check();
}

// ---------------------------------------------------------------------------------------------
// Measurement

interface Mem {
  rss: number;
  heap: number;
  /** `external` after the same GC: Buffer / ArrayBuffer backing stores, addon memory. */
  ext: number;
  fds: number;
  cpuPct: number;
  gcMs: number;
}

function procStatus(pid: number | 'self'): { rss: number; fds: number; cpuTicks: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const m = /^VmRSS:\s+(\d+) kB$/m.exec(status);
  if (!m) throw new Error(`/proc/${pid}/status has no VmRSS`);
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const cpuTicks = Number(fields[11]) + Number(fields[12]); // utime + stime
  return { rss: Number(m[1]) * 1024, fds: readdirSync(`/proc/${pid}/fd`).length, cpuTicks };
}

/** The machine's 1-minute load average and CPU pressure (PSI; NaN where the kernel has none). */
function machineLoad(): { load: number; cpuPressure: number } {
  const load = Number(readFileSync('/proc/loadavg', 'utf8').split(' ')[0]);
  let cpuPressure = NaN;
  try {
    const m = /^some avg10=([\d.]+)/m.exec(readFileSync('/proc/pressure/cpu', 'utf8'));
    if (m) cpuPressure = Number(m[1]);
  } catch (err) {
    // Kernels without CONFIG_PSI have no /proc/pressure: the column shows '-'.
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  return { load, cpuPressure };
}

async function askProbe(part: Part): Promise<JsonRecord | undefined> {
  const probe = part.probe;
  if (!probe) return undefined;
  let timer: NodeJS.Timeout | undefined;
  const answer = new Promise<JsonRecord | undefined>((resolve) => {
    part.probeWaiters.push(resolve);
    timer = setTimeout(() => {
      part.probeWaiters = part.probeWaiters.filter((w) => w !== resolve);
      resolve(undefined);
    }, PROBE_TIMEOUT_MS);
  });
  probe.write('sample\n');
  const r = await answer;
  clearTimeout(timer);
  return r;
}

async function measure(part: Part, now: number): Promise<{ mem: Mem; extra: JsonRecord }> {
  let heap: JsonRecord | undefined;
  if (part.proc) {
    heap = await askProbe(part);
    if (heap === undefined && !part.exited)
      failRun(`${part.name}: no probe answer within ${PROBE_TIMEOUT_MS} ms (event loop stuck?)`);
  } else {
    heap = await memorySample();
  }
  let s: { rss: number; fds: number; cpuTicks: number };
  try {
    s = procStatus(part.proc ? part.pid : 'self');
  } catch (err) {
    // Gone between the probe and /proc: its death is reported by its exit handler.
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    s = { rss: NaN, fds: NaN, cpuTicks: NaN };
  }
  const cpuPct =
    part.cpuTicks === undefined || part.cpuAt === undefined
      ? 0
      : (100 * (s.cpuTicks - part.cpuTicks)) / CLOCK_TICKS_PER_S / ((now - part.cpuAt) / 1000);
  part.cpuTicks = s.cpuTicks;
  part.cpuAt = now;
  return {
    mem: {
      rss: s.rss,
      heap: Number(heap?.heapUsed ?? NaN),
      ext: Number(heap?.external ?? NaN),
      fds: s.fds,
      cpuPct,
      gcMs: Number(heap?.gcMs ?? NaN),
    },
    extra: heap ?? {},
  };
}

interface Row {
  t: number;
  txRate: number;
  /** 1-minute load average and CPU pressure (PSI `some avg10`, %) of the whole machine. */
  load: number;
  cpuPressure: number;
  mem: Record<string, Mem>;
  sent: number;
  recvRx: number;
  recvLost: number;
  qRx: number;
  qLost: number;
  dtlsSent: number;
  dtlsRx: number;
  dtlsLost: number;
}

const num = (v: unknown): number => (typeof v === 'number' ? v : NaN);
const mb = (bytes: number): string => (bytes / MB).toFixed(1);
const int = (n: number): string => (Number.isFinite(n) ? String(Math.round(n)) : '-');

const PART_NAMES = ['recv', 'relay', 'dtls', 'harness'] as const;
const HEADER = [
  't (s)',
  'tx/s',
  'load · cpu psi',
  ...PART_NAMES.map((n) => `${n} rss / heap / ext MB · fds · cpu`),
  'sent',
  'recv rx',
  'recv lost',
  'relay→Q rx',
  'Q lost',
  'dtls sent',
  'dtls rx',
  'dtls lost',
];

function rowCells(r: Row): string[] {
  return [
    r.t.toFixed(0),
    int(r.txRate),
    `${r.load.toFixed(1)} · ${Number.isFinite(r.cpuPressure) ? `${r.cpuPressure.toFixed(0)}%` : '-'}`,
    ...PART_NAMES.map((n) => {
      const m = r.mem[n];
      return m
        ? `${mb(m.rss)} / ${mb(m.heap)} / ${mb(m.ext)} · ${m.fds} · ${m.cpuPct.toFixed(0)}%`
        : '-';
    }),
    int(r.sent),
    int(r.recvRx),
    int(r.recvLost),
    int(r.qRx),
    int(r.qLost),
    int(r.dtlsSent),
    int(r.dtlsRx),
    int(r.dtlsLost),
  ];
}

function printRow(cells: string[]): void {
  console.log(`| ${cells.join(' | ')} |`);
}

// ---------------------------------------------------------------------------------------------
// The run

async function main(): Promise<number> {
  const native = nativeStatus();
  if (!native.loaded) {
    failRun(
      `the native addon did not load (the sender and relay receiver use the batch engine, DTLS needs OpenSSL through it): ${String(native.loadError)}; run npm run build:native`,
    );
    return report([], 0, 0, {});
  }

  // The relay's output: a plain receiver in this process.
  const q = await UdpSocket.open({
    type: 'udp4',
    address: HOST,
    engine: 'batch',
    recvBufferBytes: RECV_BUFFER_BYTES,
  });
  const qTracker = new SeqTracker();
  q.on('batch', (b: DatagramBatch) => {
    for (let i = 0; i < b.count; i++) qTracker.update(b.data, b.offset(i), b.length(i));
  });
  q.on('error', (err: Error) => failRun(`relay output receiver: ${err.message}`));
  const qPort = q.address().port;

  const harness: Part = {
    name: 'harness',
    pid: process.pid,
    stderrTail: '',
    exited: false,
    stopping: false,
    probeWaiters: [],
  };
  parts.push(harness);
  const cli = join('src', 'cli', 'main.ts');
  const limit = String(childMaxS);
  const recv = spawnPart(
    'recv',
    [
      cli,
      'recv',
      `udp://@${HOST}:0?buffer=${RECV_BUFFER_BYTES}`,
      '--rtp',
      '--json',
      '--duration',
      limit,
    ],
    false,
  );
  const relay = spawnPart(
    'relay',
    [
      cli,
      'relay',
      `udp://@${HOST}:0?buffer=${RECV_BUFFER_BYTES}`,
      `udp://${HOST}:${qPort}`,
      '--json',
      '--duration',
      limit,
    ],
    false,
  );
  const dtls = spawnPart('dtls', [join(here, 'soak-dtls.ts'), String(dtlsRate), limit], true);

  const started = await waitFor(
    () => recv.start !== undefined && relay.start !== undefined && dtls.start !== undefined,
    START_TIMEOUT_MS,
  );
  if (!started) {
    if (!stopRun.signal.aborted)
      failRun(
        `not every part started within ${START_TIMEOUT_MS / 1000} s: ${[recv, relay, dtls]
          .filter((p) => p.start === undefined)
          .map((p) => `${p.name} (stderr: ${p.stderrTail.trim() || 'empty'})`)
          .join(', ')}`,
      );
    await teardown(q, undefined);
    return report([], 0, 0, {});
  }
  const recvPort = num(recv.start!.port);
  const inputUrl = (relay.start!.input as JsonRecord | undefined)?.url;
  const relayInput = typeof inputUrl === 'string' ? inputUrl : '';
  const relayPort = Number(/:(\d+)$/.exec(relayInput)?.[1]);
  if (!(recvPort > 0) || !(relayPort > 0)) {
    failRun(
      `could not read the ports: recv start ${JSON.stringify(recv.start)}, relay input ${relayInput}`,
    );
    await teardown(q, undefined);
    return report([], 0, 0, {});
  }
  console.log(
    `soak: ${durationS} s at ${rate} RTP datagrams/s (${RTP_PACKET_BYTES} B) to recv (pid ${recv.pid}, port ${recvPort}) and relay (pid ${relay.pid}, port ${relayPort} -> ${qPort}); DTLS pair (pid ${dtls.pid}, ${String(dtls.start!.cipher)}) at ${dtlsRate}/s; sample every ${intervalS} s, warm-up ${warmupS} s\n`,
  );

  // The paced sender.
  const tx = await UdpSocket.open({
    type: 'udp4',
    address: HOST,
    engine: 'batch',
    sendBufferBytes: SEND_BUFFER_BYTES,
  });
  tx.on('error', (err: Error) => failRun(`sender: ${err.message}`));
  const writer = new RtpTsWriter(0x50a4c0de, rate);
  const buffer = Buffer.alloc(BURST_MAX * RTP_PACKET_BYTES);
  for (let i = 0; i < BURST_MAX; i++) RtpTsWriter.template(buffer, i * RTP_PACKET_BYTES);
  let sent = 0;
  let skipped = 0;
  const t0 = performance.now();
  let sendEnd = t0;
  const backlogMax = Math.ceil((rate * BACKLOG_MS) / 1000);

  const sender = async (): Promise<void> => {
    const maxTicks = Math.ceil(durationS * 1000) * 2 + 1000;
    for (let tick = 0; tick < maxTicks && !stopRun.signal.aborted; tick++) {
      const elapsed = performance.now() - t0;
      if (elapsed >= durationS * 1000) break;
      let due = Math.floor((elapsed / 1000) * rate) - skipped - sent;
      if (due > backlogMax) {
        skipped += due - backlogMax;
        due = backlogMax;
      }
      const n = Math.min(due, BURST_MAX);
      if (n > 0) {
        for (let i = 0; i < n; i++) writer.next(buffer, i * RTP_PACKET_BYTES);
        const train = buffer.subarray(0, n * RTP_PACKET_BYTES);
        const results = await Promise.all([
          tx.sendBatch({
            buffer: train,
            segmentSize: RTP_PACKET_BYTES,
            address: HOST,
            port: recvPort,
          }),
          tx.sendBatch({
            buffer: train,
            segmentSize: RTP_PACKET_BYTES,
            address: HOST,
            port: relayPort,
          }),
        ]);
        for (const r of results) {
          if (r.sent !== n || r.error !== undefined) {
            failRun(
              `sender: ${r.sent} of ${n} datagrams sent${r.error ? `: ${String(r.error)}` : ''}`,
            );
            return;
          }
        }
        sent += n;
      }
      await sleep(1);
    }
    sendEnd = performance.now();
  };

  const rows: Row[] = [];
  const sampler = async (): Promise<void> => {
    printRow(HEADER);
    printRow(HEADER.map((_, i) => (i === 0 ? '---:' : i >= 2 && i <= 6 ? ':---' : '---:')));
    const samples = Math.floor(durationS / intervalS + 1e-9);
    let lastSent = 0;
    let lastAt = t0;
    for (let k = 1; k <= samples && !stopRun.signal.aborted; k++) {
      const wait = t0 + k * intervalS * 1000 - performance.now();
      if (wait > 0) {
        try {
          await sleep(wait, undefined, { signal: stopRun.signal });
        } catch (err) {
          if (stopRun.signal.aborted) return; // the run is stopping; its reason is recorded
          throw err;
        }
      }
      const now = performance.now();
      const sentNow = sent;
      const measured = await Promise.all(parts.map((p) => measure(p, now)));
      const mem: Record<string, Mem> = {};
      parts.forEach((p, i) => (mem[p.name] = measured[i]!.mem));
      const dtlsExtra = measured[parts.indexOf(dtls)]!.extra;
      const row: Row = {
        t: (now - t0) / 1000,
        txRate: ((sentNow - lastSent) * 1000) / (now - lastAt),
        ...machineLoad(),
        mem,
        sent: sentNow,
        recvRx: num(recv.stats?.packets),
        recvLost: num(recv.stats?.lost),
        qRx: qTracker.received,
        qLost: qTracker.lost,
        dtlsSent: num(dtlsExtra.sent),
        dtlsRx: num(dtlsExtra.received),
        dtlsLost: num(dtlsExtra.lost),
      };
      lastSent = sentNow;
      lastAt = now;
      rows.push(row);
      printRow(rowCells(row));
    }
  };

  await Promise.all([sender(), sampler()]);
  if (sendEnd === t0) sendEnd = performance.now();
  const achieved = (sent * 1000) / Math.max(1, sendEnd - t0);

  // Drain, then stop the children and collect their summaries.
  await sleep(DRAIN_MS);
  await teardown(q, tx);
  return report(rows, sent, achieved, {
    skipped,
    q: { received: qTracker.received, lost: qTracker.lost, malformed: qTracker.malformed },
  });
}

let tornDown = false;

async function teardown(q: UdpSocket, tx: UdpSocket | undefined): Promise<void> {
  if (tornDown) return;
  tornDown = true;
  const children = parts.filter((p) => p.proc);
  const diedEarly = new Set(children.filter((p) => p.exited));
  for (const p of children) {
    p.stopping = true;
    if (!p.exited) p.proc!.kill('SIGINT');
  }
  await Promise.all(
    children.map(async (p) => {
      let timer: NodeJS.Timeout | undefined;
      const result = await Promise.race([
        p.exit!,
        new Promise<undefined>((resolve) => {
          timer = setTimeout(() => resolve(undefined), BOUNDS.childExitMs);
        }),
      ]);
      clearTimeout(timer);
      if (result === undefined) {
        failRun(`${p.name} did not exit within ${BOUNDS.childExitMs / 1000} s of SIGINT; killed`);
        p.proc!.kill('SIGKILL');
        await p.exit;
      } else if (result.code !== 0 && !interrupted && !diedEarly.has(p)) {
        failRun(
          `${p.name} exited with code ${result.code}, signal ${result.signal} after SIGINT; stderr: ${p.stderrTail.trim() || '(empty)'}`,
        );
      }
    }),
  );
  // The relay's last forwards reach Q a moment after it stops.
  await sleep(200);
  await Promise.all([q.close(), tx?.close()]);
}

interface Growth {
  rss_base_mb: number;
  rss_max_mb: number;
  rss_growth_mb: number;
  heap_base_mb: number;
  heap_max_mb: number;
  heap_growth_mb: number;
  ext_base_mb: number;
  ext_max_mb: number;
  ext_growth_mb: number;
  fds_base: number;
  fds_min: number;
  fds_max: number;
  cpu_pct_avg: number;
  gc_ms_max: number;
}

const r2 = (n: number): number => Math.round(n * 100) / 100;

function report(rows: Row[], sent: number, achieved: number, extra: JsonRecord): number {
  // A run already failed (a death, SIGINT) ended early: its loss and rate are shown, not judged.
  const judgeTraffic = failures.length === 0;
  const baseIndex = rows.findIndex((r) => r.t >= warmupS - 0.5);
  const growth: Record<string, Growth> = {};
  if (baseIndex === -1 || baseIndex === rows.length - 1) {
    if (failures.length === 0)
      failRun(`no samples after the warm-up (${rows.length} samples; lengthen --duration)`);
  } else {
    const base = rows[baseIndex]!;
    const after = rows.slice(baseIndex + 1);
    for (const name of PART_NAMES) {
      const b = base.mem[name]!;
      const later = after.map((r) => r.mem[name]!);
      const g: Growth = {
        rss_base_mb: r2(b.rss / MB),
        rss_max_mb: r2(Math.max(...later.map((m) => m.rss)) / MB),
        rss_growth_mb: r2((Math.max(...later.map((m) => m.rss)) - b.rss) / MB),
        heap_base_mb: r2(b.heap / MB),
        heap_max_mb: r2(Math.max(...later.map((m) => m.heap)) / MB),
        heap_growth_mb: r2((Math.max(...later.map((m) => m.heap)) - b.heap) / MB),
        ext_base_mb: r2(b.ext / MB),
        ext_max_mb: r2(Math.max(...later.map((m) => m.ext)) / MB),
        ext_growth_mb: r2((Math.max(...later.map((m) => m.ext)) - b.ext) / MB),
        fds_base: b.fds,
        fds_min: Math.min(...later.map((m) => m.fds)),
        fds_max: Math.max(...later.map((m) => m.fds)),
        cpu_pct_avg: r2(
          rows.slice(1).reduce((a, r) => a + r.mem[name]!.cpuPct, 0) / Math.max(1, rows.length - 1),
        ),
        gc_ms_max: r2(Math.max(...rows.map((r) => r.mem[name]!.gcMs))),
      };
      growth[name] = g;
      if (!(g.rss_growth_mb <= BOUNDS.rssGrowthMB))
        failRun(
          `${name}: RSS grew ${g.rss_growth_mb} MB after the warm-up (bound ${BOUNDS.rssGrowthMB} MB)`,
        );
      if (!(g.heap_growth_mb <= BOUNDS.heapGrowthMB))
        failRun(
          `${name}: live JS heap grew ${g.heap_growth_mb} MB after the warm-up (bound ${BOUNDS.heapGrowthMB} MB)`,
        );
      if (!(g.ext_growth_mb <= BOUNDS.externalGrowthMB))
        failRun(
          `${name}: external memory (Buffers, addon) grew ${g.ext_growth_mb} MB after the warm-up (bound ${BOUNDS.externalGrowthMB} MB)`,
        );
      if (!(g.fds_max - g.fds_base <= BOUNDS.fdGrowth))
        failRun(`${name}: open fds went from ${g.fds_base} to ${g.fds_max} after the warm-up`);
    }
  }

  // Final traffic: what arrived of what was sent, after the drain.
  const byName = (n: string): Part | undefined => parts.find((p) => p.name === n);
  const recvSum = byName('recv')?.summary;
  const relaySum = byName('relay')?.summary;
  const dtlsSum = byName('dtls')?.summary;
  const qStats = (extra.q ?? {}) as JsonRecord;
  // Judged after the warm-up, as memory is (a cold JIT at start-up is not what a soak measures):
  // lost since the baseline sample / sent since then. The totals are reported too.
  const base = baseIndex === -1 ? undefined : rows[baseIndex];
  const loss = (
    name: string,
    of: number,
    received: number,
    baseSent: number,
    baseLost: number,
  ): JsonRecord => {
    const lost = of - received;
    const fraction = of > 0 ? lost / of : 0;
    const known = base !== undefined && Number.isFinite(baseSent) && Number.isFinite(baseLost);
    const sentAfter = known ? of - baseSent : of;
    const lostAfter = known ? lost - baseLost : lost;
    const fractionAfter = sentAfter > 0 ? lostAfter / sentAfter : 0;
    if (judgeTraffic && sentAfter > 0 && !(fractionAfter <= BOUNDS.lossFraction))
      failRun(
        `${name}: lost ${lostAfter} of ${sentAfter} datagrams after the warm-up (${(100 * fractionAfter).toFixed(3)} %, bound ${100 * BOUNDS.lossFraction} %)`,
      );
    return {
      sent: of,
      received,
      lost,
      loss_fraction: Number(fraction.toPrecision(3)),
      sent_after_warmup: sentAfter,
      lost_after_warmup: lostAfter,
      loss_fraction_after_warmup: Number(fractionAfter.toPrecision(3)),
    };
  };
  const relayOut = ((relaySum?.outputs as JsonRecord[] | undefined) ?? [])[0];
  const traffic: JsonRecord = {};
  if (sent > 0) {
    traffic.recv = {
      ...loss('recv', sent, num(recvSum?.packets), num(base?.sent), num(base?.recvLost)),
      rtp_lost: recvSum?.lost ?? null,
      duplicates: recvSum?.duplicates ?? null,
      kernel_drops: recvSum?.kernel_drops ?? null,
      ts_cc_errors: recvSum?.ts_cc_errors ?? null,
      jitter_ms: recvSum?.jitter_ms ?? null,
    };
    traffic.relay = {
      ...loss('relay', sent, num(qStats.received), num(base?.sent), num(base?.qLost)),
      relay_in: (relaySum?.input as JsonRecord | undefined)?.packets ?? null,
      relay_out: relayOut?.packets ?? null,
      relay_dropped: relayOut?.dropped ?? null,
      relay_errors: relayOut?.errors ?? null,
      malformed: qStats.malformed ?? null,
    };
    if (num(qStats.malformed) > 0)
      failRun(`relay: ${String(qStats.malformed)} damaged datagrams at Q`);
  }
  if (dtlsSum) {
    traffic.dtls = {
      ...loss(
        'dtls',
        num(dtlsSum.sent),
        num(dtlsSum.received),
        num(base?.dtlsSent),
        num(base?.dtlsLost),
      ),
      malformed: dtlsSum.malformed,
      reader_drops: dtlsSum.reader_drops,
      send_errors: dtlsSum.send_errors,
      internal_errors: dtlsSum.internal_errors,
    };
    if (num(dtlsSum.malformed) > 0) failRun(`dtls: ${String(dtlsSum.malformed)} damaged records`);
    if (num(dtlsSum.send_errors) > 0)
      failRun(
        `dtls: ${String(dtlsSum.send_errors)} send errors (${String(dtlsSum.last_send_error)})`,
      );
  }
  if (judgeTraffic && sent > 0 && !(achieved >= BOUNDS.minRateFraction * rate))
    failRun(
      `sender achieved ${achieved.toFixed(0)}/s, below ${100 * BOUNDS.minRateFraction} % of ${rate}/s`,
    );

  console.log('');
  for (const [name, g] of Object.entries(growth))
    console.log(
      `${name.padEnd(8)} RSS ${g.rss_base_mb} -> max ${g.rss_max_mb} MB (+${g.rss_growth_mb}, bound ${BOUNDS.rssGrowthMB})   heap ${g.heap_base_mb} -> max ${g.heap_max_mb} MB (+${g.heap_growth_mb}, bound ${BOUNDS.heapGrowthMB}), external ${g.ext_base_mb} -> max ${g.ext_max_mb} MB (+${g.ext_growth_mb}, bound ${BOUNDS.externalGrowthMB})   fds ${g.fds_base} -> ${g.fds_min}..${g.fds_max}   cpu ${g.cpu_pct_avg} %`,
    );
  for (const [name, t] of Object.entries(traffic)) {
    const x = t as JsonRecord;
    console.log(
      `${name.padEnd(8)} sent ${String(x.sent)}   received ${String(x.received)}   lost ${String(x.lost)} (${(100 * num(x.loss_fraction)).toFixed(4)} %); after the warm-up ${String(x.lost_after_warmup)} of ${String(x.sent_after_warmup)} (${(100 * num(x.loss_fraction_after_warmup)).toFixed(4)} %, bound ${100 * BOUNDS.lossFraction} %)`,
    );
  }
  console.log(`sender   ${achieved.toFixed(0)}/s achieved of ${rate}/s`);
  const ok = failures.length === 0;
  console.log(ok ? '\nsoak: PASS' : `\nsoak: FAIL\n${failures.map((f) => `  - ${f}`).join('\n')}`);
  console.log(
    JSON.stringify({
      type: 'soak-summary',
      ok,
      duration_s: durationS,
      interval_s: intervalS,
      warmup_s: warmupS,
      rate,
      rate_achieved: Math.round(achieved),
      schedule_skipped: extra.skipped ?? 0,
      dtls_rate: dtlsRate,
      samples: rows.length,
      bounds: BOUNDS,
      parts: growth,
      traffic,
      failures,
    }),
  );
  return ok ? 0 : interrupted ? 130 : 1;
}

// A hard bound on the whole run, whatever happens above.
const watchdog = setTimeout(
  () => {
    failRun(`the run did not end within ${durationS + 180} s`);
    process.exit(1);
  },
  (durationS + 180) * 1000,
);
watchdog.unref();

let code: number;
try {
  code = await main();
} catch (err) {
  failRun(`unexpected error: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
  code = 1;
}
process.exit(code);
