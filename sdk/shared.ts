/**
 * What every entry point of the SDK exports alike ("consent-ledger" and "consent-ledger/viem" re-export it
 * whole): the code tables, argument parsers and errors (from "consent-ledger/tables"), the ABIs, the
 * request and consent rules, the types, the EIP-712 definitions, the record envelope and storage, the
 * encryption keys and patient pseudonyms derived from a wallet signature, and the text that describes a consent change. It imports neither ethers nor viem
 * (test/sdk/core-entry.test.ts), so each entry adds only its own library's clients and reads.
 */
export * from "./tables";
export { accessLogAbi, consentLedgerAbi, custodianSetsAbi, keyDirectoryAbi, recordRegistryAbi } from "./chain/abis";
export { parseDeployment } from "./core/deployment";
export type { Deployment } from "./core/deployment";
export type { TransactionOverrides } from "./core/overrides";
export type { PendingTransaction } from "./chain/transactions";
export type { Accreditation, Delegate, DelegateScope } from "./clients/rules";
export { CARE_DELEGATE_SCOPE, consentOfWord, consentWordOf, usedNonces } from "./clients/rules";
export { parseSignedConsent } from "./clients/signed-consent";
export { actionRoute, hasSignedForm, SIGNED_FORMS } from "./clients/signed-forms";
export type { ActionRoute, PatientAction } from "./clients/signed-forms";
export { REVERT_HINTS } from "./chain/hints";
export { hashDocument, requestIdOf, studyIdOf, toRequestTerms } from "./clients/request-rules";
export type { OnBehalf, SignOptions } from "./clients/patient";
export {
  ACTION_TYPES,
  CONSENT_TYPES,
  DELEGATE_OFFER_DOMAIN_NAME,
  DELEGATE_OFFER_DOMAIN_VERSION,
  DELEGATE_OFFER_TYPES,
  KEY_DIRECTORY_TYPES,
  SIGNED_ACTION_KINDS,
  consentDomain,
  delegateOfferDomain,
  keyDirectoryDomain,
} from "./clients/consent-types";
export {
  DEFAULT_DELEGATE_OFFER_TTL_SECONDS,
  DELEGATE_OFFER_PREFIX,
  DelegateOfferError,
  MAX_DELEGATE_OFFER_ENTRIES,
  MAX_DELEGATE_OFFER_TTL_SECONDS,
  createDelegateOffer,
  encodeDelegateOffer,
  parseDelegateOffer,
  verifyDelegateOffer,
} from "./clients/delegate-offer";
export type {
  CreateDelegateOfferInput,
  DelegateOffer,
  DelegateOfferEntry,
  DelegateOfferProblem,
  DelegateOfferSigner,
  VerifyDelegateOfferOptions,
} from "./clients/delegate-offer";
export { DEFAULT_SPREAD_MS, MAX_SPREAD_MS, randomDelay, spreadSchedule } from "./clients/spread";
export type { SignedActionKind, SignedActionType } from "./clients/consent-types";
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
  RequestParty,
  RequestTerms,
  RequestView,
  SignedConsent,
} from "./clients/types";
export { bytesToHex, hexToBytes, randomBytes, utf8Decode, utf8Encode } from "./crypto/bytes";
export { sha256, sha256Hex } from "./crypto/sha256";
export { AES_KEY_BYTES, GCM_IV_BYTES, GCM_TAG_BYTES } from "./crypto/aes-gcm";
export { ContentType, openRecord, parseEnvelope, recordIdOf, sealRecord } from "./crypto/envelope";
export type { ParsedRecordContext, RecordContext } from "./crypto/envelope";
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
export type {
  AnchoredRecord,
  BatchMembership,
  OpenedRecord,
  OpenWithKeyInput,
  OpenWrappedInput,
} from "./clients/record-rules";
export { BATCH_LEAF_TYPES } from "./clients/provider-rules";
export type {
  BatchManifest,
  KeyCustodian,
  PairedPatient,
  PublishInput,
  PublishedBatch,
  PublishedRecord,
} from "./clients/provider-rules";
export { CorruptBlobError, MemoryBlobStore, cidFromRecordId, cidOf, recordIdFromCid } from "./storage/blob-store";
export type { BlobStore, StreamingBlobStore } from "./storage/blob-store";
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
export {
  PSEUDONYM_ACCOUNT_SALT,
  PSEUDONYM_DERIVATION_VERSION,
  PSEUDONYM_ROOT_SALT,
  PSEUDONYM_X25519_SALT,
  PseudonymRoot,
  derivePseudonymRoot,
  pseudonymRootFromSignature,
  pseudonymRootMessage,
  relationshipId,
} from "./crypto/pseudonyms";
export type { DerivePseudonymOptions, Pseudonym, PseudonymScope, Relationship } from "./crypto/pseudonyms";
export {
  GATEWAY_LOGIN_DOMAIN_NAME,
  GATEWAY_LOGIN_DOMAIN_VERSION,
  GATEWAY_LOGIN_PRIMARY_TYPE,
  GATEWAY_LOGIN_TYPES,
  GatewayAuthenticationError,
  GatewayClientBase,
  GatewayError,
} from "./clients/gateway-core";
export type {
  GatewayChallenge,
  GatewayClientOptions,
  GatewayHealth,
  GatewayParts,
  KeyRelease,
  RecordOpener,
  ShareRelease,
  TypedDataSigner,
} from "./clients/gateway-core";
export { CustodianSetClientBase, NotEnoughSharesError, ShareDepositError } from "./clients/custodian-set-core";
export type {
  CustodianRefusal,
  CustodianSetChain,
  CustodianSetClientOptions,
  CustodianSetView,
} from "./clients/custodian-set-core";
export {
  NoSignedFormError,
  RelayNotConfirmedError,
  RelayerClient,
  RelayerError,
  carriesSignedConsent,
  relayThrough,
  relayedReceipt,
  signedRequestIdOf,
} from "./clients/relayer";
export type {
  ConsentRelayer,
  DecodedLedgerEvent,
  PatientClientOptions,
  RelayChain,
  RelayedConsent,
  RelayerClientOptions,
  RelayerInfo,
  RelayStatus,
} from "./clients/relayer";
export {
  DEFAULT_PAIRING_TTL_SECONDS,
  MAX_PAIRING_TTL_SECONDS,
  PAIRING_DOMAIN_NAME,
  PAIRING_DOMAIN_VERSION,
  PAIRING_PREFIX,
  PAIRING_TYPES,
  PairingError,
  encodePairingLink,
  pairingDomain,
  pairingUrl,
  parsePairingLink,
  verifyPairingLink,
} from "./clients/pairing";
export type { CreatePairingInput, PairingLink, PairingProblem, VerifyPairingOptions } from "./clients/pairing";
export { PatientIdentityBase } from "./clients/identity-core";
export type { PatientView, PseudonymPatient, Tagged } from "./clients/identity-core";
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
export { applyImportedConsent, consentFromFhir, UnsupportedFhirConsentError } from "./fhir/import";
export type { FhirConsentImportOptions, FhirConsentTarget, ImportedConsent, LedgerConsentAction } from "./fhir/import";
export { DATA_CLASS_SLICES, ledgerCodeSystems } from "./fhir/terminology";
export type { DataClassSlice } from "./fhir/terminology";
