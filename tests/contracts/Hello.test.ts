import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { network } from "hardhat";

describe("toolchain", () => {
  it("compiles offline and deploys to the in-process chain", async () => {
    const { ethers } = await network.create();
    const c = await ethers.deployContract("Hello");
    assert.equal(await c.hi(), 1n);
  });
});
