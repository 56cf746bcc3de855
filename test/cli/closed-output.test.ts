/**
 * The statistics stream going away (`mediasock recv … --json | head -1`): the command ends
 * promptly and quietly, with the status `yes | head` has (141, as if killed by SIGPIPE), and no
 * stack trace. Real shell pipelines (bash, `set -o pipefail` off, PIPESTATUS read back).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';

import { CLI, REPO, freePort } from './cli-process.js';

interface PipelineResult {
  status: number;
  stdout: string;
  stderr: string;
  ms: number;
}

/** Runs `mediasock ARGS 2>&3 | TAIL` in bash; stderr of mediasock is captured, status is its exit. */
function pipeline(args: string[], tail: string, timeoutMs = 20_000): Promise<PipelineResult> {
  const quoted = [process.execPath, ...CLI, ...args].map((a) => `'${a}'`).join(' ');
  const script = `${quoted} 2>&3 | ${tail}; echo "status=\${PIPESTATUS[0]}" >&3`;
  const started = performance.now();
  const child = spawn('bash', ['-c', `exec 3>&2; ${script}`], {
    cwd: REPO,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
  return new Promise((resolve) => {
    child.once('close', () => {
      clearTimeout(timer);
      const m = /status=(\d+)/.exec(stderr);
      resolve({
        status: m?.[1] === undefined ? -1 : Number(m[1]),
        stdout,
        stderr: stderr.replace(/status=\d+\n?/, ''),
        ms: performance.now() - started,
      });
    });
  });
}

function assertQuiet(r: PipelineResult): void {
  assert.equal(r.status, 141, `exit status as for SIGPIPE: ${r.stderr}`);
  assert.doesNotMatch(r.stderr, /EPIPE|Unhandled|\n\s+at /, r.stderr);
  assert.equal(r.stderr, '', 'nothing on stderr');
  assert.ok(r.ms < 15_000, `ended promptly (${Math.round(r.ms)} ms)`);
}

test('recv --json | head -1: ends quietly with status 141', async () => {
  const r = await pipeline(
    ['recv', 'udp://@127.0.0.1:0', '--json', '--interval', '0.1', '--duration', '30'],
    'head -1',
  );
  assertQuiet(r);
  assert.match(r.stdout, /^\{"type":"start"/);
});

test('send --json | head -c 10: ends quietly with status 141', async () => {
  const port = await freePort();
  const r = await pipeline(
    [
      'send',
      `udp://127.0.0.1:${port}`,
      '--json',
      '--interval',
      '0.1',
      '--pps',
      '100',
      '--duration',
      '30',
    ],
    'head -c 10',
  );
  assertQuiet(r);
  assert.equal(r.stdout.length, 10);
});

test('relay --json | head -1: ends quietly with status 141', async () => {
  const port = await freePort();
  const r = await pipeline(
    [
      'relay',
      'udp://@127.0.0.1:0',
      `udp://127.0.0.1:${port}`,
      '--json',
      '--interval',
      '0.1',
      '--duration',
      '30',
    ],
    'head -1',
  );
  assertQuiet(r);
});

test('ifaces | head -1: ends quietly', async () => {
  const r = await pipeline(['ifaces'], 'head -1');
  assert.ok(r.status === 0 || r.status === 141, `status ${r.status}: ${r.stderr}`);
  assert.equal(r.stderr, '');
});
