// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

/**
 * @title IAccessRequests
 * @notice Accredited researchers ask patients for access; patients (or delegates) approve, which grants
 * a consent, or deny; researchers may cancel; requests expire. A patient's standing data-use policy,
 * modelled on the GA4GH Data Use Ontology, approves a matching request in the same transaction.
 *
 * Only a request's status and expiry are stored. Its terms are emitted in {RequestOpened} and committed
 * to by its id, `keccak256(abi.encode(researcher, openedAt, terms))`, so deciding a request takes the
 * full {AccessRequest} back as calldata and the contract checks it against the id.
 */
interface IAccessRequests {
    /**
     * @notice What a researcher asks for.
     * @param patient Whose data.
     * @param dataClasses Bitmask of {DataClasses} codes.
     * @param purpose One {Purposes} code.
     * @param researchCategory DUO code of the research: 42 GRU, 6 HMB, 7 DS, 11 POA; 0 when the purpose
     * is not research.
     * @param diseaseId MONDO id of the disease studied, for DS research; otherwise 0.
     * @param acceptedObligations DUO modifier bitmask of the obligations the researcher accepts
     * (PUB 19, COL 20, IRB 21, MOR 24, RTN 29).
     * @param duration How long access is wanted, in seconds from approval.
     * @param studyId An opaque study identifier (e.g. a hash of a registry id), never free text.
     * @param protocolHash Hash of the protocol / ethics approval document, 0 when none.
     */
    struct RequestTerms {
        address patient;
        uint32 dataClasses;
        uint8 purpose;
        uint8 researchCategory;
        uint32 diseaseId;
        uint64 acceptedObligations;
        uint40 duration;
        bytes32 studyId;
        bytes32 protocolHash;
    }

    /// @notice A request as opened: who, when, and what.
    struct AccessRequest {
        address researcher;
        uint40 openedAt;
        RequestTerms terms;
    }

    /**
     * @notice What the ledger stores of a request: `Pending` while it waits, `Expired` (derived from the
     * clock) once its time is over, `None` for an unknown or closed one. Only pending requests are stored:
     * a decision or cancellation clears the request, and its outcome is in its event
     * ({RequestApproved}, {RequestDenied}, {RequestCancelled}).
     */
    enum RequestStatus {
        None,
        Pending,
        Expired
    }

    /**
     * @notice A standing data-use policy. Stored with the patient's emergency opt-out in one slot.
     * @param permission DUO permission: 4 NRES, 42 GRU, 6 HMB, 7 DS, 11 POA; 0 when no policy is set.
     * @param modifiers DUO modifier bitmask: obligations (PUB, COL, IRB, MOR, RTN), TS, NPOA, NPU, NCU.
     * @param dataClasses Classes the policy releases (sensitive classes never are, see README).
     * @param purposes Research purposes ({Purposes-RESEARCH} subset) the policy covers.
     * @param diseaseId MONDO id for a DS permission; otherwise 0.
     * @param maxDuration Longest access granted, in seconds; required with TS, else 0 for no limit.
     * @param validUntil When the policy stops approving, 0 for never.
     */
    struct DataUsePolicy {
        uint8 permission;
        uint64 modifiers;
        uint32 dataClasses;
        uint16 purposes;
        uint32 diseaseId;
        uint40 maxDuration;
        uint40 validUntil;
    }

    /// @notice Thrown when a request asks nothing, or names the researcher as its own patient.
    error InvalidRequestPatient(address patient);
    /// @notice Thrown when a research purpose comes without a DUO research category, or a category is unknown.
    error InvalidResearchCategory(uint8 purpose, uint8 researchCategory);
    /// @notice Thrown when a request asks for a purpose that is not research: only research purposes need
    /// the researcher's live accreditation at every access check, so only they may be requested.
    error RequestPurposeNotResearch(uint8 purpose);
    /// @notice Thrown when a disease-specific request or policy names no disease, or another one names one.
    error InvalidDiseaseId(uint8 category, uint32 diseaseId);
    /// @notice Thrown when obligations name a modifier that is not an obligation.
    error InvalidObligations(uint64 obligations);
    /// @notice Thrown when a requested duration is zero or longer than the ledger allows.
    error InvalidDuration(uint40 duration, uint40 maxDuration);
    /// @notice Thrown when the same researcher opens the very same request twice in one block while the
    /// first is still pending (one approved by a policy, decided or cancelled in that block is not stored).
    error RequestAlreadyExists(bytes32 requestId);
    /// @notice Thrown when no request with this id is pending: never opened, already decided or cancelled,
    /// or the request passed back differs from the one opened.
    error RequestNotFound(bytes32 requestId);
    /// @notice Thrown when a request's time to be decided ran out at `expiredAt`.
    error RequestExpired(bytes32 requestId, uint40 expiredAt);
    /// @notice Thrown when someone other than its researcher cancels a request.
    error NotRequestResearcher(bytes32 requestId, address caller);
    /// @notice Thrown when a policy's permission is not a DUO permission code.
    error InvalidPolicyPermission(uint8 permission);
    /// @notice Thrown when a policy carries a modifier the matcher does not understand.
    error UnsupportedPolicyModifiers(uint64 modifiers);
    /// @notice Thrown when a policy's purposes are empty or not all research purposes.
    error InvalidPolicyPurposes(uint16 purposes);
    /// @notice Thrown when a TS (time limit) policy has no maximum duration, or a maximum without TS.
    error InvalidPolicyTimeLimit(uint64 modifiers, uint40 maxDuration);

