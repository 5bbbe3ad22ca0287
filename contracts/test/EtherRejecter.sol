// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {TrainingRun} from "../TrainingRun.sol";

/// @dev Test helper: a validator or peer contract without a receive function, so the run's ether
/// transfers to it (withdraw, a refunded exit) fail.
contract EtherRejecter {
    TrainingRun private immutable _run;

    constructor(TrainingRun run) {
        _run = run;
    }

    function stake() external payable {
        _run.stake{value: msg.value}();
    }

    function requestUnstake() external {
        _run.requestUnstake();
    }

    function withdraw() external {
        _run.withdraw();
    }

    function registerPeer() external payable {
        _run.registerPeer{value: msg.value}("");
    }

    function exitPeer() external {
        _run.exitPeer();
    }
}
