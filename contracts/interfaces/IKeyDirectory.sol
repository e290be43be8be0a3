// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {IVersioned} from "./IVersioned.sol";

/**
 * @title IKeyDirectory
 * @notice Any account publishes a 32-byte X25519 public key so others can wrap data keys to it, and
 * rotates or withdraws it at will. Only the current key is stored; the history is in the events.
 */
interface IKeyDirectory is IVersioned {
    /// @notice Thrown when a key is zero.
    error InvalidEncryptionKey(bytes32 publicKey);
    /// @notice Thrown when withdrawing a key that was never registered.
    error EncryptionKeyNotFound(address account);

    /// @notice Emitted when `account` registers or rotates to `publicKey`.
    event EncryptionKeyRegistered(address indexed account, bytes32 publicKey);
    /// @notice Emitted when `account` withdraws its key.
    event EncryptionKeyWithdrawn(address indexed account);

    /**
     * @notice Registers `publicKey` as the caller's X25519 key, replacing any previous one.
     * Requirements: `publicKey` is not zero. Emits {EncryptionKeyRegistered}.
     */
    function registerKey(bytes32 publicKey) external;

    /**
     * @notice Withdraws the caller's key, e.g. when it may be compromised.
     * Requirements: a key is registered. Emits {EncryptionKeyWithdrawn}.
     */
    function withdrawKey() external;

    /// @notice The current key of `account`, 0 when none.
    function keyOf(address account) external view returns (bytes32);
}
