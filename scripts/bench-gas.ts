/**
 * Gas benchmark of TrainingRun (issues 5, 13 and 17) on a real anvil: the deployment, the operator's
 * appendConfig, registerPeer, submitScores and the paged finalize of worst-case rounds (tests/fixtures/gas-scenario.ts) at 64 peers × 3 validators and at
 * the default caps, 1024 peers × 32 validators. Prints one JSON line. Gas is deterministic, so one run is
 * the measurement. "needed" = eth_estimateGas (the gas limit a transaction must carry, refunds not
 * subtracted), "used" = the receipt's. Run: `npm run bench:gas` (compiles first; ~4 min, most of it
 * registering 1024 peers). `--small` runs only 64 × 3.
 */
import { defaultChainClientOptions } from "../node/chain/index.ts";
import { runGasScenario } from "../tests/fixtures/gas-scenario.ts";

const TX_GAS_BOUND = 10_000_000;
const pageSize = defaultChainClientOptions.finalizePageSize;

// Two rounds each: round 0 is the first finalize ever (fresh storage for the reused page words), round 1
// evicts the odd half of the registry (evictAfterRounds = 1) inside its pages.
const small = await runGasScenario({
  peers: 64,
  validators: 3,
  gatherSize: 16,
  pageSize,
  rounds: 2,
  components: 5,
  evictAfterRounds: 1,
});
const caps = process.argv.includes("--small")
  ? null
  : await runGasScenario({
      peers: 1024,
      validators: 32,
      gatherSize: 64,
      pageSize,
      rounds: 2,
      components: 5,
      evictAfterRounds: 1,
    });
const worst = Math.max(small.maxTxNeeded, caps?.maxTxNeeded ?? 0);
console.log(
  JSON.stringify({
    bench: "gas",
    pageSize,
    "64x3": small,
    "1024x32": caps,
    worstTxNeeded: worst,
    txGasBound: TX_GAS_BOUND,
    meetsBound: worst <= TX_GAS_BOUND,
  }),
);
