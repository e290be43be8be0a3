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
    /// @notice Thrown when a signature's deadline has passed.
    error SignatureExpired(uint256 deadline);
    /// @notice Thrown when `signer` did not sign this message, naming `signer`, for this contract and chain.
    error InvalidSignature(address signer);
    /// @notice Thrown when `signer` has used `nonce`.
    error NonceAlreadyUsed(address signer, uint256 nonce);
    /// @notice Thrown when a signed registration of `account` names `expected` as the key it replaces, but
    /// `actual` is registered now.
    error EncryptionKeyChanged(address account, bytes32 expected, bytes32 actual);

    /// @notice Emitted when `account` registers or rotates to `publicKey`.
    event EncryptionKeyRegistered(address indexed account, bytes32 publicKey);
    /// @notice Emitted when `account` withdraws its key.
    event EncryptionKeyWithdrawn(address indexed account);
    /// @notice Emitted when `signer` cancels the nonces `word * 256 + i` for every bit `i` set in `mask`.
    event NoncesInvalidated(address indexed signer, uint256 word, uint256 mask);

    /**
     * @notice Registers `publicKey` as the caller's X25519 key, replacing any previous one.
     * Requirements: `publicKey` is not zero. Emits {EncryptionKeyRegistered}.
     */
    function registerKey(bytes32 publicKey) external;

    /**
     * @notice Relays a registration signed by `signer` (ECDSA or ERC-1271) as EIP-712 typed data in the
     * domain ("KeyDirectory", "1", chain, this contract):
     *   RegisterKey(address signer,bytes32 publicKey,bytes32 seenKey,uint256 nonce,uint256 deadline)
     * Same rules as {registerKey}, with `signer` in place of the caller. `seenKey` is the key the signer
     * saw registered (0 for none): a relayer that holds a signature while the key is rotated cannot make
     * it bring back the key it replaced. The check is on the key, not on a count of changes: if the key
     * comes back to `seenKey` (A, then B, then A again; keys are derived deterministically), a held
     * signature made while A was registered applies again. The signer cancels a signature it no longer
     * wants with {invalidateNonces} or {invalidateNoncesBySig}. Nonces are unordered, a bitmap per signer
     * as in the ledger, shared by every signed form of this contract and separate from the ledger's.
     * Requirements: deadline not passed ({SignatureExpired}); nonce unused ({NonceAlreadyUsed}); valid
     * signature ({InvalidSignature}); the registered key is still `seenKey` ({EncryptionKeyChanged});
     * `publicKey` is not zero. Emits {EncryptionKeyRegistered}.
     */
    function registerKeyBySig(
        bytes32 publicKey,
        bytes32 seenKey,
        address signer,
        uint256 nonce,
        uint256 deadline,
        bytes calldata signature
    ) external;

    /**
     * @notice Withdraws the caller's key, e.g. when it may be compromised.
     * Requirements: a key is registered. Emits {EncryptionKeyWithdrawn}.
     */
    function withdrawKey() external;

    /**
     * @notice Relays a withdrawal signed by `signer` (ECDSA or ERC-1271) as EIP-712 typed data in this
     * contract's domain:
     *   WithdrawKey(address signer,bytes32 seenKey,uint256 nonce,uint256 deadline)
     * Same rules as {withdrawKey}, with `signer` in place of the caller, so an account with no ether (a
     * pseudonym) can withdraw a leaked key. `seenKey` is the key the signer means to withdraw: a held
     * withdrawal cannot remove a key registered after it was signed.
     * Requirements: deadline not passed ({SignatureExpired}); nonce unused ({NonceAlreadyUsed}); valid
     * signature ({InvalidSignature}); the registered key is still `seenKey` ({EncryptionKeyChanged}); a key
     * is registered ({EncryptionKeyNotFound}). Emits {EncryptionKeyWithdrawn}.
     */
    function withdrawKeyBySig(
        bytes32 seenKey,
        address signer,
        uint256 nonce,
        uint256 deadline,
        bytes calldata signature
    ) external;

    /**
     * @notice Cancels the caller's nonces `word * 256 + i` of this contract for every bit `i` set in
     * `mask`, so signatures made with them ({registerKeyBySig}, {withdrawKeyBySig}, {invalidateNoncesBySig})
     * can never be relayed. The ledger's nonces are separate. Emits {NoncesInvalidated}.
     */
    function invalidateNonces(uint256 word, uint256 mask) external;

    /**
     * @notice Relays a cancellation signed by `signer` (ECDSA or ERC-1271) as EIP-712 typed data in this
     * contract's domain:
     *   InvalidateNonces(address signer,uint256 word,uint256 mask,uint256 nonce,uint256 deadline)
     * Same as {invalidateNonces} with `signer` in place of the caller (cancelling without gas).
     * Requirements: deadline not passed ({SignatureExpired}); nonce unused ({NonceAlreadyUsed}); valid
     * signature ({InvalidSignature}). Emits {NoncesInvalidated}.
     */
    function invalidateNoncesBySig(
        address signer,
        uint256 word,
        uint256 mask,
        uint256 nonce,
        uint256 deadline,
        bytes calldata signature
    ) external;

    /// @notice The current key of `account`, 0 when none.
    function keyOf(address account) external view returns (bytes32);

    /// @notice Word `word` of `signer`'s nonce bitmap: bit `i` is set when nonce `word * 256 + i` is used
    /// or cancelled.
    function nonceBitmap(address signer, uint256 word) external view returns (uint256);
}
