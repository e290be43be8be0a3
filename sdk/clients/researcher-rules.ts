/**
 * A researcher's rules, once for the ethers and the viem entry (no import of either): which encryption key
 * to derive (scope, legacy v1 key still registered), how long to wait for a patient's decision, and which
 * consents given to the researcher are in force. Each entry's ResearcherClient supplies its chain reads.
 */
import { requireAddress } from "../args";
import {
  bytes32ToPublicKey,
  deriveEncryptionKeyPair,
  NonDeterministicSignerError,
  type DeriveKeyOptions,
  type EncryptionKeyPair,
  type KeyScope,
  type MessageSigner,
} from "../crypto/keys";
import { ConsentLedgerError } from "../errors";
import type { Consent, RequestView } from "./types";

/** The domain named in the v2 key message outside a browser (the CLI, scripts, servers). */
export const DEFAULT_KEY_DOMAIN = "consent-ledger-cli";

/** The v2 key scope: `domain` (or the browser page's host, or DEFAULT_KEY_DOMAIN), the chain and KeyDirectory. */
export function keyScopeOf(domain: string | undefined, chainId: bigint, keyDirectory: string): KeyScope {
  const host = (globalThis as { location?: { host?: string } }).location?.host;
  return { domain: domain ?? (host ? host.toLowerCase() : DEFAULT_KEY_DOMAIN), chainId, keyDirectory };
}

/**
 * The researcher's key pair (ResearcherClient.deriveEncryptionKey): with `options.scope` or `legacy`, as
 * asked; else the scoped v2 key, unless KeyDirectory holds this account's key derived under v1 (then that
 * key, so what was wrapped to it keeps opening). `registeredKeyOf` reads KeyDirectory.keyOf.
 */
export async function deriveResearcherKey(
  signer: MessageSigner,
  options: DeriveKeyOptions & { legacy?: boolean; domain?: string },
  chain: { keyScope(domain?: string): Promise<KeyScope>; registeredKeyOf(account: string): Promise<string> },
): Promise<EncryptionKeyPair> {
  const { legacy, domain, ...derive } = options;
  if (legacy || derive.scope !== undefined) return deriveEncryptionKeyPair(signer, derive);
  const scope = await chain.keyScope(domain);
  const stored = await chain.registeredKeyOf(await signer.getAddress());
  if (/^0x0+$/.test(stored)) return deriveEncryptionKeyPair(signer, { scope });
  const registeredPublicKey = bytes32ToPublicKey(stored);
  for (const tryScope of [scope, undefined]) {
    try {
      return await deriveEncryptionKeyPair(signer, { scope: tryScope, registeredPublicKey });
    } catch (error) {
      if (!(error instanceof NonDeterministicSignerError)) throw error;
    }
  }
  // The registered key is neither derived key (a generated one, or this wallet's signatures vary):
  // derive v2, checked by a second signature, for the caller to register in its place.
  return deriveEncryptionKeyPair(signer, { scope });
}

/**
 * Waits until a request is no longer pending (approved, denied, cancelled or expired), polling `statusOf`;
 * throws after `timeoutMs`, and at once for a request this ledger never saw.
 */
export async function waitForDecision(
  statusOf: (requestId: string) => Promise<{ status: RequestView["status"] }>,
  requestId: string,
  options: { timeoutMs?: number; pollIntervalMs?: number } = {},
): Promise<RequestView["status"]> {
  const timeoutMs = options.timeoutMs ?? 60_000;
  const pollIntervalMs = options.pollIntervalMs ?? 1_000;
  const started = Date.now();
  for (;;) {
    const { status } = await statusOf(requestId);
    if (status === "None") throw new ConsentLedgerError(`No request ${requestId} on this ledger`);
    if (status !== "Pending") return status;
    if (Date.now() - started >= timeoutMs) {
      throw new ConsentLedgerError(`Request ${requestId} is still pending after ${timeoutMs} ms`, {
        hint: "The patient has not decided yet; wait longer or ask again later.",
      });
    }
    await new Promise((resolve) => setTimeout(resolve, pollIntervalMs));
  }
}

/** A consent as ConsentLedger.consentOf returns it, numbers as either library decodes them. */
export interface StoredConsent {
  dataClasses: number | bigint;
  purposes: number | bigint;
  validFrom: number | bigint;
  validUntil: number | bigint;
}

/**
 * The consents given to `grantee` that are in force at `now` (ResearcherClient.grants): `patients` are
 * those whose ConsentGranted events name the grantee, oldest first, each once; `consentOf` reads the
 * stored consent.
 */
export async function grantsInForce(
  grantee: string,
  patients: readonly string[],
  consentOf: (patient: string) => Promise<StoredConsent>,
  now: number,
): Promise<Consent[]> {
  const consents: Consent[] = [];
  for (const patient of [...new Set(patients)]) {
    const stored = await consentOf(patient);
    if (BigInt(stored.validUntil) > BigInt(now)) {
      consents.push({
        patient: requireAddress(patient, "patient"),
        grantee,
        dataClasses: Number(stored.dataClasses),
        purposes: Number(stored.purposes),
        validFrom: Number(stored.validFrom),
        validUntil: Number(stored.validUntil),
      });
    }
  }
  return consents;
}
