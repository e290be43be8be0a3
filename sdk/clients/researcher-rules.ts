/**
 * A researcher's rules, once for the ethers and the viem entry (no import of either): which encryption key
 * to derive (scope, legacy v1 key still registered), how long to wait for a patient's decision, which
 * consents given to the researcher are in force, and opening a record verified against the chain. Each
 * entry's ResearcherClient extends ResearcherClientBase with its reads and its writes.
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
import {
  openAnchoredRecord,
  type OpenedRecord,
  type OpenWithKeyInput,
  type OpenWrappedInput,
  type RecordChain,
} from "./record-rules";
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
async function deriveResearcherKey(
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
async function waitForDecision(
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
async function grantsInForce(
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

/** The methods every ResearcherClient has alike; each entry's subclass supplies the reads below and its writes. */
export abstract class ResearcherClientBase {
  /** The researcher's address (the account the client signs with). */
  protected abstract account(): Promise<string>;
  /** The wallet as a signer of personal messages (the key derivation's). */
  protected abstract messageSigner(): MessageSigner;
  /** The chain id and the KeyDirectory's address. */
  protected abstract keyDirectory(): Promise<{ chainId: bigint; address: string }>;
  /** KeyDirectory.keyOf. */
  protected abstract registeredKeyOf(account: string): Promise<string>;
  /** The state of a request (requestStatusOf). */
  protected abstract requestStatus(requestId: string): Promise<{ status: RequestView["status"] }>;
  /** The patients whose ConsentGranted events name `grantee`, oldest first. */
  protected abstract grantedBy(grantee: string): Promise<string[]>;
  /** ConsentLedger.consentOf. */
  protected abstract storedConsent(patient: string, grantee: string): Promise<StoredConsent>;
  /** The latest block's time (unix seconds). */
  protected abstract latestTime(): Promise<number>;
  /** The reads that verifying a record needs. */
  protected abstract recordChain(): Promise<RecordChain>;

  /**
   * The researcher's X25519 key pair, derived from a wallet signature (nothing new to back up). With
   * `options.scope`, from that scoped v2 message; with `legacy: true`, from the unscoped v1 message.
   * By default the scoped v2 message (scope: `domain`, else the page's host in a browser, else
   * DEFAULT_KEY_DOMAIN; this chain; this KeyDirectory), unless KeyDirectory holds this account's key
   * derived under v1: then that v1 key, so what was wrapped to it keeps opening (move to v2 with
   * migrateEncryptionKey, then register the v2 key). Refuses a wallet whose signatures vary
   * (NonDeterministicSignerError).
   */
  async deriveEncryptionKey(
    options: DeriveKeyOptions & { legacy?: boolean; domain?: string } = {},
  ): Promise<EncryptionKeyPair> {
    return deriveResearcherKey(this.messageSigner(), options, {
      keyScope: (domain) => this.keyScope(domain),
      registeredKeyOf: (account) => this.registeredKeyOf(account),
    });
  }

  /** The v2 key scope of this client: `domain` (or the browser page's host, or DEFAULT_KEY_DOMAIN), this chain and KeyDirectory. */
  async keyScope(domain?: string): Promise<KeyScope> {
    const { chainId, address } = await this.keyDirectory();
    return keyScopeOf(domain, chainId, address);
  }

  /**
   * Waits until a request is no longer pending (approved, denied, cancelled or expired), polling the
   * ledger; throws after `timeoutMs`.
   */
  async waitForDecision(
    requestId: string,
    options: { timeoutMs?: number; pollIntervalMs?: number } = {},
  ): Promise<RequestView["status"]> {
    return waitForDecision((id) => this.requestStatus(id), requestId, options);
  }

  /** Consents given to the researcher that are in force now. */
  async grants(): Promise<Consent[]> {
    const me = await this.account();
    return grantsInForce(
      me,
      await this.grantedBy(me),
      (patient) => this.storedConsent(patient, me),
      await this.latestTime(),
    );
  }

  /**
   * Opens a record given its envelope and the data key wrapped to this researcher: checks the envelope
   * against the chain first (hash anchored, header fields and version link as anchored), then unwraps and
   * decrypts. Tampering fails with IntegrityError or DecryptionError; a key wrapped to someone else with
   * WrongRecipientKeyError.
   */
  async openRecord(input: OpenWrappedInput): Promise<OpenedRecord> {
    return openAnchoredRecord(await this.recordChain(), input);
  }

  /**
   * As openRecord, with the data key itself (a key rebuilt from custodians' shares): verifies the
   * envelope against the chain, then decrypts; a v2 record refuses any key but the one it commits to.
   */
  async openRecordWithKey(input: OpenWithKeyInput): Promise<OpenedRecord> {
    return openAnchoredRecord(await this.recordChain(), input);
  }
}
