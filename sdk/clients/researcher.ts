import type { EventLog, Signer } from "ethers";

import type { LedgerContracts } from "../chain/connect";
import { toSigner, withOverrides, type SignerInput, type TransactionOverrides } from "../chain/runner";
import { send, type PendingTransaction } from "../chain/transactions";
import { publicKeyToBytes32, type DeriveKeyOptions, type EncryptionKeyPair, type KeyScope } from "../crypto/keys";
import { openAnchoredRecord, type OpenedRecord, type OpenWithKeyInput, type OpenWrappedInput } from "./record-rules";
import { recordChainOf } from "./records";
import { findRequest, openedRequestIn, requestStatusOf, requestViews, toAbiRequest, toRequestTerms } from "./requests";
import { deriveResearcherKey, grantsInForce, keyScopeOf, waitForDecision } from "./researcher-rules";
import type { AccessRequest, Consent, RequestInput, RequestView } from "./types";

export { DEFAULT_KEY_DOMAIN } from "./researcher-rules";
export type { OpenedRecord } from "./record-rules";

/**
 * What a researcher does: publish an encryption key, ask patients for access, follow the decisions,
 * and open the records a custodian releases.
 */
export class ResearcherClient {
  /** The ethers signer the client writes with (a viem WalletClient is wrapped as one). */
  readonly signer: Signer;

  constructor(
    readonly contracts: LedgerContracts,
    signer: SignerInput,
  ) {
    this.signer = toSigner(signer);
  }

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
    return deriveResearcherKey(this.signer, options, {
      keyScope: (domain) => this.keyScope(domain),
      registeredKeyOf: (account) => this.contracts.keys.keyOf(account),
    });
  }

  /** The v2 key scope of this client: `domain` (or the browser page's host, or DEFAULT_KEY_DOMAIN), this chain and KeyDirectory. */
  async keyScope(domain?: string): Promise<KeyScope> {
    return keyScopeOf(domain, this.contracts.chainId, await this.contracts.keys.getAddress());
  }

  /** Publishes (or rotates) the public key that custodians wrap data keys to. */
  async registerEncryptionKey(
    keyPair: Pick<EncryptionKeyPair, "publicKey">,
    overrides?: TransactionOverrides,
  ): Promise<PendingTransaction<{ publicKey: string }>> {
    const publicKey = publicKeyToBytes32(keyPair.publicKey);
    return send(
      "register the encryption key",
      () => this.contracts.keys.connect(withOverrides(this.signer, overrides)).registerKey(publicKey),
      () => ({ publicKey }),
    );
  }

  /** Opens a request; resolves to its id, whether a standing policy approved it at once, and the request. */
  async requestAccess(
    input: RequestInput,
    overrides?: TransactionOverrides,
  ): Promise<PendingTransaction<{ requestId: string; approved: boolean; request: AccessRequest }>> {
    const terms = toRequestTerms(input);
    return send(
      "request access",
      () => this.contracts.ledger.connect(withOverrides(this.signer, overrides)).requestAccess(terms),
      (receipt) => {
        const opened = openedRequestIn(this.contracts, receipt.logs);
        const approved = receipt.logs.some(
          (log) => this.contracts.ledger.interface.parseLog(log)?.name === "RequestApproved",
        );
        return { ...opened, approved };
      },
    );
  }

  /**
   * Waits until a request is no longer pending (approved, denied, cancelled or expired), polling the
   * ledger; throws after `timeoutMs`.
   */
  async waitForDecision(
    requestId: string,
    options: { timeoutMs?: number; pollIntervalMs?: number } = {},
  ): Promise<RequestView["status"]> {
    return waitForDecision((id) => requestStatusOf(this.contracts, id), requestId, options);
  }

  /** Withdraws a pending request. */
  async cancel(
    request: AccessRequest | string,
    overrides?: TransactionOverrides,
  ): Promise<PendingTransaction<{ requestId: string }>> {
    const view = typeof request === "string" ? await findRequest(this.contracts, request) : undefined;
    const full = view?.request ?? (request as AccessRequest);
    return send(
      "cancel the request",
      () => this.contracts.ledger.connect(withOverrides(this.signer, overrides)).cancelRequest(toAbiRequest(full)),
      () => ({ requestId: view?.requestId ?? "" }),
    );
  }

  /** The researcher's requests with their live status. */
  async requests(): Promise<RequestView[]> {
    const me = await this.signer.getAddress();
    const events = await this.contracts.ledger.queryFilter(
      this.contracts.ledger.filters.RequestOpened(undefined, undefined, me),
      this.contracts.deployment.deployedAtBlock ?? 0,
    );
    return requestViews(this.contracts, events as unknown as EventLog[]);
  }

  /** Consents given to the researcher that are in force now. */
  async grants(): Promise<Consent[]> {
    const me = await this.signer.getAddress();
    const events = (await this.contracts.ledger.queryFilter(
      this.contracts.ledger.filters.ConsentGranted(undefined, me),
      this.contracts.deployment.deployedAtBlock ?? 0,
    )) as unknown as EventLog[];
    const now = Number((await this.contracts.provider.getBlock("latest"))?.timestamp ?? 0);
    return grantsInForce(
      me,
      events.map((event) => event.args.patient as string),
      (patient) => this.contracts.ledger.consentOf(patient, me),
      now,
    );
  }

  /**
   * Opens a record given its envelope and the data key wrapped to this researcher: checks the envelope
   * against the chain first (hash anchored, header fields and version link as anchored), then unwraps and
   * decrypts. Tampering fails with IntegrityError or DecryptionError; a key wrapped to someone else with
   * WrongRecipientKeyError.
   */
  async openRecord(input: OpenWrappedInput): Promise<OpenedRecord> {
    return openAnchoredRecord(await recordChainOf(this.contracts), input);
  }

  /**
   * As openRecord, with the data key itself (a key rebuilt from custodians' shares): verifies the
   * envelope against the chain, then decrypts; a v2 record refuses any key but the one it commits to.
   */
  async openRecordWithKey(input: OpenWithKeyInput): Promise<OpenedRecord> {
    return openAnchoredRecord(await recordChainOf(this.contracts), input);
  }
}
