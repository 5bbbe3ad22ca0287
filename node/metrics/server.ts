import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import type { Registry } from "prom-client";
import { MetricsError } from "./errors.ts";
import type { MetricsOptions } from "./options.ts";

export interface MetricsServer {
  /** e.g. http://127.0.0.1:9600/metrics */
  url: string;
  port: number;
  close(): Promise<void>;
}

/** Serves `GET /metrics` in the Prometheus text format on node:http; everything else is 404. */
export async function startMetricsServer(
  opts: Pick<MetricsOptions, "port" | "host">,
  registry: Registry,
): Promise<MetricsServer> {
  const server = createServer((req, res) => {
    const path = (req.url ?? "/").split("?")[0];
    if (req.method !== "GET" || path !== "/metrics") {
      res.writeHead(404, { "content-type": "text/plain" }).end("not found\n");
      return;
    }
    registry.metrics().then(
      (body) => res.writeHead(200, { "content-type": registry.contentType }).end(body),
      (err: Error) => res.writeHead(500, { "content-type": "text/plain" }).end(`${err.message}\n`),
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", (err: NodeJS.ErrnoException) => {
      reject(
        err.code === "EADDRINUSE"
          ? new MetricsError("PORT_IN_USE", `metrics port ${opts.host}:${opts.port} is already in use`, { cause: err })
          : new MetricsError(
              "LISTEN_FAILED",
              `metrics server cannot listen on ${opts.host}:${opts.port}: ${err.message}`,
              { cause: err },
            ),
      );
    });
    server.listen(opts.port, opts.host, () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  const host = opts.host.includes(":") ? `[${opts.host}]` : opts.host;
  return {
    url: `http://${host}:${port}/metrics`,
    port,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.close((err) => (err ? reject(err) : resolve()));
        server.closeAllConnections();
      }),
  };
}
