import type {
  ContractTransaction,
  ContractTransactionResponse,
  EventLog,
  Signer,
  TransactionReceipt,
  TypedDataDomain,
} from "ethers";

import { requireAddress, requireBytes32, toUnixSeconds } from "../args";
import { maskOf } from "../codes";
import type { LedgerContracts } from "../chain/connect";
import { toSigner, withOverrides, type SignerInput, type TransactionOverrides } from "../chain/runner";
import { send, type PendingTransaction } from "../chain/transactions";
import { toLedgerError } from "../chain/revert";
import { InvalidArgumentError } from "../errors";
import { publicKeyToBytes32, type EncryptionKeyPair } from "../crypto/keys";
import {
  applyImportedConsent,
  consentFromFhir,
  type FhirConsentImportOptions,
  type ImportedConsent,
} from "../fhir/import";
import { jsonRequest } from "./request-rules";
import { parseSignedConsent } from "./signed-consent";
import { findRequest, requestIdOf, requestViews, toAbiRequest } from "./requests";
import {
  cancelNonceArgs,
  consentFromStored,
  consentWordOf,
  delegateScopeTerms,
  grantTerms,
  lowestUnusedNonce,
  policyTerms,
  type DelegateScope,
} from "./rules";
import { signedActionOf, type SignedActionKind } from "./consent-types";
import {
  SIGNED_ACTION_KINDS,
  SIGNED_CONSENT_PRIMARY_TYPES,
  actionTypehash,
  consentDomain,
  encodeActionArgs,
  isSignedActionKind,
  keyDirectoryDomain,
  signConsentMessage,
} from "./signatures";
import {
  NoSignedFormError,
  relayThrough,
  type ConsentRelayer,
  type PatientClientOptions,
  type RelayChain,
} from "./relayer";
import type {
  AccessRequest,
  Consent,
  ConsentPreview,
  DataUsePolicy,
  DelegateScopeInput,
  GrantInput,
  PolicyInput,
  RequestView,
  SignedConsent,
} from "./types";

export { parseSignedConsent } from "./signed-consent";
export { NoSignedFormError, signedRequestIdOf } from "./relayer";
export type { PatientClientOptions } from "./relayer";
export { CARE_DELEGATE_SCOPE, consentOfWord, consentWordOf } from "./rules";
export type { DelegateScope } from "./rules";

/** Options of the actions a delegate may take for a patient. */
export interface OnBehalf {
  /** The patient acted for; defaults to the signer itself. */
  patient?: string;
}

/** Options of a signature made for a relayer. */
export interface SignOptions extends OnBehalf {
  /** Until when the signature may be relayed (Date or unix seconds); defaults to one hour from now. */
  deadline?: Date | number;
  /** A specific unused nonce; defaults to the lowest one the ledger shows unused. */
  nonce?: bigint;
  /**
   * For a grant or an approval: the consent the patient was shown, as `previewGrant`/`previewApproval`
   * returned it in `seenConsent`. Defaults to the ledger's word now, read as the preview reads it. Pass
   * the preview's, so that the signature applies only over exactly what the patient saw.
   */
  seenConsent?: bigint;
}

/**
 * What a patient (or a delegate, naming the patient) does: grant and revoke consents, decide requests,
 * set a standing policy, appoint delegates, opt out of emergency access, and sign any consent action
 * for a relayer to submit when the patient has no funds.
 */
export class PatientClient {
  /** The ethers signer the client writes with (a viem WalletClient is wrapped as one). */
  readonly signer: Signer;

  constructor(
    readonly contracts: LedgerContracts,
    signer: SignerInput,
    readonly options: PatientClientOptions = {},
  ) {
    this.signer = toSigner(signer);
  }

  /** The relayer consent actions go through, if any. */
  get relayer(): ConsentRelayer | undefined {
    return this.options.relayer;
  }

