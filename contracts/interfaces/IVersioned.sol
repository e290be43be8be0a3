// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

/// @title IVersioned
/// @notice Lets a dApp tell which release of a contract it talks to.
interface IVersioned {
    /// @notice The semantic version of this contract's interface and rules, e.g. "1.0.0".
    function version() external view returns (string memory);
}
