/**
 * Child processes that end with the command that started them. A command that leaves through
 * `process.exit` (a second Ctrl-C) runs no `finally` block, so the children it was about to stop
 * would run on, orphaned, until their next write to the closed pipe. Every child registered here
 * that is still running when this process exits gets SIGKILL, synchronously, from the process's
 * `'exit'` event.
 *
 * @internal
 */
import type { ChildProcess } from 'node:child_process';

const running = new Set<ChildProcess>();

function killRunning(): void {
  for (const child of running) child.kill('SIGKILL');
}

/** Registers `child` to be killed if this process exits first; returns it. */
export function endsWithThisProcess<T extends ChildProcess>(child: T): T {
  if (running.size === 0) process.on('exit', killRunning);
  running.add(child);
  child.once('exit', () => {
    running.delete(child);
    if (running.size === 0) process.off('exit', killRunning);
  });
  return child;
}
