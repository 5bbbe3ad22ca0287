import assert from "node:assert/strict";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import { createLogger, prettyByDefault } from "../../node/logger/index.ts";
import { createMetrics, MetricsError, startMetricsServer } from "../../node/metrics/index.ts";

describe("metrics", () => {
  it("serves the registry over HTTP on 127.0.0.1, reflecting increments", async () => {
    const m = createMetrics("peer");
    const server = await startMetricsServer({ port: 0, host: "127.0.0.1" }, m.registry);
    try {
      assert.match(server.url, /^http:\/\/127\.0\.0\.1:\d+\/metrics$/);
      m.scoreOutcomes.inc({ reason: "copy" });
      m.scoreOutcomes.inc({ reason: "copy" });
      m.round.set(7);
      m.phaseSeconds.observe({ phase: "train" }, 1.5);
      const res = await fetch(server.url);
      assert.equal(res.status, 200);
      assert.match(res.headers.get("content-type") ?? "", /text\/plain/);
      const body = await res.text();
      assert.match(body, /cotrain_score_outcomes_total\{reason="copy",role="peer"\} 2/);
      assert.match(body, /cotrain_round\{role="peer"\} 7/);
      assert.match(body, /cotrain_phase_seconds_bucket\{le="2.5",role="peer",phase="train"\} 1/);
      assert.match(body, /cotrain_process_cpu_user_seconds_total/);

      m.scoreOutcomes.inc({ reason: "copy" });
      assert.match(await (await fetch(server.url)).text(), /reason="copy",role="peer"\} 3/);
      assert.equal((await fetch(server.url.replace("/metrics", "/other"))).status, 404);
    } finally {
      await server.close();
    }
    await assert.rejects(fetch(server.url));
  });

  it("keeps registries of two processes apart and reports a busy port as PORT_IN_USE", async () => {
    const a = createMetrics("peer", { collectDefault: false });
    const b = createMetrics("validator", { collectDefault: false });
    a.tokensTotal.inc(5);
    assert.match(await b.registry.metrics(), /cotrain_tokens_total\{role="validator"\} 0/);
    const s1 = await startMetricsServer({ port: 0, host: "127.0.0.1" }, a.registry);
    try {
      await assert.rejects(
        startMetricsServer({ port: s1.port, host: "127.0.0.1" }, b.registry),
        (e: unknown) => e instanceof MetricsError && e.code === "PORT_IN_USE",
      );
    } finally {
      await s1.close();
    }
  });
});

describe("logger", () => {
  it("writes one JSON line per event with name, module and fields", async () => {
    const dir = await mkdtemp(join(tmpdir(), "cotrain-log-"));
    try {
      const file = join(dir, "sub", "node.log");
      const log = createLogger({ level: "debug", name: "peer-1", file });
      log.child({ module: "store" }).info({ round: 3 }, "committed round");
      log.debug({ bytes: 10 }, "sent");
      log.trace("hidden");
      const lines = (await readFile(file, "utf8"))
        .trim()
        .split("\n")
        .map((l) => JSON.parse(l));
      assert.equal(lines.length, 2);
      assert.equal(lines[0].name, "peer-1");
      assert.equal(lines[0].module, "store");
      assert.equal(lines[0].round, 3);
      assert.equal(lines[0].msg, "committed round");
      assert.equal(lines[0].level, 30);
      assert.match(lines[0].time, /^\d{4}-\d\d-\d\dT/);
      assert.equal(lines[1].bytes, 10);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it("pretty lines on a terminal (pino-pretty), JSON otherwise; COTRAIN_LOG_FORMAT decides when set", async () => {
    assert.equal(prettyByDefault({}, { isTTY: true }), true);
    assert.equal(prettyByDefault({}, { isTTY: false }), false);
    assert.equal(prettyByDefault({}, {}), false);
    assert.equal(prettyByDefault({ COTRAIN_LOG_FORMAT: "json" }, { isTTY: true }), false);
    assert.equal(prettyByDefault({ COTRAIN_LOG_FORMAT: "pretty" }, { isTTY: false }), true);
    const dir = await mkdtemp(join(tmpdir(), "cotrain-log-pretty-"));
    try {
      const file = join(dir, "pretty.log");
      const log = createLogger({ name: "validator-0", file, pretty: true });
      log.warn({ round: 4 }, "scoring window closed");
      let text = "";
      for (let i = 0; i < 200 && !text.includes("scoring window closed"); i++) {
        await new Promise((r) => setTimeout(r, 25));
        text = await readFile(file, "utf8").catch(() => "");
      }
      const line = text.trim().split("\n")[0];
      assert.throws(() => JSON.parse(line));
      assert.match(line, /WARN.*\(validator-0.*\): scoring window closed/);
      assert.match(text, /round: 4/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