    /// @notice Emitted when `researcher` asks `patient` for access.
    event RequestOpened(
        bytes32 indexed requestId,
        address indexed patient,
        address indexed researcher,
        uint40 openedAt,
        uint40 expiresAt,
        RequestTerms terms
    );
    /// @notice Emitted when a request is approved; `actor` is 0 when the patient's policy approved it.
    event RequestApproved(bytes32 indexed requestId, address indexed patient, address actor);
    /// @notice Emitted when a request is denied by the patient or a delegate (`actor`).
    event RequestDenied(bytes32 indexed requestId, address indexed patient, address actor);
    /// @notice Emitted when the researcher withdraws a request.
    event RequestCancelled(bytes32 indexed requestId, address indexed patient);
    /// @notice Emitted when `patient` sets its standing policy.
    event PolicySet(address indexed patient, DataUsePolicy policy);
    /// @notice Emitted when `patient` clears its standing policy.
    event PolicyCleared(address indexed patient);

    /**
     * @notice Opens a request to `terms.patient`. If the patient's standing policy matches (README,
     * "Policy matching"), the request is approved at once and the consent granted in this transaction,
     * unless the patient's side revoked the caller since its last grant or approval (see
     * {IConsents-revoke}), or the caller holds a consent of the patient that has not ended (approving
     * would replace it, narrowing or widening access): then the request waits for the patient.
     * Requirements: caller is a live accredited researcher; a patient other than the caller; a non-empty
     * set of known data classes; a known purpose that is a research purpose ({Purposes-RESEARCH}), so
     * that every consent a request gives lapses with the researcher's accreditation; a known research
     * category, with a disease id exactly for DS; obligations only from the obligation modifiers; a duration
     * between 1 second and {maxRequestDuration}.
     * Stores the request only when it is left pending.
     * Emits {RequestOpened}, and {RequestApproved} and {IConsents-ConsentGranted} when auto-approved
     * (never over a consent that has not ended, so never {IConsents-ConsentReplaced}).
     * @return requestId The request's id.
     * @return approved Whether the patient's policy approved it.
     */
    function requestAccess(RequestTerms calldata terms) external returns (bytes32 requestId, bool approved);

    /**
     * @notice Approves a pending request: grants its researcher the requested classes for its purpose
     * from now for its duration, replacing any earlier consent to that researcher.
     * Requirements: caller is the patient or a live delegate (a delegate only for a purpose and classes
     * in its scope, and only when the consent, from now for the request's duration, ends by the end of
     * its appointment: see {IConsents-appointDelegate}); the request is pending and not expired; its
     * researcher is still a live accredited researcher (suspended or lapsed since asking: the request
     * can only be denied).
     * Clears the stored request. Emits {RequestApproved}, {IConsents-ConsentReplaced} when it replaces a
     * consent that has not ended, and {IConsents-ConsentGranted}.
     */
    function approveRequest(AccessRequest calldata request) external;

    /**
     * @notice Denies a pending request.
     * Requirements: caller is the patient or a live delegate; the request is pending and not expired.
     * Clears the stored request. Emits {RequestDenied}.
     */
    function denyRequest(AccessRequest calldata request) external;

    /**
     * @notice Withdraws a pending request.
     * Requirements: caller is the request's researcher; the request is pending (expired ones too).
     * Clears the stored request. Emits {RequestCancelled}.
     */
    function cancelRequest(AccessRequest calldata request) external;

    /**
     * @notice Sets the caller's standing policy, replacing any other. Only the patient's own account
     * may: a delegate decides requests one by one.
     * Requirements: a DUO permission; only supported modifiers; a non-empty set of known data classes;
     * research purposes only; a disease id exactly for DS; a maximum duration exactly with TS.
     * Emits {PolicySet}.
     */
    function setPolicy(DataUsePolicy calldata policy) external;

    /// @notice Clears the caller's standing policy: every request waits for the patient. Emits {PolicyCleared}.
    function clearPolicy() external;

    /// @notice The standing policy of `patient` (permission 0 when none).
    function policyOf(address patient) external view returns (DataUsePolicy memory);

    /**
     * @notice Whether `patient`'s policy would approve `terms` from `researcher` now: the same rule
     * {requestAccess} applies (a revocation's hold and a consent not ended included), exposed so a
     * researcher can know before asking.
     */
    function policyApproves(address researcher, RequestTerms calldata terms) external view returns (bool);

    /// @notice The id a request has: `keccak256(abi.encode(request))`.
    function requestIdOf(AccessRequest calldata request) external pure returns (bytes32);

    /// @notice Whether a request is pending (or pending but expired), and when it expires; `None` with 0
    /// for a request never opened, decided, or cancelled (see the events for which).
    function requestStatus(bytes32 requestId) external view returns (RequestStatus status, uint40 expiresAt);

    /// @notice How long a request waits for a decision before it expires, in seconds.
    function requestTtl() external view returns (uint40);

    /// @notice The longest access a request may ask for, in seconds.
    function maxRequestDuration() external view returns (uint40);
}
