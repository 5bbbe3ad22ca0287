/**
 * Gas benchmark of TrainingRun (issue 5): registerPeer, submitScores with 64 peers, finalizeRound
 * with 64 peers × 3 validators, on a real anvil. Prints one JSON line. Gas is deterministic, so one
 * run is the measurement. Run: `npm run bench:gas` (compiles first).
 */
import { NonceManager, Wallet, parseEther } from "ethers";
import { TrainingRunClient, createProvider, deployTrainingRun, startAnvil } from "../node/chain/index.ts";

const PEERS = 64;
const VALIDATORS = 3;
const COMPONENTS = 5;

const anvil = await startAnvil({ accounts: PEERS + VALIDATORS + 1 });
try {
  const provider = createProvider(anvil.rpcUrl, { pollingIntervalMs: 50 });
  const deployer = new NonceManager(new Wallet(anvil.accounts[0], provider));
  const dep = await deployTrainingRun(deployer, {
    roundSeconds: 600,
    submissionSeconds: 60,
    scoringSeconds: 300,
    gatherSize: 16,
    rewardPerRound: "100",
    minStake: "1",
  });
  const client = (i: number) =>
    new TrainingRunClient({ address: dep.address }, { runner: new Wallet(anvil.accounts[i], provider) });
  const peers = Array.from({ length: PEERS }, (_, i) => client(1 + i));
  const validators = Array.from({ length: VALIDATORS }, (_, i) => client(1 + PEERS + i));

  const registerGas: bigint[] = [];
  for (const p of peers) registerGas.push((await p.registerPeer("/ip4/127.0.0.1/tcp/4001")).gasUsed);
  for (const v of validators) await v.stake(parseEther("1"));

  // Deterministic pseudo-random scores so every run measures the same calldata.
  let seed = 12345;
  const rand = () => {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff;
    return seed / 0x7fffffff;
  };
  const everyone = Array.from({ length: PEERS }, (_, i) => i);
  const submitGas: bigint[] = [];
  const submitNoComponentsGas: bigint[] = [];
  const finalizeGas: bigint[] = [];
  for (let round = 0; round < 3; round++) {
    const { opensAt, closesAt } = await validators[0].scoringWindow(round);
    await provider.send("evm_setNextBlockTimestamp", [opensAt]);
    await provider.send("evm_mine", []);
    for (const [k, v] of validators.entries()) {
      const scores = everyone.map(() => Math.floor(rand() * 60000));
      const components = everyone.map(() => Array.from({ length: COMPONENTS }, () => Math.floor(rand() * 2000 - 1000)));
      const r = await v.submitScores({
        round,
        modelHash: `0x${"ab".repeat(32)}`,
        included: everyone,
        scores,
        components: k === 0 && round === 2 ? undefined : components,
      });
      (k === 0 && round === 2 ? submitNoComponentsGas : submitGas).push(r.gasUsed);
    }
    await provider.send("evm_setNextBlockTimestamp", [closesAt]);
    await provider.send("evm_mine", []);
    finalizeGas.push((await validators[0].finalizeRound(round)).gasUsed);
  }
  const claimGas = (await peers[0].claim()).gasUsed;
  const n = (x: bigint) => Number(x);
  console.log(
    JSON.stringify({
      bench: "gas",
      peers: PEERS,
      validators: VALIDATORS,
      scoreComponents: COMPONENTS,
      gatherSize: 16,
      registerPeer: { first: n(registerGas[0]), last: n(registerGas[PEERS - 1]) },
      submitScores64: {
        withComponents: n(submitGas[0]),
        max: Math.max(...submitGas.map(n)),
        withoutComponents: n(submitNoComponentsGas[0]),
      },
      finalizeRound64x3: { first: n(finalizeGas[0]), steady: n(finalizeGas[2]), max: Math.max(...finalizeGas.map(n)) },
      claim: n(claimGas),
      goalFinalize: 1_500_000,
      meetsGoal: Math.max(...finalizeGas.map(n)) <= 1_500_000,
    }),
  );
} finally {
  await anvil.stop();
}
