// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {ITrainingRun} from "../interfaces/ITrainingRun.sol";

/**
 * @title RunClock
 * @notice The round schedule in block.timestamp. Round r covers [genesis + r·R, genesis + (r+1)·R); peers
 * publish round r's update by its submission deadline, genesis + (r+1)·R + submissionSeconds; validators
 * score r in [deadline, deadline + scoringSeconds). Because scoringSeconds <= R at most one scoring window
 * is open at any time, so submissions arrive in round order.
 */
abstract contract RunClock is ITrainingRun {
    uint64 private immutable _genesis;
    uint32 private immutable _roundSeconds;
    uint32 private immutable _submissionSeconds;
    uint32 private immutable _scoringSeconds;

    /// @param p run parameters; this contract checks and keeps the timing ones.
    constructor(RunParams memory p) {
        if (p.roundSeconds == 0) revert TrainingRunInvalidParams("roundSeconds");
        if (p.submissionSeconds >= p.roundSeconds) revert TrainingRunInvalidParams("submissionSeconds");
        // One open scoring window at a time keeps submissions in round order.
        if (p.scoringSeconds == 0 || p.scoringSeconds > p.roundSeconds) revert TrainingRunInvalidParams("scoringSeconds");
        _genesis = p.genesis;
        _roundSeconds = p.roundSeconds;
        _submissionSeconds = p.submissionSeconds;
        _scoringSeconds = p.scoringSeconds;
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

    /// @notice submitScores(round) is accepted in [opensAt, closesAt); the stake snapshot of `round` is
    /// every validator's stake just before opensAt.
    function scoringWindow(uint256 round) public view returns (uint256 opensAt, uint256 closesAt) {
        opensAt = submissionDeadline(round);
        closesAt = opensAt + _scoringSeconds;
    }

    /// @dev The current round, 0 before genesis (a peer registered before genesis joins round 0).
    function _roundNow() internal view returns (uint256) {
        return block.timestamp < _genesis ? 0 : (block.timestamp - _genesis) / _roundSeconds;
    }

    /// @dev The timing parameters, for runParams().
    function _timing() internal view returns (uint64 genesis, uint32 round, uint32 submission, uint32 scoring) {
        return (_genesis, _roundSeconds, _submissionSeconds, _scoringSeconds);
    }
}
