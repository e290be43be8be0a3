/**
 * Consent Ledger SDK for viem dApps ("consent-ledger/viem"): the contracts as viem contract instances,
 * clients that write through a viem WalletClient, and the same rules, code tables, types, EIP-712
 * definitions, record envelope and errors as the ethers entry ("consent-ledger"), from modules that import
 * neither library. Nothing on this entry's import graph imports ethers (test/sdk/core-entry.test.ts), so
 * a viem dApp bundles no ethers. What both entries share is sdk/shared.ts; this file adds the viem
 * clients (patient, researcher with its keys and verified record opening, provider, admin) and reads.
 * What it does not have yet (the gateway, custodian-set and audit clients; previews of FHIR consents) is
 * in the ethers entry, which also takes viem clients through an adapter.
 */
export * from "./shared";
export { connect } from "./viem/connect";
export type { ViemLedgerContracts } from "./viem/connect";
export { decodeRevert, toLedgerError } from "./viem/errors";
export { accreditationOf, delegatesOf, nonceWordOf, policyOf } from "./viem/reads";
export { AdminClient } from "./viem/admin";
export { PatientClient } from "./viem/patient";
export { ProviderClient } from "./viem/provider";
export { ResearcherClient } from "./viem/researcher";
export { anchorEventOf, recordsOf, verifyContextOnChain, verifyEnvelopeOnChain } from "./viem/records";
export { relaySignedConsent } from "./viem/relay";
export { requestStatusOf, requestsOf } from "./viem/requests";
