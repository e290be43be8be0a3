// SPDX-License-Identifier: MIT
pragma solidity 0.8.29;

import {EIP712} from "@openzeppelin/contracts/utils/cryptography/EIP712.sol";
import {SignatureChecker} from "@openzeppelin/contracts/utils/cryptography/SignatureChecker.sol";

import {IKeyDirectory} from "./interfaces/IKeyDirectory.sol";
import {IVersioned} from "./interfaces/IVersioned.sol";

/// @title KeyDirectory
/// @notice Where accounts publish the X25519 keys that data keys are wrapped to, directly or by a signature
/// anyone relays (so an account that never holds ether, a patient's pseudonym, can publish its key).
contract KeyDirectory is EIP712, IKeyDirectory {
    bytes32 private constant _REGISTER_KEY_TYPEHASH = keccak256(
        "RegisterKey(address signer,bytes32 publicKey,bytes32 seenKey,uint256 nonce,uint256 deadline)"
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
        if (block.timestamp > deadline) revert SignatureExpired(deadline);
        uint256 word = nonce >> 8;
        uint256 bit = uint256(1) << (nonce & 0xff);
        uint256 bitmap = _usedNonces[signer][word];
        if (bitmap & bit != 0) revert NonceAlreadyUsed(signer, nonce);
        bytes32 structHash = keccak256(abi.encode(_REGISTER_KEY_TYPEHASH, signer, publicKey, seenKey, nonce, deadline));
        if (!SignatureChecker.isValidSignatureNow(signer, _hashTypedDataV4(structHash), signature)) {
            revert InvalidSignature(signer);
        }
        _usedNonces[signer][word] = bitmap | bit;
        bytes32 current = _keys[signer];
        if (current != seenKey) revert EncryptionKeyChanged(signer, seenKey, current);
        _registerKey(signer, publicKey);
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

    /// @inheritdoc IKeyDirectory
    function nonceBitmap(address signer, uint256 word) external view returns (uint256) {
        return _usedNonces[signer][word];
    }

    /// @inheritdoc IVersioned
    /// @dev 1.1.0: `registerKeyBySig`, `nonceBitmap` and an EIP-712 domain ("KeyDirectory", "1"); the
    /// direct calls are unchanged.
    function version() external pure returns (string memory) {
        return "1.1.0";
    }

    /// @dev The one path of every registration, direct or signed: the key must not be zero; it replaces any.
    function _registerKey(address account, bytes32 publicKey) private {
        if (publicKey == bytes32(0)) revert InvalidEncryptionKey(publicKey);
        _keys[account] = publicKey;
        emit EncryptionKeyRegistered(account, publicKey);
    }
}
