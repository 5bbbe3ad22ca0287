// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

/**
 * @title ITrainingRun
 * @notice The types, events and custom errors of a TrainingRun (docs/contract.md). Events are the data
 * source of the node's chain view, the explorer and any indexer; every error names what was wrong.
 */
interface ITrainingRun {
    /// @notice Parameters fixed at deployment (checked by the constructor; docs/contract.md "Parameters").
    struct RunParams {
        bytes32 configHash; // sha256 of the run config (model, hparams, dataset manifest)
        uint64 genesis; // start of round 0, unix seconds (chain time)
        uint32 roundSeconds;
        uint32 submissionSeconds; // peers' publishing time into the next round
        uint32 scoringSeconds; // validators' window after the submission deadline (<= roundSeconds)
        uint32 unstakeDelay; // seconds between requestUnstake and withdraw (>= 3 rounds)
        uint16 gatherSize; // G: peers in the next gather set (<= maxPeers, <= 64)
        uint16 maxPeers; // registry slots (<= 1024: bounds every finalize step)
        uint16 maxValidators; // validator slots (<= 32: bounds every finalize step)
        uint16 validatorShareBps; // share of rewardPerRound paid to eligible validators
        uint16 ratingAlphaBps; // EMA weight of a round's median in a peer's rating
        uint16 outlierBps; // a validator whose mean |score - median| exceeds this share of 65535 is unpaid
        uint16 evictAfterRounds; // N: consecutive zero-median rounds after which a peer is evicted
        uint128 rewardPerRound; // reward tokens minted per finalized round (at most)
        uint128 minStake; // native currency (wei) a validator must stake
        uint128 peerBond; // native currency (wei) a peer locks to register (0 only on chain id 31337)
    }

    /// @notice Where a round stands. `Skipped`: finalized without quorum (no hash, rewards or gather set).
    enum RoundStatus {
        Open,
        Finalizing,
        Finalized,
        Skipped
    }

    /// @notice Aggregates of a finalized round, emitted in RoundFinalized.
    struct RoundTotals {
        uint32 submissions;
        uint32 scoredPeers; // peers whose scores counted (registered no later than the round)
        uint128 snapshotWeight; // stake of every validator at the snapshot (scoring window open)
        uint128 submittedWeight; // snapshot stake of the validators that submitted
        uint128 agreeingWeight; // snapshot stake behind the canonical (model hash, payload root)
        uint256 scoreSum; // sum of the medians
        uint256 peerRewards;
        uint256 validatorRewards;
    }

    // ---------------------------------------------------------------- events

