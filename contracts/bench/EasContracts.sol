// SPDX-License-Identifier: MIT
pragma solidity 0.8.29;

// Brings the Ethereum Attestation Service into the build, compiled from its npm sources with the very
// compiler it pins (0.8.29), so the gas benchmark measures both systems on one Hardhat network.
import {EAS} from "@ethereum-attestation-service/eas-contracts/contracts/EAS.sol";
import {SchemaRegistry} from "@ethereum-attestation-service/eas-contracts/contracts/SchemaRegistry.sol";