  /** Grants a consent; resolves to the consent as stored. */
  async grant(
    input: GrantInput,
    options: OnBehalf = {},
    overrides?: TransactionOverrides,
  ): Promise<PendingTransaction<Consent>> {
    const patient = await this.patientOf(options);
    const grant = await this.toGrant(input);
    if (this.relayer)
      return this.relay("grant consent", await this.signGrant(input, options), () => ({ patient, ...grant }));
    return send(
      "grant consent",
      () =>
        this.contracts.ledger
          .connect(withOverrides(this.signer, overrides))
          .grant(patient, grant.grantee, grant.dataClasses, grant.purposes, grant.validFrom, grant.validUntil),
      () => ({ patient, ...grant }),
    );
  }

  /** Grants several consents in one transaction. */
  async grantBatch(
    inputs: readonly GrantInput[],
    options: OnBehalf = {},
    overrides?: TransactionOverrides,
  ): Promise<PendingTransaction<Consent[]>> {
    if (inputs.length === 0) throw new InvalidArgumentError("grants", "empty batch");
    this.direct("grant consents in a batch");
    const patient = await this.patientOf(options);
    const grants = await Promise.all(inputs.map((input) => this.toGrant(input)));
    return send(
      "grant consents",
      () => this.contracts.ledger.connect(withOverrides(this.signer, overrides)).grantBatch(patient, grants),
      () => grants.map((grant) => ({ patient, ...grant })),
    );
  }

  /** Revokes the consent given to `grantee`. */
  async revoke(
    grantee: string,
    options: OnBehalf = {},
    overrides?: TransactionOverrides,
  ): Promise<PendingTransaction<{ patient: string; grantee: string }>> {
    const patient = await this.patientOf(options);
    const who = requireAddress(grantee, "grantee");
    if (this.relayer)
      return this.relay("revoke consent", await this.signRevoke(who, options), () => ({ patient, grantee: who }));
    return send(
      "revoke consent",
      () => this.contracts.ledger.connect(withOverrides(this.signer, overrides)).revoke(patient, who),
      () => ({ patient, grantee: who }),
    );
  }

  /** Approves a pending request (given as its id or the full request). */
  async approve(
    request: AccessRequest | string,
    overrides?: TransactionOverrides,
  ): Promise<PendingTransaction<{ requestId: string; consent: Consent }>> {
    const full = await this.resolveRequest(request);
    const decode = async (receipt: TransactionReceipt) => {
      const block = await receipt.getBlock();
      return {
        requestId: requestIdOf(full),
        consent: {
          patient: full.terms.patient,
          grantee: full.researcher,
          dataClasses: full.terms.dataClasses,
          purposes: maskOf([full.terms.purpose]),
          validFrom: block.timestamp,
          validUntil: block.timestamp + full.terms.duration,
        },
      };
    };
    if (this.relayer) return this.relay("approve the request", await this.signApprove(full), decode);
    return send(
      "approve the request",
      () => this.contracts.ledger.connect(withOverrides(this.signer, overrides)).approveRequest(toAbiRequest(full)),
      decode,
    );
  }

  /** Denies a pending request. */
  async deny(
    request: AccessRequest | string,
    overrides?: TransactionOverrides,
  ): Promise<PendingTransaction<{ requestId: string }>> {
    const full = await this.resolveRequest(request);
    if (this.relayer)
      return this.relay("deny the request", await this.signDeny(full), () => ({ requestId: requestIdOf(full) }));
    return send(
      "deny the request",
      () => this.contracts.ledger.connect(withOverrides(this.signer, overrides)).denyRequest(toAbiRequest(full)),
      () => ({ requestId: requestIdOf(full) }),
    );
  }

  /** Sets the signer's standing data-use policy (research purposes only). */
  async setPolicy(input: PolicyInput, overrides?: TransactionOverrides): Promise<PendingTransaction<DataUsePolicy>> {
    const policy = policyTerms(input);
    if (this.relayer) return this.relay("set the policy", await this.signSetPolicy(input), () => policy);
    return send(
      "set the policy",
      () => this.contracts.ledger.connect(withOverrides(this.signer, overrides)).setPolicy(policy),
      () => policy,
    );
  }

