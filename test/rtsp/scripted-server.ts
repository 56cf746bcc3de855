/**
 * A real TCP server on 127.0.0.1 that answers RTSP requests from a script, for the failure cases
 * a well-behaved server never produces: malformed status lines, oversized headers and bodies, bad
 * SDP, silence, a close in the middle of a session, redirects.
 */
import { createServer, type Server, type Socket } from 'node:net';

/** A request as the script sees it. */
export interface ScriptedRequest {
  method: string;
  url: string;
  cseq: string;
  headers: Record<string, string>;
}

/**
 * What to do with a request: text or bytes to write, or the strings `'close'` (drop the
 * connection) and `'ignore'` (say nothing).
 */
export type ScriptedAction = string | Buffer;

/** A running scripted server. */
export interface ScriptedServer {
  port: number;
  url(path: string): string;
  requests: ScriptedRequest[];
  close(): Promise<void>;
}

export const GOOD_SDP = [
  'v=0',
  'o=- 1 1 IN IP4 127.0.0.1',
  's=scripted',
  't=0 0',
  'a=control:*',
  'm=video 0 RTP/AVP 33',
  'a=control:stream=0',
  '',
].join('\r\n');

/** Formats a response with `CSeq` and optional body. */
export function reply(
  cseq: string,
  status: string,
  headers: Record<string, string> = {},
  body = '',
): string {
  let text = `RTSP/1.0 ${status}\r\nCSeq: ${cseq}\r\n`;
  for (const [k, v] of Object.entries(headers)) text += `${k}: ${v}\r\n`;
  if (body.length > 0) text += `Content-Length: ${Buffer.byteLength(body)}\r\n`;
  return `${text}\r\n${body}`;
}

/** Answers OPTIONS and DESCRIBE sensibly; the script handles everything else. */
export function standard(
  request: ScriptedRequest,
  base: string,
  sdp = GOOD_SDP,
): ScriptedAction | undefined {
  if (request.method === 'OPTIONS') {
    return reply(request.cseq, '200 OK', {
      Public: 'OPTIONS, DESCRIBE, SETUP, PLAY, TEARDOWN, GET_PARAMETER',
    });
  }
  if (request.method === 'DESCRIBE') {
    return reply(
      request.cseq,
      '200 OK',
      { 'Content-Type': 'application/sdp', 'Content-Base': `${base}/` },
      sdp,
    );
  }
  return undefined;
}

/** Starts a server whose answers come from `script`. */
export async function startScriptedServer(
  script: (request: ScriptedRequest, socket: Socket, base: string) => ScriptedAction,
): Promise<ScriptedServer> {
  const sockets = new Set<Socket>();
  const requests: ScriptedRequest[] = [];
  const server: Server = createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => sockets.delete(socket));
    let buffer = '';
    socket.on('data', (chunk) => {
      buffer += chunk.toString('latin1');
      for (let i = 0; i < 100; i++) {
        const end = buffer.indexOf('\r\n\r\n');
        if (end < 0) break;
        const head = buffer.slice(0, end);
        buffer = buffer.slice(end + 4);
        if (head.startsWith('$') || head.startsWith('RTSP/')) continue;
        const [line = '', ...rest] = head.split('\r\n');
        const [method = '', url = ''] = line.split(' ');
        const headers: Record<string, string> = {};
        for (const h of rest) {
          const colon = h.indexOf(':');
          if (colon > 0)
            headers[h.slice(0, colon).trim().toLowerCase()] = h.slice(colon + 1).trim();
        }
        const request = { method, url, cseq: headers.cseq ?? '0', headers };
        requests.push(request);
        const action = script(request, socket, `rtsp://127.0.0.1:${port}`);
        if (action === 'close') socket.destroy();
        else if (action !== 'ignore') socket.write(action);
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('no port');
  const port = address.port;
  return {
    port,
    url: (path) => `rtsp://127.0.0.1:${port}${path}`,
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}
