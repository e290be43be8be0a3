import { ErrorFragment, Interface, isError } from "ethers";

import { ConsentLedgerError, ContractRevertError } from "../errors";
import { accessLogAbi, consentLedgerAbi, keyDirectoryAbi, recordRegistryAbi } from "./abis";

/** Every custom error of the suite, once: the record registry and access log bubble up the ledger's. */
const suiteErrors = (() => {
  const seen = new Map<string, ErrorFragment>();
  for (const abi of [consentLedgerAbi, recordRegistryAbi, accessLogAbi, keyDirectoryAbi]) {
    for (const fragment of new Interface(abi as never).fragments) {
      if (fragment.type === "error") seen.set((fragment as ErrorFragment).format("sighash"), fragment as ErrorFragment);
    }
  }
  return new Interface([...seen.values()]);
})();

/** What to do about each refusal, in words a user can act on. */
const HINTS: Record<string, string> = {
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
  InvalidPolicyTimeLimit: "A time limit goes with the TS condition: set both the TS modifier and the longest access, or neither.",
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

/** The custom error inside a failed call or transaction, decoded, or undefined when there is none. */
export function decodeRevert(error: unknown): { name: string; args: unknown[] } | undefined {
  let current: unknown = error;
  for (let depth = 0; current && depth < 8; depth++) {
    const data = (current as { data?: unknown }).data;
    if (typeof data === "string" && data.length >= 10) {
      try {
        const parsed = suiteErrors.parseError(data);
        if (parsed) return { name: parsed.name, args: [...parsed.args] };
      } catch {
        // Not one of ours (e.g. a panic): keep looking down the chain.
      }
    }
    current = (current as { error?: unknown; cause?: unknown }).error ?? (current as { cause?: unknown }).cause;
  }
  return undefined;
}

/**
 * Whether the node said the sender cannot pay. ethers maps geth's "insufficient funds" to
 * INSUFFICIENT_FUNDS, but not Hardhat's "Sender doesn't have enough funds to send tx", which arrives as
 * UNKNOWN_ERROR ("could not coalesce error") with the node's message inside.
 */
function isInsufficientFunds(error: unknown): boolean {
  let current: unknown = error;
  for (let depth = 0; current && depth < 8; depth++) {
    if (isError(current, "INSUFFICIENT_FUNDS")) return true;
    const message = (current as { message?: unknown }).message;
    if (typeof message === "string" && /insufficient funds|doesn't have enough funds/i.test(message)) return true;
    current = (current as { error?: unknown; cause?: unknown }).error ?? (current as { cause?: unknown }).cause;
  }
  return false;
}

/**
 * Turns anything a contract call threw into a ConsentLedgerError: the custom error decoded into its
 * name and arguments with a hint, or a plain error saying what the node or wallet reported.
 */
export function toLedgerError(error: unknown, action: string): ConsentLedgerError {
  if (error instanceof ConsentLedgerError) return error;
  const revert = decodeRevert(error);
  if (revert) return new ContractRevertError(revert.name, revert.args, { hint: HINTS[revert.name], cause: error });
  if (isInsufficientFunds(error)) {
    return new ConsentLedgerError(`Not enough funds to pay for gas while trying to ${action}`, {
      hint: "Fund the account, or have the patient sign and a relayer submit.",
      cause: error,
    });
  }
  if (isError(error, "ACTION_REJECTED")) {
    return new ConsentLedgerError(`The wallet rejected the request to ${action}`, {
      hint: "Approve the request in the wallet to continue.",
      cause: error,
    });
  }
  if (isError(error, "NETWORK_ERROR") || isError(error, "SERVER_ERROR") || isError(error, "TIMEOUT")) {
    return new ConsentLedgerError(`The node did not answer while trying to ${action}`, {
      hint: "Check the RPC URL and that the node is running.",
      cause: error,
    });
  }
  const message = (error as { shortMessage?: string; message?: string })?.shortMessage ?? String(error);
  return new ConsentLedgerError(`Could not ${action}: ${message}`, { cause: error });
}