  async clearPolicy(overrides?: TransactionOverrides): Promise<PendingTransaction<void>> {
    if (this.relayer) return this.relay("clear the policy", await this.signClearPolicy(), () => undefined);
    return send(
      "clear the policy",
      () => this.contracts.ledger.connect(withOverrides(this.signer, overrides)).clearPolicy(),
      () => undefined,
    );
  }

  /**
   * Appoints `delegate` until `validUntil` (a parent for a minor, a carer), to grant and approve only
   * `scope.purposes`, sensitive classes only when `scope.sensitiveClasses`, and only consents that end by
   * `validUntil` (see CARE_DELEGATE_SCOPE for a carer's). Appointing again changes the end and the scope.
   */
  async appointDelegate(
    delegate: string,
    validUntil: Date | number,
    scope: DelegateScopeInput,
    overrides?: TransactionOverrides,
  ): Promise<PendingTransaction<{ delegate: string; validUntil: number } & DelegateScope>> {
    const who = requireAddress(delegate, "delegate");
    const until = toUnixSeconds(validUntil, "validUntil");
    const { purposes, sensitiveClasses } = delegateScopeTerms(scope);
    if (this.relayer)
      return this.relay("appoint the delegate", await this.signAppointDelegate(who, until, scope), () => ({
        delegate: who,
        validUntil: until,
        purposes,
        sensitiveClasses,
      }));
    return send(
      "appoint the delegate",
      () =>
        this.contracts.ledger
          .connect(withOverrides(this.signer, overrides))
          .appointDelegate(who, until, purposes, sensitiveClasses),
      () => ({ delegate: who, validUntil: until, purposes, sensitiveClasses }),
    );
  }

  async removeDelegate(
    delegate: string,
    overrides?: TransactionOverrides,
  ): Promise<PendingTransaction<{ delegate: string }>> {
    const who = requireAddress(delegate, "delegate");
    if (this.relayer)
      return this.relay("remove the delegate", await this.signRemoveDelegate(who), () => ({ delegate: who }));
    return send(
      "remove the delegate",
      () => this.contracts.ledger.connect(withOverrides(this.signer, overrides)).removeDelegate(who),
      () => ({ delegate: who }),
    );
  }

  /** Opts out of (true) or back into (false) emergency access. */
  async setEmergencyOptOut(
    optedOut: boolean,
    overrides?: TransactionOverrides,
  ): Promise<PendingTransaction<{ optedOut: boolean }>> {
    if (this.relayer)
      return this.relay("set the emergency opt-out", await this.signEmergencyOptOut(optedOut), () => ({ optedOut }));
    return send(
      "set the emergency opt-out",
      () => this.contracts.ledger.connect(withOverrides(this.signer, overrides)).setEmergencyOptOut(optedOut),
      () => ({ optedOut }),
    );
  }

  /**
   * Reads a FHIR R4 Consent (a hospital's consent system's, an IHE PCF Consent Recorder's) as the grant,
   * research policy or emergency opt-out it amounts to, with `summary` to show the patient before
   * `applyFhirConsent` signs it. Throws UnsupportedFhirConsentError (element and reason) for what the
   * ledger cannot hold exactly.
   */
  async previewFhirConsent(
    resource: unknown,
    options: OnBehalf & Pick<FhirConsentImportOptions, "resolveActor"> = {},
  ): Promise<ImportedConsent> {
    return consentFromFhir(resource, {
      chainId: this.contracts.chainId,
      patient: await this.patientOf(options),
      resolveActor: options.resolveActor,
    });
  }

  /** Signs what `previewFhirConsent` showed: the grant, the policy or the emergency opt-out. */
  async applyFhirConsent(
    imported: ImportedConsent,
    options: OnBehalf = {},
    overrides?: TransactionOverrides,
  ): Promise<PendingTransaction<unknown>> {
    return applyImportedConsent<TransactionOverrides, PendingTransaction<unknown>>(this, imported, options, overrides);
  }

