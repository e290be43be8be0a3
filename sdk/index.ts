/**
 * Consent Ledger SDK, core entry point: browser-safe (no Node built-ins). Node-only parts (the
 * file-system blob store, deployment files) are in "consent-ledger/node".
 */
export {
  AccessBasis,
  DataClass,
  DataClassFhir,
  Duo,
  DUO_MODIFIERS,
  DUO_OBLIGATIONS,
  DUO_PERMISSIONS,
  DUO_RESEARCH_CATEGORIES,
  EmergencyReason,
  Purpose,
  PURPOSE_SYSTEM,
  PurposeDisplay,
  RequestStatus,
  RESEARCH_PURPOSES,
  Role,
  SENSITIVE_DATA_CLASSES,
  codesOf,
  duoMaskOf,
  maskOf,
} from "./codes";
export type {
  AccessBasisName,
  DataClassCode,
  DataClassName,
  DuoName,
  EmergencyReasonName,
  PurposeCode,
  PurposeName,
  RequestStatusName,
  RoleName,
} from "./codes";
export {
  AccessDeniedError,
  AccessNotConfirmedError,
  BlobNotFoundError,
  ConsentLedgerError,
  ContractRevertError,
  DecryptionError,
  DeploymentNotFoundError,
  FormatError,
  IntegrityError,
  InvalidArgumentError,
  NetworkMismatchError,
  StorageError,
  UnknownCodeError,
  WrongRecipientKeyError,
} from "./errors";
export { accessLogAbi, consentLedgerAbi, keyDirectoryAbi, recordRegistryAbi } from "./chain/abis";
export { connect, parseDeployment } from "./chain/connect";
export type { Deployment, LedgerContracts } from "./chain/connect";
export type { PendingTransaction } from "./chain/transactions";
export { decodeRevert, toLedgerError } from "./chain/revert";
export { ContentType, openRecord, parseEnvelope, recordIdOf, sealRecord } from "./crypto/envelope";
export type { RecordContext } from "./crypto/envelope";
export { unwrapDataKey, wrapDataKey } from "./crypto/key-wrap";
export {
  bytes32ToPublicKey,
  deriveEncryptionKeyPair,
  encryptionKeyMessage,
  generateEncryptionKeyPair,
  keyPairFromSignature,
  publicKeyToBytes32,
} from "./crypto/keys";
export type { EncryptionKeyPair } from "./crypto/keys";
export { MemoryBlobStore, cidFromRecordId, cidOf, recordIdFromCid } from "./storage/blob-store";
export type { BlobStore } from "./storage/blob-store";
export { AdminClient } from "./clients/admin";
export { AuditClient, RELEASE_LEAF_TYPES } from "./clients/audit";
export type { AuditAction, AuditBasis, AuditEntry, ReleaseManifest } from "./clients/audit";
export { PatientClient, parseSignedConsent, relaySignedConsent } from "./clients/patient";
export type { OnBehalf, SignOptions } from "./clients/patient";
export { BATCH_LEAF_TYPES, ProviderClient } from "./clients/provider";
export type { BatchManifest, KeyCustodian, PublishInput, PublishedBatch, PublishedRecord } from "./clients/provider";
export { anchorEventOf, recordsOf, verifyEnvelopeOnChain } from "./clients/records";
export type { AnchoredRecord, BatchMembership } from "./clients/records";
export { findRequest, hashDocument, requestIdOf, studyIdOf, toRequestTerms } from "./clients/requests";
export { ResearcherClient } from "./clients/researcher";
export type { OpenedRecord } from "./clients/researcher";
export { CONSENT_TYPES, consentDomain } from "./clients/signatures";
export type {
  AccessRequest,
  Consent,
  ConsentChange,
  DataUsePolicy,
  GrantInput,
  PolicyInput,
  RequestInput,
  RequestTerms,
  RequestView,
  SignedConsent,
} from "./clients/types";
export { assertFhirResource, parseFhirJson } from "./fhir/resource";
export type { FhirResource } from "./fhir/resource";
export { auditEntryToFhir, auditTrailToFhirBundle, consentToFhir } from "./fhir/export";
export { GatewayAuthenticationError, GatewayClient, GatewayError } from "./clients/gateway";
export type { GatewayClientOptions, GatewayHealth, KeyRelease } from "./clients/gateway";
