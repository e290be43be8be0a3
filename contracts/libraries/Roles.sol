// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

/**
 * @title Roles
 * @notice Accreditation roles, as a bitmask: one party may hold several (a university hospital is a
 * provider, a researcher and a custodian).
 */
library Roles {
    /// @dev Anchors records, opens emergency access.
    uint8 internal constant PROVIDER = 1 << 0;
    /// @dev Requests access for research.
    uint8 internal constant RESEARCHER = 1 << 1;
    /// @dev Runs a key-release gateway and writes the access log.
    uint8 internal constant CUSTODIAN = 1 << 2;

    uint8 internal constant ALL = PROVIDER | RESEARCHER | CUSTODIAN;
}
