// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {ReentrancyGuard} from "@openzeppelin/contracts/utils/ReentrancyGuard.sol";
import {Checkpoints} from "@openzeppelin/contracts/utils/structs/Checkpoints.sol";
import {RunClock} from "./RunClock.sol";

/**
 * @title ValidatorStakes
 * @notice Validator stake with a history (OpenZeppelin Checkpoints keyed by block.timestamp), so each
 * round has a stake snapshot: every validator's stake just before the round's scoring window opens.
 * Staking, unstaking or withdrawing after that moment changes nothing for the round. At any instant at
 * most maxValidators hold stake, so a snapshot has at most maxValidators members.
 */
abstract contract ValidatorStakes is RunClock, ReentrancyGuard {
    using Checkpoints for Checkpoints.Trace208;

    /// @dev Upper bound of maxValidators: every finalize step loops over the round's submissions.
    uint256 internal constant _MAX_VALIDATORS = 32;
    /// @dev unstakeDelay must cover this many rounds: more than a scoring window (<= 1 round), and the
    /// finalize that follows it, so stake stays locked while it can still count (and be slashed, later).
    uint256 private constant _MIN_UNSTAKE_ROUNDS = 3;

    struct Validator {
        uint128 stake;
        uint64 unstakeAt; // 0: active; else the time withdraw() becomes possible
    }

    uint128 private immutable _minStake;
    uint16 private immutable _maxValidators;
    uint32 private immutable _unstakeDelay;

    mapping(address account => Validator) private _validators;
    mapping(address account => Checkpoints.Trace208) private _stakeHistory;
    Checkpoints.Trace208 private _totalStakeHistory;
    Checkpoints.Trace208 private _countHistory;

    /// @param p run parameters; this contract checks and keeps the stake ones.
    constructor(RunParams memory p) {
        if (p.minStake == 0) revert TrainingRunInvalidParams("minStake");
        if (p.maxValidators == 0 || p.maxValidators > _MAX_VALIDATORS) revert TrainingRunInvalidParams("maxValidators");
        if (uint256(p.unstakeDelay) < _MIN_UNSTAKE_ROUNDS * p.roundSeconds) revert TrainingRunInvalidParams("unstakeDelay");
        _minStake = p.minStake;
        _maxValidators = p.maxValidators;
        _unstakeDelay = p.unstakeDelay;
    }

    /// @notice Stakes native currency; the first stake must reach minStake and a free validator slot.
    /// The new stake counts from the next snapshot (a round whose scoring window opens later).
    function stake() external payable {
        if (msg.value == 0) revert TrainingRunStakeZero();
        Validator storage v = _validators[msg.sender];
        if (v.unstakeAt != 0) revert TrainingRunUnstakePending(msg.sender, v.unstakeAt);
        uint256 total = uint256(v.stake) + msg.value;
        // Submissions record stake as a uint96 weight (7.9e28 wei: more than any native supply).
        if (total > type(uint96).max) revert TrainingRunStakeTooLarge(total);
        if (v.stake == 0) {
            if (total < _minStake) revert TrainingRunStakeBelowMinimum(total, _minStake);
            uint256 count = _countHistory.latest();
            if (count >= _maxValidators) revert TrainingRunValidatorSetFull(_maxValidators);
            _countHistory.push(_now(), uint208(count + 1));
        }
        v.stake = uint128(total);
        _stakeHistory[msg.sender].push(_now(), uint208(total));
        _totalStakeHistory.push(_now(), _totalStakeHistory.latest() + uint208(msg.value));
        emit ValidatorStaked(msg.sender, msg.value, total);
    }

    /// @notice Stops validating from the next snapshot on; the stake stays locked for unstakeDelay. A
    /// round whose snapshot is already taken still counts this validator, with its snapshot stake.
    function requestUnstake() external {
        Validator storage v = _validators[msg.sender];
        if (v.stake == 0) revert TrainingRunValidatorNotStaked(msg.sender);
        if (v.unstakeAt != 0) revert TrainingRunUnstakePending(msg.sender, v.unstakeAt);
        uint64 at = uint64(block.timestamp) + _unstakeDelay;
        v.unstakeAt = at;
        _stakeHistory[msg.sender].push(_now(), 0);
        _totalStakeHistory.push(_now(), _totalStakeHistory.latest() - v.stake);
        _countHistory.push(_now(), _countHistory.latest() - 1);
        emit UnstakeRequested(msg.sender, v.stake, at);
    }

    /// @notice Sends the stake back once the unstake delay has passed.
    function withdraw() external nonReentrant {
        Validator storage v = _validators[msg.sender];
        if (v.unstakeAt == 0) revert TrainingRunNoUnstakeRequested(msg.sender);
        if (block.timestamp < v.unstakeAt) revert TrainingRunUnstakeDelayNotElapsed(v.unstakeAt);
        uint256 amount = v.stake;
        v.stake = 0;
        v.unstakeAt = 0;
        emit ValidatorWithdrew(msg.sender, amount);
        (bool ok, ) = payable(msg.sender).call{value: amount}("");
        if (!ok) revert TrainingRunTransferFailed(msg.sender, amount);
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

    /// @notice Number of active validators and their total stake now.
    function activeValidators() external view returns (uint256 count, uint256 totalStake) {
        return (_countHistory.latest(), _totalStakeHistory.latest());
    }

    /// @notice `round`'s stake snapshot: validators holding stake just before its scoring window opens
    /// and their total stake (final once the window is open; before that it follows the current stake).
    function roundSnapshot(uint256 round) public view returns (uint256 validators, uint256 totalStake) {
        uint48 key = _snapshotKey(round);
        return (_countHistory.upperLookupRecent(key), _totalStakeHistory.upperLookupRecent(key));
    }

    /// @notice `account`'s stake in `round`'s snapshot (its weight in that round; 0: it cannot submit).
    function stakeAt(address account, uint256 round) public view returns (uint256) {
        return _stakeHistory[account].upperLookupRecent(_snapshotKey(round));
    }

    /// @dev The stake parameters, for runParams().
    function _stakeParams() internal view returns (uint128 minStake, uint16 maxValidators, uint32 unstakeDelay) {
        return (_minStake, _maxValidators, _unstakeDelay);
    }

    /// @dev Checkpoint key of `round`'s snapshot: the last second before its scoring window opens.
    function _snapshotKey(uint256 round) private view returns (uint48) {
        (uint256 opensAt, ) = scoringWindow(round);
        return uint48(opensAt - 1);
    }

    /// @dev Checkpoint key of a change made now.
    function _now() private view returns (uint48) {
        return uint48(block.timestamp);
    }
}
