/**
 * `mediasock bench`: the rows and their fields, with the native addon and without it
 * (MEDIASOCK_NO_NATIVE=1: the batch rows say "n/a: <reason>"), as JSON and as a table, the
 * command-line rows (recv and relay as child processes of the bench) included. Runs the command
 * as a child process with short rows. Never asserts on speeds: only that each row that ran moved
 * datagrams and reports every field in range, and that the table's ratios are the JSON's.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';

import { nativeStatus } from '../../src/index.js';
import { records, runCli } from './cli-process.js';

interface Row {
  engine: string;
  direction: string;
  method: string;
  datagrams: number | null;
  seconds: number | null;
  pps: number | null;
  mbit_per_s: number | null;
  cpu_us_per_datagram: number | null;
  sent: number | null;
  received: number | null;
  loss_pct: number | null;
  na: string | null;
}

interface Report {
  size: number;
  seconds: number;
  host: string;
  native: boolean;
  native_error: string | null;
  feeder: string;
  sink: string;
  rows: Row[];
}

const ROWS = [
  "recv dgram 'message' event",
  "recv node 'message' event",
  "recv batch 'batch' event, length(i)",
  'send dgram send()',
  'send node send()',
  'send batch sendBatch, GSO',
  'send batch sendBatch, sendmmsg (no GSO)',
  'recv cli mediasock recv (child process)',
  'relay cli mediasock relay, 1 output (child process)',
];

const NUMBERS = [
  'datagrams',
  'seconds',
  'pps',
  'mbit_per_s',
  'cpu_us_per_datagram',
  'sent',
  'received',
  'loss_pct',
] as const;

const withAddon = nativeStatus().loaded && process.platform === 'linux';
const noNativeEnv = { ...process.env, MEDIASOCK_NO_NATIVE: '1' };

async function benchJson(args: string[], env: NodeJS.ProcessEnv): Promise<Report> {
  const r = await runCli(['bench', '--seconds', '0.3', '--json', ...args], {
    timeoutMs: 90_000,
    env,
  });
  assert.equal(r.code, 0, r.stderr);
  const all = records(r.stdout);
  assert.equal(all.length, 1, r.stdout);
  return all[0] as unknown as Report;
}

function assertRan(row: Row, size: number): void {
  const name = `${row.direction}/${row.engine} ${row.method}`;
  assert.equal(row.na, null, name);
  for (const key of NUMBERS) {
    const v = row[key];
    assert.ok(typeof v === 'number' && Number.isFinite(v) && v >= 0, `${name}: ${key} = ${v}`);
  }
  assert.ok(row.datagrams! > 0, `${name} moved datagrams`);
  assert.ok(row.pps! > 0 && row.mbit_per_s! > 0 && row.seconds! > 0, name);
  // Mbit/s follows from pps and the size (rounding aside).
  const mbit = (row.pps! * size * 8) / 1e6;
  assert.ok(Math.abs(row.mbit_per_s! - mbit) <= 0.01 * mbit + 0.2, `${name}: Mbit/s vs pps`);
  assert.ok(row.received! <= row.sent!, `${name}: received ${row.received} of ${row.sent}`);
  assert.ok(row.loss_pct! <= 100, name);
  const loss = 100 * (1 - row.received! / row.sent!);
  assert.ok(Math.abs(row.loss_pct! - loss) < 0.01, `${name}: loss_pct vs sent/received`);
  if (row.direction === 'send') assert.ok(row.sent! >= row.datagrams!, name);
  if (row.engine === 'cli') {
    // The command counted what it received of what the peer sent (relay: its input); the CPU
    // is the child's, some for every datagram it handled.
    assert.ok(row.datagrams! <= row.sent!, `${name}: ${row.datagrams} of ${row.sent}`);
    assert.ok(row.cpu_us_per_datagram! > 0, `${name}: the child's CPU`);
  }
}

test(
  'bench --json with the addon: every engine and direction moves datagrams',
  {
    skip: withAddon ? false : 'the native addon is not loaded (or not Linux)',
  },
  async () => {
    const report = await benchJson(['--size', '200'], process.env);
    assert.equal(report.size, 200);
    assert.equal(report.seconds, 0.3);
    assert.equal(report.host, '127.0.0.1');
    assert.equal(report.native, true);
    assert.equal(report.native_error, null);
    assert.match(report.feeder, /batch-engine/);
    assert.match(report.sink, /batch-engine/);
    assert.deepEqual(
      report.rows.map((r) => `${r.direction} ${r.engine} ${r.method}`),
      // A kernel without GSO says so in the GSO row's method.
      ROWS.map((name, i) =>
        i === 5 && report.rows[5]?.method !== 'sendBatch, GSO'
          ? `${name} (kernel has no GSO: sendmmsg)`
          : name,
      ),
    );
    for (const row of report.rows) assertRan(row, 200);
  },
);

test('bench --json with MEDIASOCK_NO_NATIVE=1: the batch rows are n/a with the load error', async () => {
  const report = await benchJson([], noNativeEnv);
  assert.equal(report.size, 1316);
  assert.equal(report.native, false);
  assert.equal(report.native_error, 'disabled by MEDIASOCK_NO_NATIVE=1');
  assert.equal(report.feeder, 'node:dgram');
  assert.equal(report.sink, 'node:dgram');
  assert.deepEqual(
    report.rows.map((r) => `${r.direction} ${r.engine} ${r.method}`),
    ROWS,
  );
  for (const row of report.rows) {
    if (row.engine !== 'batch') {
      assertRan(row, 1316);
      continue;
    }
    assert.equal(row.na, 'n/a: disabled by MEDIASOCK_NO_NATIVE=1');
    for (const key of NUMBERS) assert.equal(row[key], null, `${row.method}: ${key}`);
  }
});

test('bench prints a table: a header, one line per row, n/a lines for the batch engine, the ratios', async () => {
  const r = await runCli(['bench', '--seconds', '0.2', '--size', '188'], {
    timeoutMs: 90_000,
    env: noNativeEnv,
  });
  assert.equal(r.code, 0, r.stderr);
  // cli-process keeps stdout as latin1 (byte for byte); the table is UTF-8 ("µs").
  const stdout = Buffer.from(r.stdout, 'latin1').toString('utf8');
  const lines = stdout.trimEnd().split('\n');
  assert.match(
    lines[0] ?? '',
    /^mediasock bench: 188-byte datagrams on 127\.0\.0\.1, 0\.2 s per row; native addon not loaded \(disabled by MEDIASOCK_NO_NATIVE=1\)$/,
  );
  assert.match(lines[1] ?? '', /fed by a node:dgram sender process/);
  const head = lines.findIndex((l) => l.startsWith('DIR '));
  assert.ok(head > 0, stdout);
  assert.match(
    lines[head] ?? '',
    /^DIR +ENGINE +METHOD +DATAGRAMS\/S +Mbit\/s +CPU µs\/DGRAM +CPU vs DGRAM +LOSS %$/,
  );
  const body = lines.slice(head + 1);
  assert.equal(body.length, ROWS.length, stdout);
  const number = String.raw`\d+(?:\.\d+)?`;
  for (const [i, line] of body.entries()) {
    const [direction, engine] = (ROWS[i] ?? '').split(' ');
    if (engine === 'batch') {
      assert.match(
        line,
        new RegExp(`^${direction} +batch .+ n/a: disabled by MEDIASOCK_NO_NATIVE=1$`),
      );
    } else {
      assert.match(
        line,
        new RegExp(
          `^${direction} +${engine} +.+? +\\d+ +${number} +${number} +${number}x +${number}$`,
        ),
      );
    }
  }
  // CPU vs DGRAM: the row's CPU per datagram over the node:dgram row's (recv, send; the relay
  // over both added), as printed.
  const cells = (name: string): string[] =>
    (body[ROWS.indexOf(name)] ?? '').split(/ {2,}/).map((c) => c.trim());
  const cpu = (name: string): number => Number(cells(name)[5]);
  const ratio = (name: string): number => Number(cells(name)[6]?.replace(/x$/, ''));
  const recvBase = cpu("recv dgram 'message' event");
  const sendBase = cpu('send dgram send()');
  for (const [name, base] of [
    ["recv dgram 'message' event", recvBase],
    ['send node send()', sendBase],
    ['recv cli mediasock recv (child process)', recvBase],
    ['relay cli mediasock relay, 1 output (child process)', recvBase + sendBase],
  ] as const) {
    const expected = cpu(name) / base;
    assert.ok(
      Math.abs(ratio(name) - expected) <= 0.006 + 0.01 * expected,
      `${name}: ${ratio(name)}x for ${cpu(name)} over ${base}`,
    );
  }
});

test('bench: bad options are usage errors (exit 2, one line on stderr)', async () => {
  for (const args of [['--seconds', '0'], ['--seconds', '61'], ['--size', '65508'], ['extra']]) {
    const r = await runCli(['bench', ...args]);
    assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
    assert.equal(r.stderr.trimEnd().split('\n').length, 1, r.stderr);
    assert.equal(r.stdout, '');
  }
});

test('bench --help names the engines, the columns and the n/a rows', async () => {
  const r = await runCli(['bench', '--help']);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^Usage: mediasock bench/);
  for (const text of [
    "engine 'batch'",
    'UDP GSO',
    'sendmmsg',
    'Mbit/s',
    'loss',
    'n/a: <reason>',
    '--json',
    'relay cli',
    'child process',
  ])
    assert.ok(r.stdout.includes(text), text);
});
