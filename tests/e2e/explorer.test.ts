import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { type JsonRpcProvider, Wallet, keccak256, parseEther, toUtf8Bytes } from "ethers";
import { type Browser, type Page, chromium } from "playwright-core";
import {
  type AnvilInstance,
  TrainingRunClient,
  createProvider,
  deployTrainingRun,
  startAnvil,
} from "../../node/chain/index.ts";
import { type ExplorerError, type ExplorerHandle, startExplorer } from "../../node/explorer/index.ts";
import { encodeChainComponents, encodeStageHeldOut } from "../../node/scoring/chain-components.ts";

const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
const TX_LINK = "https://blocks.example/tx/{hash}";

/**
 * The explorer end to end on real parts: anvil, the deployed TrainingRun, real transactions (3 peers,
 * 1 validator, 2 scored and finalized rounds, one claim), the explorer indexing them, and Debian's
 * Chromium driven by playwright-core reading the pages.
 */
describe("explorer in headless Chromium", { skip: existsSync(CHROMIUM) ? false : `no Chromium at ${CHROMIUM}` }, () => {
  let anvil: AnvilInstance;
  let provider: JsonRpcProvider;
  let explorer: ExplorerHandle;
  let browser: Browser;
  let page: Page;
  let dataDir: string;
  let peers: string[];
  let validator: string;
  const modelHash = (r: number) => keccak256(toUtf8Bytes(`theta-${r + 1}`));
  const lossBefore = [5.25, 4.875];
  // Round 1 runs a second data stage: the validator also reports θ_1's loss on stage 0's held-out data.
  const stageLosses = [[], [4.5, 4.875]];

  before(async () => {
    dataDir = await mkdtemp(join(tmpdir(), "cotrain-explorer-"));
    anvil = await startAnvil({ accounts: 6 });
    provider = createProvider(anvil.rpcUrl, { pollingIntervalMs: 50 });
    const dep = await deployTrainingRun(new Wallet(anvil.accounts[0], provider), {
      genesisDelaySeconds: 5,
      roundSeconds: 20,
      submissionSeconds: 2,
      scoringSeconds: 10,
      unstakeDelay: 60,
      gatherSize: 2,
      rewardPerRound: "10",
      minStake: "1",
    });
    const client = (i: number) =>
      new TrainingRunClient({ address: dep.address }, { runner: new Wallet(anvil.accounts[i], provider) });
    const peerClients = [1, 2, 3].map(client);
    peers = [1, 2, 3].map((i) => new Wallet(anvil.accounts[i]).address);
    validator = new Wallet(anvil.accounts[4]).address;
    for (const [i, c] of peerClients.entries()) await c.registerPeer(`/ip4/127.0.0.1/tcp/${4000 + i}`);
    const v = client(4);
    await v.stake(parseEther("1"));

    for (const round of [0, 1]) {
      const { opensAt } = await v.scoringWindow(round);
      await provider.send("evm_setNextBlockTimestamp", [opensAt]);
      await provider.send("evm_mine", []);
      const before = lossBefore[round];
      // Peer 0 and 1 trained (peer 1 less well), peer 2's update did not arrive.
      const components = [
        encodeChainComponents({
          heldOutLossBefore: before,
          heldOutLossAfter: before - 0.25,
          heldOutGain: 0.25 / before,
          ownGain: 0.06,
          valid: true,
          inSync: true,
          proofPositive: true,
        }),
        encodeChainComponents({
          heldOutLossBefore: before,
          heldOutLossAfter: before - 0.1,
          heldOutGain: 0.1 / before,
          ownGain: 0.03,
          valid: true,
          inSync: true,
          proofPositive: true,
        }),
        encodeChainComponents({ heldOutLossBefore: before, missing: true, reason: "missing" }),
      ];
      await v.submitScores({
        round,
        modelHash: modelHash(round),
        payloads: [0, 1].map((index) => ({ index, hash: keccak256(toUtf8Bytes(`update-${round}-${index}`)) })),
        scores: [40_000, 20_000, 0],
        components,
        roundComponents: encodeStageHeldOut(stageLosses[round]),
      });
      await v.finalizeRound(round);
    }
    await peerClients[0].claim();
    // Round 2: nobody submits; once its scoring window closes it is a round nobody settled.
    const { closesAt } = await v.scoringWindow(2);
    await provider.send("evm_setNextBlockTimestamp", [closesAt]);
    await provider.send("evm_mine", []);

    explorer = await startExplorer(
      {
        port: 0,
        rpcUrl: anvil.rpcUrl,
        contract: dep.address,
        fromBlock: dep.block,
        dataDir,
        pollMs: 200,
        txLinkTemplate: TX_LINK,
      },
      {},
    );
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: [
        "--no-sandbox",
        "--headless",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
      ],
    });
    page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  });

  const summaryOf = async () =>
    (await (await fetch(`${explorer.url}api/summary`)).json()) as {
      contract: string;
      indexed: { block: number };
      roundsSkipped: number;
    };

  after(async () => {
    await browser?.close();
    await explorer?.close();
    provider?.destroy();
    await anvil?.stop();
    if (dataDir) await rm(dataDir, { recursive: true, force: true });
  });

  it("lists the finalized rounds with their model hashes and draws the charts", async () => {
    await page.goto(explorer.url);
    await page.waitForSelector("body[data-ready=home] #rounds-table tr[data-round]");
    const rows = await page.$$eval("#rounds-table tbody tr[data-round]", (trs) =>
      trs.map((tr) => ({ text: tr.textContent ?? "", hash: tr.querySelector(".model-hash")?.getAttribute("title") })),
    );
    assert.equal(rows.length, 3);
    assert.ok(rows[0].text.includes("skipped (no submissions)"), rows[0].text);
    assert.ok(rows[1].text.includes("finalized"), rows[1].text);
    assert.deepEqual(
      rows.map((r) => r.hash),
      ["", modelHash(1), modelHash(0)],
    );
    // The finalize tx links to the configured external block explorer.
    const href = await page.getAttribute(
      "#rounds-table tbody tr[data-round='1'] a[href^='https://blocks.example/tx/0x']",
      "href",
    );
    assert.match(href ?? "", /^https:\/\/blocks\.example\/tx\/0x[0-9a-f]{64}$/);
    // chart.js drew into the canvases (a blank canvas has no non-transparent pixel).
    for (const id of ["loss-chart", "reward-chart", "stage-loss-chart"]) {
      const painted = await page.$eval(`#${id}`, (c) => {
        const canvas = c as HTMLCanvasElement;
        const data = canvas.getContext("2d")?.getImageData(0, 0, canvas.width, canvas.height).data ?? [];
        let n = 0;
        for (let i = 3; i < data.length; i += 4) if (data[i] > 0) n++;
        return {
          n,
          w: canvas.width,
          chart: !!(window as unknown as { Chart?: { getChart(c: unknown): unknown } }).Chart?.getChart(canvas),
        };
      });
      assert.ok(painted.chart && painted.w > 0 && painted.n > 500, `${id}: ${JSON.stringify(painted)}`);
    }
    // Per stage: stage 0's line starts with round 0's held-out loss (one stage then), stage 1 at round 1.
    const stageLines = await page.$eval("#stage-loss-chart", (c) => {
      type Chart = { data: { datasets: { data: (number | null)[] }[] } };
      const chart = (window as unknown as { Chart: { getChart(c: unknown): Chart } }).Chart.getChart(c);
      return chart.data.datasets.map((d) => d.data);
    });
    assert.deepEqual(stageLines, [
      [5.25, 4.5],
      [null, 4.875],
    ]);
    await page.screenshot({ path: join(tmpdir(), "cotrain-explorer-home.png"), fullPage: true });
  });

  it("shows every peer's decoded score components on a round page", async () => {
    await page.goto(`${explorer.url}#/round/1`);
    await page.waitForSelector("body[data-ready=round] #round-peers tr[data-peer]");
    assert.equal(await page.textContent("#round-model-hash"), modelHash(1));
    assert.equal(await page.textContent("#round-stage-losses"), "stage 0: 4.500 · stage 1: 4.875");
    const peerRows = await page.$$eval("#round-peers tbody tr[data-peer]", (trs) =>
      trs.map((tr) => tr.getAttribute("data-peer")),
    );
    assert.deepEqual(peerRows, peers);
    const comp = await page.$$eval("#round-components tbody tr", (trs) =>
      trs.map((tr) => Array.from(tr.querySelectorAll("td"), (td) => td.textContent ?? "")),
    );
    assert.equal(comp.length, 3);
    // peer 0: score, loss before/after (component 0/1), gain in % and the flags
    assert.equal(comp[0][2], "40000");
    assert.equal(comp[0][3], "4.875");
    assert.equal(comp[0][4], "4.625");
    assert.equal(comp[0][5], "5.13 %");
    assert.ok(
      comp[0][7].includes("valid") && comp[0][7].includes("in sync") && comp[0][7].includes("trained"),
      comp[0][7],
    );
    assert.equal(comp[2][8], "missing");
    assert.ok(comp[2][7].includes("missing"));
    const rewards = await page.$$eval("#round-peers tbody tr", (trs) =>
      trs.map((tr) => tr.querySelectorAll("td")[4].textContent),
    );
    // 10 tokens, 10 % to validators: 9 split 2:1 by median score; peer 2 scored 0.
    assert.deepEqual(rewards, ["6", "3", "0"]);
    const sub = await page.$eval("#round-submissions tbody tr", (tr) => ({
      text: tr.textContent ?? "",
      who: tr.querySelector("a")?.getAttribute("title"),
    }));
    assert.equal(sub.who, validator);
    assert.ok(sub.text.includes("agrees"), sub.text);
    // Each included peer's update hash is the one in the finalized payload list; peer 2 sent none.
    const hashes = await page.$$eval("#round-peers tbody tr", (trs) =>
      trs.map((tr) => tr.querySelectorAll("td")[7].getAttribute("title")),
    );
    assert.deepEqual(hashes, [
      keccak256(toUtf8Bytes("update-1-0")).slice(2),
      keccak256(toUtf8Bytes("update-1-1")).slice(2),
      "",
    ]);

    await page.goto(`${explorer.url}#/round/2`);
    await page.waitForFunction(
      () => document.body.dataset.ready === "round" && !!document.getElementById("round-skip-reason"),
    );
    assert.equal(await page.textContent("h1 .round-status"), "skipped (no submissions)");
  });

  it("shows a validator's stake, submissions and rewards on its page", async () => {
    await page.goto(`${explorer.url}#/peer/${validator}`);
    await page.waitForSelector("body[data-ready=peer] #validator-submissions tr[data-round]");
    assert.equal(await page.textContent("#validator-stake"), "1");
    // 10 % of 10 tokens per finalized round, two rounds
    assert.equal(await page.textContent("#validator-rewarded"), "2");
    const subs = await page.$$eval("#validator-submissions tbody tr[data-round]", (trs) =>
      trs.map((tr) => [tr.getAttribute("data-round"), tr.querySelector(".model-hash")?.getAttribute("title")]),
    );
    assert.deepEqual(subs, [
      ["1", modelHash(1)],
      ["0", modelHash(0)],
    ]);
  });

  it("keeps the indexed block within one poll of the chain head", async () => {
    // 3 more rounds of blocks (one per scoring close, nobody submits) plus transactions.
    const v = new TrainingRunClient(
      { address: (await summaryOf()).contract },
      { runner: new Wallet(anvil.accounts[5], provider) },
    );
    for (const round of [3, 4, 5]) {
      const { closesAt } = await v.scoringWindow(round);
      await provider.send("evm_setNextBlockTimestamp", [closesAt]);
      await provider.send("evm_mine", []);
      await v.stake(parseEther("1"));
      const head = await provider.getBlockNumber();
      // A poll that starts after `head` was mined reads up to it: wait for two completed polls (the
      // one in flight may have started before), then the indexed block must be the head.
      const polls = explorer.model.indexed.polls;
      while (explorer.model.indexed.polls < polls + 2) await new Promise((r) => setTimeout(r, 50));
      assert.equal(explorer.model.indexed.block, head, `round ${round}`);
      assert.equal(explorer.model.lastClosedRound(), round);
    }
    const s = await summaryOf();
    assert.equal(s.indexed.block, await provider.getBlockNumber());
    assert.equal(s.roundsSkipped, 4);
  });

  it("shows a peer's rewards, history and claim status", async () => {
    await page.goto(`${explorer.url}#/peer/${peers[0]}`);
    await page.waitForSelector("body[data-ready=peer] #peer-history tr[data-round]");
    assert.equal(await page.textContent("#peer-earned"), "12");
    assert.equal(await page.textContent("#peer-pending"), "0");
    assert.equal(await page.textContent("#peer-summary .claim-status"), "claimed");
    assert.equal(await page.$$eval("#peer-claims tbody tr", (trs) => trs.length), 1);
    assert.equal(await page.$$eval("#peer-history tbody tr[data-round]", (trs) => trs.length), 2);

    await page.goto(`${explorer.url}#/peer/${peers[1]}`);
    await page.waitForFunction(
      (a) => document.body.dataset.ready === "peer" && document.querySelector("h1")?.textContent?.includes(a),
      peers[1],
    );
    assert.equal(await page.textContent("#peer-pending"), "6");
    assert.equal(await page.textContent("#peer-summary .claim-status"), "unclaimed");

    await page.goto(`${explorer.url}#/peers`);
    await page.waitForSelector("body[data-ready=peers] #peers-table tr[data-peer]");
    const statuses = await page.$$eval("#peers-table .claim-status", (els) => els.map((e) => e.textContent));
    assert.deepEqual(statuses, ["claimed", "unclaimed", "none"]);
  });

  it("serves the JSON API and resumes from its LevelDB after a restart", async () => {
    const summary = (await (await fetch(`${explorer.url}api/summary`)).json()) as {
      roundsFinalized: number;
      series: { heldOutLoss: number; heldOutLossByStage: (number | null)[] }[];
    };
    assert.equal(summary.roundsFinalized, 2);
    assert.deepEqual(
      summary.series.map((s) => s.heldOutLoss),
      lossBefore,
    );
    assert.deepEqual(
      summary.series.map((s) => s.heldOutLossByStage),
      stageLosses,
    );
    assert.equal((await fetch(`${explorer.url}api/rounds/99`)).status, 404);
    assert.equal((await fetch(`${explorer.url}api/nope`)).status, 404);
    assert.equal((await fetch(`${explorer.url}../../package.json`)).status, 404);
    // Fails fast, naming the problem, on a wrong address or an unreachable RPC.
    await assert.rejects(
      startExplorer({ port: 0, rpcUrl: anvil.rpcUrl, contract: `0x${"12".repeat(20)}` }),
      (err: ExplorerError) => err.code === "NO_CONTRACT",
    );
    await assert.rejects(
      startExplorer({ port: 0, rpcUrl: "ftp://x", contract: `0x${"12".repeat(20)}` }),
      /rpcUrl: an http/,
    );
    const count = explorer.model.eventCount;
    const { contract, fromBlock } = (await (await fetch(`${explorer.url}api/summary`)).json()) as {
      contract: string;
      fromBlock: number;
    };
    await explorer.close();
    // Restart on the same data dir: the events come back from LevelDB, the cursor skips re-reading.
    explorer = await startExplorer({ port: 0, rpcUrl: anvil.rpcUrl, contract, fromBlock, dataDir, pollMs: 200 });
    assert.equal(explorer.restored, count);
    assert.equal(explorer.model.eventCount, count);
    assert.equal(await explorer.sync(), 0);
  });
});
