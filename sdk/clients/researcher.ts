import { toUtf8String, type EventLog, type Signer } from "ethers";

import { requireAddress } from "../args";
import type { LedgerContracts } from "../chain/connect";
import { toSigner, withOverrides, type SignerInput, type TransactionOverrides } from "../chain/runner";
import { send, type PendingTransaction } from "../chain/transactions";
import { ContentType, openRecord } from "../crypto/envelope";
import { unwrapDataKey } from "../crypto/key-wrap";
import {
  bytes32ToPublicKey,
  deriveEncryptionKeyPair,
  NonDeterministicSignerError,
  publicKeyToBytes32,
  type DeriveKeyOptions,
  type EncryptionKeyPair,
  type KeyScope,
} from "../crypto/keys";

/** The domain named in the v2 key message outside a browser (the CLI, scripts, servers). */
export const DEFAULT_KEY_DOMAIN = "consent-ledger-cli";
import { ConsentLedgerError, FormatError } from "../errors";
import { parseFhirJson, type FhirResource } from "../fhir/resource";
import { verifyEnvelopeOnChain, type BatchMembership } from "./records";
import { findRequest, openedRequestIn, requestStatusOf, requestViews, toAbiRequest, toRequestTerms } from "./requests";
import type { AccessRequest, Consent, RequestInput, RequestView } from "./types";

/** A record opened by its reader: verified against the chain, then decrypted. */
export interface OpenedRecord {
  recordId: string;
  patient: string;
  provider: string;
  dataClass: number;
  version: number;
  previousRecordId: string;
  /** Whether a newer version has been anchored. */
  superseded: boolean;
  plaintext: Uint8Array;
  /** The FHIR resource, for FHIR JSON records. */
  resource?: FhirResource;
}

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
    const { legacy, domain, ...derive } = options;
    if (legacy || derive.scope !== undefined) return deriveEncryptionKeyPair(this.signer, derive);
    const scope = await this.keyScope(domain);
    const stored = await this.contracts.keys.keyOf(await this.signer.getAddress());
    if (/^0x0+$/.test(stored)) return deriveEncryptionKeyPair(this.signer, { scope });
    const registeredPublicKey = bytes32ToPublicKey(stored);
    for (const tryScope of [scope, undefined]) {
      try {
        return await deriveEncryptionKeyPair(this.signer, { scope: tryScope, registeredPublicKey });
      } catch (error) {
        if (!(error instanceof NonDeterministicSignerError)) throw error;
      }
    }
    // The registered key is neither derived key (a generated one, or this wallet's signatures vary):
    // derive v2, checked by a second signature, for the caller to register in its place.
    return deriveEncryptionKeyPair(this.signer, { scope });
  }

  /** The v2 key scope of this client: `domain` (or the browser page's host, or DEFAULT_KEY_DOMAIN), this chain and KeyDirectory. */
  async keyScope(domain?: string): Promise<KeyScope> {
    const host = (globalThis as { location?: { host?: string } }).location?.host;
    return {
      domain: domain ?? (host ? host.toLowerCase() : DEFAULT_KEY_DOMAIN),
      chainId: this.contracts.chainId,
      keyDirectory: await this.contracts.keys.getAddress(),
    };
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
    const timeoutMs = options.timeoutMs ?? 60_000;
    const pollIntervalMs = options.pollIntervalMs ?? 1_000;
    const started = Date.now();
    for (;;) {
      const { status } = await requestStatusOf(this.contracts, requestId);
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
    const patients = [...new Set(events.map((event) => event.args.patient as string))];
    const now = Number((await this.contracts.provider.getBlock("latest"))?.timestamp ?? 0);
    const consents: Consent[] = [];
    for (const patient of patients) {
      const stored = await this.contracts.ledger.consentOf(patient, me);
      if (stored.validUntil > BigInt(now)) {
        consents.push({
          patient: requireAddress(patient, "patient"),
          grantee: me,
          dataClasses: Number(stored.dataClasses),
          purposes: Number(stored.purposes),
          validFrom: Number(stored.validFrom),
          validUntil: Number(stored.validUntil),
        });
      }
    }
    return consents;
  }

  /**
   * Opens a record given its envelope and the data key wrapped to this researcher: checks the envelope
   * against the chain first (hash anchored, header fields and version link as anchored), then unwraps and
   * decrypts. Tampering fails with IntegrityError or DecryptionError; a key wrapped to someone else with
   * WrongRecipientKeyError.
   */
  async openRecord(input: {
    envelope: Uint8Array;
    wrappedKey: Uint8Array;
    keyPair: EncryptionKeyPair;
    expectedRecordId?: string;
    batch?: BatchMembership;
  }): Promise<OpenedRecord> {
    const verified = await verifyEnvelopeOnChain(this.contracts, input.envelope, {
      expectedRecordId: input.expectedRecordId,
      batch: input.batch,
    });
    const dataKey = await unwrapDataKey(input.wrappedKey, input.keyPair, verified.recordId);
    return this.openVerified(input.envelope, dataKey, verified);
  }

  /**
   * As openRecord, with the data key itself (a key rebuilt from custodians' shares): verifies the
   * envelope against the chain, then decrypts; a v2 record refuses any key but the one it commits to.
   */
  async openRecordWithKey(input: {
    envelope: Uint8Array;
    dataKey: Uint8Array;
    expectedRecordId?: string;
    batch?: BatchMembership;
  }): Promise<OpenedRecord> {
    const verified = await verifyEnvelopeOnChain(this.contracts, input.envelope, {
      expectedRecordId: input.expectedRecordId,
      batch: input.batch,
    });
    return this.openVerified(input.envelope, input.dataKey, verified);
  }

  private async openVerified(
    envelope: Uint8Array,
    dataKey: Uint8Array,
    verified: { recordId: string; superseded: boolean },
  ): Promise<OpenedRecord> {
    const { plaintext, context } = await openRecord(envelope, dataKey, { recordId: verified.recordId });
    let resource: FhirResource | undefined;
    if (context.contentType === ContentType.FHIR_JSON) {
      let text: string;
      try {
        text = toUtf8String(plaintext);
      } catch (cause) {
        throw new FormatError("FHIR record", "not UTF-8", { cause });
      }
      resource = parseFhirJson(text, `record ${verified.recordId}`);
    }
    return {
      recordId: verified.recordId,
      patient: context.patient,
      provider: context.provider,
      dataClass: context.dataClass,
      version: context.version,
      previousRecordId: context.previousRecordId,
      superseded: verified.superseded,
      plaintext,
      resource,
    };
  }
}
