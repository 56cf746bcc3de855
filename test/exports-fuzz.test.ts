/**
 * Every function, constructor and static method the package exports, called with arbitrary
 * arguments (fast-check, bounded runs): each call succeeds or fails with a `MediasockError`
 * subclass, never a plain TypeError/RangeError. The calls run in a child process inside a network
 * namespace this test creates with only `lo` (arbitrary arguments may name any address; there
 * they reach nothing).
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import test from 'node:test';

import { netnsSkipReason } from './helpers/netns.js';
import { REPO } from './cli/cli-process.js';

const skip = netnsSkipReason() ?? false;

test(
  'every export, arbitrary arguments: success or a MediasockError',
  { skip, timeout: 600_000 },
  (t) => {
    const ns = `mskfuzz${process.pid}`;
    execFileSync('ip', ['netns', 'add', ns]);
    t.after(() => execFileSync('ip', ['netns', 'del', ns]));
    execFileSync('ip', ['-n', ns, 'link', 'set', 'lo', 'up']);
    const out = execFileSync(
      'ip',
      ['netns', 'exec', ns, process.execPath, '--import', 'tsx', 'test/fixtures/fuzz-exports.ts'],
      { cwd: REPO, encoding: 'utf8', timeout: 540_000, env: { ...process.env, FUZZ_RUNS: '60' } },
    );
    const lines = out
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    const done = lines.at(-1);
    assert.equal(done?.done, true, 'the run finished');
    assert.deepEqual(
      lines.filter((l) => l.done === undefined),
      [],
      'calls that failed with something other than a MediasockError',
    );
  },
);
