// A static file server for tests that behaves like the Hugging Face hub where it matters: CORS for a
// cross-origin app, HTTP Range (206 + Content-Range), 404s, plus switches to go offline or cut
// responses short (to test resumption). node:http only. Run directly for Playwright's webServer:
//   npx tsx e2e/model-server.ts --root ../shared/models/stories260K --port 5174 [--prefix /models/x]
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { resolve, sep } from 'node:path';
import { pathToFileURL } from 'node:url';

export interface ModelServerOptions {
  /** Folder whose files are served. */
  root: string;
  /** 0 (the default) picks a free port. */
  port?: number;
  /** URL path the files live under, e.g. "/HuggingFaceTB/SmolLM2-135M/resolve/main"; default "". */
  prefix?: string;
  host?: string;
}

export interface ServedRequest {
  method: string;
  path: string;
  range?: string;
  status: number;
  /** Body bytes written to the socket (set when the response ends or is cut). */
  bytesSent: number;
}

export interface ModelServer {
  /** Base URL of the served folder (no trailing slash): `${url}/config.json`. */
  url: string;
  close(): Promise<void>;
  requests: ServedRequest[];
  /** Offline: every connection is destroyed without an answer, as an unreachable host would be. */
  setOffline(offline: boolean): void;
  /** Cut every response body after n bytes (destroying the connection); null to stop. */
  setFailAfterBytes(n: number | null): void;
}

const CORS_HEADERS = {
  'Access-Control-Allow-Origin': '*',
  'Access-Control-Expose-Headers': 'Content-Length, Content-Range, Accept-Ranges, ETag',
  // As the hub's CDN does: loadable from a cross-origin isolated (COEP require-corp) page even without CORS mode.
  'Cross-Origin-Resource-Policy': 'cross-origin',
};

const CONTENT_TYPES: Record<string, string> = {
  json: 'application/json', html: 'text/html; charset=utf-8', js: 'text/javascript', mjs: 'text/javascript',
  wasm: 'application/wasm', txt: 'text/plain; charset=utf-8', md: 'text/markdown; charset=utf-8', jsonl: 'application/jsonl',
};

function contentType(path: string): string {
  return CONTENT_TYPES[path.slice(path.lastIndexOf('.') + 1)] ?? 'application/octet-stream';
}

/** Parses one `bytes=a-b`, `bytes=a-` or `bytes=-n` range; 'unsatisfiable'; null to ignore (send 200). */
export function parseRange(header: string | undefined, size: number): { start: number; end: number } | 'unsatisfiable' | null {
  const m = header ? /^bytes=(\d*)-(\d*)$/.exec(header.trim()) : null;
  if (!m || (m[1] === '' && m[2] === '')) return null; // multiple or malformed ranges: whole file, as many servers do
  if (m[1] === '') {
    const n = Number(m[2]);
    if (n === 0) return 'unsatisfiable';
    return { start: Math.max(0, size - n), end: size - 1 };
  }
  const start = Number(m[1]);
  const end = m[2] === '' ? size - 1 : Math.min(Number(m[2]), size - 1);
  if (start >= size || end < start) return 'unsatisfiable';
  return { start, end };
}

