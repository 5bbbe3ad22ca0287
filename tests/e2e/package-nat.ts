import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { Wallet, parseEther } from "ethers";
import {
  ANVIL_MNEMONIC,
  TrainingRunClient,
  anvilBinary,
  anvilKey,
  createProvider,
  decodeRunEvent,
  rpcAnswers,
} from "../../node/chain/index.ts";
import { runConfigSchema } from "../../node/config/index.ts";
import { parseMetadata } from "../../node/roles/discovery.ts";
import { modelHashes } from "../fixtures/e2e-helpers.ts";
import { NODE, Proc, exec, inNamespace } from "../fixtures/installed-package.ts";
import { buildNatTopology, namespacesWithTag } from "../fixtures/netns.ts";

/** Not 31337: a dev chain would let private addresses on chain, and this run must work without that. */
const CHAIN_ID = 31338;
const RPC_PORT = 8545;
const P2P_PORT = 4001;
const TAG = `p${process.pid % 100_000}`;

/**
 * docs/join-a-testnet.md end to end, for a stranger behind a home NAT, with the installed package
 * (`app`, `bin`) and real network namespaces (tests/fixtures/netns.ts):
 *
 *   public namespace:  anvil (chain 31338) and the operator's validator, a circuit relay (`--relay`)
 *   home namespace:    the outsider, behind a masquerading router: nobody can dial it
 *   root namespace:    the operator's deploy and publish, over a link to the public side
 *
 * The outsider makes a key, is funded (the faucet's transfer: `cotrain fund` is for dev chains only),
 * runs doctor, joins; it registers only its relayed address, trains, is included in a finalized round,
 * and claims its reward. Every process is stopped by PID; every namespace is removed.
 */
