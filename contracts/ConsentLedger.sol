// SPDX-License-Identifier: MIT
pragma solidity 0.8.29;

import {Ownable} from "@openzeppelin/contracts/access/Ownable.sol";
import {EIP712} from "@openzeppelin/contracts/utils/cryptography/EIP712.sol";

import {IConsentLedger} from "./interfaces/IConsentLedger.sol";
import {IVersioned} from "./interfaces/IVersioned.sol";
import {AccessRequests} from "./ledger/AccessRequests.sol";
import {EmergencyAccess} from "./ledger/EmergencyAccess.sol";
import {SignedConsents} from "./ledger/SignedConsents.sol";

/**
 * @title ConsentLedger
 * @notice The rules of consent for health data: who is accredited, who may read which class of a
 * patient's data for which purpose until when, research requests and the policies that decide them,
 * emergency access, and the signed forms of each patient action. Off-chain code asks this contract;
 * it never re-implements these rules.
 */
contract ConsentLedger is SignedConsents, IConsentLedger {
    /**
     * @param administrator Owner of accreditation (a multisig in production).
     * @param requestTtl How long a request waits for a decision, in seconds.
     * @param maxRequestDuration Longest access a request may ask for, in seconds.
     * @param maxEmergencyDuration Longest emergency window, in seconds.
     */
    constructor(
        address administrator,
        uint40 requestTtl,
        uint40 maxRequestDuration,
        uint40 maxEmergencyDuration
    )
        Ownable(administrator)
        EIP712("ConsentLedger", "1")
        AccessRequests(requestTtl, maxRequestDuration)
        EmergencyAccess(maxEmergencyDuration)
    {
        // Bounded far below 2^40 so that now + duration can never overflow a uint40 timestamp.
        uint40 limit = 100 * 365 days;
        if (
            requestTtl == 0 ||
            requestTtl > limit ||
            maxRequestDuration == 0 ||
            maxRequestDuration > limit ||
            maxEmergencyDuration == 0 ||
            maxEmergencyDuration > limit
        ) revert InvalidLedgerConfiguration(requestTtl, maxRequestDuration, maxEmergencyDuration);
    }

    /// @inheritdoc IVersioned
    /// @dev 4.0.0: every patient action has a signed form: `actBySig` relays the patient's own settings
    /// (SetPolicy, ClearPolicy, AppointDelegate, RemoveDelegate, SetEmergencyOptOut, InvalidateNonces),
    /// so a pseudonym that never holds ether can take them all; 3.0.0's signatures verify unchanged.
    /// 3.0.0: every signed type names its signer, so a signature spends only the named account's
    /// nonce (2.0.0's signatures do not verify here), and the access check is `hasAccess` again (2.0.0's
    /// `hasAccessRightNow` is gone).
    function version() external pure returns (string memory) {
        return "4.0.0";
    }
}