  /** Signs a grant for someone else to relay. */
  async signGrant(input: GrantInput, options: SignOptions = {}): Promise<SignedConsent> {
    const patient = await this.patientOf(options);
    const grant = await this.toGrant(input);
    const seenConsent = options.seenConsent ?? (await this.seenConsent(patient, grant.grantee));
    return this.sign("grant", "Grant", { patient, ...grant, seenConsent }, options, {
      patient,
      grant,
      seenConsent: seenConsent.toString(),
    });
  }

  /** Signs a revocation for someone else to relay. */
  async signRevoke(grantee: string, options: SignOptions = {}): Promise<SignedConsent> {
    const patient = await this.patientOf(options);
    const who = requireAddress(grantee, "grantee");
    return this.sign("revoke", "Revoke", { patient, grantee: who }, options, { patient, grantee: who });
  }

  /** Signs an approval of a request for someone else to relay. */
  async signApprove(request: AccessRequest | string, options: SignOptions = {}): Promise<SignedConsent> {
    const full = await this.resolveRequest(request);
    const seenConsent = options.seenConsent ?? (await this.seenConsent(full.terms.patient, full.researcher));
    return this.sign("approve", "ApproveRequest", { requestId: requestIdOf(full), seenConsent }, options, {
      request: jsonRequest(full),
      seenConsent: seenConsent.toString(),
    });
  }

  /** Signs a denial of a request for someone else to relay. */
  async signDeny(request: AccessRequest | string, options: SignOptions = {}): Promise<SignedConsent> {
    const full = await this.resolveRequest(request);
    return this.sign("deny", "DenyRequest", { requestId: requestIdOf(full) }, options, { request: jsonRequest(full) });
  }

  /** Signs a standing data-use policy for someone else to relay (actBySig, SetPolicy). */
  async signSetPolicy(input: PolicyInput, options: SignOptions = {}): Promise<SignedConsent> {
    return this.signAction("setPolicy", policyTerms(input), options);
  }

  /** Signs the clearing of the standing policy for someone else to relay (actBySig, ClearPolicy). */
  async signClearPolicy(options: SignOptions = {}): Promise<SignedConsent> {
    return this.signAction("clearPolicy", {}, options);
  }

  /** Signs an appointment (see appointDelegate) for someone else to relay (actBySig, AppointDelegate). */
  async signAppointDelegate(
    delegate: string,
    validUntil: Date | number,
    scope: DelegateScopeInput,
    options: SignOptions = {},
  ): Promise<SignedConsent> {
    const { purposes, sensitiveClasses } = delegateScopeTerms(scope);
    return this.signAction(
      "appointDelegate",
      {
        delegate: requireAddress(delegate, "delegate"),
        validUntil: toUnixSeconds(validUntil, "validUntil"),
        purposes,
        sensitiveClasses,
      },
      options,
    );
  }

  /** Signs the removal of a delegate for someone else to relay (actBySig, RemoveDelegate). */
  async signRemoveDelegate(delegate: string, options: SignOptions = {}): Promise<SignedConsent> {
    return this.signAction("removeDelegate", { delegate: requireAddress(delegate, "delegate") }, options);
  }

  /** Signs an emergency opt-out (true) or opt-in (false) for someone else to relay (actBySig, SetEmergencyOptOut). */
  async signEmergencyOptOut(optedOut: boolean, options: SignOptions = {}): Promise<SignedConsent> {
    if (typeof optedOut !== "boolean") throw new InvalidArgumentError("optedOut", "must be true or false");
    return this.signAction("setEmergencyOptOut", { optedOut }, options);
  }

