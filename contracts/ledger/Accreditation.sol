// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {Ownable2Step} from "@openzeppelin/contracts/access/Ownable2Step.sol";

import {IAccreditation} from "../interfaces/IAccreditation.sol";
import {Roles} from "../libraries/Roles.sol";
import {PartyWordLibrary} from "../types/PartyWord.sol";

/// @title Accreditation
/// @notice The administrator's register of providers, researchers and custodians. The administrator is
/// the owner (two-step transfer, so a typo cannot lose it); in production, a multisig.
abstract contract Accreditation is Ownable2Step, IAccreditation {
    mapping(address party => Party) private _parties;
    mapping(uint32 index => address party) private _partyAt;
    uint32 private _partyCount;

    /// @inheritdoc IAccreditation
    function accredit(address party, uint8 roles, bool nonProfit, uint40 accreditedUntil) external onlyOwner {
        if (party == address(0)) revert InvalidParty(party);
        if (roles == 0 || roles & ~Roles.ALL != 0) revert InvalidRoles(roles);
        if (accreditedUntil != 0 && accreditedUntil <= block.timestamp) {
            revert InvalidAccreditationExpiry(accreditedUntil);
        }
        Party storage stored = _parties[party];
        uint32 index = stored.index;
        if (index == 0) {
            index = ++_partyCount;
            _partyAt[index] = party;
            stored.index = index;
        }
        stored.roles = roles;
        stored.nonProfit = nonProfit;
        stored.accreditedUntil = accreditedUntil;
        emit PartyAccredited(party, roles, nonProfit, accreditedUntil, index);
    }

    /// @inheritdoc IAccreditation
    function suspend(address party, uint16 reasonCode) external onlyOwner {
        Party storage stored = _accredited(party);
        stored.suspended = true;
        // Ends the party's emergency windows for good (EmergencyAccess compares the count). Wrapping after
        // 65,536 suspensions is harmless: a window lasts at most the ledger's maximum duration.
        unchecked {
            ++stored.suspensions;
        }
        emit PartySuspended(party, reasonCode);
    }

    /// @inheritdoc IAccreditation
    function reinstate(address party) external onlyOwner {
        Party storage stored = _accredited(party);
        stored.suspended = false;
        emit PartyReinstated(party);
    }

    /**
     * @notice Always reverts: administration can move (two-step transfer) but never vanish, since a
     * register nobody can suspend in would keep a compromised party accredited for good.
     */
    function renounceOwnership() public view override onlyOwner {
        revert AdministrationCannotBeRenounced();
    }

    /// @inheritdoc IAccreditation
    function partyOf(address party) external view returns (Party memory) {
        return _parties[party];
    }

    /// @inheritdoc IAccreditation
    function partyAt(uint32 index) external view returns (address) {
        return _partyAt[index];
    }

    /// @inheritdoc IAccreditation
    function isAccredited(address party, uint8 roles) external view returns (bool) {
        return _isAccredited(party, roles);
    }

    /// @inheritdoc IAccreditation
    function requireAccredited(address party, uint8 roles) external view returns (Party memory) {
        return _requireAccredited(party, roles);
    }

    function _requireAccredited(address party, uint8 roles) internal view returns (Party memory accreditation) {
        accreditation = _parties[party];
        if (accreditation.roles & roles == 0) revert PartyNotAccredited(party, roles);
        if (accreditation.suspended) revert AccreditationSuspended(party);
        if (accreditation.accreditedUntil != 0 && accreditation.accreditedUntil <= block.timestamp) {
            revert AccreditationExpired(party, accreditation.accreditedUntil);
        }
    }

    function _party(address party) internal view returns (Party memory) {
        return _parties[party];
    }

    /// @dev The hot path of every access check: one SLOAD, fields taken from the word on the stack at the
    /// offsets of {PartyWord}. Live means: holds one of `roles`, not suspended, and no expiry or one still
    /// ahead. In assembly, without branches, since the compiled form spent more on jumps than on the
    /// checks themselves. (The same expression as a library function on {PartyWord} cost 18 gas more per
    /// access check.)
    function _isAccredited(address party, uint256 roles) internal view returns (bool live) {
        uint256 slot = _partySlot(party);
        // Locals because assembly cannot read library constants; the optimizer folds them.
        uint256 rolesOffset = PartyWordLibrary.ROLES_OFFSET;
        uint256 suspendedOffset = PartyWordLibrary.SUSPENDED_OFFSET;
        uint256 untilOffset = PartyWordLibrary.ACCREDITED_UNTIL_OFFSET;
        uint256 mask8 = PartyWordLibrary.MASK_8_BITS;
        uint256 mask40 = PartyWordLibrary.MASK_40_BITS;
        assembly ("memory-safe") {
            let word := sload(slot)
            let until := and(shr(untilOffset, word), mask40)
            live := and(
                and(
                    iszero(iszero(and(shr(rolesOffset, word), and(roles, mask8)))),
                    iszero(and(word, shl(suspendedOffset, mask8)))
                ),
                or(iszero(until), gt(until, timestamp()))
            )
        }
    }

    /// @dev The storage slot of `party`'s {IAccreditation-Party} word.
    function _partySlot(address party) private view returns (uint256 slot) {
        mapping(address => Party) storage parties = _parties;
        assembly ("memory-safe") {
            mstore(0x00, shr(96, shl(96, party)))
            mstore(0x20, parties.slot)
            slot := keccak256(0x00, 0x40)
        }
    }

    function _accredited(address party) private view returns (Party storage stored) {
        stored = _parties[party];
        if (stored.roles == 0) revert PartyNotAccredited(party, Roles.ALL);
    }
}
