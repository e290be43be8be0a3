// SPDX-License-Identifier: MIT
pragma solidity 0.8.29;

import {EIP712} from "@openzeppelin/contracts/utils/cryptography/EIP712.sol";
import {SignatureChecker} from "@openzeppelin/contracts/utils/cryptography/SignatureChecker.sol";

import {IKeyDirectory} from "./interfaces/IKeyDirectory.sol";
import {IVersioned} from "./interfaces/IVersioned.sol";

/// @title KeyDirectory
/// @notice Where accounts publish the X25519 keys that data keys are wrapped to, directly or by a signature
/// anyone relays (so an account that never holds ether, a patient's pseudonym, can publish, withdraw its key
/// and cancel its own pending signatures).
contract KeyDirectory is EIP712, IKeyDirectory {
    bytes32 private constant _REGISTER_KEY_TYPEHASH = keccak256(
        "RegisterKey(address signer,bytes32 publicKey,bytes32 seenKey,uint256 nonce,uint256 deadline)"
    );
    bytes32 private constant _WITHDRAW_KEY_TYPEHASH = keccak256(
        "WithdrawKey(address signer,bytes32 seenKey,uint256 nonce,uint256 deadline)"
    );
    bytes32 private constant _INVALIDATE_NONCES_TYPEHASH = keccak256(
        "InvalidateNonces(address signer,uint256 word,uint256 mask,uint256 nonce,uint256 deadline)"
    );

    mapping(address account => bytes32 publicKey) private _keys;
    mapping(address signer => mapping(uint256 word => uint256 bitmap)) private _usedNonces;

    constructor() EIP712("KeyDirectory", "1") {}

    /// @inheritdoc IKeyDirectory
    function registerKey(bytes32 publicKey) external {
        _registerKey(msg.sender, publicKey);
    }

    /// @inheritdoc IKeyDirectory
    function registerKeyBySig(
        bytes32 publicKey,
        bytes32 seenKey,
        address signer,
        uint256 nonce,
        uint256 deadline,
        bytes calldata signature
    ) external {
        _useSignature(
            signer,
            nonce,
            deadline,
            keccak256(abi.encode(_REGISTER_KEY_TYPEHASH, signer, publicKey, seenKey, nonce, deadline)),
            signature
        );
        _requireSeenKey(signer, seenKey);
        _registerKey(signer, publicKey);
    }

    /// @inheritdoc IKeyDirectory
    function withdrawKey() external {
        _withdrawKey(msg.sender);
    }

    /// @inheritdoc IKeyDirectory
    function withdrawKeyBySig(
        bytes32 seenKey,
        address signer,
        uint256 nonce,
        uint256 deadline,
        bytes calldata signature
    ) external {
        _useSignature(
            signer,
            nonce,
            deadline,
            keccak256(abi.encode(_WITHDRAW_KEY_TYPEHASH, signer, seenKey, nonce, deadline)),
            signature
        );
        _requireSeenKey(signer, seenKey);
        _withdrawKey(signer);
    }

    /// @inheritdoc IKeyDirectory
    function invalidateNonces(uint256 word, uint256 mask) external {
        _invalidateNonces(msg.sender, word, mask);
    }

    /// @inheritdoc IKeyDirectory
    function invalidateNoncesBySig(
        address signer,
        uint256 word,
        uint256 mask,
        uint256 nonce,
        uint256 deadline,
        bytes calldata signature
    ) external {
        _useSignature(
            signer,
            nonce,
            deadline,
            keccak256(abi.encode(_INVALIDATE_NONCES_TYPEHASH, signer, word, mask, nonce, deadline)),
            signature
        );
        _invalidateNonces(signer, word, mask);
    }

    /// @inheritdoc IKeyDirectory
    function keyOf(address account) external view returns (bytes32) {
        return _keys[account];
    }

    /// @inheritdoc IKeyDirectory
    function nonceBitmap(address signer, uint256 word) external view returns (uint256) {
        return _usedNonces[signer][word];
    }

    /// @inheritdoc IVersioned
    /// @dev 1.2.0: `withdrawKeyBySig`, `invalidateNonces` and `invalidateNoncesBySig`. 1.1.0:
    /// `registerKeyBySig`, `nonceBitmap` and an EIP-712 domain ("KeyDirectory", "1"); the direct calls are
    /// unchanged.
    function version() external pure returns (string memory) {
        return "1.2.0";
    }

    /// @dev The one check of every signed message: deadline, unused nonce, `signer`'s signature of
    /// `structHash` in this domain; then spends the nonce (undone if the action reverts).
    function _useSignature(
        address signer,
        uint256 nonce,
        uint256 deadline,
        bytes32 structHash,
        bytes calldata signature
    ) private {
        if (block.timestamp > deadline) revert SignatureExpired(deadline);
        uint256 word = nonce >> 8;
        uint256 bit = uint256(1) << (nonce & 0xff);
        uint256 bitmap = _usedNonces[signer][word];
        if (bitmap & bit != 0) revert NonceAlreadyUsed(signer, nonce);
        if (!SignatureChecker.isValidSignatureNow(signer, _hashTypedDataV4(structHash), signature)) {
            revert InvalidSignature(signer);
        }
        _usedNonces[signer][word] = bitmap | bit;
    }

    /// @dev A signed key change applies only to the key the signer saw: a held signature cannot undo a later
    /// rotation or withdraw a later key.
    function _requireSeenKey(address account, bytes32 seenKey) private view {
        bytes32 current = _keys[account];
        if (current != seenKey) revert EncryptionKeyChanged(account, seenKey, current);
    }

    /// @dev The one path of every registration, direct or signed: the key must not be zero; it replaces any.
    function _registerKey(address account, bytes32 publicKey) private {
        if (publicKey == bytes32(0)) revert InvalidEncryptionKey(publicKey);
        _keys[account] = publicKey;
        emit EncryptionKeyRegistered(account, publicKey);
    }

    /// @dev The one path of every withdrawal, direct or signed: a key must be registered.
    function _withdrawKey(address account) private {
        if (_keys[account] == bytes32(0)) revert EncryptionKeyNotFound(account);
        delete _keys[account];
        emit EncryptionKeyWithdrawn(account);
    }

    /// @dev Marks `mask`'s bits of `account`'s word `word` used, so signatures with those nonces never apply.
    function _invalidateNonces(address account, uint256 word, uint256 mask) private {
        _usedNonces[account][word] |= mask;
        emit NoncesInvalidated(account, word, mask);
    }
}
