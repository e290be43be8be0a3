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
  CODE_TABLES,
  accessBasisName,
  codeOf,
  codesOf,
  dataClassName,
  duoMaskOf,
  duoName,
  emergencyReasonName,
  maskOf,
  nameOf,
  nameOrCode,
  namesOf,
  purposeName,
  requestStatusName,
  roleMask,
  roleNames,
} from "./codes";
export type {
  AccessBasisName,
  CodeTableName,
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
  StoreUnavailableError,
  UnknownCodeError,
  WrongRecipientKeyError,
} from "./errors";
export { accessLogAbi, consentLedgerAbi, custodianSetsAbi, keyDirectoryAbi, recordRegistryAbi } from "./chain/abis";
export { connect, parseDeployment } from "./chain/connect";
export { isViemClient, toRunner, toSigner, ViemSigner, viemProvider, withOverrides } from "./chain/runner";
export type {
  RunnerInput,
  SignerInput,
  TransactionOverrides,
  ViemClientLike,
  ViemWalletClientLike,
} from "./chain/runner";
export { accreditationOf, delegatesOf, nonceWordOf, policyOf, requestsOf, usedNonces } from "./clients/reads";
export type { Accreditation, Delegate, RequestParty } from "./clients/reads";
export type { Deployment, LedgerContracts } from "./chain/connect";
export type { PendingTransaction } from "./chain/transactions";
export { decodeRevert, toLedgerError } from "./chain/revert";
export { REVERT_HINTS } from "./chain/hints";
export {
  dataClassCode,
  dataClassMask,
  duoPermissionCode,
  purposeCode,
  purposeMask,
  requireAddress,
  requireBytes32,
  researchCategoryCode,
  toUnixSeconds,
} from "./args";
export { bytesToHex, hexToBytes, randomBytes, utf8Decode, utf8Encode } from "./crypto/bytes";
export { sha256, sha256Hex } from "./crypto/sha256";
export { AES_KEY_BYTES, GCM_IV_BYTES, GCM_TAG_BYTES } from "./crypto/aes-gcm";
export { ContentType, openRecord, parseEnvelope, recordIdOf, sealRecord } from "./crypto/envelope";
export type { ParsedRecordContext, RecordContext } from "./crypto/envelope";
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
export { unwrapDataKey, wrapDataKey } from "./crypto/key-wrap";
export {
  bytes32ToPublicKey,
  deriveEncryptionKeyPair,
  encryptionKeyMessage,
  generateEncryptionKeyPair,
  keyPairFromSignature,
  migrateEncryptionKey,
  NonDeterministicSignerError,
  publicKeyToBytes32,
} from "./crypto/keys";
export type { DeriveKeyOptions, EncryptionKeyPair, KeyScope } from "./crypto/keys";
export {
  PSEUDONYM_ACCOUNT_SALT,
  PSEUDONYM_DERIVATION_VERSION,
  PSEUDONYM_ROOT_SALT,
  PSEUDONYM_X25519_SALT,
  PseudonymRoot,
  derivePseudonymRoot,
  pseudonymRootFromSignature,
  pseudonymRootMessage,
  pseudonymSigner,
  relationshipId,
} from "./crypto/pseudonyms";
export type { DerivePseudonymOptions, Pseudonym, PseudonymScope, Relationship } from "./crypto/pseudonyms";
export {
  DEFAULT_PAIRING_TTL_SECONDS,
  MAX_PAIRING_TTL_SECONDS,
  PAIRING_DOMAIN_NAME,
  PAIRING_DOMAIN_VERSION,
  PAIRING_PREFIX,
  PAIRING_TYPES,
  PairingError,
  createPairingLink,
  encodePairingLink,
  pairingDomain,
  pairingUrl,
  parsePairingLink,
  verifyPairingLink,
} from "./clients/pairing";
export type { CreatePairingInput, PairingLink, PairingProblem, VerifyPairingOptions } from "./clients/pairing";
export { CorruptBlobError, MemoryBlobStore, cidFromRecordId, cidOf, recordIdFromCid } from "./storage/blob-store";
export type { BlobStore, StreamingBlobStore } from "./storage/blob-store";
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
export {
  CARE_DELEGATE_SCOPE,
  NoSignedFormError,
  PatientClient,
  consentOfWord,
  consentWordOf,
  parseSignedConsent,
  populateSignedConsent,
  relaySignedConsent,
  signedRequestIdOf,
} from "./clients/patient";
export type { DelegateScope, OnBehalf, PatientClientOptions, SignOptions } from "./clients/patient";
export { RelayNotConfirmedError, RelayerClient, RelayerError } from "./clients/relayer";
export type { ConsentRelayer, RelayedConsent, RelayerClientOptions, RelayerInfo } from "./clients/relayer";
export { actionRoute, hasSignedForm, SIGNED_FORMS } from "./clients/signed-forms";
export type { ActionRoute, PatientAction } from "./clients/signed-forms";
export { PatientIdentity } from "./clients/identity";
export type { PatientIdentityOptions, PatientView, Tagged } from "./clients/identity";
export { BATCH_LEAF_TYPES, ProviderClient } from "./clients/provider";
export type {
  BatchManifest,
  KeyCustodian,
  PairedPatient,
  PublishInput,
  PublishedBatch,
  PublishedRecord,
} from "./clients/provider";
export {
  anchorEventOf,
  recordsFromEvents,
  recordsOf,
  verifyContextOnChain,
  verifyEnvelopeOnChain,
} from "./clients/records";
export type { AnchoredRecord, BatchMembership } from "./clients/records";
export { findRequest, hashDocument, requestIdOf, studyIdOf, toRequestTerms } from "./clients/requests";
export { ResearcherClient } from "./clients/researcher";
export type { OpenedRecord } from "./clients/researcher";
export {
  CONSENT_TYPES,
  SIGNED_CONSENT_PRIMARY_TYPES,
  consentDomain,
  recoverSignedConsentSigner,
  signedConsentMessage,
} from "./clients/signatures";
export type {
  AccessRequest,
  Consent,
  ConsentFate,
  ConsentPreview,
  DataUsePolicy,
  DelegateScopeInput,
  GrantInput,
  PolicyInput,
  RequestInput,
  RequestTerms,
  RequestView,
  SignedConsent,
} from "./clients/types";
export { assertFhirResource, parseFhirJson } from "./fhir/resource";
export type { FhirResource } from "./fhir/resource";
export {
  auditEntryToFhir,
  auditTrailToFhirBundle,
  consentIdentifier,
  consentToFhir,
  emergencyOptOutToFhir,
  fhirCollection,
  policyToFhir,
} from "./fhir/export";
export type { ConsentExportOptions, LedgerOrigin } from "./fhir/export";
export { consentFromFhir, UnsupportedFhirConsentError } from "./fhir/import";
export type { FhirConsentImportOptions, ImportedConsent, LedgerConsentAction } from "./fhir/import";
export { DATA_CLASS_SLICES, ledgerCodeSystems } from "./fhir/terminology";
export type { DataClassSlice } from "./fhir/terminology";
export {
  GATEWAY_LOGIN_DOMAIN_NAME,
  GATEWAY_LOGIN_DOMAIN_VERSION,
  GATEWAY_LOGIN_PRIMARY_TYPE,
  GATEWAY_LOGIN_TYPES,
  GatewayAuthenticationError,
  GatewayClient,
  GatewayError,
} from "./clients/gateway";
export type {
  GatewayChallenge,
  GatewayClientOptions,
  GatewayHealth,
  KeyRelease,
  ShareRelease,
} from "./clients/gateway";
export {
  DataClassDisplay,
  DuoDisplay,
  FLAGGED_DATA_CLASSES,
  dataClassText,
  describeConsentChange,
  duoTextOf,
  flaggedClassesOf,
  purposeMaskText,
} from "./clients/consent-change";
export type { ConsentAction, ConsentChange, ConsentState, DescribeOptions } from "./clients/consent-change";
export { STUDY_TITLE_MAX_LENGTH, studyLabelOf } from "./clients/study-metadata";
export type { StudyLabel, StudyMetadata } from "./clients/study-metadata";
export { CustodianSetClient, NotEnoughSharesError, ShareDepositError } from "./clients/custodian-set";
export type { CustodianRefusal, CustodianSetClientOptions, CustodianSetView } from "./clients/custodian-set";
export { combineKeyShares, splitDataKey } from "./crypto/key-shares";
export { unwrapKeyShare, wrapKeyShare } from "./crypto/key-wrap";
