/**
 * Starts the GStreamer RTSP server fixture (`fixtures/rtsp-server.py`) and says why it cannot
 * when it cannot: no Python with the GObject bindings, no GstRtspServer typelib, no x264enc or
 * mpegtsmux. The probe runs once per process.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { createInterface } from 'node:readline';

export const SERVER_SCRIPT = fileURLToPath(new URL('./fixtures/rtsp-server.py', import.meta.url));

/** Python interpreters to try: Debian's first (python3-gi installs there), then PATH's. */
const PYTHONS = ['/usr/bin/python3', 'python3'];

let probed: { python: string | undefined; reason: string | undefined } | undefined;

function probe(): { python: string | undefined; reason: string | undefined } {
  const check =
    "import gi; gi.require_version('GstRtspServer','1.0'); gi.require_version('Gst','1.0');" +
    'from gi.repository import Gst, GstRtspServer; Gst.init(None);' +
    "missing=[e for e in ('x264enc','mpegtsmux','rtpmp2tpay','rtph264pay','mulawenc') if Gst.ElementFactory.find(e) is None];" +
    "print(','.join(missing))";
  const problems: string[] = [];
  for (const python of PYTHONS) {
    const r = spawnSync(python, ['-c', check], { encoding: 'utf8', timeout: 30_000 });
    if (r.error !== undefined) {
      problems.push(`${python}: ${r.error.message}`);
      continue;
    }
    if (r.status !== 0) {
      problems.push(`${python}: ${(r.stderr.trim().split('\n').pop() ?? '').slice(0, 160)}`);
      continue;
    }
    const missing = r.stdout.trim();
    if (missing !== '') {
      return {
        python: undefined,
        reason: `GStreamer elements missing (${missing}): apt-get install gstreamer1.0-plugins-bad gstreamer1.0-plugins-ugly`,
      };
    }
    return { python, reason: undefined };
  }
  return {
    python: undefined,
    reason: `the GStreamer RTSP server is not installed (apt-get install gir1.2-gst-rtsp-server-1.0 python3-gi): ${problems.join('; ')}`,
  };
}

/** Why the RTSP server tests cannot run here, or undefined. */
export function gstServerSkipReason(): string | undefined {
  probed ??= probe();
  return probed.reason;
}

/** The Python that has the bindings (after {@link gstServerSkipReason} returned undefined). */
export function gstPython(): string {
  probed ??= probe();
  if (probed.python === undefined) throw new Error(probed.reason);
  return probed.python;
}

/** A running server. */
export interface GstServer {
  port: number;
  url(path: string, userinfo?: string): string;
  process: ChildProcess;
  stderr(): string;
  /** SIGTERM, then waits for exit (SIGKILL after 5 s). */
  stop(): Promise<void>;
}

/** Starts the server with `args` (see the fixture's options) and waits for its port line (20 s). */
export async function startGstServer(args: string[] = []): Promise<GstServer> {
  const child = spawn(gstPython(), [SERVER_SCRIPT, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (c: string) => {
    stderr += c;
  });
  const exited = new Promise<void>((resolve) => child.once('close', () => resolve()));
  const lines = createInterface({ input: child.stdout })[Symbol.asyncIterator]();
  let timer: NodeJS.Timeout | undefined;
  const first = await Promise.race([
    lines.next(),
    new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new Error(`RTSP server did not start in 20 s: ${stderr}`)),
        20_000,
      );
    }),
  ]).finally(() => clearTimeout(timer));
  if (first.done === true) throw new Error(`RTSP server exited: ${stderr}`);
  const info = JSON.parse(first.value) as { port?: number; error?: string; address?: string };
  if (info.port === undefined) {
    child.kill('SIGKILL');
    throw new Error(`RTSP server failed: ${info.error ?? first.value}`);
  }
  const port = info.port;
  const host = info.address ?? '127.0.0.1';
  return {
    port,
    process: child,
    url: (path, userinfo) =>
      `rtsp://${userinfo === undefined ? '' : `${userinfo}@`}${host}:${port}${path}`,
    stderr: () => stderr,
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      const killer = setTimeout(() => child.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(killer);
    },
  };
}
