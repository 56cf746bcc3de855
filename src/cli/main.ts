#!/usr/bin/env node
/**
 * `mediasock`: the command line. Parses the command name, runs the command with the process's
 * streams and a signal that SIGINT/SIGTERM abort, and maps failures to exit codes: 0 ok,
 * 1 runtime failure, 2 usage error (bad option, URL, interface, file or rate). A failure prints one
 * line on stderr; `--debug` adds the stack. `--version` (`-V`) prints the package's version.
 *
 * The commands call only what `src/index.ts` exports.
 *
 * @module
 */
import { realpathSync } from 'node:fs';
import { pathToFileURL } from 'node:url';

import { ErrorCodes } from '../index.js';
import { UsageError } from './arguments.js';
import { benchCommand } from './bench-command.js';
import type { CommandIo } from './command-io.js';
import { ExitCode } from './command-io.js';
import { demoCommand } from './demo.js';
import { ifacesCommand } from './ifaces-command.js';
import { abandonOpenDisplays } from './live-display.js';
import { packageVersion } from './package-version.js';
import { recvCommand } from './recv-command.js';
import { relayCommand } from './relay-command.js';
import { rtspCommand } from './rtsp-command.js';
import { sendCommand } from './send-command.js';

export const MAIN_HELP = `Usage: mediasock <command> [options]

Commands:
  ifaces                 list network interfaces and our IPv4/IPv6 address
  recv URL               receive a stream with live statistics (RTP loss, jitter, TS CC errors)
  send URL [FILE|-]      send a file, stdin or a test pattern at a paced rate, raw or as RTP
  relay IN OUT...        forward one input to several outputs, with counters per output
  rtsp describe URL      print an RTSP server's SDP and media table
  bench                  compare the send/receive engines on loopback
  demo                   a multicast sender and receiver pinned to lo, with live statistics

Run "mediasock <command> --help" for its options and examples.

Options:
  -V, --version          print the version of mediasock
  -h, --help             this help

Examples:
  mediasock recv 'udp://@239.1.1.1:5004?iface=eth0'
  mediasock send rtp://127.0.0.1:5004 --pps 1000
  mediasock recv rtsp://user:pass@127.0.0.1:8554/stream --transport tcp
  mediasock relay 'udp://@239.1.1.1:5004?iface=eth0' udp://10.0.0.2:5004 udp://10.0.0.3:5004

Exit codes: 0 ok, 1 runtime failure, 2 usage error; 141 when the reader of the output went away.
`;

/**
 * Exit status when the reader of the output went away (`mediasock recv --json | head -1`): what a
 * shell reports for a process that SIGPIPE ended, as for `yes | head`.
 */
export const EXIT_OUTPUT_CLOSED = 128 + 13;

type Command = (args: string[], io: CommandIo) => number | Promise<number>;

const COMMANDS: Readonly<Record<string, Command>> = {
  ifaces: ifacesCommand,
  recv: recvCommand,
  send: sendCommand,
  relay: relayCommand,
  rtsp: rtspCommand,
  bench: benchCommand,
  demo: demoCommand,
};

/** Runs the command line `argv` (without `node` and the script) and resolves with the exit code. */
export async function main(argv: string[], io: CommandIo): Promise<number> {
  const [name, ...args] = argv;
  const debug = argv.includes('--debug');
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    const topic = name === 'help' ? args[0] : undefined;
    if (topic !== undefined && COMMANDS[topic] !== undefined) return main([topic, '--help'], io);
    (name === undefined ? io.stderr : io.stdout).write(MAIN_HELP);
    return name === undefined ? ExitCode.USAGE : ExitCode.OK;
  }
  const command = COMMANDS[name];
  try {
    if (name === '--version' || name === '-V') {
      if (args.length > 0)
        throw new UsageError(`${name} takes no arguments (received ${args[0] ?? ''})`);
      io.stdout.write(`mediasock ${packageVersion()}\n`);
      return ExitCode.OK;
    }
    if (command === undefined) {
      throw new UsageError(
        `unknown command ${JSON.stringify(name)}; commands: ${Object.keys(COMMANDS).join(', ')}`,
      );
    }
    return await command(args, io);
  } catch (err) {
    const usage =
      err instanceof UsageError ||
      (typeof err === 'object' &&
        err !== null &&
        (err as { code?: unknown }).code === ErrorCodes.INVALID_ARG);
    const prefix = command === undefined ? 'mediasock' : `mediasock ${name}`;
    const message = err instanceof Error ? err.message : String(err);
    io.stderr.write(`${prefix}: ${message.split('\n')[0] ?? message}\n`);
    if (debug && err instanceof Error && err.stack !== undefined) io.stderr.write(`${err.stack}\n`);
    return usage ? ExitCode.USAGE : ExitCode.FAILURE;
  } finally {
    // A command that failed before its summary leaves no hidden cursor and no resize listener.
    abandonOpenDisplays();
  }
}

function runFromProcess(): void {
  const controller = new AbortController();
  const onSignal = (): void => {
    // A second Ctrl-C ends at once (with the cursor shown again).
    if (controller.signal.aborted) {
      abandonOpenDisplays();
      process.exit(130);
    }
    controller.abort();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  // Node ignores SIGPIPE: a reader that goes away shows as EPIPE on the stream. The command then
  // ends quietly, as a process that SIGPIPE ended would (`yes | head`). A command that listens on
  // a stream itself (recv --out -) owns that stream's errors.
  let outputClosed = false;
  let outputError: Error | undefined;
  const watch = (stream: NodeJS.WriteStream, name: string): void => {
    stream.on('error', (err: Error) => {
      if (stream.listenerCount('error') > 1) return;
      const code = (err as { code?: unknown }).code;
      if (code === 'EPIPE' || code === 'ERR_STREAM_DESTROYED') outputClosed = true;
      else {
        outputError ??= err;
        if (stream !== process.stderr) {
          process.stderr.write(`mediasock: cannot write ${name}: ${err.message}\n`);
        }
      }
      controller.abort();
    });
  };
  watch(process.stdout, 'stdout');
  watch(process.stderr, 'stderr');
  const io: CommandIo = {
    stdout: process.stdout,
    stderr: process.stderr,
    get stdin() {
      return process.stdin;
    },
    signal: controller.signal,
  };
  main(process.argv.slice(2), io).then(
    (code) => {
      process.exitCode = outputClosed
        ? EXIT_OUTPUT_CLOSED
        : outputError !== undefined && code === ExitCode.OK
          ? ExitCode.FAILURE
          : code;
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
    },
    (err: unknown) => {
      process.stderr.write(`mediasock: ${String(err)}\n`);
      process.exitCode = ExitCode.FAILURE;
    },
  );
}

if (
  process.argv[1] !== undefined &&
  import.meta.url === pathToFileURL(realpathSync(process.argv[1])).href
) {
  runFromProcess();
}
