import { readFile } from "node:fs/promises";
import { type IncomingMessage, type ServerResponse, createServer } from "node:http";
import { createRequire } from "node:module";
import type { AddressInfo } from "node:net";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { ExplorerError } from "./errors.ts";

/** A JSON route: resolves with the body, or null for 404. */
export type ApiHandler = (params: string[]) => Promise<unknown> | unknown;

export interface Route {
  pattern: RegExp;
  handler: ApiHandler;
}

/** chart.js ships its UMD bundle next to its CommonJS entry; the package's exports do not list it. */
export function chartJsPath(): string {
  try {
    return join(dirname(createRequire(import.meta.url).resolve("chart.js")), "chart.umd.min.js");
  } catch (err) {
    throw new ExplorerError("ASSET_MISSING", "chart.js is not installed (it is a dependency: run npm ci)", {
      cause: err,
    });
  }
}

const PUBLIC_DIR = fileURLToPath(new URL("./public/", import.meta.url));

/**
 * The static files the UI needs, by URL path. A fixed list, read once at start: no path from a
 * request ever reaches the filesystem, and nothing is fetched from a CDN (the explorer works offline).
 */
async function loadAssets(): Promise<Map<string, { type: string; body: Buffer }>> {
  const files: [string, string, string][] = [
    ["/", join(PUBLIC_DIR, "index.html"), "text/html; charset=utf-8"],
    ["/app.js", join(PUBLIC_DIR, "app.js"), "text/javascript; charset=utf-8"],
    ["/views.js", join(PUBLIC_DIR, "views.js"), "text/javascript; charset=utf-8"],
    ["/style.css", join(PUBLIC_DIR, "style.css"), "text/css; charset=utf-8"],
    ["/vendor/chart.umd.js", chartJsPath(), "text/javascript; charset=utf-8"],
  ];
  const out = new Map<string, { type: string; body: Buffer }>();
  for (const [path, file, type] of files) {
    const body = await readFile(file).catch((err: NodeJS.ErrnoException) => {
      throw new ExplorerError("ASSET_MISSING", `explorer asset ${file} cannot be read: ${err.code ?? err.message}`, {
        cause: err,
      });
    });
    out.set(path, { type, body });
  }
  out.set("/index.html", out.get("/")!);
  return out;
}

export interface HttpServer {
  url: string;
  port: number;
  close(): Promise<void>;
}

function send(res: ServerResponse, status: number, type: string, body: string | Buffer): void {
  res.writeHead(status, {
    "content-type": type,
    "cache-control": "no-store",
    "x-content-type-options": "nosniff",
    // Everything is served from here; event data (peer metadata) is rendered as text, never as HTML.
    "content-security-policy":
      "default-src 'self'; img-src 'self' data:; style-src 'self'; object-src 'none'; base-uri 'none'",
  });
  res.end(body);
}

/** node:http server for `GET /api/*` (JSON) and the fixed static assets; everything else is 404. */
export async function startHttpServer(opts: { port: number; host: string }, routes: Route[]): Promise<HttpServer> {
  const assets = await loadAssets();
  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    const path = decodeURIComponent((req.url ?? "/").split("?")[0]);
    if (req.method !== "GET" && req.method !== "HEAD") return send(res, 405, "text/plain", "method not allowed\n");
    if (path.startsWith("/api/")) {
      for (const r of routes) {
        const m = r.pattern.exec(path);
        if (!m) continue;
        const body = await r.handler(m.slice(1));
        if (body === null || body === undefined) return send(res, 404, "application/json", '{"error":"not found"}');
        return send(res, 200, "application/json; charset=utf-8", JSON.stringify(body));
      }
      return send(res, 404, "application/json", '{"error":"no such endpoint"}');
    }
    const asset = assets.get(path);
    if (asset) return send(res, 200, asset.type, asset.body);
    return send(res, 404, "text/plain", "not found\n");
  };
  const server = createServer((req, res) => {
    handle(req, res).catch((err: Error) => {
      if (!res.headersSent) send(res, 500, "application/json", JSON.stringify({ error: err.message }));
      else res.end();
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", (err: NodeJS.ErrnoException) => {
      reject(
        err.code === "EADDRINUSE"
          ? new ExplorerError(
              "PORT_IN_USE",
              `explorer port ${opts.host}:${opts.port} is already in use (pass --port)`,
              { cause: err },
            )
          : new ExplorerError("LISTEN_FAILED", `explorer cannot listen on ${opts.host}:${opts.port}: ${err.message}`, {
              cause: err,
            }),
      );
    });
    server.listen(opts.port, opts.host, () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  const host = opts.host.includes(":") ? `[${opts.host}]` : opts.host;
  return {
    url: `http://${host}:${port}/`,
    port,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.close((err) => (err ? reject(err) : resolve()));
        server.closeAllConnections();
      }),
  };
}