  /**
   * Signs the cancellation of `nonce` for someone else to relay (actBySig, InvalidateNonces), so a
   * signature made with it can never be relayed, without ether in the signer's account. The message
   * spends a nonce of its own (by default the lowest unused, which may be `nonce` itself: then relaying
   * it is what cancels it).
   */
  async signCancelSignature(nonce: bigint, options: SignOptions = {}): Promise<SignedConsent> {
    const [word, mask] = cancelNonceArgs(BigInt(nonce));
    return this.signAction("invalidateNonces", { word, mask }, options);
  }

  /**
   * Signs the registration of `publicKey` (an X25519 key pair's public half, or its bytes32) in
   * KeyDirectory for someone else to relay (registerKeyBySig), binding it to the key registered now, so
   * that a held signature cannot bring back a key rotated away since.
   */
  async signRegisterKey(
    keyPair: Pick<EncryptionKeyPair, "publicKey"> | string,
    options: Omit<SignOptions, "seenConsent"> = {},
  ): Promise<SignedConsent> {
    const publicKey =
      typeof keyPair === "string" ? requireBytes32(keyPair, "publicKey") : publicKeyToBytes32(keyPair.publicKey);
    const signer = await this.signer.getAddress();
    const keys = this.contracts.keys;
    const [seenKey, keyDirectory] = await Promise.all([keys.keyOf(signer), keys.getAddress()]);
    const nonce = options.nonce ?? (await lowestUnusedNonce((word) => keys.nonceBitmap(signer, word)));
    return this.sign(
      "registerKey",
      "RegisterKey",
      { publicKey, seenKey },
      { ...options, nonce },
      { fields: { publicKey, seenKey: seenKey.toLowerCase() }, keyDirectory },
      keyDirectoryDomain(this.contracts.chainId, keyDirectory),
    );
  }

  /**
   * Publishes (or rotates) the signer's X25519 public key in KeyDirectory, through the relayer when there
   * is one (a pseudonym then needs no ether), else as a transaction from the signer.
   */
  async registerEncryptionKey(
    keyPair: Pick<EncryptionKeyPair, "publicKey">,
    overrides?: TransactionOverrides,
  ): Promise<PendingTransaction<{ publicKey: string }>> {
    const publicKey = publicKeyToBytes32(keyPair.publicKey);
    if (this.relayer)
      return this.relay("register the encryption key", await this.signRegisterKey(publicKey), () => ({ publicKey }));
    return send(
      "register the encryption key",
      () => this.contracts.keys.connect(withOverrides(this.signer, overrides)).registerKey(publicKey),
      () => ({ publicKey }),
    );
  }

  /** Cancels one of the signer's unused nonces, so a signature made with it can never be relayed. */
  async cancelSignature(
    nonce: bigint,
    overrides?: TransactionOverrides,
  ): Promise<PendingTransaction<{ nonce: bigint }>> {
    if (this.relayer)
      return this.relay("cancel the signature", await this.signCancelSignature(nonce), () => ({ nonce }));
    return send(
      "cancel the signature",
      () =>
        this.contracts.ledger
          .connect(withOverrides(this.signer, overrides))
          .invalidateNonces(...cancelNonceArgs(nonce)),
      () => ({ nonce }),
    );
  }

  /**
   * What granting `input` would change: the consent `grantee` holds now (if it has not ended) and the
   * one the grant would store. Show it to the patient before sending {@link grant}.
   */
  async previewGrant(input: GrantInput, options: OnBehalf = {}): Promise<ConsentPreview> {
    const patient = await this.patientOf(options);
    const grant = await this.toGrant(input);
    return this.change(patient, grant.grantee, { patient, ...grant });
  }

  /**
   * What approving `request` would change: the consent its researcher holds now (if it has not ended)
   * and the one the approval would store, from now for the request's duration. Show it to the patient
   * before sending {@link approve}.
   */
  async previewApproval(request: AccessRequest | string): Promise<ConsentPreview> {
    const full = await this.resolveRequest(request);
    const now = await this.latestTime();
    return this.change(full.terms.patient, full.researcher, {
      patient: full.terms.patient,
      grantee: full.researcher,
      dataClasses: full.terms.dataClasses,
      purposes: maskOf([full.terms.purpose]),
      validFrom: now,
      validUntil: now + full.terms.duration,
    });
  }

