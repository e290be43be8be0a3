// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {IAccessRequests} from "../interfaces/IAccessRequests.sol";
import {DataClasses} from "../libraries/DataClasses.sol";
import {DataUse} from "../libraries/DataUse.sol";
import {Purposes} from "../libraries/Purposes.sol";
import {Roles} from "../libraries/Roles.sol";
import {RequestWord, RequestWordLibrary} from "../types/RequestWord.sol";
import {SettingsWord} from "../types/SettingsWord.sol";
import {Consents} from "./Consents.sol";

/// @title AccessRequests
/// @notice Research access requests and the standing policies that decide them automatically.
abstract contract AccessRequests is Consents, IAccessRequests {
    uint40 private immutable _REQUEST_TTL;
    uint40 private immutable _MAX_REQUEST_DURATION;

    /// @dev A pending request's state, its terms being only emitted. Cleared when the request is
    /// decided or cancelled.
    mapping(bytes32 requestId => RequestWord) private _requests;
    /// @dev A patient's policy, emergency opt-out and epoch: one word, written whole (types/SettingsWord.sol).
    mapping(address patient => SettingsWord) internal _patientSettings;

    constructor(uint40 requestTtl_, uint40 maxRequestDuration_) {
        _REQUEST_TTL = requestTtl_;
        _MAX_REQUEST_DURATION = maxRequestDuration_;
    }

    /// @inheritdoc IAccessRequests
    function requestAccess(RequestTerms calldata terms) external returns (bytes32 requestId, bool approved) {
        bool nonProfit = _requireAccredited(msg.sender, Roles.RESEARCHER).nonProfit;
        _validateTerms(msg.sender, terms);
        uint40 openedAt = uint40(block.timestamp);
        requestId = _openedRequestId(msg.sender, openedAt, terms);
        if (!_requests[requestId].isEmpty()) revert RequestAlreadyExists(requestId);
        uint40 expiresAt = openedAt + _REQUEST_TTL;
        approved =
            _policyMatches(_patientSettings[terms.patient], terms, nonProfit) &&
            !_holdsBackPolicy(terms.patient, msg.sender);
        // Only a pending request is stored: a decided one is never read again, its events are its record.
        if (!approved) _requests[requestId] = RequestWordLibrary.pack(RequestStatus.Pending, expiresAt);
        emit RequestOpened(requestId, terms.patient, msg.sender, openedAt, expiresAt, terms);
        if (approved) {
            emit RequestApproved(requestId, terms.patient, address(0));
            _grantRequest(msg.sender, terms, address(0));
        }
    }

    /// @inheritdoc IAccessRequests
    function approveRequest(AccessRequest calldata request) external {
        _decide(request, _requestIdOf(request), msg.sender, true);
    }

    /// @inheritdoc IAccessRequests
    function denyRequest(AccessRequest calldata request) external {
        _decide(request, _requestIdOf(request), msg.sender, false);
    }

    /// @inheritdoc IAccessRequests
    function cancelRequest(AccessRequest calldata request) external {
        bytes32 requestId = _requestIdOf(request);
        if (_requests[requestId].isEmpty()) revert RequestNotFound(requestId);
        if (request.researcher != msg.sender) revert NotRequestResearcher(requestId, msg.sender);
        _requests[requestId] = RequestWordLibrary.EMPTY;
        emit RequestCancelled(requestId, request.terms.patient);
    }

    /// @inheritdoc IAccessRequests
    function setPolicy(DataUsePolicy calldata policy) external {
        _setPolicy(_actor(), policy);
    }

    /// @inheritdoc IAccessRequests
    function clearPolicy() external {
        _clearPolicy(_actor());
    }

    /// @dev The one path of every policy, direct or signed: `patient` is the caller or the signer.
    function _setPolicy(address patient, DataUsePolicy calldata policy) internal {
        if (!DataUse.isPolicyPermission(policy.permission)) revert InvalidPolicyPermission(policy.permission);
        uint64 unsupported = policy.modifiers & ~DataUse.SUPPORTED_MODIFIERS;
        if (unsupported != 0) revert UnsupportedPolicyModifiers(unsupported);
        if (!DataClasses.isValidSet(policy.dataClasses)) revert InvalidDataClasses(policy.dataClasses);
        if (policy.purposes == 0 || policy.purposes & ~Purposes.RESEARCH != 0) {
            revert InvalidPolicyPurposes(policy.purposes);
        }
        if ((policy.permission == DataUse.DS) != (policy.diseaseId != 0)) {
            revert InvalidDiseaseId(policy.permission, policy.diseaseId);
        }
        if (((policy.modifiers >> DataUse.TS) & 1 == 1) != (policy.maxDuration != 0)) {
            revert InvalidPolicyTimeLimit(policy.modifiers, policy.maxDuration);
        }
        if (policy.validUntil != 0 && policy.validUntil <= block.timestamp) {
            revert InvalidValidity(0, policy.validUntil);
        }
        // One read and one write of the word: the opt-out and its epoch stay.
        _patientSettings[patient] = _patientSettings[patient].withPolicy(policy);
        emit PolicySet(patient, policy);
    }

    /// @dev The one path of every clearing of a policy, direct or signed. The opt-out and its epoch stay.
    function _clearPolicy(address patient) internal {
        _patientSettings[patient] = _patientSettings[patient].withoutPolicy();
        emit PolicyCleared(patient);
    }

    /// @inheritdoc IAccessRequests
    function policyOf(address patient) external view returns (DataUsePolicy memory) {
        SettingsWord s = _patientSettings[patient];
        return
            DataUsePolicy(
                s.permission(),
                s.modifiers(),
                s.dataClasses(),
                s.purposes(),
                s.diseaseId(),
                s.maxDuration(),
                s.validUntil()
            );
    }

    /// @inheritdoc IAccessRequests
    function policyApproves(address researcher, RequestTerms calldata terms) external view returns (bool) {
        if (!_isAccredited(researcher, Roles.RESEARCHER)) return false;
        _validateTerms(researcher, terms);
        return
            _policyMatches(_patientSettings[terms.patient], terms, _party(researcher).nonProfit) &&
            !_holdsBackPolicy(terms.patient, researcher);
    }

    /// @inheritdoc IAccessRequests
    function requestIdOf(AccessRequest calldata request) external pure returns (bytes32) {
        return _requestIdOf(request);
    }

    /// @inheritdoc IAccessRequests
    function requestStatus(bytes32 requestId) external view returns (RequestStatus status, uint40 expiresAt) {
        RequestWord word = _requests[requestId];
        (status, expiresAt) = (word.status(), word.expiresAt());
        if (status == RequestStatus.Pending && expiresAt <= block.timestamp) status = RequestStatus.Expired;
    }

    /// @inheritdoc IAccessRequests
    function requestTtl() external view returns (uint40) {
        return _REQUEST_TTL;
    }

    /// @inheritdoc IAccessRequests
    function maxRequestDuration() external view returns (uint40) {
        return _MAX_REQUEST_DURATION;
    }

    /// @dev The one path of every decision: direct, by a delegate, or relayed with a signature.
    function _decide(AccessRequest calldata request, bytes32 requestId, address actor, bool approved) internal {
        address patient = request.terms.patient;
        _requirePatientOrDelegate(patient, actor);
        RequestWord stored = _requests[requestId];
        if (stored.isEmpty()) revert RequestNotFound(requestId);
        uint40 expiresAt = stored.expiresAt();
        if (expiresAt <= block.timestamp) revert RequestExpired(requestId, expiresAt);
        // Cleared, not marked: the refund pays for much of the decision, and a cleared id cannot be
        // decided again; it can be opened anew only within its opening block (same researcher, terms, time).
        _requests[requestId] = RequestWordLibrary.EMPTY;
        if (approved) {
            // A delegate approves only within its scope; the consent would run from now for the duration.
            // Cannot overflow: a stored request's duration is at most the deployment's maximum.
            if (actor != patient) {
                _requireWithinScope(
                    patient,
                    actor,
                    _liveDelegation(patient, actor),
                    request.terms.dataClasses,
                    uint32(1) << request.terms.purpose,
                    uint40(block.timestamp) + request.terms.duration
                );
            }
            // The request was checked when opened; the access it grants goes to the researcher as it is
            // now. The cheap check first; the full one, which tests the same three conditions, only to
            // revert with the error that names why.
            if (!_isAccredited(request.researcher, Roles.RESEARCHER)) {
                _requireAccredited(request.researcher, Roles.RESEARCHER);
            }
            emit RequestApproved(requestId, patient, actor);
            _grantRequest(request.researcher, request.terms, actor);
        } else {
            emit RequestDenied(requestId, patient, actor);
        }
    }

    /**
     * @dev `keccak256(abi.encode(request))`, hashed from the calldata as it stands. {AccessRequest} is
     * static, 11 words (researcher, openedAt, the 9 fields of {RequestTerms}), so its canonical ABI
     * encoding is its calldata, which the decoder has already checked is long enough: the abi.encode
     * copy re-encoded it field by field (about 200 gas). A non-canonical encoding (dirty high bits) hashes
     * to an id that no opened request has, short of a keccak collision, and so is refused
     * (RequestNotFound); reading its fields would revert anyway. Pinned by the tests that decide requests
     * by the id the SDK computes with abi.encode.
     */
    function _requestIdOf(AccessRequest calldata request) internal pure returns (bytes32 requestId) {
        assembly ("memory-safe") {
            // Scratch above the free memory pointer, not kept: nothing is allocated before the hash.
            let ptr := mload(0x40)
            calldatacopy(ptr, request, 0x160)
            requestId := keccak256(ptr, 0x160)
        }
    }

    /**
     * @dev The id of a request being opened, `keccak256(abi.encode(AccessRequest(researcher, openedAt,
     * terms)))`: the two head words, then the 9 words of the static {RequestTerms} as their calldata,
     * every field of which {_validateTerms} has read (and so checked clean) except the two bytes32 ones,
     * which have no dirty bits. The same bytes as the abi.encode copy, without its field-by-field re-encoding.
     */
    function _openedRequestId(
        address researcher,
        uint40 openedAt,
        RequestTerms calldata terms
    ) private pure returns (bytes32 requestId) {
        assembly ("memory-safe") {
            let ptr := mload(0x40)
            mstore(ptr, researcher)
            mstore(add(ptr, 0x20), openedAt)
            calldatacopy(add(ptr, 0x40), terms, 0x120)
            requestId := keccak256(ptr, 0x160)
        }
    }

    function _grantRequest(address researcher, RequestTerms calldata terms, address actor) private {
        uint40 start = uint40(block.timestamp);
        // Cannot overflow: duration is at most the deployment's maximum, far below 2^40 - now.
        _grant(
            terms.patient,
            researcher,
            terms.dataClasses,
            uint32(1) << terms.purpose,
            start,
            start + terms.duration,
            actor
        );
    }

    function _validateTerms(address researcher, RequestTerms calldata terms) private view {
        if (terms.patient == address(0) || terms.patient == researcher) revert InvalidRequestPatient(terms.patient);
        if (!DataClasses.isValidSet(terms.dataClasses)) revert InvalidDataClasses(terms.dataClasses);
        if (!Purposes.isKnown(terms.purpose)) revert UnknownPurpose(terms.purpose);
        // Research purposes only: they alone need the researcher's live accreditation at every access
        // check, so no consent born of a request outlives a suspension or a lapse.
        if ((Purposes.RESEARCH >> terms.purpose) & 1 == 0) revert RequestPurposeNotResearch(terms.purpose);
        uint8 category = terms.researchCategory;
        if (!DataUse.isResearchCategory(category)) revert InvalidResearchCategory(terms.purpose, category);
        if ((category == DataUse.DS) != (terms.diseaseId != 0)) revert InvalidDiseaseId(category, terms.diseaseId);
        if (terms.acceptedObligations & ~DataUse.OBLIGATIONS != 0) revert InvalidObligations(terms.acceptedObligations);
        if (terms.duration == 0 || terms.duration > _MAX_REQUEST_DURATION) {
            revert InvalidDuration(terms.duration, _MAX_REQUEST_DURATION);
        }
    }

    /**
     * @dev The matching rules of README "Policy matching", after the Broad Institute's DUOS matcher: any
     * rule that does not approve leaves the request to the patient (never an automatic denial).
     */
    function _policyMatches(
        SettingsWord policy,
        RequestTerms calldata terms,
        bool researcherNonProfit
    ) private view returns (bool) {
        uint8 permission = policy.permission();
        if (permission == 0) return false;
        uint40 validUntil = policy.validUntil();
        if (validUntil != 0 && validUntil <= block.timestamp) return false;
        if ((policy.purposes() >> terms.purpose) & 1 == 0) return false;
        if (terms.dataClasses & ~policy.dataClasses() != 0) return false;
        if (terms.dataClasses & DataClasses.SENSITIVE != 0) return false;
        if (!DataUse.permits(permission, policy.diseaseId(), terms.researchCategory, terms.diseaseId)) {
            return false;
        }
        uint64 modifiers = policy.modifiers();
        if (_has(modifiers, DataUse.NPOA) && terms.researchCategory == DataUse.POA) return false;
        if ((_has(modifiers, DataUse.NPU) || _has(modifiers, DataUse.NCU)) && !researcherNonProfit) return false;
        uint64 obligations = modifiers & DataUse.OBLIGATIONS;
        if (terms.acceptedObligations & obligations != obligations) return false;
        if (_has(modifiers, DataUse.IRB) && terms.protocolHash == bytes32(0)) return false;
        if (_has(modifiers, DataUse.TS) && terms.duration > policy.maxDuration()) return false;
        return true;
    }

    function _has(uint64 modifiers, uint8 code) private pure returns (bool) {
        return (modifiers >> code) & 1 == 1;
    }
}
