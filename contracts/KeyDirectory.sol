// SPDX-License-Identifier: MIT
pragma solidity 0.8.29;

import {IKeyDirectory} from "./interfaces/IKeyDirectory.sol";
import {IVersioned} from "./interfaces/IVersioned.sol";

/// @title KeyDirectory
/// @notice Where accounts publish the X25519 keys that data keys are wrapped to.
contract KeyDirectory is IKeyDirectory {
    mapping(address account => bytes32 publicKey) private _keys;

    /// @inheritdoc IKeyDirectory
    function registerKey(bytes32 publicKey) external {
        if (publicKey == bytes32(0)) revert InvalidEncryptionKey(publicKey);
        _keys[msg.sender] = publicKey;
        emit EncryptionKeyRegistered(msg.sender, publicKey);
    }

    /// @inheritdoc IKeyDirectory
    function withdrawKey() external {
        if (_keys[msg.sender] == bytes32(0)) revert EncryptionKeyNotFound(msg.sender);
        delete _keys[msg.sender];
        emit EncryptionKeyWithdrawn(msg.sender);
    }

    /// @inheritdoc IKeyDirectory
    function keyOf(address account) external view returns (bytes32) {
        return _keys[account];
    }

    /// @inheritdoc IVersioned
    function version() external pure returns (string memory) {
        return "1.0.0";
    }
}
