/**
 * Runs `mediasock` as a child process (`node --import tsx src/cli/main.ts ...`) for the CLI tests,
 * with a hard timeout after which the child is killed, and helpers to wait for its first JSON line.
 */
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import * as dgram from 'node:dgram';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';

export const REPO = fileURLToPath(new URL('../../', import.meta.url));
export const CLI = ['--import', 'tsx', 'src/cli/main.ts'];

export interface CliResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  timedOut: boolean;
}

export interface CliRun {
  child: ChildProcess;
  /** Resolves when the child has exited (killed with SIGKILL after the timeout). */
  done: Promise<CliResult>;
  /** Resolves with the first stdout line that parses as JSON with `type === type`. */
  firstRecord(type: string): Promise<Record<string, unknown>>;
  kill(): void;
}

/** Starts `mediasock ...args`; killed after `timeoutMs`. */
export function startCli(
  args: string[],
  options: { timeoutMs?: number; input?: Buffer | string; env?: NodeJS.ProcessEnv } = {},
): CliRun {
  const child = spawn(process.execPath, [...CLI, ...args], {
    cwd: REPO,
    stdio: ['pipe', 'pipe', 'pipe'],
    env: options.env ?? process.env,
  });
  let stdout = '';
  let stderr = '';
  let timedOut = false;
  const waiters: Array<() => void> = [];
  child.stdout.on('data', (d: Buffer) => {
    stdout += d.toString('latin1');
    for (const w of waiters.splice(0)) w();
  });
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  child.stdin.on('error', () => undefined);
  if (options.input !== undefined) child.stdin.end(options.input);
  else child.stdin.end();
  const timer = setTimeout(() => {
    timedOut = true;
    child.kill('SIGKILL');
  }, options.timeoutMs ?? 30_000);
  const done = new Promise<CliResult>((resolve) => {
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      for (const w of waiters.splice(0)) w();
      resolve({ code, signal, stdout, stderr, timedOut });
    });
  });
  let exited = false;
  void done.then(() => (exited = true));
  return {
    child,
    done,
    kill: () => child.kill('SIGKILL'),
    async firstRecord(type: string) {
      for (;;) {
        for (const line of stdout.split('\n')) {
          if (!line.startsWith('{')) continue;
          const r = JSON.parse(line) as Record<string, unknown>;
          if (r.type === type) return r;
        }
        if (exited) throw new Error(`mediasock exited without a "${type}" record: ${stderr}`);
        await new Promise<void>((resolve) => waiters.push(resolve));
      }
    },
  };
}

/** Runs `mediasock ...args` to completion. */
export function runCli(
  args: string[],
  options: { timeoutMs?: number; input?: Buffer | string; env?: NodeJS.ProcessEnv } = {},
): Promise<CliResult> {
  return startCli(args, options).done;
}

/** Parses JSON lines of stdout. */
export function records(stdout: string): Array<Record<string, unknown>> {
  return stdout
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}

/** The summary record (the last line). */
export function summary(stdout: string): Record<string, unknown> {
  const all = records(stdout);
  const last = all[all.length - 1];
  if (last?.type !== 'summary') throw new Error(`no summary in: ${stdout.slice(-500)}`);
  return last;
}

/** A UDP port on 127.0.0.1 that was free a moment ago (for peers that need a port up front). */
export async function freePort(): Promise<number> {
  const s = dgram.createSocket('udp4');
  s.bind(0, '127.0.0.1');
  await once(s, 'listening');
  const { port } = s.address();
  await new Promise<void>((resolve) => s.close(() => resolve()));
  return port;
}

/** Starts an external program with a hard timeout. */
export function startTool(
  cmd: string,
  args: string[],
  timeoutMs: number,
): { done: Promise<CliResult>; kill(): void; interrupt(): void } {
  const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  let timedOut = false;
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const timer = setTimeout(() => {
    timedOut = true;
    child.kill('SIGKILL');
  }, timeoutMs);
  const done = new Promise<CliResult>((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr, timedOut });
    });
  });
  return { done, kill: () => child.kill('SIGKILL'), interrupt: () => child.kill('SIGINT') };
}
