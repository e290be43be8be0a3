// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {IAccessRequests} from "../interfaces/IAccessRequests.sol";

/**
 * @dev A pending request's state as stored (docs/contracts.md, "Packed words"), its terms being only
 * emitted: bits 0-7 status (Pending) | 8-47 expiresAt | 48-255 zero. Zero when nothing is pending.
 */
type RequestWord is uint256;

using RequestWordLibrary for RequestWord global;

/// @dev Offsets, masks and accessors of {RequestWord}, the one definition of its layout.
library RequestWordLibrary {
    uint256 internal constant STATUS_OFFSET = 0;
    uint256 internal constant EXPIRES_AT_OFFSET = 8;

    /// @dev Nothing pending: what a decision or a cancellation leaves.
    RequestWord internal constant EMPTY = RequestWord.wrap(0);

    function pack(IAccessRequests.RequestStatus status_, uint40 expiresAt_) internal pure returns (RequestWord) {
        return RequestWord.wrap((uint256(status_) << STATUS_OFFSET) | (uint256(expiresAt_) << EXPIRES_AT_OFFSET));
    }

    function status(RequestWord word) internal pure returns (IAccessRequests.RequestStatus) {
        // The low byte was written from a RequestStatus, so the conversion cannot fail.
        return IAccessRequests.RequestStatus(uint8(RequestWord.unwrap(word) >> STATUS_OFFSET));
    }

    function expiresAt(RequestWord word) internal pure returns (uint40) {
        return uint40(RequestWord.unwrap(word) >> EXPIRES_AT_OFFSET);
    }

    function isEmpty(RequestWord word) internal pure returns (bool) {
        return RequestWord.unwrap(word) == 0;
    }
}
