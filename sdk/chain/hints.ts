/**
 * What to do about each of the suite's refusals, in words a user can act on: one table for the ethers
 * and the viem entry (no import of either), so a refusal reads the same in both.
 */
import { ConsentLedgerError } from "../errors";

export const REVERT_HINTS: Record<string, string> = {
  PartyNotAccredited: "Ask the administrator to accredit this account for that role.",
  AccreditationSuspended: "This account is suspended; only the administrator can reinstate it.",
  AccreditationExpired: "This account's accreditation has lapsed; ask the administrator to renew it.",
  NotPatientOrDelegate: "Only the patient or a delegate the patient appointed may do this.",
  DelegateExpired: "The delegation has ended; ask the patient to appoint you again.",
  DelegateScopeExceeded:
    "The patient did not let this delegate give these purposes or sensitive classes; ask the patient to grant it, or to widen your scope.",
  DelegateGrantOutlivesAppointment: "A delegate's grant must end by the end of its appointment: choose an earlier end.",
  ConsentChanged:
    "The consent changed after this was signed; look at it again (preview) and sign anew over what is in force now.",
  InvalidGrantee: "Grant to another account than the patient, and not the zero address.",
  InvalidDataClasses: "Name at least one known data class.",
  InvalidPurposes: "Name at least one known purpose of use.",
  InvalidValidity: "Choose an end time in the future and after the start.",
  ConsentNotFound: "There is no consent from this patient to this grantee.",
  SignatureExpired: "The signature's deadline has passed; ask the signer for a new one.",
  InvalidSignature: "The signature does not match its signer, this contract or this chain.",
  NonceAlreadyUsed: "This signature was used or cancelled already; ask the signer for a new one.",
  RequestNotFound:
    "No pending request with this id: it was already decided or cancelled (see its events), or its terms were not passed unchanged.",
  RequestExpired: "The request expired before a decision; the researcher must ask again.",
  EmergencyAccessOptedOut: "The patient has opted out of emergency access.",
  RecordAlreadyAnchored: "This ciphertext is anchored already.",
  RecordNotFound: "No record with this id is anchored.",
  RecordAlreadySuperseded: "Amend the latest version of the record instead.",
  NotRecordProvider: "Only the provider that anchored a record may amend it.",
  OwnableUnauthorizedAccount: "Only the administrator may do this.",
  InvalidDelegate: "Appoint another account than your own, and not the zero address.",
  DelegateNotFound: "That account is not your delegate.",
  InvalidPolicyTimeLimit:
    "A time limit goes with the TS condition: set both the TS modifier and the longest access, or neither.",
  InvalidPolicyPermission: "Choose what research the policy covers (NRES, GRU, HMB, DS or POA).",
  InvalidPolicyPurposes: "A standing policy covers research purposes only: choose at least one.",
  InvalidDiseaseId: "Disease-specific research (DS) needs the disease's MONDO id, and only DS takes one.",
  UnsupportedPolicyModifiers: "One of the conditions cannot be used in a standing policy: remove it.",
  InvalidRequestPatient: "Ask a patient other than yourself.",
  InvalidResearchCategory: "Research purposes need a DUO category (GRU, HMB, DS or POA); other purposes take none.",
  InvalidDuration: "Ask for a duration between one second and the ledger's maximum.",
  InvalidObligations: "Accept only the DUO obligations PUB, COL, IRB, MOR or RTN.",
  UnknownPurpose: "Use a purpose code from the table (TREAT, ETREAT, CAREMGT, HRESCH, ...).",
  UnknownDataClass: "Use a data class code from the table (LAB_RESULT, IMAGING, ...).",
  InvalidEmergencyDuration: "Open the window for at least a second and at most the ledger's bound.",
  UnknownEmergencyReason: "Give a reason code from 1 to 4.",
  EmergencyAccessNotOpen: "There is no open emergency window to close.",
  AdministrationCannotBeRenounced: "Transfer administration to another account (a multisig) instead.",
  InvalidEncryptionKey: "Register a non-zero X25519 public key.",
  EncryptionKeyNotFound: "There is no key to withdraw.",
};

/** Why a write failed other than by a refusal of the contract, as each library reports it. */
export type FailureKind = "funds" | "rejected" | "network" | "other";

/** The ConsentLedgerError for a failure that is not a refusal: the same words whichever library failed. */
export function failureError(kind: FailureKind, action: string, error: unknown, message: string): ConsentLedgerError {
  switch (kind) {
    case "funds":
      return new ConsentLedgerError(`Not enough funds to pay for gas while trying to ${action}`, {
        hint: "Fund the account, or have the patient sign and a relayer submit.",
        cause: error,
      });
    case "rejected":
      return new ConsentLedgerError(`The wallet rejected the request to ${action}`, {
        hint: "Approve the request in the wallet to continue.",
        cause: error,
      });
    case "network":
      return new ConsentLedgerError(`The node did not answer while trying to ${action}`, {
        hint: "Check the RPC URL and that the node is running.",
        cause: error,
      });
    default:
      return new ConsentLedgerError(`Could not ${action}: ${message}`, { cause: error });
  }
}

/** Whether a node's or wallet's message, anywhere down an error's causes, says the sender cannot pay. */
export function saysInsufficientFunds(error: unknown): boolean {
  let current: unknown = error;
  for (let depth = 0; current && depth < 8; depth++) {
    const message = (current as { message?: unknown }).message;
    if (typeof message === "string" && /insufficient funds|doesn't have enough funds/i.test(message)) return true;
    current = (current as { error?: unknown; cause?: unknown }).error ?? (current as { cause?: unknown }).cause;
  }
  return false;
}
