import assert from "node:assert/strict";
import { readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import { loadNodeConfig } from "../../node/config/index.ts";
import { ADVERSARY_MODES, AdversaryError, adversaryMode, assertAdversaryAllowed } from "../fixtures/adversary.ts";

/** The test-only adversary (issue 9, moved out of node/ by issue 14): mode selection, its refusal outside a dev chain. */
describe("adversary hook", () => {
  const chain = (rpc: number, deployment = rpc) => ({ rpc, deployment });

  it("cycles modes by round", () => {
    assert.deepEqual(
      Array.from({ length: ADVERSARY_MODES.length }, (_, r) => adversaryMode("rotate", r)),
      [...ADVERSARY_MODES],
    );
    assert.equal(adversaryMode("copy,zero", 0), "copy");
    assert.equal(adversaryMode("copy,zero", 3), "zero");
  });

  it("runs only on chain 31337 and only with known modes", () => {
    assertAdversaryAllowed("rotate", chain(31337));
    assertAdversaryAllowed("garbage,flood", chain(31337));
    assert.throws(() => assertAdversaryAllowed("rotate", chain(1)), AdversaryError);
    assert.throws(() => assertAdversaryAllowed("garbage", chain(11155111)), AdversaryError);
    assert.throws(() => assertAdversaryAllowed("rotate", chain(31337, 1)), AdversaryError, "deployment elsewhere");
    assert.throws(() => assertAdversaryAllowed("garbage,steal", chain(31337)), AdversaryError);
    assert.throws(() => assertAdversaryAllowed("Rotate; rm -rf", chain(31337)), AdversaryError);
  });

  it("is no node setting: a config naming it is refused, and nothing in node/ imports tests/", () => {
    const base = { key: "k", deployment: "d", runConfig: "r" };
    assert.throws(() => loadNodeConfig({ flags: { ...base, adversary: "rotate" } }), /adversary/);
    const root = new URL("../../node/", import.meta.url).pathname;
    const offenders = (readdirSync(root, { recursive: true }) as string[])
      .filter((f) => f.endsWith(".ts"))
      .filter((f) => /from\s+["'][^"']*\/tests\//.test(readFileSync(join(root, f), "utf8")));
    assert.deepEqual(offenders, []);
  });
});
