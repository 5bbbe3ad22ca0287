import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdtemp, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { promisify } from "node:util";
import { peerIdFromString } from "@libp2p/peer-id";
import { SigningKey, getAddress, keccak256 } from "ethers";
import {
  IdentityError,
  addressFromPeerId,
  createKeystore,
  identityFromPrivateKey,
  loadKeystore,
  randomIdentity,
} from "../../node/identity/index.ts";

const run = promisify(execFile);
const CLI = new URL("../../bin/cotrain.js", import.meta.url).pathname;

describe("identity", () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "cotrain-id-"));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it("the PeerId's public key hashes to the Ethereum address", () => {
    const id = randomIdentity();
    const peerId = peerIdFromString(id.peerId.toString()); // round-trip through the string form
    assert.equal(peerId.type, "secp256k1");
    const compressed = peerId.publicKey!.raw;
    assert.equal(compressed.length, 33);
    const uncompressed = SigningKey.computePublicKey(compressed, false); // 0x04 || X || Y
    const hash = keccak256(`0x${uncompressed.slice(4)}`);
    assert.equal(getAddress(`0x${hash.slice(-40)}`), id.address);
    assert.equal(addressFromPeerId(peerId), id.address);
  });

  it("a fixed key gives a fixed address and PeerId", () => {
    const id = identityFromPrivateKey(`0x${"11".repeat(32)}`);
    assert.equal(id.address, "0x19E7E376E7C213B7E7e7e46cc70A5dD086DAff2A");
    assert.equal(identityFromPrivateKey(`0x${"11".repeat(32)}`).peerId.toString(), id.peerId.toString());
  });

  it("keystore round-trips, is mode 0600 and refuses to overwrite", async () => {
    const file = join(dir, "a.json");
    const created = await createKeystore(file, "pw", { scryptN: 1024 });
    assert.equal((await stat(file)).mode & 0o777, 0o600);
    const loaded = await loadKeystore(file, "pw");
    assert.equal(loaded.address, created.address);
    assert.equal(loaded.peerId.toString(), created.peerId.toString());
    const before = await readFile(file, "utf8");
    await assert.rejects(
      createKeystore(file, "other", { scryptN: 1024 }),
      (e: unknown) => e instanceof IdentityError && e.code === "KEYSTORE_EXISTS",
    );
    assert.equal(await readFile(file, "utf8"), before, "existing keystore unchanged");
  });

  it("a wrong password is a clear typed error", async () => {
    const file = join(dir, "b.json");
    await createKeystore(file, "right", { scryptN: 1024 });
    await assert.rejects(
      loadKeystore(file, "wrong"),
      (e: unknown) => e instanceof IdentityError && e.code === "WRONG_PASSWORD",
    );
    await assert.rejects(
      loadKeystore(join(dir, "missing.json"), "x"),
      (e: unknown) => e instanceof IdentityError && e.code === "KEYSTORE_NOT_FOUND",
    );
  });

  it("cotrain keys new/show via the CLI: password file, wrong password, no overwrite", async () => {
    const file = join(dir, "cli.json");
    const pwFile = join(dir, "pw.txt");
    await writeFile(pwFile, "secret\n");
    const env = { ...process.env, COTRAIN_PASSWORD: "" };
    const created = JSON.parse(
      (await run(process.execPath, [CLI, "keys", "new", "--out", file, "--password-file", pwFile], { env })).stdout,
    );
    const shown = JSON.parse(
      (await run(process.execPath, [CLI, "keys", "show", file], { env: { ...env, COTRAIN_PASSWORD: "secret" } }))
        .stdout,
    );
    assert.equal(shown.address, created.address);
    assert.equal(shown.peerId, created.peerId);
    const wrong = await run(process.execPath, [CLI, "keys", "show", file], {
      env: { ...env, COTRAIN_PASSWORD: "nope" },
    }).catch((e) => e);
    assert.equal(wrong.code, 1);
    assert.match(wrong.stderr, /^cotrain: wrong password for keystore .*\n$/);
    const again = await run(process.execPath, [CLI, "keys", "new", "--out", file, "--password-file", pwFile], {
      env,
    }).catch((e) => e);
    assert.equal(again.code, 1);
    assert.match(again.stderr, /refusing to overwrite/);
    assert.doesNotMatch(again.stderr, /at .*\.ts:/, "no stack trace without --debug");
  });
});