export async function startModelServer(opts: ModelServerOptions): Promise<ModelServer> {
  const root = resolve(opts.root);
  const prefix = (opts.prefix ?? '').replace(/\/+$/, '');
  const requests: ServedRequest[] = [];
  const sockets = new Set<Socket>();
  let offline = false;
  let failAfterBytes: number | null = null;

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    if (offline) {
      req.socket.destroy();
      return;
    }
    const method = req.method ?? 'GET';
    const path = new URL(req.url ?? '/', 'http://x').pathname;
    const record: ServedRequest = { method, path, status: 0, bytesSent: 0 };
    if (typeof req.headers.range === 'string') record.range = req.headers.range;
    requests.push(record);
    const send = (status: number, headers: Record<string, string | number>, body?: string): void => {
      record.status = status;
      res.writeHead(status, { ...CORS_HEADERS, ...headers });
      res.end(body);
    };

    if (method === 'OPTIONS') {
      send(204, {
        'Access-Control-Allow-Methods': 'GET, HEAD, OPTIONS',
        'Access-Control-Allow-Headers': req.headers['access-control-request-headers'] ?? 'Range',
        'Access-Control-Max-Age': 600,
      });
      return;
    }
    if (method !== 'GET' && method !== 'HEAD') {
      send(405, { Allow: 'GET, HEAD, OPTIONS' });
      return;
    }
    let relative: string;
    try {
      relative = decodeURIComponent(path);
    } catch {
      send(400, {});
      return;
    }
    if (prefix && !relative.startsWith(`${prefix}/`)) {
      send(404, { 'Content-Type': 'text/plain' }, 'Not found');
      return;
    }
    const file = resolve(root, `.${relative.slice(prefix.length)}`);
    const info = file.startsWith(root + sep) ? await stat(file).catch(() => null) : null;
    if (!info?.isFile()) {
      send(404, { 'Content-Type': 'text/plain' }, 'Not found');
      return;
    }
    const size = info.size;
    const common = {
      'Accept-Ranges': 'bytes',
      'Content-Type': contentType(file),
      ETag: `"${size.toString(16)}-${Math.floor(info.mtimeMs).toString(16)}"`,
      'Cache-Control': 'no-store',
    };
    const range = parseRange(req.headers.range, size);
    if (range === 'unsatisfiable') {
      send(416, { ...common, 'Content-Range': `bytes */${size}` });
      return;
    }
    const { start, end } = range ?? { start: 0, end: size - 1 };
    const length = Math.max(0, end - start + 1);
    record.status = range ? 206 : 200;
    res.writeHead(record.status, {
      ...CORS_HEADERS,
      ...common,
      'Content-Length': length,
      ...(range ? { 'Content-Range': `bytes ${start}-${end}/${size}` } : {}),
    });
    if (method === 'HEAD' || length === 0) {
      res.end();
      return;
    }
    const limit = failAfterBytes;
    const stream = createReadStream(file, { start, end });
    stream.on('data', (data) => {
      const chunk = data as Buffer;
      if (limit !== null && record.bytesSent + chunk.byteLength > limit) {
        const part = chunk.subarray(0, limit - record.bytesSent);
        record.bytesSent += part.byteLength;
        stream.destroy();
        // Let the partial bytes reach the client, then drop the connection mid-body.
        res.write(part, () => res.socket?.destroy());
        return;
      }
      record.bytesSent += chunk.byteLength;
      if (!res.write(chunk)) {
        stream.pause();
        res.once('drain', () => stream.resume());
      }
    });
    stream.on('end', () => res.end());
    stream.on('error', () => res.socket?.destroy());
    res.on('close', () => stream.destroy());
  };

  const server = createServer((req, res) => {
    handle(req, res).catch(() => res.socket?.destroy());
  });
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  const host = opts.host ?? '127.0.0.1';
  await new Promise<void>((ok, fail) => {
    server.once('error', fail);
    server.listen(opts.port ?? 0, host, () => ok());
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://${host}:${port}${prefix}`,
    requests,
    setOffline: (value) => {
      offline = value;
      if (value) for (const s of sockets) s.destroy(); // kept-alive connections go too
    },
    setFailAfterBytes: (n) => {
      failAfterBytes = n;
    },
    close: () =>
      new Promise<void>((ok) => {
        for (const s of sockets) s.destroy();
        server.close(() => ok());
      }),
  };
}

function argValue(args: string[], name: string): string | undefined {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : undefined;
}

if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  const args = process.argv.slice(2);
  const root = argValue(args, '--root');
  if (!root) {
    console.error('usage: tsx e2e/model-server.ts --root <folder> [--port N] [--prefix /path] [--host 127.0.0.1]');
    process.exit(2);
  }
  const server = await startModelServer({ root, port: Number(argValue(args, '--port') ?? 0), prefix: argValue(args, '--prefix'), host: argValue(args, '--host') });
  console.log(`serving ${resolve(root)} at ${server.url}`);
  const stop = (): void => void server.close().then(() => process.exit(0));
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
}