    /// @notice `peer` joined at registry `index`, locking `bond` wei; `metadata` is a hint (multiaddrs).
    event PeerRegistered(address indexed peer, uint16 indexed index, uint256 bond, bytes metadata);
    /// @notice `peer` left slot `index` on its own; `refund` wei of its bond were paid back (0: forfeited).
    event PeerExited(address indexed peer, uint16 indexed index, uint256 refund);
    /// @notice `peer` was evicted from slot `index` by the finalize of `round`; its bond is forfeited.
    event PeerEvicted(address indexed peer, uint16 indexed index, uint256 indexed round, uint256 forfeited);
    /// @notice `validator` added `amount` wei; `totalStake` is its stake now (counts from the next snapshot).
    event ValidatorStaked(address indexed validator, uint256 amount, uint256 totalStake);
    /// @notice `validator` stopped validating; its `amount` can be withdrawn from `withdrawableAt`.
    event UnstakeRequested(address indexed validator, uint256 amount, uint64 withdrawableAt);
    /// @notice `validator` took back its `amount` wei of stake.
    event ValidatorWithdrew(address indexed validator, uint256 amount);
    /**
     * @notice `validator` (snapshot stake `weight`) scored `round`: its aggregate model hash
     * H(θ_{round+1}), the root of the payloads it aggregated (keccak256 of `payloads`: sorted
     * (uint16 peer index, bytes32 sha256) entries), one uint16 score per peer index, and the per-peer
     * score components it computed (opaque to the contract; layout in docs/contract.md).
     */
    event ScoresSubmitted(
        uint256 indexed round,
        address indexed validator,
        bytes32 indexed modelHash,
        bytes32 payloadRoot,
        uint256 weight,
        bytes payloads,
        bytes scores,
        bytes components
    );
    /**
     * @notice `round` is final: canonical `modelHash` = H(θ_{round+1}) and `payloadRoot` (the exact
     * updates aggregated), the stake-weighted `medians` (uint16 per peer index), the `included` peers
     * (the canonical payload list as a bitmap), the `gatherSet` for the next round, and the totals.
     */
    event RoundFinalized(
        uint256 indexed round,
        bytes32 indexed modelHash,
        bytes32 indexed payloadRoot,
        bytes medians,
        bytes included,
        bytes gatherSet,
        RoundTotals totals
    );
    /**
     * @notice `round` was finalized without quorum: no (hash, root) had more than half of the snapshot
     * stake (`bestWeight` of `snapshotWeight`; `submittedWeight` submitted). No hash, rewards or gather
     * set; nodes treat it like a round nobody scored.
     */
    event RoundSkipped(
        uint256 indexed round,
        uint256 submissions,
        uint256 snapshotWeight,
        uint256 submittedWeight,
        uint256 bestWeight
    );
    /// @notice `peer` was credited `amount` for `round` (its median score was `medianScore`).
    event PeerRewarded(uint256 indexed round, address indexed peer, uint256 medianScore, uint256 amount);
    /// @notice `validator` agreed with `round`'s canonical outcome, scored within the band, and got `amount`.
    event ValidatorRewarded(uint256 indexed round, address indexed validator, uint256 amount);
    /// @notice `validator` points to a checkpoint of θ after `round` (hash = the round's model hash).
    event CheckpointRecorded(uint256 indexed round, bytes32 indexed modelHash, address indexed validator, string uri);
    /// @notice `account` claimed `amount` reward tokens.
    event Claimed(address indexed account, uint256 amount);
    /// @notice The operator appended `configHash` to the config timeline: the run config from `fromRound` on.
    event ConfigAppended(uint256 indexed fromRound, bytes32 configHash);

    // ---------------------------------------------------------------- errors