export async function joinBehindNat(app: string, bin: string): Promise<void> {
  const topo = buildNatTopology(2, TAG, { hostLink: true });
  const procs: Proc[] = [];
  const rpc = `http://${topo.hostAddr}:${RPC_PORT}`;
  let provider: ReturnType<typeof createProvider> | undefined;
  try {
    const cli = (ns: string | null, args: string[], timeoutMs?: number) =>
      exec(...inNamespace(ns, NODE, [bin, ...args]), app, timeoutMs);
    const json = <T>(r: { code: number; stdout: string; stderr: string }, what: string): T => {
      assert.equal(r.code, 0, `${what}: ${r.stderr.slice(-2000)}`);
      return JSON.parse(r.stdout) as T;
    };

    // The chain, in the public namespace.
    // a block a second, as on a live chain: nodes read chain time from the latest block
    const anvilArgs = [
      "--host",
      "0.0.0.0",
      "--port",
      String(RPC_PORT),
      "--chain-id",
      String(CHAIN_ID),
      "--block-time",
      "1",
    ];
    const anvil = new Proc(
      ...inNamespace(topo.pub, anvilBinary(), [...anvilArgs, "--accounts", "3", "--mnemonic", ANVIL_MNEMONIC]),
      app,
    );
    procs.push(anvil);
    await until("anvil answers", () => rpcAnswers(rpc), 30_000);
    provider = createProvider(rpc);
    assert.equal((await provider.getNetwork()).chainId, BigInt(CHAIN_ID));

    // The operator: deploy, a validator that relays, publish with it as the bootstrap.
    writeFileSync(join(app, "nat-operator.hex"), anvilKey(0));
    writeFileSync(join(app, "nat-validator.hex"), anvilKey(1));
    writeFileSync(join(app, "nat-run.json"), JSON.stringify(runConfigSchema.parse({ runId: "nat-test" })));
    writeFileSync(
      join(app, "nat-params.json"),
      JSON.stringify({ genesisDelaySeconds: 30, roundSeconds: 20, submissionSeconds: 4, scoringSeconds: 12 }),
    );
    const run = ["--deployment", "nat-deployment.json", "--run-config", "nat-run.json", "--rpc", rpc];
    const { address: contract } = json<{ address: string }>(
      await cli(null, [
        "deploy",
        ...["--rpc", rpc, "--key", "nat-operator.hex", "--config", "nat-params.json", "--run-config", "nat-run.json"],
        ...["--out", "nat-deployment.json"],
      ]),
      "deploy",
    );
    const relayAddr = `/ip4/${topo.hostAddr}/tcp/${P2P_PORT}`;
    const validator = new Proc(
      ...inNamespace(topo.pub, NODE, [
        bin,
        ...["validator", "--key", "nat-validator.hex", ...run, "--data-dir", "nat-validator"],
        ...["--listen", `/ip4/0.0.0.0/tcp/${P2P_PORT}`, "--announce", relayAddr, "--relay"],
        ...["--stake", "1", "--backend", "wasm", "--dataset-dir", "data", "--metrics-port", "-1"],
      ]),
      app,
    );
    procs.push(validator);
    const started = JSON.parse(await validator.waitFor(/"msg":"node started"/, 180_000)) as { peerId: string };
    const bootstrap = `${relayAddr}/p2p/${started.peerId}`;
    const published = await cli(null, ["publish", ...run, "--bootstrap", bootstrap, "--out", "nat-network.json"]);
    assert.equal(published.code, 0, `publish: ${published.stderr}`);

    // Two outsiders, each at its own home: a key, ether from the faucet, doctor (the first), join.
    writeFileSync(join(app, "nat-pw"), "correct horse battery\n");
    const client = new TrainingRunClient({ address: contract }, { runner: provider });
    const faucet = new Wallet(anvilKey(2), provider);
    const outsiders: { address: string; key: string[]; joiner: Proc; ns: string }[] = [];
    for (const [i, { ns }] of topo.homes.entries()) {
      const keyFile = `nat-peer-${i}.json`;
      const { address } = json<{ address: string }>(
        await cli(null, ["keys", "new", "--out", keyFile, "--password-file", "nat-pw"]),
        "keys new",
      );
      await (await faucet.sendTransaction({ to: address, value: parseEther("2") })).wait();
      const key = ["--network", "nat-network.json", "--key", keyFile, "--password-file", "nat-pw"];
      if (i === 0) {
        const doctor = await cli(ns, ["doctor", ...key, "--backend", "wasm", "--train-steps", "1", "--json"], 180_000);
        for (const c of JSON.parse(doctor.stdout) as { name: string; status: string; detail: string }[])
          assert.notEqual(c.status, "fail", `doctor ${c.name}: ${c.detail}`);
      }
      const joiner = new Proc(
        ...inNamespace(ns, NODE, [
          bin,
          ...["join", "nat-network.json", "--key", keyFile, "--password-file", "nat-pw"],
          ...["--data-dir", `nat-joiner-${i}`, "--listen", `/ip4/0.0.0.0/tcp/${P2P_PORT}`],
          ...["--backend", "wasm", "--dataset-dir", "data", "--metrics-port", "-1", "--log-level", "debug"],
        ]),
        app,
      );
      procs.push(joiner);
      outsiders.push({ address: address.toLowerCase(), key, joiner, ns });
    }

    // On chain: only the relayed address, through the validator, ending in the outsider's own PeerId.
    const registered = new Map<string, string[]>();
    for (const o of outsiders) await o.joiner.waitFor(/"msg":"registered as a peer"/, 180_000);
    const c = client.contract;
    for (const log of await c.queryFilter(c.filters.PeerRegistered())) {
      const e = decodeRunEvent(c.interface, log);
      if (e?.name === "PeerRegistered") registered.set(e.args.peer.toLowerCase(), parseMetadata(e.args.metadata));
    }
    for (const o of outsiders) {
      const addrs = registered.get(o.address) ?? [];
      assert.ok(addrs.length > 0, `${o.address} registered an address`);
      for (const a of addrs) assert.ok(a.startsWith(`${bootstrap}/p2p-circuit/p2p/`), `registered ${a}`);
    }

    // Included: finalized rounds pay both; each claims.
    await until(
      "both outsiders' rewards",
      async () => (await Promise.all(outsiders.map((o) => client.pendingRewards(o.address)))).every((p) => p > 0n),
      240_000,
      () => [...outsiders.map((o) => o.joiner), validator].map((p) => p.lines.slice(-6).join("\n")).join("\n---\n"),
    );
    for (const o of outsiders) {
      const claimed = json<{ action: string; amount: string }>(await cli(o.ns, ["claim", ...o.key, "--json"]), "claim");
      assert.equal(claimed.action, "claim");
      assert.ok(parseEther(claimed.amount) > 0n, `claimed ${claimed.amount}`);
      assert.equal(await client.pendingRewards(o.address), 0n);
    }

    // The two homes exchanged updates: a round each of them applied with both updates in it, and every
    // hash either holds equals the chain's. How they reached each other: a dial of the other's relayed
    // address (neither can be dialled directly; DCUtR needs a public address on one side).
    const logsOf = (p: Proc) =>
      p.lines.filter((l) => l.startsWith("{")).map((l) => JSON.parse(l) as Record<string, unknown>);
    const both = new Set(outsiders.map((o) => o.address));
    for (const o of outsiders) {
      const log = logsOf(o.joiner);
      const withBoth = log.filter(
        (l) => l.msg === "outer step applied" && [...both].every((a) => (l.gathered as string[]).includes(a)),
      );
      assert.ok(withBoth.length > 0, `${o.address} applied a round with both homes' updates`);
      for (const [r, hash] of modelHashes(log)) {
        const want = await client.modelHashOf(r);
        if (want) assert.equal(`0x${hash}`, want.toLowerCase(), `${o.address} round ${r}`);
      }
    }
    const relayedDials = outsiders.flatMap((o) =>
      logsOf(o.joiner).filter((l) => l.msg === "dialled a registered peer" && String(l.addr).includes("/p2p-circuit/")),
    );
    assert.ok(relayedDials.length > 0, "one home dialled the other through the relay");
    console.log(
      `# behind NAT: ${outsiders.length} homes, relayed dials ${relayedDials.length}; registered ${[...registered.values()].flat().join(", ")}`,
    );
  } finally {
    provider?.destroy();
    if (process.env.COTRAIN_KEEP_E2E)
      for (const [i, p] of procs.entries()) writeFileSync(join(app, `..`, `nat-proc-${i}.log`), p.lines.join("\n"));
    // Peers and validator get a graceful stop; the chain goes last.
    for (const p of procs.reverse()) await p.stop(30_000);
    topo.teardown();
    assert.deepEqual(namespacesWithTag(TAG), [], "every namespace the test created is removed");
  }
}

async function until(what: string, ok: () => Promise<boolean>, timeoutMs: number, detail = () => ""): Promise<void> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    try {
      if (await ok()) return;
    } catch {
      // not up yet
    }
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}\n${detail()}`);
    await sleep(500);
  }
}
