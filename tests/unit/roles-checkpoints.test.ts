import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { type Hash32, sha256 } from "../../node/hash/index.ts";
import { type GPTConfig, initParams, paramSpecs, saveCheckpoint } from "../../node/model/index.ts";
import type { ParamMap } from "../../node/sparseloco/index.ts";
import { modelHash } from "../../node/sparseloco/index.ts";
import { keeperFixture, testPeers } from "../fixtures/roles.ts";

/**
 * RoundKeeper.catchUp with recorded checkpoints (issue 13): a checkpoint that does not load — a uri
 * that is no blob hash, a blob nobody serves, corrupt bytes, bytes of another model — is never fatal;
 * the node falls back to an older checkpoint or to replay from θ_0, and a checkpoint recorded later
 * for the same round replaces a bad one.
 */
describe("roles: catch-up from checkpoints", () => {
  // A real (tiny) GPT shape, so that checkpoints are real safetensors files.
  const config: GPTConfig = {
    vocabSize: 8,
    nLayer: 1,
    nHead: 1,
    nEmbd: 4,
    seqLen: 4,
    mlpRatio: 1,
    lnEps: 1e-5,
    initStd: 0.02,
  };
  const specs = paramSpecs(config);
  const [self, a] = testPeers(2);
  const theta0 = initParams(config, 1);
  // θ_1 as the chain finalized it: built from an update nobody serves any more, so only a checkpoint
  // of round 0 reaches it; round 1 aggregated nothing (θ_2 = θ_1), round 2 too (θ_3 = θ_1).
  const theta1 = initParams(config, 2);
  const h1 = modelHash(theta1, specs);
  const gone = { index: 1, hash: "ee".repeat(32) };

  async function fixture() {
    const fx = await keeperFixture([self, a], self, theta0, specs);
    fx.chain.finalize(0, h1, [gone]);
    fx.chain.finalize(1, h1, []);
    fx.chain.finalize(2, h1, []);
    return fx;
  }
  /** Serves `params` as a checkpoint blob; returns its uri. */
  function serve(fx: Awaited<ReturnType<typeof fixture>>, params: ParamMap, round: number, corrupt = false): string {
    const bytes = saveCheckpoint(config, params, round);
    const hash = sha256(bytes);
    if (corrupt) bytes[bytes.length - 1] ^= 0xff; // served under its hash, but not those bytes
    fx.p2p.payloads.set(hash, bytes);
    return `blob:${hash}`;
  }
  const theta0State = () => ({ round: 0, params: theta0, hash: modelHash(theta0, specs) });

  it("a valid checkpoint is loaded and the later rounds replayed from it", async () => {
    const fx = await fixture();
    try {
      fx.chain.recordCheckpoint(0, h1, serve(fx, theta1, 1));
      const out = await fx.keeper.catchUp(theta0State(), null);
      assert.equal(out.round, 3);
      assert.equal(out.hash, h1);
      assert.equal(await fx.store.rounds.get(0), undefined, "round 0 came from the checkpoint, not a replay");
      assert.equal((await fx.store.rounds.get(1))?.status, "finalized");
    } finally {
      await fx.close();
    }
  });

  it("a newer checkpoint that does not load falls back to the older one", async () => {
    const fx = await fixture();
    try {
      fx.chain.recordCheckpoint(0, h1, serve(fx, theta1, 1));
      fx.chain.recordCheckpoint(1, h1, serve(fx, theta1, 2, true)); // corrupt bytes
      fx.chain.recordCheckpoint(2, h1, `blob:${"ab".repeat(32)}`); // nobody serves it
      fx.chain.recordCheckpoint(2, h1, "ipfs://not-a-blob"); // recorded last for round 2: tried first
      const out = await fx.keeper.catchUp(theta0State(), null);
      assert.equal(out.round, 3);
      assert.equal(out.hash, h1);
      assert.equal((await fx.store.rounds.get(1))?.status, "finalized", "rounds 1 and 2 replayed from round 0's");
    } finally {
      await fx.close();
    }
  });

  it("a checkpoint of another model is refused; a valid one recorded later for the same round replaces it", async () => {
    const fx = await fixture();
    try {
      // The record claims h1 but the blob holds θ_0: loading it would put a node on another model.
      fx.chain.recordCheckpoint(2, h1, serve(fx, theta0, 3));
      await assert.rejects(fx.keeper.catchUp(theta0State(), null), /round 0: got 0 of the 1 included updates/);
      assert.equal(await fx.store.peerState.load(), undefined, "nothing committed");
      fx.chain.recordCheckpoint(2, h1, serve(fx, theta1, 3));
      const out = await fx.keeper.catchUp(theta0State(), null);
      assert.equal(out.round, 3);
      assert.equal(out.hash, h1);
    } finally {
      await fx.close();
    }
  });

  it("with no checkpoint that loads, replays from θ_0", async () => {
    const fx = await keeperFixture([self, a], self, theta0, specs);
    try {
      // Every round aggregated nothing: θ_3 = θ_0, which a replay from θ_0 reaches.
      const h0 = modelHash(theta0, specs) as Hash32;
      for (const r of [0, 1, 2]) fx.chain.finalize(r, h0, []);
      fx.chain.recordCheckpoint(2, h0, serve(fx, theta1, 3)); // another model's bytes
      fx.chain.recordCheckpoint(1, h0, "junk");
      const out = await fx.keeper.catchUp(theta0State(), null);
      assert.equal(out.round, 3);
      assert.equal(out.hash, h0);
      assert.equal((await fx.store.rounds.get(0))?.status, "finalized", "replayed from round 0");
    } finally {
      await fx.close();
    }
  });
});
