// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {Ownable} from "@openzeppelin/contracts/access/Ownable.sol";
import {Ownable2Step} from "@openzeppelin/contracts/access/Ownable2Step.sol";
import {Arrays} from "@openzeppelin/contracts/utils/Arrays.sol";
import {RunClock} from "./RunClock.sol";

/**
 * @title ConfigTimeline
 * @notice Which run config is in effect at each round: an append-only list of (fromRound, configHash)
 * entries, entry 0 = (0, the deploy-time configHash). The run's operator (the deployer, handed over with
 * Ownable2Step's transferOwnership + acceptOwnership) appends a config, e.g. a new data stage, while the run
 * is live. An entry takes effect no earlier than two rounds after the current one, so every node reads it
 * at least one full round before it must switch; entries never change or disappear, so a node that joins
 * later replays the same configs at the same rounds (docs/contract.md "Config timeline").
 */
abstract contract ConfigTimeline is RunClock, Ownable2Step {
    /// @dev Strictly increasing; _fromRounds[0] = 0. Kept apart from the hashes so Arrays.upperBound can search it.
    uint256[] private _fromRounds;
    bytes32[] private _configHashes;

    /// @param p run parameters; p.configHash is entry 0. The deployer becomes the operator.
    constructor(RunParams memory p) Ownable(msg.sender) {
        _fromRounds.push(0);
        _configHashes.push(p.configHash);
    }

    /**
     * @notice Appends `configHash` as the run config from round `fromRound` on. Only the operator; needs
     * `fromRound >= currentRound + 2` (round 2 before genesis), `fromRound` after the last entry's, and a
     * non-zero hash.
     */
    function appendConfig(uint256 fromRound, bytes32 configHash_) external onlyOwner {
        if (configHash_ == bytes32(0)) revert TrainingRunZeroConfigHash();
        uint256 earliest = _roundNow() + 2;
        if (fromRound < earliest) revert TrainingRunConfigTooSoon(fromRound, earliest);
        uint256 last = _fromRounds[_fromRounds.length - 1];
        if (fromRound <= last) revert TrainingRunConfigNotAfterLast(fromRound, last);
        _fromRounds.push(fromRound);
        _configHashes.push(configHash_);
        emit ConfigAppended(fromRound, configHash_);
    }

    /// @notice Hash of the run config the run was deployed with (timeline entry 0).
    function configHash() external view returns (bytes32) {
        return _configHashes[0];
    }

    /// @notice Number of timeline entries (at least 1).
    function configCount() external view returns (uint256) {
        return _fromRounds.length;
    }

    /// @notice Timeline entry `index` (0 = the deploy-time config); reverts past configCount().
    function configAt(uint256 index) external view returns (uint256 fromRound, bytes32 configHash_) {
        if (index >= _fromRounds.length) revert TrainingRunConfigIndexOutOfRange(index, _fromRounds.length);
        return (_fromRounds[index], _configHashes[index]);
    }

    /// @notice Hash of the run config in effect at `round`: the last entry whose fromRound <= round.
    function configHashAt(uint256 round) external view returns (bytes32) {
        // upperBound: first entry with fromRound > round; entry 0 has fromRound 0, so the result is >= 1.
        return _configHashes[Arrays.upperBound(_fromRounds, round) - 1];
    }

    /// @dev Entry 0, for runParams().
    function _initialConfigHash() internal view returns (bytes32) {
        return _configHashes[0];
    }
}
