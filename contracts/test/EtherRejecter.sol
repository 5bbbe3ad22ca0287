// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {TrainingRun} from "../TrainingRun.sol";

/// @dev Test helper: a validator or peer contract without a receive function, so the run's ether
/// transfers to it (withdraw, a refunded exit) fail.
contract EtherRejecter {
    TrainingRun private immutable _run;

    /// @param run the TrainingRun this helper calls.
    constructor(TrainingRun run) {
        _run = run;
    }

    /// @dev Stakes msg.value as this contract.
    function stake() external payable {
        _run.stake{value: msg.value}();
    }

    /// @dev Requests unstaking as this contract.
    function requestUnstake() external {
        _run.requestUnstake();
    }

    /// @dev Withdraws to this contract (which rejects ether).
    function withdraw() external {
        _run.withdraw();
    }

    /// @dev Registers this contract as a peer with msg.value as the bond.
    function registerPeer() external payable {
        _run.registerPeer{value: msg.value}("");
    }

    /// @dev Exits the registry (a refund to this contract fails).
    function exitPeer() external {
        _run.exitPeer();
    }
}
