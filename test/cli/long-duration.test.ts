/**
 * `--duration` beyond what one `setTimeout` takes (2^31 − 1 ms, 2,147,483.647 s): the command keeps
 * running (it used to end after 1 ms, exit 0) and ends on SIGINT with its summary.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';

import { freePort, runCli, startCli, summary } from './cli-process.js';

for (const command of ['recv', 'send', 'relay'] as const) {
  test(`${command} --duration 3000000 is still running after 2 s and ends on SIGINT`, async () => {
    const port = await freePort();
    const args = {
      recv: ['recv', 'udp://@127.0.0.1:0'],
      send: ['send', `udp://127.0.0.1:${port}`, '--pps', '10'],
      relay: ['relay', 'udp://@127.0.0.1:0', `udp://127.0.0.1:${port}`],
    }[command];
    const run = startCli([...args, '--duration', '3000000', '--json'], { timeoutMs: 30_000 });
    await run.firstRecord(command === 'send' ? 'stats' : 'start');
    let exited = false;
    void run.done.then(() => (exited = true));
    await sleep(2000);
    assert.equal(exited, false, `${command} ended early`);
    run.child.kill('SIGINT');
    const r = await run.done;
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.timedOut, false);
    assert.ok((summary(r.stdout).seconds as number) >= 2);
  });
}

test('--duration above 1e9 s is a usage error naming the range', async () => {
  const r = await runCli(['recv', 'udp://@127.0.0.1:0', '--duration', '2e9']);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /--duration must be a positive number of seconds, at most 1000000000/);
});
