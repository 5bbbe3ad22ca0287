import { ContractFactory, type Signer, parseEther } from "ethers";
import { hash32To0x, sha256 } from "../hash/index.ts";
import { loadArtifact } from "./artifact.ts";
import { ChainError } from "./errors.ts";
import { type DeployParams, type DeployParamsInput, deployParamsSchema } from "./options.ts";

/** What `cotrain deploy` writes: enough for any node to find and trust the run. */
export interface Deployment {
  chainId: number;
  /** TrainingRun address. */
  address: string;
  /** RewardToken address (minted by the TrainingRun). */
  token: string;
  /** Block of the deployment transaction: where event indexers start. */
  block: number;
  transactionHash: string;
  deployer: string;
  /** The run's config hash (of the network file), as stored on chain. */
  configHash: string;
  /** The parameters deployed, with genesis resolved; amounts as decimal strings of whole units. */
  params: DeployParams & { genesis: number };
}

/** Parses and validates a params object (e.g. a params.json), filling defaults. */
export function parseDeployParams(input: unknown): DeployParams {
  const res = deployParamsSchema.safeParse(input ?? {});
  if (!res.success) {
    const issues = res.error.issues.map((i) => `${i.path.join(".") || "params"}: ${i.message}`).join("; ");
    throw new ChainError("BAD_PARAMS", `invalid deployment parameters: ${issues}`);
  }
  return res.data;
}

/** sha256 of a network file's bytes as 0x hex: the configHash a run commits to. */
export function configHashOf(bytes: Uint8Array | string): string {
  return hash32To0x(sha256(bytes));
}

/**
 * Deploys TrainingRun (which deploys its RewardToken) with `signer` and waits for the receipt.
 * genesis defaults to the latest block's timestamp + genesisDelaySeconds (chain time, not local).
 */
export async function deployTrainingRun(signer: Signer, input: DeployParamsInput | DeployParams): Promise<Deployment> {
  const params = parseDeployParams(input);
  const provider = signer.provider;
  if (!provider) throw new ChainError("BAD_PARAMS", "the deploying signer has no provider");
  const latest = await provider.getBlock("latest");
  if (!latest) throw new ChainError("BAD_DEPLOYMENT", "cannot read the latest block");
  const genesis = params.genesis ?? latest.timestamp + params.genesisDelaySeconds;
  const art = loadArtifact("TrainingRun");
  const factory = new ContractFactory(art.abi, art.bytecode, signer);
  const onchain = {
    configHash: params.configHash,
    genesis,
    roundSeconds: params.roundSeconds,
    submissionSeconds: params.submissionSeconds,
    scoringSeconds: params.scoringSeconds,
    unstakeDelay: params.unstakeDelay,
    gatherSize: params.gatherSize,
    maxPeers: params.maxPeers,
    maxValidators: params.maxValidators,
    validatorShareBps: params.validatorShareBps,
    ratingAlphaBps: params.ratingAlphaBps,
    outlierBps: params.outlierBps,
    evictAfterRounds: params.evictAfterRounds,
    rewardPerRound: parseEther(params.rewardPerRound),
    minStake: parseEther(params.minStake),
    peerBond: parseEther(params.peerBond),
  };
  let contract: Awaited<ReturnType<typeof factory.deploy>>;
  try {
    contract = await factory.deploy(onchain, params.tokenName, params.tokenSymbol);
  } catch (err) {
    throw new ChainError(
      "BAD_DEPLOYMENT",
      `deployment failed: ${(err as { shortMessage?: string }).shortMessage ?? String(err)}`,
    );
  }
  const tx = contract.deploymentTransaction();
  const receipt = await tx?.wait();
  if (receipt?.status !== 1) throw new ChainError("BAD_DEPLOYMENT", "deployment transaction failed");
  const address = await contract.getAddress();
  const token: string = await contract.getFunction("rewardToken").staticCall();
  const network = await provider.getNetwork();
  return {
    chainId: Number(network.chainId),
    address,
    token,
    block: receipt.blockNumber,
    transactionHash: receipt.hash,
    deployer: await signer.getAddress(),
    configHash: params.configHash,
    params: { ...params, genesis },
  };
}
