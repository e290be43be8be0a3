// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {IAccreditation} from "./IAccreditation.sol";
import {IConsents} from "./IConsents.sol";
import {IAccessRequests} from "./IAccessRequests.sol";
import {IEmergencyAccess} from "./IEmergencyAccess.sol";
import {ISignedConsents} from "./ISignedConsents.sol";
import {IVersioned} from "./IVersioned.sol";

/**
 * @title IConsentLedger
 * @notice The rules of consent, in one contract so that every access check is one call with no
 * cross-contract reads: accreditation, consents and delegates, research requests and standing
 * policies, emergency access, and their signed (gasless) forms.
 */
interface IConsentLedger is IAccreditation, IConsents, IAccessRequests, IEmergencyAccess, ISignedConsents, IVersioned {
    /// @notice Thrown at deployment when a duration parameter is zero or above 100 years.
    error InvalidLedgerConfiguration(uint40 requestTtl, uint40 maxRequestDuration, uint40 maxEmergencyDuration);
}