  private async change(patient: string, grantee: string, after: Consent): Promise<ConsentPreview> {
    const [stored, now] = await Promise.all([this.consentTo(grantee, { patient }), this.latestTime()]);
    // The ledger's rule (Consents._grant): only a consent that has not ended is replaced.
    const before = stored !== undefined && stored.validUntil > now ? stored : undefined;
    return { before, after, replaces: before !== undefined, seenConsent: consentWordOf(stored) };
  }

  /** The consent word a signature binds to: the same read as the preview's (an ended consent included). */
  private async seenConsent(patient: string, grantee: string): Promise<bigint> {
    return consentWordOf(await this.consentTo(grantee, { patient }));
  }

  private async latestTime(): Promise<number> {
    return Number((await this.contracts.provider.getBlock("latest"))?.timestamp ?? 0);
  }

  /** The consent the patient gave `grantee`, or undefined. */
  async consentTo(grantee: string, options: OnBehalf = {}): Promise<Consent | undefined> {
    const patient = await this.patientOf(options);
    const who = requireAddress(grantee, "grantee");
    return consentFromStored(patient, who, await this.contracts.ledger.consentOf(patient, who));
  }

  /** Every consent the patient has in force or scheduled now (from events, checked against storage). */
  async consents(options: OnBehalf = {}): Promise<Consent[]> {
    const patient = await this.patientOf(options);
    const events = await this.contracts.ledger.queryFilter(
      this.contracts.ledger.filters.ConsentGranted(patient),
      this.contracts.deployment.deployedAtBlock ?? 0,
    );
    const grantees = [...new Set(events.map((event) => event.args.grantee as string))];
    const now = Number((await this.contracts.provider.getBlock("latest"))?.timestamp ?? 0);
    const consents = await Promise.all(grantees.map((grantee) => this.consentTo(grantee, { patient })));
    return consents.filter((consent): consent is Consent => consent !== undefined && consent.validUntil > now);
  }

  /** Requests made to the patient; by default only those still pending. */
  async requests(options: OnBehalf & { all?: boolean } = {}): Promise<RequestView[]> {
    const patient = await this.patientOf(options);
    const events = await this.contracts.ledger.queryFilter(
      this.contracts.ledger.filters.RequestOpened(undefined, patient),
      this.contracts.deployment.deployedAtBlock ?? 0,
    );
    const views = await requestViews(this.contracts, events as unknown as EventLog[]);
    return options.all ? views : views.filter((view) => view.status === "Pending");
  }

  /**
   * The lowest nonce of `signer` that the ledger shows unused, read a bitmap word (256 nonces) at a time:
   * one call unless whole words are used up.
   */
  async nextNonce(signer?: string): Promise<bigint> {
    const who = signer ?? (await this.signer.getAddress());
    return lowestUnusedNonce((word) => this.contracts.ledger.nonceBitmap(who, word));
  }

  /** Signs one of the settings actBySig relays; `input` holds its fields between signer and nonce. */
  private async signAction(kind: SignedActionKind, input: object, options: SignOptions): Promise<SignedConsent> {
    const { type, message, fields } = signedActionOf(kind, input);
    return this.sign(kind, type, message, options, { fields });
  }

