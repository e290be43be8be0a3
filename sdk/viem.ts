/**
 * Consent Ledger SDK for viem dApps ("consent-ledger/viem"): the contracts as viem contract instances,
 * clients that write through a viem WalletClient, and the same rules, code tables, types, EIP-712
 * definitions, record envelope and errors as the ethers entry ("consent-ledger"), from modules that import
 * neither library. Nothing on this entry's import graph imports ethers (test/sdk/core-entry.test.ts), so
 * a viem dApp bundles no ethers.
 *
 * The gateway, custodian-set, relayer, pairing and pseudonym-identity clients are one implementation each
 * (sdk/clients/*-core.ts) that both entries share, behind small library-free interfaces (a typed-data
 * signer, a record opener, the custodian-set and relay chain reads); sdk/viem/ gives them viem's. What
 * this entry does not have yet (the provider and audit clients, deriving pseudonyms, previews of FHIR
 * consents) is in the ethers entry, which also takes viem clients through an adapter.
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
export { parseDeployment } from "./core/deployment";
export type { Deployment } from "./core/deployment";
export type { TransactionOverrides } from "./core/overrides";
export type { PendingTransaction } from "./chain/transactions";
export { connect } from "./viem/connect";
export type { ViemLedgerContracts } from "./viem/connect";
export { decodeRevert, toLedgerError } from "./viem/errors";
export { accreditationOf, delegatesOf, nonceWordOf, policyOf, usedNonces } from "./viem/reads";
export type { Accreditation, Delegate, DelegateScope } from "./clients/rules";
export { CARE_DELEGATE_SCOPE, consentOfWord, consentWordOf } from "./clients/rules";
export { AdminClient } from "./viem/admin";
export { PatientClient } from "./viem/patient";
export { ResearcherClient } from "./viem/researcher";
export { relaySignedConsent } from "./viem/relay";
export { parseSignedConsent } from "./clients/signed-consent";
export { requestStatusOf, requestsOf } from "./viem/requests";
export type { RequestParty } from "./viem/requests";
export { hashDocument, requestIdOf, studyIdOf, toRequestTerms } from "./clients/request-rules";
export type { OnBehalf, SignOptions } from "./clients/patient";
export { CONSENT_TYPES, consentDomain } from "./clients/consent-types";
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
export { unwrapDataKey, wrapDataKey } from "./crypto/key-wrap";
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
  GATEWAY_LOGIN_DOMAIN_NAME,
  GATEWAY_LOGIN_DOMAIN_VERSION,
  GATEWAY_LOGIN_PRIMARY_TYPE,
  GATEWAY_LOGIN_TYPES,
  GatewayAuthenticationError,
  GatewayError,
} from "./clients/gateway-core";
export type {
  GatewayChallenge,
  GatewayClientOptions,
  GatewayHealth,
  KeyRelease,
  RecordOpener,
  ShareRelease,
  TypedDataSigner,
} from "./clients/gateway-core";
export { GatewayClient, viemRecordOpener } from "./viem/gateway";
export { viemTypedDataSigner } from "./viem/signer";
export {
  NoSignedFormError,
  RelayNotConfirmedError,
  RelayerClient,
  RelayerError,
  signedRequestIdOf,
} from "./clients/relayer";
export type {
  ConsentRelayer,
  PatientClientOptions,
  RelayedConsent,
  RelayerClientOptions,
  RelayerInfo,
} from "./clients/relayer";
export { CustodianSetClientBase, NotEnoughSharesError, ShareDepositError } from "./clients/custodian-set-core";
export type {
  CustodianRefusal,
  CustodianSetChain,
  CustodianSetClientOptions,
  CustodianSetView,
} from "./clients/custodian-set-core";
export { CustodianSetClient } from "./viem/custodian-set";
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
} from "./clients/pairing-core";
export type { CreatePairingInput, PairingLink, PairingProblem, VerifyPairingOptions } from "./clients/pairing-core";
export { createPairingLink, verifyPairingLink } from "./viem/pairing";
export type { PatientView, Tagged } from "./clients/identity-core";
export { PatientIdentity, pseudonymAccount, pseudonymWallet } from "./viem/identity";
export type { PatientIdentityOptions } from "./viem/identity";
