/**
 * Consent Ledger SDK for viem dApps ("consent-ledger/viem"): the contracts as viem contract instances,
 * clients that write through a viem WalletClient, and the same rules, code tables, types, EIP-712
 * definitions, record envelope and errors as the ethers entry ("consent-ledger"), from modules that import
 * neither library. Nothing on this entry's import graph imports ethers (test/sdk/core-entry.test.ts), so
 * a viem dApp bundles no ethers. What both entries share is sdk/shared.ts; this file adds the viem
 * clients (patient, researcher with its keys and verified record opening, provider, admin) and reads.
 *
 * The gateway, custodian-set, relayer, pairing and pseudonym-identity clients are one implementation each
 * (sdk/clients/*-core.ts, pairing.ts, relayer.ts) that both entries share, behind small library-free
 * interfaces (a typed-data signer, a record opener, the custodian-set and relay chain reads);
 * sdk/viem/ gives them viem's. The audit trail (AuditClient, PatientEventReader, readBatch) is likewise
 * one implementation (sdk/clients/audit-core.ts, patient-events-core.ts) with viem's log queries and
 * eth_call, and FHIR consents (previewFhirConsent, applyFhirConsent) share one applier. What this entry does
 * not have yet (patientState) is in the ethers
 * entry, which also takes viem clients through an adapter.
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
export { GatewayClient, viemRecordOpener } from "./viem/gateway";
export { viemTypedDataSigner } from "./viem/signer";
export { CustodianSetClient } from "./viem/custodian-set";
export { createPairingLink } from "./viem/pairing";
export { PatientIdentity, pseudonymAccount, pseudonymWallet } from "./viem/identity";
export type { PatientIdentityOptions } from "./viem/identity";
export { AuditClient, PatientEventReader, readBatch } from "./viem/audit";
export type { AuditAction, AuditBasis, AuditEntry, AuditLine, ReleaseManifest } from "./clients/audit-core";
export type { BatchCall, BatchResult, ChainEvent, PatientEventLogs } from "./clients/patient-events-core";
