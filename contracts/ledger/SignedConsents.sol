// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {EIP712} from "@openzeppelin/contracts/utils/cryptography/EIP712.sol";
import {SignatureChecker} from "@openzeppelin/contracts/utils/cryptography/SignatureChecker.sol";

import {IConsents} from "../interfaces/IConsents.sol";
import {ISignedConsents} from "../interfaces/ISignedConsents.sol";
import {EmergencyAccess} from "./EmergencyAccess.sol";

/// @title SignedConsents
/// @notice EIP-712 forms of every patient action, relayed by anyone, routed into the same internal paths
/// as the direct calls with the signer as the actor: grant, revoke, approve and deny each have their own
/// function; the patient's own settings (policy, delegates, emergency opt-out, nonce cancellation) share
/// {actBySig}.
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

    // The types {actBySig} relays: every field static, so each struct hash is keccak256 of the typehash,
    // the signer, `args` (the abi.encode of the fields between them) and the nonce and deadline.
    bytes32 private constant _SET_POLICY_TYPEHASH = keccak256(
        // solhint-disable-next-line max-line-length
        "SetPolicy(address signer,uint8 permission,uint64 modifiers,uint32 dataClasses,uint16 purposes,uint32 diseaseId,uint40 maxDuration,uint40 validUntil,uint256 nonce,uint256 deadline)"
    );
    bytes32 private constant _CLEAR_POLICY_TYPEHASH = keccak256(
        "ClearPolicy(address signer,uint256 nonce,uint256 deadline)"
    );
    bytes32 private constant _APPOINT_DELEGATE_TYPEHASH = keccak256(
        // solhint-disable-next-line max-line-length
        "AppointDelegate(address signer,address delegate,uint40 validUntil,uint32 purposes,bool sensitiveClasses,uint256 nonce,uint256 deadline)"
    );
    bytes32 private constant _REMOVE_DELEGATE_TYPEHASH = keccak256(
        "RemoveDelegate(address signer,address delegate,uint256 nonce,uint256 deadline)"
    );
    bytes32 private constant _SET_EMERGENCY_OPT_OUT_TYPEHASH = keccak256(
        "SetEmergencyOptOut(address signer,bool optedOut,uint256 nonce,uint256 deadline)"
    );
    bytes32 private constant _INVALIDATE_NONCES_TYPEHASH = keccak256(
        "InvalidateNonces(address signer,uint256 word,uint256 mask,uint256 nonce,uint256 deadline)"
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
    function actBySig(
        bytes32 action,
        bytes calldata args,
        address signer,
        uint256 nonce,
        uint256 deadline,
        bytes calldata signature
    ) external {
        // Each type's fields between signer and nonce are, in order, the parameters of the direct call. No
        // calldata is 2^133 bytes long: an unknown action fails the length check below, with the same error.
        bytes4 selector;
        uint256 words;
        if (action == _SET_POLICY_TYPEHASH) (selector, words) = (this.setPolicy.selector, 7);
        else if (action == _CLEAR_POLICY_TYPEHASH) (selector, words) = (this.clearPolicy.selector, 0);
        else if (action == _APPOINT_DELEGATE_TYPEHASH) (selector, words) = (this.appointDelegate.selector, 4);
        else if (action == _REMOVE_DELEGATE_TYPEHASH) (selector, words) = (this.removeDelegate.selector, 1);
        else if (action == _SET_EMERGENCY_OPT_OUT_TYPEHASH) (selector, words) = (this.setEmergencyOptOut.selector, 1);
        else if (action == _INVALIDATE_NONCES_TYPEHASH) (selector, words) = (this.invalidateNonces.selector, 2);
        else words = type(uint128).max;
        // The struct hash is EIP-712's hashStruct only when `args` is exactly the abi.encode of the fields.
        if (args.length != words << 5) revert UnsupportedSignedAction(action, args.length);
        bytes32 structHash;
        uint256 ptr;
        assembly ("memory-safe") {
            // Scratch above the free memory pointer, not kept: nothing is allocated before the hash.
            ptr := mload(0x40)
            mstore(ptr, action)
            mstore(add(ptr, 0x20), signer)
            calldatacopy(add(ptr, 0x40), args.offset, args.length)
            // nonce and deadline, as the decoder checked them: words 3 and 4 of the head of the calldata.
            calldatacopy(add(add(ptr, 0x40), args.length), 0x64, 0x40)
            structHash := keccak256(ptr, add(args.length, 0x80))
        }
        _useSignature(signer, structHash, nonce, deadline, signature);
        // The direct function itself runs, with the signer appended for {Consents-_actor}: one copy of
        // each rule, at little cost in bytecode. Any revert is passed on as it is, and undoes the nonce.
        // Written over the same memory: what the signature check allocated there is no longer read.
        assembly ("memory-safe") {
            mstore(ptr, selector)
            calldatacopy(add(ptr, 4), args.offset, args.length)
            mstore(add(add(ptr, 4), args.length), signer)
            if iszero(call(gas(), address(), 0, ptr, add(args.length, 0x24), 0, 0)) {
                returndatacopy(ptr, 0, returndatasize())
                revert(ptr, returndatasize())
            }
        }
    }

    /// @inheritdoc ISignedConsents
    function invalidateNonces(uint256 word, uint256 mask) external {
        address signer = _actor();
        _usedNonces[signer][word] |= mask;
        emit NoncesInvalidated(signer, word, mask);
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
