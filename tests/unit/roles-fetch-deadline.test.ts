import assert from "node:assert/strict";
import { after, describe, it } from "node:test";
import type { Libp2p } from "@libp2p/interface";
import { BlobFetcher } from "../../node/p2p/blob-fetcher.ts";
import type { BlobError } from "../../node/p2p/errors.ts";
import { wallDeadline } from "../../node/roles/timing.ts";
import { keeperFixture, randomParams, stateOf, testPeers, updateFrom } from "../fixtures/roles.ts";

/** A round clock frozen at chain second `t` (the deadline arithmetic needs nothing else). */
const fakeClock = (t: number) => ({ now: () => t });

/**
 * Fetch retries end at the round's deadline (issue 18: a validator looped ~2.5 min on "no provider
 * served … in time" because a payload fetch kept sweeping providers for its own 60 s after the gather
 * that wanted it had given up). The deadline is chain time on the round clock, turned into a local
 * timer deadline once; every layer — gather, payload fetch, the blob fetcher's sweeps — stops there.
 */
describe("roles: fetch retries bounded by the round's clock", { timeout: 20_000 }, async () => {
  const [self, a] = testPeers(2);
  const s1 = stateOf(1, randomParams(2));
  const fx = await keeperFixture([self, a], self, randomParams(1));
  after(() => fx.close());

  it("converts a chain-time deadline to the local clock", () => {
    assert.equal(wallDeadline(fakeClock(1000), 1002.5, 5000), 7500);
    assert.equal(wallDeadline(fakeClock(1000), 999, 5000), 4000, "a deadline already past stays past");
  });

  it("a gather whose payload nobody serves gives up at the round's deadline, not after fetchTimeoutMs", async () => {
    // The payload is announced but its fetch never completes; fetchTimeoutMs is 1000 ms in the fixture.
    const seen: (number | undefined)[] = [];
    fx.p2p.fetchPayload = (_ann, _from, opts) => {
      seen.push(opts?.deadlineMs);
      return new Promise<Uint8Array>(() => {});
    };
    fx.p2p.announce(a, 1, s1.hash, updateFrom(s1.params, 11).payload);
    // Chain time: 50 ms before the round's deadline (e.g. its scoring window's close).
    const deadline = 2000;
    const untilMs = wallDeadline(fakeClock(deadline - 0.05), deadline);
    const g = await fx.keeper.gather(s1, untilMs);
    assert.deepEqual(g.gathered, []);
    assert.deepEqual(
      g.dropped.map((d) => [d.address, d.reason]),
      [[a.address, "fetch_failed"]],
    );
    assert.match(g.dropped[0].detail ?? "", /round's deadline/);
    // The fetch itself was told the same deadline, so its retries stop there too.
    assert.deepEqual(seen, [untilMs]);
  });

  it("the blob fetcher stops sweeping for providers at deadlineMs even with a long timeout", async () => {
    let sweeps = 0;
    const libp2p = {
      peerId: { equals: () => false },
      getPeers: () => {
        sweeps++;
        return [];
      },
      getConnections: () => [],
    } as unknown as Libp2p;
    const fetcher = new BlobFetcher(
      {
        blobMaxBytes: 1024,
        blobTimeoutMs: 60_000,
        blobAttemptTimeoutMs: 20_000,
        blobRetryDelayMs: 20,
        dialAnnouncer: false,
        allowPrivateAddresses: true,
      },
      { libp2p, store: { get: async () => undefined }, metrics: null, penalize: () => {} },
    );
    const deadlineMs = Date.now() + 200;
    await assert.rejects(
      fetcher.fetch("ab".repeat(32), { deadlineMs }),
      // nobody to ask at all (NO_PROVIDERS) or nobody served it (TIMEOUT): either way, at the deadline
      (err: BlobError) => err.code === "NO_PROVIDERS" || err.code === "TIMEOUT",
    );
    assert.ok(Date.now() >= deadlineMs, "it kept sweeping until the deadline");
    assert.ok(sweeps > 1, `${sweeps} sweeps`);
  });
});
