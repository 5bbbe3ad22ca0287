import assert from "node:assert/strict";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import { CliError } from "../../node/cli/errors.ts";
import { type ExplorerCommandOptions, explorerOptionsFromCli } from "../../node/cli/commands/explorer.ts";
import { ExplorerError, parseExplorerOptions } from "../../node/explorer/index.ts";

const ADDR = "0x5FbDB2315678afecb367f032d93F642f64180aa3";
const base: ExplorerCommandOptions = { port: "8080", host: "127.0.0.1", pollMs: "2000" };

describe("cotrain explorer options", () => {
  it("reads the address and start block from a deployment file; flags win", async () => {
    const dir = await mkdtemp(join(tmpdir(), "cotrain-explorer-cli-"));
    try {
      const file = join(dir, "deployment.json");
      await writeFile(file, JSON.stringify({ chainId: 31337, address: ADDR, block: 7 }));
      const o = parseExplorerOptions(
        await explorerOptionsFromCli({ ...base, rpc: "http://127.0.0.1:8545", deployment: file }, {}),
      );
      assert.equal(o.contract, ADDR);
      assert.equal(o.fromBlock, 7);
      assert.equal(o.port, 8080);
      const o2 = await explorerOptionsFromCli(
        { ...base, rpc: "http://x:1", deployment: file, fromBlock: "0", contract: `0x${"ab".repeat(20)}` },
        {},
      );
      assert.equal(o2.fromBlock, 0);
      assert.equal(o2.contract, `0x${"ab".repeat(20)}`);
      await writeFile(file, "{not json");
      await assert.rejects(explorerOptionsFromCli({ ...base, rpc: "http://x:1", deployment: file }, {}), /is not JSON/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it("takes the RPC and contract from the environment", async () => {
    const o = await explorerOptionsFromCli(base, { COTRAIN_RPC: "http://127.0.0.1:1", COTRAIN_CONTRACT: ADDR });
    assert.equal(o.rpcUrl, "http://127.0.0.1:1");
    assert.equal(o.contract, ADDR);
  });

  it("names the missing or bad setting", async () => {
    await assert.rejects(
      explorerOptionsFromCli({ ...base, contract: ADDR }, {}),
      (e: CliError) => e instanceof CliError && /--rpc/.test(e.message),
    );
    await assert.rejects(explorerOptionsFromCli({ ...base, rpc: "http://x:1" }, {}), /--contract is required/);
    await assert.rejects(
      explorerOptionsFromCli({ ...base, rpc: "http://x:1", contract: ADDR, port: "80a" }, {}),
      /--port must be/,
    );
    const bad = (input: object, field: RegExp) =>
      assert.throws(
        () => parseExplorerOptions({ rpcUrl: "http://x:1", contract: ADDR, ...input }),
        (e: unknown) => e instanceof ExplorerError && e.code === "BAD_OPTIONS" && field.test(e.message),
      );
    bad({ contract: "0x1234" }, /contract: a 0x-prefixed 20-byte address/);
    bad({ port: 70000 }, /port:/);
    bad({ txLinkTemplate: "https://etherscan.io/tx/" }, /txLinkTemplate: must contain \{hash\}/);
    bad({ addressLinkTemplate: "javascript:alert(1)//{address}" }, /addressLinkTemplate: an http\(s\) URL/);
    bad({ colour: "red" }, /Unrecognized key/);
  });
});
