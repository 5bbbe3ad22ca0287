import assert from "node:assert/strict";
import { describe, it } from "node:test";
import pino from "pino";
import { loadNodeConfig } from "../../node/config/index.ts";
import { ADVERSARY_MODES, AdversaryError, adversaryMode, assertAdversaryAllowed } from "../../node/roles/adversary.ts";

/** The test-only adversary switch (issue 9): mode selection, and its refusal outside a dev chain. */
describe("adversary switch", () => {
  const ctx = (chainId: number, adversary: string, deployed = chainId) =>
    ({
      provider: { getNetwork: async () => ({ chainId: BigInt(chainId) }) },
      deployment: { chainId: deployed },
      logger: pino({ level: "silent" }),
      config: { adversary },
    }) as unknown as Parameters<typeof assertAdversaryAllowed>[0];

  it("cycles modes by round", () => {
    assert.deepEqual(
      Array.from({ length: ADVERSARY_MODES.length }, (_, r) => adversaryMode("rotate", r)),
      [...ADVERSARY_MODES],
    );
    assert.equal(adversaryMode("copy,zero", 0), "copy");
    assert.equal(adversaryMode("copy,zero", 3), "zero");
  });

  it("runs only on chain 31337 and only with known modes", async () => {
    await assertAdversaryAllowed(ctx(31337, "rotate"));
    await assertAdversaryAllowed(ctx(31337, "garbage,flood"));
    await assert.rejects(assertAdversaryAllowed(ctx(1, "rotate")), AdversaryError);
    await assert.rejects(assertAdversaryAllowed(ctx(11155111, "garbage")), AdversaryError);
    await assert.rejects(
      assertAdversaryAllowed(ctx(31337, "rotate", 1)),
      AdversaryError,
      "deployment on another chain",
    );
    await assert.rejects(assertAdversaryAllowed(ctx(31337, "garbage,steal")), AdversaryError);
  });

  it("is a hidden node setting: config file or COTRAIN_ADVERSARY, validated by zod", () => {
    const base = { key: "k", deployment: "d", runConfig: "r" };
    assert.equal(loadNodeConfig({ flags: base, env: { COTRAIN_ADVERSARY: "rotate" } }).adversary, "rotate");
    assert.equal(loadNodeConfig({ flags: base }).adversary, undefined);
    assert.throws(() => loadNodeConfig({ flags: base, env: { COTRAIN_ADVERSARY: "Rotate; rm -rf" } }));
  });
});
