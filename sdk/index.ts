/**
 * Consent Ledger SDK, core entry point: browser-safe (no Node built-ins). Node-only parts (the
 * file-system blob store, deployment files) are in "consent-ledger/node".
 */
export * from "./shared";
export { connect } from "./chain/connect";
export { isViemClient, toRunner, toSigner, ViemSigner, viemProvider, withOverrides } from "./chain/runner";
export type { RunnerInput, SignerInput, ViemClientLike, ViemWalletClientLike } from "./chain/runner";
export { accreditationOf, delegatesOf, nonceWordOf, policyOf, requestsOf } from "./clients/reads";
export type { LedgerContracts } from "./chain/connect";
export { decodeRevert, toLedgerError } from "./chain/revert";
export {
  DEFAULT_SEGMENT_BYTES,
  KeyCommitmentError,
  SegmentError,
  openRecordRange,
  openRecordStream,
  recordIdOfV2,
  sealRecordStream,
  sealRecordV2,
  segmentIndexOf,
  toReadableStream,
  verifyRecordStream,
} from "./crypto/envelope-v2";
export type {
  ByteSource,
  EnvelopeV2Options,
  ParsedHeaderV2,
  RangeRequest,
  SealingRecord,
  SegmentProblem,
  VerifyRecordStreamOptions,
} from "./crypto/envelope-v2";
export { webSegmentCrypto } from "./crypto/segment-crypto";
export { WebCryptoUnavailableError } from "./crypto/webcrypto";
export type { SegmentCrypto } from "./crypto/segment-crypto";
export { createPairingLink } from "./clients/pairing";
export { AdminClient } from "./clients/admin";
export { AuditClient, MAX_MANIFEST_BYTES, RELEASE_LEAF_TYPES } from "./clients/audit";
export type { AuditAction, AuditBasis, AuditEntry, AuditLine, ReleaseManifest } from "./clients/audit";
export {
  MAX_CALLS_PER_BATCH,
  MAX_PER_QUERY,
  PatientEventReader,
  REREAD_BLOCKS,
  patientState,
  readBatch,
} from "./clients/patient-events";
export type {
  BatchCall,
  BatchResult,
  PatientEvents,
  PatientState,
  PendingRequestView,
  StateSection,
} from "./clients/patient-events";
export { PatientClient, populateSignedConsent, relaySignedConsent } from "./clients/patient";
export { LinkingDelegateError, PatientIdentity, SpreadActionError, pseudonymSigner } from "./clients/identity";
export type {
  DelegateSpreadOptions,
  PatientIdentityOptions,
  SpreadAction,
  SpreadOptions,
  SpreadProgress,
} from "./clients/identity";
export { DelegateIdentity } from "./clients/delegate";
export type { DelegateIdentityOptions } from "./clients/delegate";
export { ProviderClient } from "./clients/provider";
export {
  anchorEventOf,
  recordsFromEvents,
  recordsOf,
  verifyContextOnChain,
  verifyEnvelopeOnChain,
} from "./clients/records";
export { findRequest } from "./clients/requests";
export { ResearcherClient } from "./clients/researcher";
export {
  SIGNED_CONSENT_PRIMARY_TYPES,
  actionTypehash,
  encodeActionArgs,
  isSignedActionKind,
  recoverSignedConsentSigner,
  signedConsentDomain,
  signedConsentMessage,
} from "./clients/signatures";
export { GatewayClient, ethersRecordOpener } from "./clients/gateway";
export { STUDY_TITLE_MAX_LENGTH, studyLabelOf } from "./clients/study-metadata";
export type { StudyLabel, StudyMetadata } from "./clients/study-metadata";
export { CustodianSetClient } from "./clients/custodian-set";
export { combineKeyShares, splitDataKey } from "./crypto/key-shares";
export { unwrapKeyShare, wrapKeyShare } from "./crypto/key-wrap";
