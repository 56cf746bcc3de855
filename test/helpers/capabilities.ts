/**
 * Probes of what this machine can do, for computed test skips. Each returns `undefined` when the
 * capability is there, or the reason it is not (used as the skip message).
 */
import { spawnSync } from 'node:child_process';

/** Whether an IPv6 socket can bind `::1` (some containers have no IPv6 loopback). */
export function ipv6LoopbackSkipReason(): string | undefined {
  const probe = spawnSync(
    process.execPath,
    [
      '-e',
      "const s=require('dgram').createSocket('udp6');s.on('error',e=>{console.log(e.code);process.exit(1)});s.bind(0,'::1',()=>s.close())",
    ],
    { encoding: 'utf8', timeout: 10_000 },
  );
  return probe.status === 0
    ? undefined
    : `cannot bind UDP on ::1 (${probe.stdout.trim() || probe.stderr.trim() || 'probe failed'})`;
}

/** Whether `cmd` is on PATH. */
export function commandSkipReason(cmd: string, why: string): string | undefined {
  const probe = spawnSync('sh', ['-c', `command -v ${cmd}`], { encoding: 'utf8', timeout: 10_000 });
  return probe.status === 0 ? undefined : `${cmd} is not installed (${why})`;
}
