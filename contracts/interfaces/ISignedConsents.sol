// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {IConsents} from "./IConsents.sol";
import {IAccessRequests} from "./IAccessRequests.sol";

/**
 * @title ISignedConsents
 * @notice Consent without gas: a patient or a live delegate signs a grant, revocation, approval or
 * denial as EIP-712 typed data and anyone relays it. The domain names this contract and the chain; each
 * signature carries a deadline and a nonce that works once. Nonces are unordered (a bitmap, as in
 * Permit2), so signatures can be in flight in parallel and cancelled one by one or by the 256.
 * Contract wallets sign through ERC-1271: signatures are `bytes`.
 *
 * Every type names its `signer` (as EAS names the attester and ERC-2612 the owner). Nonces are kept
 * per signer, so the signer must be signed too: otherwise whoever relays a signature would choose
 * whose nonce it spends, and a key accepted by two accounts (a wallet and its owner; a carer's old
 * and new wallet) would make one signature work once per account, past a cancelled nonce.
 *
 * A grant and an approval also name the consent they replace, as the signer saw it: `seenConsent` is the
 * word {IConsents-consentOf} showed for (patient, grantee), packed as documented on {IConsents-Consent}
 * (`dataClasses | purposes << 32 | validFrom << 64 | validUntil << 104`), 0 when there was none (or
 * a revocation). If the ledger holds another word when the signature is relayed, it reverts with
 * {IConsents-ConsentChanged}: a relayer that holds a signature until someone else (a delegate, a policy)
 * has changed the consent cannot make it replace terms the signer never saw.
 *
 * Types:
 *   Grant(address signer,address patient,address grantee,uint32 dataClasses,uint32 purposes,
 *         uint40 validFrom,uint40 validUntil,uint256 seenConsent,uint256 nonce,uint256 deadline)
 *   Revoke(address signer,address patient,address grantee,uint256 nonce,uint256 deadline)
 *   ApproveRequest(address signer,bytes32 requestId,uint256 seenConsent,uint256 nonce,uint256 deadline)
 *   DenyRequest(address signer,bytes32 requestId,uint256 nonce,uint256 deadline)
 */
interface ISignedConsents {
    /// @notice Thrown when a signature's deadline has passed.
    error SignatureExpired(uint256 deadline);
    /// @notice Thrown when `signer` did not sign this message, naming `signer`, for this contract and chain.
    error InvalidSignature(address signer);
    /// @notice Thrown when `signer` has used or cancelled `nonce`.
    error NonceAlreadyUsed(address signer, uint256 nonce);
    /// @notice Thrown when {actBySig} is given an `action` that is not the typehash of a type it relays, or
    /// `args` of `argsLength` bytes that are not the abi.encode of its fields.
    error UnsupportedSignedAction(bytes32 action, uint256 argsLength);

    /// @notice Emitted when `signer` cancels nonces: the bits of `mask` in bitmap word `word`.
    event NoncesInvalidated(address indexed signer, uint256 word, uint256 mask);

    /**
     * @notice Relays a grant signed by `signer` for `patient`. Same rules as {IConsents-grant}, with
     * `signer` in place of the caller.
     * Requirements: deadline not passed; nonce unused; valid signature of `signer` (ECDSA or ERC-1271);
     * the consent of `patient` to the grantee is still `seenConsent` ({IConsents-ConsentChanged}).
     * Emits {IConsents-ConsentReplaced} when it replaces a consent that has not ended, then
     * {IConsents-ConsentGranted}.
     */
    function grantBySig(
        address patient,
        IConsents.GrantTerms calldata terms,
        uint256 seenConsent,
        address signer,
        uint256 nonce,
        uint256 deadline,
        bytes calldata signature
    ) external;

    /// @notice Relays a signed {IConsents-revoke}. Emits {IConsents-ConsentRevoked}.
    function revokeBySig(
        address patient,
        address grantee,
        address signer,
        uint256 nonce,
        uint256 deadline,
        bytes calldata signature
    ) external;

    /**
     * @notice Relays a signed {IAccessRequests-approveRequest}, refused with {IConsents-ConsentChanged}
     * when the consent of the patient to the researcher is no longer `seenConsent`.
     * Emits {IAccessRequests-RequestApproved}.
     */
    function approveRequestBySig(
        IAccessRequests.AccessRequest calldata request,
        uint256 seenConsent,
        address signer,
        uint256 nonce,
        uint256 deadline,
        bytes calldata signature
    ) external;

    /// @notice Relays a signed {IAccessRequests-denyRequest}. Emits {IAccessRequests-RequestDenied}.
    function denyRequestBySig(
        IAccessRequests.AccessRequest calldata request,
        address signer,
        uint256 nonce,
        uint256 deadline,
        bytes calldata signature
    ) external;

    /**
     * @notice Relays one of the patient's own settings, signed by `signer` for its own account (a delegate
     * cannot sign these, as it cannot make them directly): `action` is the EIP-712 typehash of its type,
     * `args` the abi.encode of the type's fields between `signer` and `nonce`, in order. Every field is
     * static, so the struct hash is `keccak256(action ‖ signer ‖ args ‖ nonce ‖ deadline)`. The direct
     * function runs, with `signer` in place of the caller: same rules, same events.
     *   SetPolicy(address signer,uint8 permission,uint64 modifiers,uint32 dataClasses,uint16 purposes,
     *             uint32 diseaseId,uint40 maxDuration,uint40 validUntil,uint256 nonce,uint256 deadline)
     *     runs {IAccessRequests-setPolicy};
     *   ClearPolicy(address signer,uint256 nonce,uint256 deadline) runs {IAccessRequests-clearPolicy};
     *   AppointDelegate(address signer,address delegate,uint40 validUntil,uint32 purposes,
     *                   bool sensitiveClasses,uint256 nonce,uint256 deadline) runs {IConsents-appointDelegate};
     *   RemoveDelegate(address signer,address delegate,uint256 nonce,uint256 deadline)
     *     runs {IConsents-removeDelegate};
     *   SetEmergencyOptOut(address signer,bool optedOut,uint256 nonce,uint256 deadline)
     *     runs {IEmergencyAccess-setEmergencyOptOut};
     *   InvalidateNonces(address signer,uint256 word,uint256 mask,uint256 nonce,uint256 deadline)
     *     runs {invalidateNonces} (cancelling the signer's other signatures without gas).
     * Requirements: `action` is one of these types and `args` exactly its fields ({UnsupportedSignedAction});
     * deadline not passed; nonce unused; valid signature of `signer` (ECDSA or ERC-1271); then the
     * requirements of the direct call, whose errors are passed on unchanged.
     * Emits what the direct call emits.
     */
    function actBySig(
        bytes32 action,
        bytes calldata args,
        address signer,
        uint256 nonce,
        uint256 deadline,
        bytes calldata signature
    ) external;

    /**
     * @notice Cancels the caller's nonces `word * 256 + i` for every bit `i` set in `mask`, so signatures
     * made with them can never be relayed. Emits {NoncesInvalidated}.
     */
    function invalidateNonces(uint256 word, uint256 mask) external;

    /**
     * @notice The word `word` of `signer`'s nonce bitmap, as in Permit2: bit `i` is set when nonce
     * `word * 256 + i` is used or cancelled. One read tells a client which of 256 nonces are free.
     */
    function nonceBitmap(address signer, uint256 word) external view returns (uint256);
}