  private async sign(
    kind: SignedConsent["kind"],
    primaryType: (typeof SIGNED_CONSENT_PRIMARY_TYPES)[SignedConsent["kind"]],
    fields: Record<string, unknown>,
    options: SignOptions,
    extra: Partial<SignedConsent>,
    domain?: TypedDataDomain,
  ): Promise<SignedConsent> {
    const signer = await this.signer.getAddress();
    // The ledger judges the deadline by its own clock, the latest block's time, which need not be the
    // wall clock (a test chain moved forward, a chain with late blocks): the default hour counts from it.
    const latest = options.deadline === undefined ? await this.contracts.provider.getBlock("latest") : null;
    const now = latest?.timestamp ?? Math.floor(Date.now() / 1000);
    const deadline = toUnixSeconds(options.deadline, "deadline", now + 3600);
    const nonce = options.nonce ?? (await this.nextNonce(signer));
    const ledger = await this.contracts.ledger.getAddress();
    let signature: string;
    try {
      signature = await signConsentMessage(
        this.signer,
        domain ?? consentDomain(this.contracts.chainId, ledger),
        primaryType,
        {
          signer,
          ...fields,
          nonce,
          deadline,
        },
      );
    } catch (error) {
      throw toLedgerError(error, `sign the ${kind}`);
    }
    return {
      kind,
      chainId: Number(this.contracts.chainId),
      ledger,
      signer,
      nonce: nonce.toString(),
      deadline,
      signature,
      ...extra,
    };
  }

  /** Refuses, when relaying, an action that would have to be a transaction from the signer. */
  private direct(action: string): void {
    if (this.relayer && !this.options.allowDirect) throw new NoSignedFormError(action);
  }

  /**
   * Hands a signed action to the relayer, and waits for its transaction like a direct one. The relayer's
   * word is not taken: the receipt must be a transaction to the ledger carrying this message's event
   * (patient, grantee or request, actor = signer, terms), with the signer's nonce used at that block;
   * otherwise RelayNotConfirmedError.
   */
  /** Hands a signed action to the relayer and checks its transaction on the chain (relayThrough). */
  private async relay<T>(
    action: string,
    signed: SignedConsent,
    decode: (receipt: TransactionReceipt) => T | Promise<T>,
  ): Promise<PendingTransaction<T>> {
    return relayThrough(this.relayer as ConsentRelayer, ethersRelayChain(this.contracts), action, signed, decode);
  }

  private async patientOf(options: OnBehalf): Promise<string> {
    return options.patient ? requireAddress(options.patient, "patient") : this.signer.getAddress();
  }

  private async toGrant(input: GrantInput) {
    return grantTerms(input);
  }

  private async resolveRequest(request: AccessRequest | string): Promise<AccessRequest> {
    return typeof request === "string" ? (await findRequest(this.contracts, request)).request : request;
  }
}

/** What the relay flow reads of the chain, through ethers: the ledger's and KeyDirectory's events and nonces. */
function ethersRelayChain(contracts: LedgerContracts): RelayChain<TransactionReceipt> {
  const contractOf = (target: "ledger" | "keys") => (target === "keys" ? contracts.keys : contracts.ledger);
  return {
    addresses: { ledger: contracts.deployment.ledger, keys: contracts.deployment.keys },
    receipt: (hash) => contracts.provider.getTransactionReceipt(hash),
    blockNumber: () => contracts.provider.getBlockNumber(),
    facts: (receipt) => ({ blockNumber: receipt.blockNumber, to: receipt.to, succeeded: receipt.status === 1 }),
    events: (receipt, target) => {
      const contract = contractOf(target);
      const address = target === "keys" ? contracts.deployment.keys : contracts.deployment.ledger;
      return receipt.logs
        .filter((log) => log.address.toLowerCase() === address.toLowerCase())
        .flatMap((log) => {
          try {
            const parsed = contract.interface.parseLog(log);
            if (!parsed) return [];
            // Arguments by name, a struct (the policy) as a plain object of its fields.
            const args = Object.fromEntries(
              parsed.fragment.inputs.map((input, i) => {
                const value = parsed.args[i] as { toObject?: () => Record<string, unknown> };
                return [input.name, typeof value?.toObject === "function" ? value.toObject() : value];
              }),
            );
            return [{ name: parsed.name, args }];
          } catch {
            return [];
          }
        });
    },
    nonceBitmapAt: (target, signer, word, blockNumber) =>
      contractOf(target).nonceBitmap(signer, word, { blockTag: blockNumber }),
    toLedgerError,
  };
}

