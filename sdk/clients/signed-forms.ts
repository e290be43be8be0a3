/**
 * Which of a patient's actions the ledger accepts as a signed message (EIP-712), so that a PatientClient
 * given a relayer sends them gasless through it, and which it still takes only as a transaction from the
 * patient's own account. The dashboard and the CLI read this to tell the patient, before they confirm,
 * whether an action goes through the relayer or is sent (and paid for) directly.
 *
 * When the ledger gains a signed form of an action and PatientClient relays it, flip its entry here: that
 * one line is all the dashboard and the CLI need (test/sdk/signed-forms.test.ts checks this table against
 * what PatientClient does with a relayer).
 */

/** A PatientClient write, by method name. */
export type PatientAction =
  | "grant"
  | "revoke"
  | "approve"
  | "deny"
  | "grantBatch"
  | "setPolicy"
  | "clearPolicy"
  | "appointDelegate"
  | "removeDelegate"
  | "setEmergencyOptOut"
  | "cancelSignature"
  | "registerEncryptionKey"
  | "withdrawEncryptionKey";

/** true: the action has a signed form and goes through the relayer when there is one. */
export const SIGNED_FORMS: Readonly<Record<PatientAction, boolean>> = Object.freeze({
  grant: true,
  revoke: true,
  approve: true,
  deny: true,
  grantBatch: false,
  setPolicy: true,
  clearPolicy: true,
  appointDelegate: true,
  removeDelegate: true,
  setEmergencyOptOut: true,
  cancelSignature: true,
  // KeyDirectory's registerKeyBySig and withdrawKeyBySig: a pseudonym publishes and withdraws its key gasless.
  registerEncryptionKey: true,
  withdrawEncryptionKey: true,
});

/** Whether `action` goes through a relayer (true) or only as a transaction from the patient's account. */
export function hasSignedForm(action: PatientAction): boolean {
  return SIGNED_FORMS[action] === true;
}

/** How an action will be sent, for a review step or a progress line. */
export type ActionRoute = "relayer" | "direct" | "direct-no-signed-form";

/**
 * The route of `action` for a client that uses a relayer (`viaRelayer`) or not: through the relayer
 * (gasless), directly by choice, or directly because the ledger has no signed form of it yet.
 */
export function actionRoute(action: PatientAction, viaRelayer: boolean): ActionRoute {
  if (!viaRelayer) return "direct";
  return hasSignedForm(action) ? "relayer" : "direct-no-signed-form";
}
