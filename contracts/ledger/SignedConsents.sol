// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {EIP712} from "@openzeppelin/contracts/utils/cryptography/EIP712.sol";
import {SignatureChecker} from "@openzeppelin/contracts/utils/cryptography/SignatureChecker.sol";

import {IConsents} from "../interfaces/IConsents.sol";
import {ISignedConsents} from "../interfaces/ISignedConsents.sol";
import {EmergencyAccess} from "./EmergencyAccess.sol";

/// @title SignedConsents
/// @notice EIP-712 forms of grant, revoke, approve and deny, relayed by anyone, routed into the same
/// internal paths as the direct calls with the signer as the actor.
abstract contract SignedConsents is EIP712, EmergencyAccess, ISignedConsents {
    bytes32 private constant _GRANT_TYPEHASH = keccak256(
        // solhint-disable-next-line max-line-length
        "Grant(address signer,address patient,address grantee,uint32 dataClasses,uint32 purposes,uint40 validFrom,uint40 validUntil,uint256 seenConsent,uint256 nonce,uint256 deadline)"
    );
    bytes32 private constant _REVOKE_TYPEHASH = keccak256(
        "Revoke(address signer,address patient,address grantee,uint256 nonce,uint256 deadline)"
    );
    bytes32 private constant _APPROVE_TYPEHASH = keccak256(
        "ApproveRequest(address signer,bytes32 requestId,uint256 seenConsent,uint256 nonce,uint256 deadline)"
    );
    bytes32 private constant _DENY_TYPEHASH = keccak256(
        "DenyRequest(address signer,bytes32 requestId,uint256 nonce,uint256 deadline)"
    );

    mapping(address signer => mapping(uint256 word => uint256 bitmap)) private _usedNonces;

    /// @inheritdoc ISignedConsents
    function grantBySig(
        address patient,
        IConsents.GrantTerms calldata terms,
        uint256 seenConsent,
        address signer,
        uint256 nonce,
        uint256 deadline,
        bytes calldata signature
    ) external {
        bytes32 structHash = keccak256(
            abi.encode(
                _GRANT_TYPEHASH,
                signer,
                patient,
                terms.grantee,
                terms.dataClasses,
                terms.purposes,
                terms.validFrom,
                terms.validUntil,
                seenConsent,
                nonce,
                deadline
            )
        );
        _useSignature(signer, structHash, nonce, deadline, signature);
        _requireMayGrant(patient, signer, terms.dataClasses, terms.purposes, terms.validUntil);
        _requireConsentSeen(patient, terms.grantee, seenConsent);
        _grant(patient, terms.grantee, terms.dataClasses, terms.purposes, terms.validFrom, terms.validUntil, signer);
    }

    /// @inheritdoc ISignedConsents
    function revokeBySig(
        address patient,
        address grantee,
        address signer,
        uint256 nonce,
        uint256 deadline,
        bytes calldata signature
    ) external {
        bytes32 structHash = keccak256(abi.encode(_REVOKE_TYPEHASH, signer, patient, grantee, nonce, deadline));
        _useSignature(signer, structHash, nonce, deadline, signature);
        _requirePatientOrDelegate(patient, signer);
        _revoke(patient, grantee, signer);
    }

    /// @inheritdoc ISignedConsents
    function approveRequestBySig(
        AccessRequest calldata request,
        uint256 seenConsent,
        address signer,
        uint256 nonce,
        uint256 deadline,
        bytes calldata signature
    ) external {
        bytes32 requestId = _requestIdOf(request);
        _useSignature(
            signer,
            keccak256(abi.encode(_APPROVE_TYPEHASH, signer, requestId, seenConsent, nonce, deadline)),
            nonce,
            deadline,
            signature
        );
        _requireConsentSeen(request.terms.patient, request.researcher, seenConsent);
        _decide(request, requestId, signer, true);
    }

    /// @inheritdoc ISignedConsents
    function denyRequestBySig(
        AccessRequest calldata request,
        address signer,
        uint256 nonce,
        uint256 deadline,
        bytes calldata signature
    ) external {
        bytes32 requestId = _requestIdOf(request);
        _useSignature(
            signer,
            keccak256(abi.encode(_DENY_TYPEHASH, signer, requestId, nonce, deadline)),
            nonce,
            deadline,
            signature
        );
        _decide(request, requestId, signer, false);
    }

    /// @inheritdoc ISignedConsents
    function invalidateNonces(uint256 word, uint256 mask) external {
        _usedNonces[msg.sender][word] |= mask;
        emit NoncesInvalidated(msg.sender, word, mask);
    }

    /// @inheritdoc ISignedConsents
    function nonceBitmap(address signer, uint256 word) external view returns (uint256) {
        return _usedNonces[signer][word];
    }

    /**
     * @dev Checks deadline, nonce and signature, then spends the nonce. The chain id and this contract
     * are in the EIP-712 domain (rebuilt by OpenZeppelin if the chain forks) and `signer` is in every
     * struct, so a signature works on one chain, for one contract, for the one account it names, once:
     * two accounts that accept the same key (a wallet and its owner, two wallets of one owner) cannot
     * each spend it, nor reach past a nonce the named account spent or cancelled. ERC-1271 is a
     * staticcall: a wallet cannot re-enter.
     */
    function _useSignature(
        address signer,
        bytes32 structHash,
        uint256 nonce,
        uint256 deadline,
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
}
