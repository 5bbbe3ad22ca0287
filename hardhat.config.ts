import { createRequire } from "node:module";
import hardhatEthers from "@nomicfoundation/hardhat-ethers";
import hardhatNodeTestRunner from "@nomicfoundation/hardhat-node-test-runner";
import { defineConfig } from "hardhat/config";

const require = createRequire(import.meta.url);

// Solidity is compiled by the `solc` npm package (soljson.js, pinned to the same version), so a fresh
// machine with only the npm registry never tries to download a compiler.
export default defineConfig({
  plugins: [hardhatEthers, hardhatNodeTestRunner],
  solidity: {
    version: "0.8.28",
    path: require.resolve("solc/soljson.js"),
    settings: { optimizer: { enabled: true, runs: 200 }, viaIR: false },
  },
  paths: {
    sources: "./contracts",
    tests: { nodejs: "./tests/contracts" },
  },
});
