// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {RewardToken} from "./RewardToken.sol";
import {ConfigTimeline} from "./run/ConfigTimeline.sol";
import {PeerRegistry} from "./run/PeerRegistry.sol";
import {RoundFinalizer} from "./run/RoundFinalizer.sol";
import {RunClock} from "./run/RunClock.sol";
import {ValidatorStakes} from "./run/ValidatorStakes.sol";

/**
 * @title TrainingRun
 * @notice The shared memory of one cotrain training run, assembled from its parts:
 * - RunClock: the round schedule (round, submission deadline, scoring window);
 * - PeerRegistry: bonded peer slots, exit and eviction;
 * - ValidatorStakes: stake with per-round snapshots, unstake delay, withdraw;
 * - RoundSubmissions: validators' scores, model hash and payload root per round;
 * - RoundFinalizer: quorum, paged finalize, medians, ratings, rewards, the next gather set;
 * - ConfigTimeline: the run config in effect at each round, appended by the operator (Ownable2Step);
 * and here: checkpoints of the model-state hash chain, claims of the reward token, the parameters.
 * docs/contract.md has the rules a peer and a validator live under, the encodings and the gas.
 */
contract TrainingRun is RoundFinalizer, ConfigTimeline {
    RewardToken private immutable _token;

    uint64 private _checkpointRound;
    bytes32 private _checkpointHash;

    /// @param p run parameters (each part checks its own; reasons in TrainingRunInvalidParams);
    /// `tokenName`/`tokenSymbol` name the RewardToken deployed here, whose only minter this run is.
    constructor(
        RunParams memory p,
        string memory tokenName,
        string memory tokenSymbol
    ) RunClock(p) PeerRegistry(p) ValidatorStakes(p) RoundFinalizer(p) ConfigTimeline(p) {
        _token = new RewardToken(tokenName, tokenSymbol);
    }

    /**
     * @notice Points to a checkpoint of θ after a finalized `round`; `modelHash` must be its hash. Only a
     * validator whose submission for `round` matched the canonical (hash, root) may record, once per
     * round; any round not older than the latest checkpoint is accepted, so a later valid checkpoint
     * replaces one whose uri does not load (nodes verify what they load against the hash chain).
     */
    function recordCheckpoint(uint256 round, bytes32 modelHash, string calldata uri) external {
        bytes32 expected = modelHashOf(round);
        if (expected == bytes32(0)) revert TrainingRunRoundNotFinalized(round);
        if (expected != modelHash) revert TrainingRunCheckpointHashMismatch(round, expected, modelHash);
        uint256 entry = _submissionEntry(round, msg.sender);
        if (entry == 0) revert TrainingRunCheckpointNotAllowed(round, msg.sender);
        Submission storage s = _round(round).submissions[(entry & ~_CHECKPOINTED) - 1];
        if (s.modelHash != expected || s.payloadRoot != payloadRootOf(round)) {
            revert TrainingRunCheckpointNotAllowed(round, msg.sender);
        }
        if (entry & _CHECKPOINTED != 0) revert TrainingRunCheckpointAlreadyRecorded(round, msg.sender);
        if (_checkpointHash != bytes32(0) && round < _checkpointRound) {
            revert TrainingRunCheckpointNotNewer(round, _checkpointRound);
        }
        _markCheckpointed(round, msg.sender);
        _checkpointRound = uint64(round);
        _checkpointHash = modelHash;
        emit CheckpointRecorded(round, modelHash, msg.sender, uri);
    }

    /// @notice Mints the sender's unclaimed peer and validator rewards to it.
    function claim() external nonReentrant returns (uint256 amount) {
        amount = _takePending(msg.sender);
        if (amount == 0) revert TrainingRunNothingToClaim(msg.sender);
        emit Claimed(msg.sender, amount);
        _token.mint(msg.sender, amount);
    }

    /// @notice All deployment parameters.
    function runParams() external view returns (RunParams memory p) {
        (p.genesis, p.roundSeconds, p.submissionSeconds, p.scoringSeconds) = _timing();
        (p.minStake, p.maxValidators, p.unstakeDelay) = _stakeParams();
        (p.maxPeers, p.evictAfterRounds, p.peerBond) = _registryParams();
        (p.gatherSize, p.validatorShareBps, p.ratingAlphaBps, p.outlierBps, p.rewardPerRound) = _consensusParams();
        p.configHash = _initialConfigHash();
    }

    /// @notice The ERC-20 rewards are minted in.
    function rewardToken() external view returns (address) {
        return address(_token);
    }

    /// @notice Newest checkpoint recorded (`exists` false if none).
    function latestCheckpoint() external view returns (bool exists, uint256 round, bytes32 modelHash) {
        return (_checkpointHash != bytes32(0), _checkpointRound, _checkpointHash);
    }
}