    /// @dev A constructor parameter is out of range; `reason` names it.
    error TrainingRunInvalidParams(string reason);
    /// @dev The run starts at `genesis`; nothing has a round before it.
    error TrainingRunNotStarted(uint64 genesis);
    /// @dev `peer` already holds a registry slot.
    error TrainingRunPeerAlreadyRegistered(address peer);
    /// @dev Every one of the `maxPeers` slots is taken (slots free up as peers exit or are evicted).
    error TrainingRunPeerRegistryFull(uint256 maxPeers);
    /// @dev `account` holds no registry slot.
    error TrainingRunPeerNotRegistered(address account);
    /// @dev registerPeer must send exactly the bond: `sent` wei instead of `bond`.
    error TrainingRunBondMismatch(uint256 sent, uint256 bond);
    /// @dev A first stake of `stake` wei is below `minStake`.
    error TrainingRunStakeBelowMinimum(uint256 stake, uint256 minStake);
    /// @dev stake() was called without value.
    error TrainingRunStakeZero();
    /// @dev A stake of `stake` wei does not fit the uint96 weights.
    error TrainingRunStakeTooLarge(uint256 stake);
    /// @dev Every one of the `maxValidators` validator slots is taken.
    error TrainingRunValidatorSetFull(uint256 maxValidators);
    /// @dev `account` has no active stake.
    error TrainingRunValidatorNotStaked(address account);
    /// @dev `validator` had no stake when `round`'s scoring window opened, so it cannot score that round.
    error TrainingRunNotInSnapshot(uint256 round, address validator);
    /// @dev `validator` is unstaking; its stake can be withdrawn from `withdrawableAt`.
    error TrainingRunUnstakePending(address validator, uint64 withdrawableAt);
    /// @dev `validator` has not asked to unstake.
    error TrainingRunNoUnstakeRequested(address validator);
    /// @dev The stake can be withdrawn from `withdrawableAt`.
    error TrainingRunUnstakeDelayNotElapsed(uint64 withdrawableAt);
    /// @dev Sending `amount` wei to `to` failed.
    error TrainingRunTransferFailed(address to, uint256 amount);
    /// @dev `round`'s scoring window opens at `opensAt`.
    error TrainingRunScoringWindowNotOpen(uint256 round, uint256 opensAt);
    /// @dev `round`'s scoring window closed at `closedAt`.
    error TrainingRunScoringWindowClosed(uint256 round, uint256 closedAt);
    /// @dev `validator` already submitted for `round`.
    error TrainingRunAlreadySubmitted(uint256 round, address validator);
    /// @dev The model hash must not be zero (zero means "no hash" in views).
    error TrainingRunZeroModelHash();
    /// @dev Scores must be 2 bytes per peer and at most `peerCount` peers; `length` bytes were sent.
    error TrainingRunScoresLengthInvalid(uint256 length, uint256 peerCount);
    /// @dev The payload list is not 34-byte entries with strictly increasing peer indices below
    /// `peerCount`; the first bad entry starts at byte `offset`.
    error TrainingRunPayloadsInvalid(uint256 offset, uint256 peerCount);
    /// @dev `round` is finalized (or skipped, or its finalization has begun).
    error TrainingRunRoundAlreadyFinalized(uint256 round);
    /// @dev `round` has no submissions: it needs no finalize (nodes treat it like a skipped round).
    error TrainingRunRoundHasNoSubmissions(uint256 round);
    /// @dev The window closes at `closesAt` and not every validator of the snapshot has submitted.
    error TrainingRunRoundNotFinalizable(uint256 round, uint256 closesAt);
    /// @dev Round `previous` had submissions and is not finalized yet; rounds finalize in order.
    error TrainingRunPreviousRoundNotFinalized(uint256 previous);
    /// @dev finalizeRoundStep needs a page size of at least one peer.
    error TrainingRunZeroPageSize();
    /// @dev `round` has no canonical model hash (not finalized yet, or skipped).
    error TrainingRunRoundNotFinalized(uint256 round);
    /// @dev The checkpoint's hash `actual` is not round `round`'s model hash `expected`.
    error TrainingRunCheckpointHashMismatch(uint256 round, bytes32 expected, bytes32 actual);
    /// @dev A checkpoint exists for round `latest`, newer than `round`.
    error TrainingRunCheckpointNotNewer(uint256 round, uint256 latest);
    /// @dev Only a validator whose submission for `round` matched the canonical outcome records its checkpoint.
    error TrainingRunCheckpointNotAllowed(uint256 round, address validator);
    /// @dev `validator` already recorded a checkpoint for `round`.
    error TrainingRunCheckpointAlreadyRecorded(uint256 round, address validator);
    /// @dev `account` has no unclaimed rewards.
    error TrainingRunNothingToClaim(address account);
    /// @dev A config appended for `fromRound` must start at `earliest` (current round + 2) or later, so
    /// every node sees it at least one full round before it takes effect.
    error TrainingRunConfigTooSoon(uint256 fromRound, uint256 earliest);
    /// @dev A config appended for `fromRound` must start after the last timeline entry's round `last`.
    error TrainingRunConfigNotAfterLast(uint256 fromRound, uint256 last);
    /// @dev The config hash must not be zero (zero means "no config").
    error TrainingRunZeroConfigHash();
    /// @dev The timeline has `count` entries; entry `index` does not exist.
    error TrainingRunConfigIndexOutOfRange(uint256 index, uint256 count);
}