/**
 * Submits a signed consent action with the relayer's account (the relayer pays the gas). Checks the
 * signature's chain and ledger first, so a relayer learns of a mismatch before paying for a revert.
 */
export async function relaySignedConsent(
  contracts: LedgerContracts,
  relayer: SignerInput,
  signed: SignedConsent,
  overrides?: TransactionOverrides,
): Promise<PendingTransaction<SignedConsent>> {
  const checked = parseSignedConsent(signed);
  const transaction = await populateSignedConsent(contracts, checked);
  return send(
    `relay the signed ${checked.kind}`,
    // A plain transaction to the ledger: its response waits and fails the same way as a contract call's.
    () =>
      withOverrides(toSigner(relayer), overrides).sendTransaction(transaction) as Promise<ContractTransactionResponse>,
    () => checked,
  );
}

/**
 * The unsigned transaction that submits `signed` (to, data), after checking its shape and that it is
 * for this chain and ledger: for a relayer to estimate, cap and send.
 */
export async function populateSignedConsent(
  contracts: LedgerContracts,
  signed: SignedConsent,
): Promise<ContractTransaction> {
  const checked = parseSignedConsent(signed);
  const ledger = contracts.ledger;
  const ledgerAddress = await contracts.ledger.getAddress();
  if (checked.kind === "registerKey") {
    const keyDirectory = await contracts.keys.getAddress();
    if (BigInt(checked.chainId) !== contracts.chainId || checked.keyDirectory !== keyDirectory)
      throw new InvalidArgumentError(
        "signed consent",
        `signed for KeyDirectory ${checked.keyDirectory} on chain ${checked.chainId}`,
        { hint: `This relayer submits to KeyDirectory ${keyDirectory} on chain ${contracts.chainId}; sign for it.` },
      );
  }
  if (BigInt(checked.chainId) !== contracts.chainId || requireAddress(checked.ledger, "ledger") !== ledgerAddress) {
    throw new InvalidArgumentError(
      "signed consent",
      `signed for ledger ${checked.ledger} on chain ${checked.chainId}`,
      {
        hint: `This relayer submits to ${ledgerAddress} on chain ${contracts.chainId}; ask for a signature for it.`,
      },
    );
  }
  const nonce = BigInt(checked.nonce);
  const common = [checked.signer, nonce, checked.deadline, checked.signature] as const;
  const toRequest = () => {
    const r = checked.request;
    if (!r) throw new InvalidArgumentError("signed consent", `a ${checked.kind} needs its request`);
    return toAbiRequest({ ...r, terms: { ...r.terms, acceptedObligations: BigInt(r.terms.acceptedObligations) } });
  };
  if (isSignedActionKind(checked.kind)) {
    const type = SIGNED_ACTION_KINDS[checked.kind];
    return ledger.actBySig.populateTransaction(
      actionTypehash(type),
      encodeActionArgs(type, checked.fields!),
      ...common,
    );
  }
  switch (checked.kind) {
    case "registerKey":
      return contracts.keys.registerKeyBySig.populateTransaction(
        checked.fields!.publicKey as string,
        checked.fields!.seenKey as string,
        ...common,
      );
    case "grant":
      if (!checked.grant || !checked.patient)
        throw new InvalidArgumentError("signed consent", "a grant needs patient and grant");
      return ledger.grantBySig.populateTransaction(
        checked.patient,
        checked.grant,
        BigInt(checked.seenConsent ?? "0"),
        ...common,
      );
    case "revoke":
      if (!checked.grantee || !checked.patient)
        throw new InvalidArgumentError("signed consent", "a revoke needs patient and grantee");
      return ledger.revokeBySig.populateTransaction(checked.patient, checked.grantee, ...common);
    case "approve":
      return ledger.approveRequestBySig.populateTransaction(toRequest(), BigInt(checked.seenConsent ?? "0"), ...common);
    default:
      return ledger.denyRequestBySig.populateTransaction(toRequest(), ...common);
  }
}
