// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {ReentrancyGuard} from "@openzeppelin/contracts/utils/ReentrancyGuard.sol";
import {RewardToken} from "./RewardToken.sol";
import {ScoreMath} from "./lib/ScoreMath.sol";

/**
 * @title TrainingRun
 * @notice The shared memory of one cotrain training run: the permissionless peer registry, the round
 * clock, validator stake, each round's score consensus (stake-weighted median per peer), the
 * model-state hash chain H(θ_{r+1}) and the rewards each participant can claim.
 *
 * Round r covers [genesis + r*roundSeconds, genesis + (r+1)*roundSeconds) in block.timestamp. Peers
 * publish round r's update by its submission deadline, genesis + (r+1)*roundSeconds + submissionSeconds;
 * validators submit scores for r in [deadline, deadline + scoringSeconds); anyone finalizes r after that
 * window, or as soon as every staked validator has submitted. Because scoringSeconds <= roundSeconds,
 * at most one round's scoring window is open at any time, so submissions arrive in round order.
 *
 * Storage per round is O(1): one model hash. The submissions of a round are kept only until it is
 * finalized (finalize needs them) and are then deleted; scores, medians and sets live in events.
 * See docs/contract.md for the encodings and every decision.
 */
contract TrainingRun is ReentrancyGuard {
    using ScoreMath for bytes;

    /// @notice Parameters fixed at deployment.
    struct RunParams {
        bytes32 configHash; // sha256/keccak of the network file (model, hparams, dataset manifest)
        uint64 genesis; // start of round 0, unix seconds (chain time)
        uint32 roundSeconds;
        uint32 submissionSeconds; // peers' publishing time into the next round
        uint32 scoringSeconds; // validators' window after the submission deadline (<= roundSeconds)
        uint32 unstakeDelay; // seconds between requestUnstake and withdraw
        uint16 gatherSize; // G: peers in the next gather set
        uint16 maxPeers; // registry cap: bounds finalizeRound's gas (it loops over peers)
        uint16 maxValidators; // bounds finalizeRound's gas (it loops over submissions)
        uint16 validatorShareBps; // share of rewardPerRound paid to validators agreeing on the model hash
        uint16 ratingAlphaBps; // EMA weight of a round's median in a peer's rating
        uint128 rewardPerRound; // reward tokens minted per finalized round (at most)
        uint128 minStake; // native currency (wei) a validator must stake
    }

    /// @notice Aggregates of a finalized round, emitted in RoundFinalized.
    struct RoundTotals {
        uint32 submissions;
        uint128 totalWeight;
        uint128 agreeingWeight;
        uint256 scoreSum;
        uint256 peerRewards;
        uint256 validatorRewards;
    }

    struct Peer {
        address account;
        uint96 pending; // unclaimed reward
    }

    struct Validator {
        uint128 stake;
        uint64 unstakeAt; // 0: active; else the time withdraw() becomes possible
        uint64 lastRoundPlus1; // last round this validator submitted for, plus one (0: never)
        uint128 pending; // unclaimed reward
    }

    struct Submission {
        address validator;
        uint96 weight; // stake when submitted
        bytes32 modelHash;
        bytes included;
        bytes scores;
    }

    struct RoundData {
        uint64 prevPlus1; // previous round that received submissions, plus one (0: none)
        Submission[] submissions;
    }

    uint256 private constant _BPS = 10_000;
    uint256 private constant _RATING_ONE = 256; // ratings keep 8 fractional bits of a uint16 score
    // Set in every stored rating from registration on, so finalize's rating writes never pay for a
    // zero-to-nonzero slot (20k gas per 8 peers); the registering peer pays it instead.
    uint32 private constant _RATING_SET = 1 << 31;

    bytes32 private immutable _configHash;
    uint64 private immutable _genesis;
    uint32 private immutable _roundSeconds;
    uint32 private immutable _submissionSeconds;
    uint32 private immutable _scoringSeconds;
    uint32 private immutable _unstakeDelay;
    uint16 private immutable _gatherSize;
    uint16 private immutable _maxPeers;
    uint16 private immutable _maxValidators;
    uint16 private immutable _validatorShareBps;
    uint16 private immutable _ratingAlphaBps;
    uint128 private immutable _rewardPerRound;
    uint128 private immutable _minStake;
    RewardToken private immutable _token;

    Peer[] private _peers;
    uint32[] private _ratings; // by peer index; packed 8 per slot
    mapping(address account => uint256) private _peerIndexPlus1;

    mapping(address account => Validator) private _validators;
    uint32 private _activeValidators;
    uint128 private _activeStake;

    mapping(uint256 round => RoundData) private _rounds;
    mapping(uint256 round => bytes32) private _modelHashes;
    uint64 private _latestSubmittedPlus1;
    uint64 private _lastFinalizedPlus1;
    uint64 private _gatherSetRoundPlus1;
    bytes private _gatherSet;

    uint64 private _checkpointRound;
    bytes32 private _checkpointHash;

    // ---------------------------------------------------------------- events

    /// @notice `peer` joined with registry index `index`; `metadata` is a hint (e.g. multiaddrs).
    event PeerRegistered(address indexed peer, uint16 indexed index, bytes metadata);
    /// @notice `validator` added `amount` wei; `totalStake` is its stake now.
    event ValidatorStaked(address indexed validator, uint256 amount, uint256 totalStake);
    /// @notice `validator` stopped validating; its `amount` can be withdrawn from `withdrawableAt`.
    event UnstakeRequested(address indexed validator, uint256 amount, uint64 withdrawableAt);
    /// @notice `validator` took back its `amount` wei of stake.
    event ValidatorWithdrew(address indexed validator, uint256 amount);
    /**
     * @notice `validator` (stake `weight`) scored `round`: its aggregate model hash H(θ_{round+1}), the
     * bitmap of peers whose updates it aggregated, one uint16 score per peer index, and the per-peer
     * score components it computed (opaque to the contract; layout in docs/contract.md).
     */
    event ScoresSubmitted(
        uint256 indexed round,
        address indexed validator,
        bytes32 indexed modelHash,
        uint256 weight,
        bytes included,
        bytes scores,
        bytes components
    );
    /**
     * @notice `round` is final: canonical `modelHash` = H(θ_{round+1}), the stake-weighted `medians`
     * (uint16 per peer index), the `included` set (peers aggregated by a stake majority) and the
     * `gatherSet` for the next round (bitmaps), and the round's totals.
     */
    event RoundFinalized(
        uint256 indexed round,
        bytes32 indexed modelHash,
        bytes medians,
        bytes included,
        bytes gatherSet,
        RoundTotals totals
    );
    /// @notice `peer` was credited `amount` for `round` (its median score was `medianScore`).
    event PeerRewarded(uint256 indexed round, address indexed peer, uint256 medianScore, uint256 amount);
    /// @notice `validator` agreed with the canonical model hash of `round` and was credited `amount`.
    event ValidatorRewarded(uint256 indexed round, address indexed validator, uint256 amount);
    /// @notice `validator` points to a checkpoint of θ after `round` (hash = the round's model hash).
    event CheckpointRecorded(uint256 indexed round, bytes32 indexed modelHash, address indexed validator, string uri);
    /// @notice `account` claimed `amount` reward tokens.
    event Claimed(address indexed account, uint256 amount);

    // ---------------------------------------------------------------- errors

    /// @dev A constructor parameter is out of range; `reason` names it.
    error TrainingRunInvalidParams(string reason);
    /// @dev The run starts at `genesis`; nothing has a round before it.
    error TrainingRunNotStarted(uint64 genesis);
    error PeerAlreadyRegistered(address peer);
    error PeerRegistryFull(uint256 maxPeers);
    error PeerNotRegistered(address account);
    error StakeBelowMinimum(uint256 stake, uint256 minStake);
    error StakeZero();
    error StakeTooLarge(uint256 stake);
    error ValidatorSetFull(uint256 maxValidators);
    error ValidatorNotStaked(address account);
    error UnstakePending(address validator, uint64 withdrawableAt);
    error NoUnstakeRequested(address validator);
    error UnstakeDelayNotElapsed(uint64 withdrawableAt);
    error TransferFailed(address to, uint256 amount);
    error ScoringWindowNotOpen(uint256 round, uint256 opensAt);
    error ScoringWindowClosed(uint256 round, uint256 closedAt);
    error AlreadySubmitted(uint256 round, address validator);
    error ZeroModelHash();
    error ScoresLengthInvalid(uint256 length, uint256 peerCount);
    error BitmapLengthInvalid(uint256 length, uint256 peerCount);
    error RoundAlreadyFinalized(uint256 round);
    error RoundHasNoSubmissions(uint256 round);
    /// @dev The window closes at `closesAt` and not every staked validator has submitted yet.
    error RoundNotFinalizable(uint256 round, uint256 closesAt);
    error PreviousRoundNotFinalized(uint256 previous);
    error RoundNotFinalized(uint256 round);
    error CheckpointHashMismatch(uint256 round, bytes32 expected, bytes32 actual);
    error CheckpointNotNewer(uint256 round, uint256 latest);
    error NothingToClaim(address account);

    // ---------------------------------------------------------------- construction

    /// @param p run parameters; `tokenName`/`tokenSymbol` name the RewardToken deployed here.
    constructor(RunParams memory p, string memory tokenName, string memory tokenSymbol) {
        if (p.roundSeconds == 0) revert TrainingRunInvalidParams("roundSeconds");
        if (p.submissionSeconds >= p.roundSeconds) revert TrainingRunInvalidParams("submissionSeconds");
        // One open scoring window at a time keeps submissions in round order (see the contract notice).
        if (p.scoringSeconds == 0 || p.scoringSeconds > p.roundSeconds) revert TrainingRunInvalidParams("scoringSeconds");
        if (p.gatherSize == 0) revert TrainingRunInvalidParams("gatherSize");
        if (p.maxPeers == 0) revert TrainingRunInvalidParams("maxPeers");
        if (p.maxValidators == 0) revert TrainingRunInvalidParams("maxValidators");
        if (p.validatorShareBps > _BPS) revert TrainingRunInvalidParams("validatorShareBps");
        if (p.ratingAlphaBps == 0 || p.ratingAlphaBps > _BPS) revert TrainingRunInvalidParams("ratingAlphaBps");
        if (p.minStake == 0) revert TrainingRunInvalidParams("minStake");
        // uint96 per-peer balances: a round can never credit more than that.
        if (p.rewardPerRound > type(uint96).max / 1_000_000) revert TrainingRunInvalidParams("rewardPerRound");
        _configHash = p.configHash;
        _genesis = p.genesis;
        _roundSeconds = p.roundSeconds;
        _submissionSeconds = p.submissionSeconds;
        _scoringSeconds = p.scoringSeconds;
        _unstakeDelay = p.unstakeDelay;
        _gatherSize = p.gatherSize;
        _maxPeers = p.maxPeers;
        _maxValidators = p.maxValidators;
        _validatorShareBps = p.validatorShareBps;
        _ratingAlphaBps = p.ratingAlphaBps;
        _rewardPerRound = p.rewardPerRound;
        _minStake = p.minStake;
        _token = new RewardToken(tokenName, tokenSymbol);
    }

    // ---------------------------------------------------------------- peers

    /// @notice Registers the sender as a peer (permissionless; the address is the identity, the same
    /// key as its libp2p PeerId). `metadata` is emitted only (e.g. multiaddr hints).
    function registerPeer(bytes calldata metadata) external returns (uint16 index) {
        if (_peerIndexPlus1[msg.sender] != 0) revert PeerAlreadyRegistered(msg.sender);
        uint256 count = _peers.length;
        if (count >= _maxPeers) revert PeerRegistryFull(_maxPeers);
        index = uint16(count);
        _peers.push(Peer({account: msg.sender, pending: 0}));
        _ratings.push(_RATING_SET);
        _peerIndexPlus1[msg.sender] = count + 1;
        emit PeerRegistered(msg.sender, index, metadata);
    }

    // ---------------------------------------------------------------- validators

    /// @notice Stakes native currency; the first stake must reach minStake and a free validator slot.
    function stake() external payable {
        if (msg.value == 0) revert StakeZero();
        Validator storage v = _validators[msg.sender];
        if (v.unstakeAt != 0) revert UnstakePending(msg.sender, v.unstakeAt);
        uint256 total = uint256(v.stake) + msg.value;
        // Submissions record stake as a uint96 weight (7.9e28 wei: more than any native supply).
        if (total > type(uint96).max) revert StakeTooLarge(total);
        if (v.stake == 0) {
            if (total < _minStake) revert StakeBelowMinimum(total, _minStake);
            if (_activeValidators >= _maxValidators) revert ValidatorSetFull(_maxValidators);
            ++_activeValidators;
        }
        v.stake = uint128(total);
        _activeStake += uint128(msg.value);
        emit ValidatorStaked(msg.sender, msg.value, total);
    }

    /// @notice Stops validating now; the stake stays locked for unstakeDelay (room for slashing later).
    function requestUnstake() external {
        Validator storage v = _validators[msg.sender];
        if (v.stake == 0) revert ValidatorNotStaked(msg.sender);
        if (v.unstakeAt != 0) revert UnstakePending(msg.sender, v.unstakeAt);
        uint64 at = uint64(block.timestamp) + _unstakeDelay;
        v.unstakeAt = at;
        --_activeValidators;
        _activeStake -= v.stake;
        emit UnstakeRequested(msg.sender, v.stake, at);
    }

    /// @notice Sends the stake back once the unstake delay has passed.
    function withdraw() external nonReentrant {
        Validator storage v = _validators[msg.sender];
        if (v.unstakeAt == 0) revert NoUnstakeRequested(msg.sender);
        if (block.timestamp < v.unstakeAt) revert UnstakeDelayNotElapsed(v.unstakeAt);
        uint256 amount = v.stake;
        v.stake = 0;
        v.unstakeAt = 0;
        emit ValidatorWithdrew(msg.sender, amount);
        (bool ok, ) = payable(msg.sender).call{value: amount}("");
        if (!ok) revert TransferFailed(msg.sender, amount);
    }

    // ---------------------------------------------------------------- rounds

    /**
     * @notice A staked validator's verdict on `round`, once, inside the round's scoring window.
     * @param modelHash H(θ_{round+1}) the validator computed by aggregating `included`.
     * @param included bitmap over peer indices (bit i of byte i/8, LSB first).
     * @param scores one big-endian uint16 per peer index; peers past the end score 0.
     * @param components per-peer score components, emitted only (layout in docs/contract.md).
     */
    function submitScores(
        uint256 round,
        bytes32 modelHash,
        bytes calldata included,
        bytes calldata scores,
        bytes calldata components
    ) external {
        Validator storage v = _validators[msg.sender];
        if (v.stake == 0 || v.unstakeAt != 0) revert ValidatorNotStaked(msg.sender);
        (uint256 opensAt, uint256 closesAt) = scoringWindow(round);
        if (block.timestamp < opensAt) revert ScoringWindowNotOpen(round, opensAt);
        if (block.timestamp >= closesAt) revert ScoringWindowClosed(round, closesAt);
        if (_lastFinalizedPlus1 > round) revert RoundAlreadyFinalized(round);
        if (v.lastRoundPlus1 == round + 1) revert AlreadySubmitted(round, msg.sender);
        if (modelHash == bytes32(0)) revert ZeroModelHash();
        uint256 nPeers = _peers.length;
        if (scores.length % 2 != 0 || scores.length > nPeers * 2) revert ScoresLengthInvalid(scores.length, nPeers);
        if (included.length > (nPeers + 7) / 8) revert BitmapLengthInvalid(included.length, nPeers);

        v.lastRoundPlus1 = uint64(round + 1);
        RoundData storage rd = _rounds[round];
        if (rd.submissions.length == 0) {
            // First submission of this round: link it behind the previous round that had any, so
            // finalize can enforce order without walking over empty rounds (they are skipped).
            rd.prevPlus1 = _latestSubmittedPlus1;
            _latestSubmittedPlus1 = uint64(round + 1);
        }
        rd.submissions.push(
            Submission({
                validator: msg.sender,
                weight: uint96(v.stake),
                modelHash: modelHash,
                included: included,
                scores: scores
            })
        );
        emit ScoresSubmitted(round, msg.sender, modelHash, v.stake, included, scores, components);
    }

    /**
     * @notice Finalizes `round`: stake-weighted median per peer, canonical model hash, rewards, the
     * next gather set. Anyone may call it after the scoring window, or earlier once every staked
     * validator has submitted. The previous round that received submissions must be final first;
     * rounds without submissions are skipped (they need no transaction).
     */
    function finalizeRound(uint256 round) external {
        if (_lastFinalizedPlus1 > round) revert RoundAlreadyFinalized(round);
        RoundData storage rd = _rounds[round];
        uint256 n = rd.submissions.length;
        if (n == 0) revert RoundHasNoSubmissions(round);
        (, uint256 closesAt) = scoringWindow(round);
        if (block.timestamp < closesAt && n < _activeValidators) revert RoundNotFinalizable(round, closesAt);
        if (rd.prevPlus1 > _lastFinalizedPlus1) revert PreviousRoundNotFinalized(rd.prevPlus1 - 1);

        Submission[] memory subs = rd.submissions;
        _lastFinalizedPlus1 = uint64(round + 1);
        delete _rounds[round];

        RoundTotals memory totals;
        totals.submissions = uint32(n);
        bytes32 modelHash;
        (modelHash, totals.totalWeight, totals.agreeingWeight) = _canonicalHash(subs);
        _modelHashes[round] = modelHash;

        (bytes memory medians, bytes memory included, uint256[] memory medianValues, uint256 scoreSum) =
            _medians(subs, _peers.length, totals.totalWeight);
        totals.scoreSum = scoreSum;

        uint256 validatorPool = (uint256(_rewardPerRound) * _validatorShareBps) / _BPS;
        uint256 peerPool = scoreSum == 0 ? 0 : _rewardPerRound - validatorPool;
        totals.peerRewards = _creditPeers(round, medianValues, peerPool, scoreSum);
        totals.validatorRewards = _creditValidators(round, subs, modelHash, validatorPool, totals.agreeingWeight);

        bytes memory gather = _updateRatingsAndGather(medianValues);
        _gatherSet = gather;
        _gatherSetRoundPlus1 = uint64(round + 1);
        emit RoundFinalized(round, modelHash, medians, included, gather, totals);
    }

    /// @notice Points to a checkpoint of θ after a finalized `round`; `modelHash` must be its hash.
    function recordCheckpoint(uint256 round, bytes32 modelHash, string calldata uri) external {
        Validator storage v = _validators[msg.sender];
        if (v.stake == 0 || v.unstakeAt != 0) revert ValidatorNotStaked(msg.sender);
        bytes32 expected = _modelHashes[round];
        if (expected == bytes32(0)) revert RoundNotFinalized(round);
        if (expected != modelHash) revert CheckpointHashMismatch(round, expected, modelHash);
        if (_checkpointHash != bytes32(0) && round <= _checkpointRound) revert CheckpointNotNewer(round, _checkpointRound);
        _checkpointRound = uint64(round);
        _checkpointHash = modelHash;
        emit CheckpointRecorded(round, modelHash, msg.sender, uri);
    }

    // ---------------------------------------------------------------- rewards

    /// @notice Mints the sender's unclaimed peer and validator rewards to it.
    function claim() external nonReentrant returns (uint256 amount) {
        uint256 idx1 = _peerIndexPlus1[msg.sender];
        if (idx1 != 0) {
            Peer storage p = _peers[idx1 - 1];
            amount = p.pending;
            p.pending = 0;
        }
        Validator storage v = _validators[msg.sender];
        amount += v.pending;
        v.pending = 0;
        if (amount == 0) revert NothingToClaim(msg.sender);
        emit Claimed(msg.sender, amount);
        _token.mint(msg.sender, amount);
    }

    // ---------------------------------------------------------------- views

    /// @notice All deployment parameters.
    function runParams() external view returns (RunParams memory) {
        return RunParams({
            configHash: _configHash,
            genesis: _genesis,
            roundSeconds: _roundSeconds,
            submissionSeconds: _submissionSeconds,
            scoringSeconds: _scoringSeconds,
            unstakeDelay: _unstakeDelay,
            gatherSize: _gatherSize,
            maxPeers: _maxPeers,
            maxValidators: _maxValidators,
            validatorShareBps: _validatorShareBps,
            ratingAlphaBps: _ratingAlphaBps,
            rewardPerRound: _rewardPerRound,
            minStake: _minStake
        });
    }

    /// @notice Hash of the network file this run trains (model, hparams, dataset manifest).
    function configHash() external view returns (bytes32) {
        return _configHash;
    }

    /// @notice The ERC-20 rewards are minted in.
    function rewardToken() external view returns (address) {
        return address(_token);
    }

    /// @notice The round block.timestamp falls in; reverts before genesis.
    function currentRound() external view returns (uint256) {
        if (block.timestamp < _genesis) revert TrainingRunNotStarted(_genesis);
        return (block.timestamp - _genesis) / _roundSeconds;
    }

    /// @notice Start of `round` (unix seconds).
    function roundStart(uint256 round) public view returns (uint256) {
        return uint256(_genesis) + round * _roundSeconds;
    }

    /// @notice Peers must have published round `round`'s update by this time.
    function submissionDeadline(uint256 round) public view returns (uint256) {
        return roundStart(round + 1) + _submissionSeconds;
    }

    /// @notice submitScores(round) is accepted in [opensAt, closesAt).
    function scoringWindow(uint256 round) public view returns (uint256 opensAt, uint256 closesAt) {
        opensAt = submissionDeadline(round);
        closesAt = opensAt + _scoringSeconds;
    }

    function peerCount() external view returns (uint256) {
        return _peers.length;
    }

    /// @notice Address of peer `index`.
    function peerAt(uint256 index) external view returns (address) {
        return _peers[index].account;
    }

    /// @notice All registered peers by index (convenience for small registries; use peerAt to page).
    function peers() external view returns (address[] memory list) {
        uint256 count = _peers.length;
        list = new address[](count);
        for (uint256 i = 0; i < count; ++i) list[i] = _peers[i].account;
    }

    function isPeer(address account) external view returns (bool) {
        return _peerIndexPlus1[account] != 0;
    }

    /// @notice Registry index of `account`; reverts if it is not a peer.
    function peerIndex(address account) external view returns (uint16) {
        uint256 idx1 = _peerIndexPlus1[account];
        if (idx1 == 0) revert PeerNotRegistered(account);
        return uint16(idx1 - 1);
    }

    /// @notice EMA rating of peer `index` in score units times 256 (the gather-set ranking key).
    function peerRating(uint256 index) external view returns (uint256) {
        return _ratings[index] & ~_RATING_SET;
    }

    /// @notice True while `account` has stake and has not asked to unstake.
    function isValidator(address account) external view returns (bool) {
        Validator storage v = _validators[account];
        return v.stake != 0 && v.unstakeAt == 0;
    }

    /// @notice Stake of `account` and when it can be withdrawn (0: not unstaking).
    function stakeOf(address account) external view returns (uint256 amount, uint64 withdrawableAt) {
        Validator storage v = _validators[account];
        return (v.stake, v.unstakeAt);
    }

    /// @notice Number of active validators and their total stake.
    function activeValidators() external view returns (uint256 count, uint256 totalStake) {
        return (_activeValidators, _activeStake);
    }

    /// @notice True iff `validator`'s latest submission is for `round` (exact for the round whose
    /// scoring window is open, which is when a validator asks; history lives in ScoresSubmitted).
    function hasSubmitted(uint256 round, address validator) external view returns (bool) {
        return _validators[validator].lastRoundPlus1 == round + 1;
    }

    /// @notice Submissions so far for a round not yet finalized (0 once finalized).
    function submissionCount(uint256 round) external view returns (uint256) {
        return _rounds[round].submissions.length;
    }

    /// @notice Canonical H(θ_{round+1}) of a finalized round; zero if not finalized or skipped.
    function modelHashOf(uint256 round) external view returns (bytes32) {
        return _modelHashes[round];
    }

    /// @notice The last finalized round (`exists` false before the first finalization).
    function lastFinalizedRound() external view returns (bool exists, uint256 round) {
        if (_lastFinalizedPlus1 == 0) return (false, 0);
        return (true, _lastFinalizedPlus1 - 1);
    }

    /// @notice The gather set finalized with `round` (applies to round + 1's outer step). Before any
    /// finalization `exists` is false and the gather set is every registered peer.
    function lastGatherSet() external view returns (bool exists, uint256 round, bytes memory bitmap) {
        if (_gatherSetRoundPlus1 == 0) return (false, 0, "");
        return (true, _gatherSetRoundPlus1 - 1, _gatherSet);
    }

    /// @notice Newest checkpoint recorded (`exists` false if none).
    function latestCheckpoint() external view returns (bool exists, uint256 round, bytes32 modelHash) {
        return (_checkpointHash != bytes32(0), _checkpointRound, _checkpointHash);
    }

    /// @notice Unclaimed rewards of `account` (peer and validator balances together).
    function pendingRewards(address account) external view returns (uint256 amount) {
        uint256 idx1 = _peerIndexPlus1[account];
        if (idx1 != 0) amount = _peers[idx1 - 1].pending;
        amount += _validators[account].pending;
    }

    // ---------------------------------------------------------------- finalize internals

    /// @dev Stake-weighted plurality of the submitted model hashes; ties go to the earliest submitted.
    function _canonicalHash(Submission[] memory subs)
        private
        pure
        returns (bytes32 best, uint128 totalWeight, uint128 bestWeight)
    {
        uint256 n = subs.length;
        for (uint256 i = 0; i < n; ++i) {
            totalWeight += subs[i].weight;
            bytes32 h = subs[i].modelHash;
            bool seen = false;
            for (uint256 j = 0; j < i; ++j) {
                if (subs[j].modelHash == h) {
                    seen = true;
                    break;
                }
            }
            if (seen) continue;
            uint128 w = 0;
            for (uint256 j = i; j < n; ++j) if (subs[j].modelHash == h) w += subs[j].weight;
            if (w > bestWeight) (best, bestWeight) = (h, w);
        }
    }

    /// @dev Per peer: the weighted median score (over all submissions; missing = 0) and whether a
    /// stake majority included it. Returns the encodings for the event and the medians as numbers.
    function _medians(Submission[] memory subs, uint256 nPeers, uint256 totalWeight)
        private
        pure
        returns (bytes memory medians, bytes memory included, uint256[] memory values, uint256 scoreSum)
    {
        uint256 n = subs.length;
        medians = new bytes(nPeers * 2);
        included = new bytes((nPeers + 7) / 8);
        values = new uint256[](nPeers);
        uint256[] memory pairs = new uint256[](n);
        for (uint256 i = 0; i < nPeers; ++i) {
            uint256 inWeight = 0;
            for (uint256 k = 0; k < n; ++k) {
                Submission memory s = subs[k];
                pairs[k] = (s.scores.scoreAt(i) << 128) | s.weight;
                if (s.included.bitAt(i)) inWeight += s.weight;
            }
            uint256 m = ScoreMath.weightedMedian(pairs, n, totalWeight);
            values[i] = m;
            scoreSum += m;
            medians[2 * i] = bytes1(uint8(m >> 8));
            medians[2 * i + 1] = bytes1(uint8(m));
            if (inWeight * 2 > totalWeight) included[i >> 3] |= bytes1(uint8(1 << (i & 7)));
        }
    }

    /// @dev Credits peers pro rata to their median score; returns the total credited.
    function _creditPeers(uint256 round, uint256[] memory medianValues, uint256 pool, uint256 scoreSum)
        private
        returns (uint256 credited)
    {
        if (pool == 0) return 0;
        uint256 count = medianValues.length;
        for (uint256 i = 0; i < count; ++i) {
            uint256 m = medianValues[i];
            if (m == 0) continue;
            uint256 amount = (pool * m) / scoreSum;
            if (amount == 0) continue;
            Peer storage p = _peers[i];
            // Fits: pool <= rewardPerRound <= uint96.max / 1e6, so 1e6 rounds of it fit too.
            p.pending += uint96(amount);
            credited += amount;
            emit PeerRewarded(round, p.account, m, amount);
        }
    }

    /// @dev Credits validators that submitted the canonical hash, pro rata to stake weight.
    function _creditValidators(
        uint256 round,
        Submission[] memory subs,
        bytes32 modelHash,
        uint256 pool,
        uint256 agreeingWeight
    ) private returns (uint256 credited) {
        if (pool == 0 || agreeingWeight == 0) return 0;
        uint256 n = subs.length;
        for (uint256 k = 0; k < n; ++k) {
            if (subs[k].modelHash != modelHash) continue;
            uint256 amount = (pool * subs[k].weight) / agreeingWeight;
            if (amount == 0) continue;
            _validators[subs[k].validator].pending += uint128(amount);
            credited += amount;
            emit ValidatorRewarded(round, subs[k].validator, amount);
        }
    }

    /**
     * @dev rating ← rating + α·(256·median − rating) for every peer (unscored peers decay), then the
     * next gather set: top-G by (rating desc, index asc). While no peer has a positive rating the
     * gather set is every registered peer (DESIGN step 5).
     */
    function _updateRatingsAndGather(uint256[] memory medianValues) private returns (bytes memory gather) {
        uint256 count = medianValues.length;
        uint256 g = _gatherSize < count ? _gatherSize : count;
        // top[j] = rating << 16 | (0xffff - index): one descending sort key, ties to the lower index.
        uint256[] memory top = new uint256[](g);
        uint256 filled = 0;
        bool anyRated = false;
        uint256 alpha = _ratingAlphaBps;
        for (uint256 i = 0; i < count; ++i) {
            uint256 old = _ratings[i] & ~_RATING_SET;
            uint256 target = medianValues[i] * _RATING_ONE;
            uint256 rating = (old * (_BPS - alpha) + target * alpha) / _BPS;
            if (rating != old) _ratings[i] = uint32(rating) | _RATING_SET;
            if (rating != 0) anyRated = true;
            uint256 key = (rating << 16) | (0xffff - i);
            if (filled < g) {
                ++filled;
            } else if (key <= top[g - 1]) {
                continue;
            }
            uint256 j = filled - 1;
            while (j > 0 && top[j - 1] < key) {
                top[j] = top[j - 1];
                --j;
            }
            top[j] = key;
        }
        gather = new bytes((count + 7) / 8);
        if (!anyRated) {
            for (uint256 i = 0; i < count; ++i) gather[i >> 3] |= bytes1(uint8(1 << (i & 7)));
            return gather;
        }
        for (uint256 j = 0; j < filled; ++j) {
            uint256 i = 0xffff - (top[j] & 0xffff);
            gather[i >> 3] |= bytes1(uint8(1 << (i & 7)));
        }
    }
}
