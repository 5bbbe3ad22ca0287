// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";

/**
 * @title RewardToken
 * @notice The ERC-20 a training run pays its participants in. It is deployed by the TrainingRun's
 * constructor, which becomes its only minter: supply grows exactly by the rewards participants claim,
 * so there is no pre-funded balance to run dry or to drain.
 */
contract RewardToken is ERC20 {
    /// @dev The minting account is not the training run that created this token.
    error RewardTokenUnauthorizedMinter(address account);

    address private immutable _minter;

    /// @param name_ ERC-20 name. @param symbol_ ERC-20 symbol. The deployer becomes the minter.
    constructor(string memory name_, string memory symbol_) ERC20(name_, symbol_) {
        _minter = msg.sender;
    }

    /// @notice The only account allowed to mint (the TrainingRun that deployed this token).
    function minter() external view returns (address) {
        return _minter;
    }

    /// @notice Mints `amount` to `to`; only the minter may call it.
    function mint(address to, uint256 amount) external {
        if (msg.sender != _minter) revert RewardTokenUnauthorizedMinter(msg.sender);
        _mint(to, amount);
    }
}
