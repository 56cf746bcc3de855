/**
 * `mediasock bench` ended by a second Ctrl-C (SIGINT twice: the second leaves at once through
 * `process.exit`, no `finally` runs) while its relay row runs leaves no child process behind:
 * neither the `mediasock relay` it measures nor the peer that feeds it (which ignores SIGINT and
 * would feed on for the rest of the row). The bench runs as a child process of the test; its own
 * children are found in /proc (Linux) by their parent pid while it runs.
 */
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import test from 'node:test';

import { startCli } from './cli-process.js';

const skip = process.platform === 'linux' ? false : 'child processes are found in /proc (Linux)';

/** State and parent of `pid` from /proc/PID/stat, or undefined once it is gone. */
function statOf(pid: number): { state: string; ppid: number } | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The fields after the command name (which may hold spaces) start after the last ')'.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return { state: fields[0]!, ppid: Number(fields[1]) };
  } catch {
    return undefined;
  }
}

function cmdlineOf(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').replaceAll('\0', ' ');
  } catch {
    return '';
  }
}

/** Processes whose parent is `ppid`, with their command lines. */
function childrenOf(ppid: number): Map<number, string> {
  const found = new Map<number, string>();
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const pid = Number(name);
    if (statOf(pid)?.ppid === ppid) found.set(pid, cmdlineOf(pid));
  }
  return found;
}

/** Running: present and neither a zombie nor dead. */
function running(pid: number): boolean {
  const s = statOf(pid);
  return s !== undefined && s.state !== 'Z' && s.state !== 'X';
}

test(
  'bench ended by a second SIGINT during its relay row leaves no child process running',
  { skip, timeout: 120_000 },
  async () => {
    // Rows of 3 s: the peer is still feeding the relay when the bench leaves.
    const run = startCli(['bench', '--seconds', '3', '--json'], { timeoutMs: 110_000 });
    const bench = run.child.pid!;
    const seen = new Map<number, string>();
    let relay: number | undefined;
    let exited = false;
    void run.done.then(() => (exited = true));
    // Bounded: 2,000 polls of 50 ms, and the bench's own hard timeout.
    for (let i = 0; i < 2000 && relay === undefined && !exited; i++) {
      for (const [pid, cmd] of childrenOf(bench)) {
        seen.set(pid, cmd);
        if (/ relay udp:/.test(cmd)) relay = pid;
      }
      await sleep(50);
    }
    assert.ok(relay !== undefined, 'the bench started its relay row');
    await sleep(500); // the peer is feeding the relay
    for (const [pid, cmd] of childrenOf(bench)) seen.set(pid, cmd);
    assert.ok(
      [...seen].some(([pid, cmd]) => running(pid) && cmd.includes('--input-type=module')),
      `the peer runs: ${JSON.stringify([...seen])}`,
    );
    run.child.kill('SIGINT');
    await sleep(30);
    run.child.kill('SIGINT');
    const r = await run.done;
    assert.equal(r.timedOut, false);
    assert.equal(r.code, 130, r.stderr);
    // SIGKILL is delivered at once; a child left running would live on for seconds (the peer
    // until its feed ends, the relay until its next statistics line hits the closed pipe).
    let left: Array<[number, string]> = [];
    for (let i = 0; i < 20; i++) {
      left = [...seen].filter(([pid]) => running(pid));
      if (left.length === 0) break;
      await sleep(25);
    }
    assert.deepEqual(left, [], 'children still running 500 ms after the bench exited');
  },
);
