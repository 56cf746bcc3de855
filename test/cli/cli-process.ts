/**
 * Runs `mediasock` as a child process (`node --import tsx src/cli/main.ts ...`) for the CLI tests,
 * with a hard timeout after which the child is killed, and helpers to wait for its first JSON line.
 */
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import * as dgram from 'node:dgram';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
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
  /** Resolves with the first line of `from` (default stdout) that is JSON with `type === type`. */
  firstRecord(type: string, from?: 'stdout' | 'stderr'): Promise<Record<string, unknown>>;
  /** Starts reading stdout (with `holdStdout`, nothing is read until this is called). */
  readStdout(): void;
  /** Bytes of stdout read so far. */
  stdoutBytes(): number;
  kill(): void;
}

export interface StartCliOptions {
  timeoutMs?: number;
  input?: Buffer | string;
  env?: NodeJS.ProcessEnv;
  /** Leave the child's stdin open for the test to write to (`child.stdin`); default: ended at once. */
  keepStdin?: boolean;
  /** Leave the child's stdout unread (the pipe fills, its writes back up) until `readStdout()`. */
  holdStdout?: boolean;
}

/** Starts `mediasock ...args`; killed after `timeoutMs`. */
export function startCli(args: string[], options: StartCliOptions = {}): CliRun {
  const child = spawn(process.execPath, [...CLI, ...args], {
    cwd: REPO,
    stdio: ['pipe', 'pipe', 'pipe'],
    env: options.env ?? process.env,
  });
  let stdout = '';
  let stderr = '';
  let timedOut = false;
  const waiters: Array<() => void> = [];
  let reading = false;
  const readStdout = (): void => {
    if (reading) return;
    reading = true;
    child.stdout.on('data', (d: Buffer) => {
      stdout += d.toString('latin1');
      for (const w of waiters.splice(0)) w();
    });
  };
  if (options.holdStdout !== true) readStdout();
  child.stderr.on('data', (d: Buffer) => {
    stderr += d.toString();
    for (const w of waiters.splice(0)) w();
  });
  child.stdin.on('error', () => undefined);
  if (options.input !== undefined) child.stdin.end(options.input);
  else if (options.keepStdin !== true) child.stdin.end();
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
    readStdout,
    stdoutBytes: () => stdout.length,
    async firstRecord(type: string, from: 'stdout' | 'stderr' = 'stdout') {
      // Bounded in time by the child's hard timeout (each wait ends on new output or on exit),
      // and in count by the number of output chunks.
      for (let i = 0; i < 1_000_000; i++) {
        const text = from === 'stdout' ? stdout : stderr;
        // Only complete lines: the last piece may be a JSON line still arriving.
        for (const line of text.split('\n').slice(0, -1)) {
          if (!line.startsWith('{')) continue;
          const r = JSON.parse(line) as Record<string, unknown>;
          if (r.type === type) return r;
        }
        if (exited) throw new Error(`mediasock exited without a "${type}" record: ${stderr}`);
        await new Promise<void>((resolve) => waiters.push(resolve));
      }
      throw new Error(`no "${type}" record after a million chunks of output`);
    },
  };
}

/** Runs `mediasock ...args` to completion. */
export function runCli(args: string[], options: StartCliOptions = {}): Promise<CliResult> {
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

/** An external program started by {@link startTool}. */
export interface ToolRun {
  done: Promise<CliResult>;
  /** Process id (for /proc lookups: which sockets it holds). */
  pid: number;
  /** Whether it has exited. */
  exited(): boolean;
  /** Its stderr so far. */
  stderr(): string;
  kill(): void;
  interrupt(): void;
}

/** Starts an external program with a hard timeout. */
export function startTool(cmd: string, args: string[], timeoutMs: number): ToolRun {
  const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  let timedOut = false;
  let exited = false;
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const timer = setTimeout(() => {
    timedOut = true;
    child.kill('SIGKILL');
  }, timeoutMs);
  const done = new Promise<CliResult>((resolve, reject) => {
    child.once('error', reject);
    child.once('exit', () => (exited = true));
    child.once('close', (code, signal) => {
      exited = true;
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr, timedOut });
    });
  });
  return {
    done,
    pid: child.pid ?? -1,
    exited: () => exited,
    stderr: () => stderr,
    kill: () => child.kill('SIGKILL'),
    interrupt: () => child.kill('SIGINT'),
  };
}

/** CPU time (user + system) the process `pid` has used so far, in ms (Linux /proc). */
export function cpuTimeMs(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // Fields after the command name (which may contain spaces) start after the last ')'.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const ticks = Number(fields[11]) + Number(fields[12]);
  return (ticks * 1000) / CLOCK_TICKS_PER_SECOND;
}

/** USER_HZ: 100 on every Linux architecture Node runs on. */
const CLOCK_TICKS_PER_SECOND = 100;
