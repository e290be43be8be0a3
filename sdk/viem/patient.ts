/**
 * The ethers entry's PatientClient for a viem WalletClient, on the same rules (sdk/clients/rules.ts) and
 * the same EIP-712 definitions (sdk/clients/signatures.ts): grants, revocations, the standing policy,
 * delegates, the emergency opt-out, deciding research requests, consents by value and signatures for a
 * relayer, and the requests made to the patient with what became of the consents they gave.
 */
import { parseEventLogs, type TransactionReceipt, type WalletClient } from "viem";

import { requireAddress, requireBytes32, toUnixSeconds } from "../args";
import { consentLedgerAbi, keyDirectoryAbi } from "../chain/abis";
import type { PendingTransaction } from "../chain/transactions";
import type { OnBehalf, SignOptions } from "../clients/patient";
import {
  cancelNonceArgs,
  consentFromStored,
  consentWordOf,
  delegateScopeTerms,
  grantTerms,
  lowestUnusedNonce,
  policyTerms,
  type DelegateScope,
} from "../clients/rules";
import {
  ACTION_TYPES,
  CONSENT_TYPES,
  consentDomain,
  KEY_DIRECTORY_TYPES,
  keyDirectoryDomain,
  signedActionOf,
  type SignedActionKind,
  type SignedActionType,
} from "../clients/consent-types";
import { jsonRequest, requestIdOf, toAbiRequest } from "../clients/request-rules";
import {
  NoSignedFormError,
  relayThrough,
  type ConsentRelayer,
  type PatientClientOptions,
  type RelayChain,
} from "../clients/relayer";
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
} from "../clients/types";
import { maskOf } from "../codes";
import { getAddress } from "../core/hex";
import type { TransactionOverrides } from "../core/overrides";
import { publicKeyToBytes32, type EncryptionKeyPair } from "../crypto/keys";
import {
  applyImportedConsent,
  consentFromFhir,
  type FhirConsentImportOptions,
  type ImportedConsent,
} from "../fhir/import";
import { InvalidArgumentError } from "../errors";
import type { ViemLedgerContracts } from "./connect";
import { toLedgerError } from "./errors";
import { latestTime } from "./reads";
import { requestById, requestsOf } from "./requests";
import { accountOf, addressOf, requireWallet, send } from "./send";

const at = (address: string) => address as `0x${string}`;

export class PatientClient {
  /** The viem wallet client the patient (or a delegate) writes and signs with. */
  readonly wallet: WalletClient;

  constructor(
    readonly contracts: ViemLedgerContracts,
    wallet: WalletClient,
    readonly options: PatientClientOptions = {},
  ) {
    this.wallet = requireWallet(wallet);
  }

  /** The relayer consent actions go through, if any (PatientClientOptions, as on the ethers entry). */
  get relayer(): ConsentRelayer | undefined {
    return this.options.relayer;
  }

  /** Refuses, when relaying, an action that would have to be a transaction from the signer. */
  private direct(action: string): void {
    if (this.relayer && !this.options.allowDirect) throw new NoSignedFormError(action);
  }

  /** Hands a signed action to the relayer and checks its transaction on the chain (relayThrough). */
  private relay<T>(action: string, signed: SignedConsent, decode: (receipt: TransactionReceipt) => T | Promise<T>) {
    return relayThrough(this.relayer as ConsentRelayer, viemRelayChain(this.contracts), action, signed, decode);
  }

  private write<T>(
    action: string,
    functionName: string,
    args: readonly unknown[],
    overrides: TransactionOverrides | undefined,
    decode: () => T,
  ) {
    const call = { address: this.contracts.deployment.ledger, abi: consentLedgerAbi, functionName, args };
    return send(this.contracts, this.wallet, action, call, overrides, decode);
  }

  /** Grants a consent; resolves to the consent as stored. */
  async grant(
    input: GrantInput,
    options: OnBehalf = {},
    overrides?: TransactionOverrides,
  ): Promise<PendingTransaction<Consent>> {
    const patient = await this.patientOf(options);
    const grant = grantTerms(input);
    if (this.relayer)
      return this.relay("grant consent", await this.signGrant(input, options), () => ({ patient, ...grant }));
    return this.write(
      "grant consent",
      "grant",
      [patient, grant.grantee, grant.dataClasses, grant.purposes, grant.validFrom, grant.validUntil],
      overrides,
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
    const grants = inputs.map((input) => grantTerms(input));
    return this.write("grant consents", "grantBatch", [patient, grants], overrides, () =>
      grants.map((grant) => ({ patient, ...grant })),
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
    return this.write("revoke consent", "revoke", [patient, who], overrides, () => ({ patient, grantee: who }));
  }

  /** Sets the signer's standing data-use policy (research purposes only). */
  async setPolicy(input: PolicyInput, overrides?: TransactionOverrides): Promise<PendingTransaction<DataUsePolicy>> {
    const policy = policyTerms(input);
    if (this.relayer) return this.relay("set the policy", await this.signSetPolicy(input), () => policy);
    return this.write("set the policy", "setPolicy", [policy], overrides, () => policy);
  }

  async clearPolicy(overrides?: TransactionOverrides): Promise<PendingTransaction<void>> {
    if (this.relayer) return this.relay("clear the policy", await this.signClearPolicy(), () => undefined);
    return this.write("clear the policy", "clearPolicy", [], overrides, () => undefined);
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
    return this.write(
      "appoint the delegate",
      "appointDelegate",
      [who, until, purposes, sensitiveClasses],
      overrides,
      () => ({
        delegate: who,
        validUntil: until,
        purposes,
        sensitiveClasses,
      }),
    );
  }

  async removeDelegate(
    delegate: string,
    overrides?: TransactionOverrides,
  ): Promise<PendingTransaction<{ delegate: string }>> {
    const who = requireAddress(delegate, "delegate");
    if (this.relayer)
      return this.relay("remove the delegate", await this.signRemoveDelegate(who), () => ({ delegate: who }));
    return this.write("remove the delegate", "removeDelegate", [who], overrides, () => ({ delegate: who }));
  }

  /** Opts out of (true) or back into (false) emergency access. */
  async setEmergencyOptOut(
    optedOut: boolean,
    overrides?: TransactionOverrides,
  ): Promise<PendingTransaction<{ optedOut: boolean }>> {
    if (this.relayer)
      return this.relay("set the emergency opt-out", await this.signEmergencyOptOut(optedOut), () => ({ optedOut }));
    return this.write("set the emergency opt-out", "setEmergencyOptOut", [optedOut], overrides, () => ({ optedOut }));
  }

  /** Cancels one of the signer's unused nonces, so a signature made with it can never be relayed. */
  async cancelSignature(
    nonce: bigint,
    overrides?: TransactionOverrides,
  ): Promise<PendingTransaction<{ nonce: bigint }>> {
    if (this.relayer)
      return this.relay("cancel the signature", await this.signCancelSignature(nonce), () => ({ nonce }));
    return this.write("cancel the signature", "invalidateNonces", cancelNonceArgs(nonce), overrides, () => ({ nonce }));
  }

  /** Approves a pending request (given as its id or the full request); resolves to the consent it gave. */
  async approve(
    request: AccessRequest | string,
    overrides?: TransactionOverrides,
  ): Promise<PendingTransaction<{ requestId: string; consent: Consent }>> {
    const full = await this.resolveRequest(request);
    const call = {
      address: this.contracts.deployment.ledger,
      abi: consentLedgerAbi,
      functionName: "approveRequest",
      args: [toAbiRequest(full)],
    };
    const decode = async (receipt: TransactionReceipt) => {
      const time = Number((await this.contracts.client.getBlock({ blockNumber: receipt.blockNumber })).timestamp);
      return {
        requestId: requestIdOf(full),
        consent: {
          patient: full.terms.patient,
          grantee: full.researcher,
          dataClasses: full.terms.dataClasses,
          purposes: maskOf([full.terms.purpose]),
          validFrom: time,
          validUntil: time + full.terms.duration,
        },
      };
    };
    if (this.relayer) return this.relay("approve the request", await this.signApprove(full), decode);
    return send(this.contracts, this.wallet, "approve the request", call, overrides, decode);
  }

  /** Denies a pending request. */
  async deny(
    request: AccessRequest | string,
    overrides?: TransactionOverrides,
  ): Promise<PendingTransaction<{ requestId: string }>> {
    const full = await this.resolveRequest(request);
    if (this.relayer)
      return this.relay("deny the request", await this.signDeny(full), () => ({ requestId: requestIdOf(full) }));
    return this.write("deny the request", "denyRequest", [toAbiRequest(full)], overrides, () => ({
      requestId: requestIdOf(full),
    }));
  }

  /** Signs an approval of a request for someone else to relay, over the consent the patient saw (SignOptions.seenConsent). */
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

  /** Signs an appointment for someone else to relay (actBySig, AppointDelegate). */
  async signAppointDelegate(
    delegate: string,
    validUntil: Date | number,
    scope: DelegateScopeInput,
    options: SignOptions = {},
  ): Promise<SignedConsent> {
    const { purposes, sensitiveClasses } = delegateScopeTerms(scope);
    const who = requireAddress(delegate, "delegate");
    const until = toUnixSeconds(validUntil, "validUntil");
    return this.signAction(
      "appointDelegate",
      { delegate: who, validUntil: until, purposes, sensitiveClasses },
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

  /** Signs the cancellation of `nonce` for someone else to relay (actBySig, InvalidateNonces). */
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
    const signer = at(await addressOf(this.wallet));
    const keys = this.contracts.keys;
    const keyDirectory = this.contracts.deployment.keys;
    const seenKey = await keys.read.keyOf([signer]);
    const nonce = options.nonce ?? (await lowestUnusedNonce((word) => keys.read.nonceBitmap([signer, word])));
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
    const call = {
      address: this.contracts.deployment.keys,
      abi: keyDirectoryAbi,
      functionName: "registerKey",
      args: [publicKey],
    };
    return send(this.contracts, this.wallet, "register the encryption key", call, overrides, () => ({ publicKey }));
  }

  private async signAction(kind: SignedActionKind, input: object, options: SignOptions): Promise<SignedConsent> {
    const { type, message, fields } = signedActionOf(kind, input);
    return this.sign(kind, type, message, options, { fields });
  }

  /** Requests made to the patient; by default only those still pending. */
  async requests(options: OnBehalf & { all?: boolean } = {}): Promise<RequestView[]> {
    return requestsOf(this.contracts, { patient: await this.patientOf(options) }, { all: options.all });
  }

  private async resolveRequest(request: AccessRequest | string): Promise<AccessRequest> {
    return typeof request === "string" ? requestById(this.contracts, request) : request;
  }

  /** Signs a grant for someone else to relay (relaySignedConsent of either entry submits it). */
  async signGrant(input: GrantInput, options: SignOptions = {}): Promise<SignedConsent> {
    const patient = await this.patientOf(options);
    const grant = grantTerms(input);
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

  /** What granting `input` would change (see the ethers entry's PatientClient.previewGrant). */
  async previewGrant(input: GrantInput, options: OnBehalf = {}): Promise<ConsentPreview> {
    const patient = await this.patientOf(options);
    const grant = grantTerms(input);
    return this.change(patient, grant.grantee, { patient, ...grant });
  }

  /** What approving `request` would change (see the ethers entry's PatientClient.previewApproval). */
  async previewApproval(request: AccessRequest | string): Promise<ConsentPreview> {
    const full = await this.resolveRequest(request);
    const now = await latestTime(this.contracts);
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
    const [stored, now] = await Promise.all([this.consentTo(grantee, { patient }), latestTime(this.contracts)]);
    // The ledger's rule (Consents._grant): only a consent that has not ended is replaced.
    const before = stored !== undefined && stored.validUntil > now ? stored : undefined;
    return { before, after, replaces: before !== undefined, seenConsent: consentWordOf(stored) };
  }

  /** The consent word a signature binds to: the same read as the preview's (an ended consent included). */
  private async seenConsent(patient: string, grantee: string): Promise<bigint> {
    return consentWordOf(await this.consentTo(grantee, { patient }));
  }

  /** The consent the patient gave `grantee`, or undefined. */
  async consentTo(grantee: string, options: OnBehalf = {}): Promise<Consent | undefined> {
    const patient = await this.patientOf(options);
    const who = requireAddress(grantee, "grantee");
    return consentFromStored(patient, who, await this.contracts.ledger.read.consentOf([at(patient), at(who)]));
  }

  /** Every consent the patient has in force or scheduled now (from events, checked against storage). */
  async consents(options: OnBehalf = {}): Promise<Consent[]> {
    const patient = await this.patientOf(options);
    const events = await this.contracts.ledger.getEvents.ConsentGranted(
      { patient: at(patient) },
      { fromBlock: BigInt(this.contracts.deployment.deployedAtBlock ?? 0) },
    );
    const grantees = [...new Set(events.map((event) => event.args.grantee as string))];
    const now = await latestTime(this.contracts);
    const consents = await Promise.all(grantees.map((grantee) => this.consentTo(grantee, { patient })));
    return consents.filter((consent): consent is Consent => consent !== undefined && consent.validUntil > now);
  }

  /** The lowest nonce of `signer` that the ledger shows unused. */
  async nextNonce(signer?: string): Promise<bigint> {
    const who = at(signer ?? (await addressOf(this.wallet)));
    return lowestUnusedNonce((word) => this.contracts.ledger.read.nonceBitmap([who, word]));
  }

  private async sign(
    kind: SignedConsent["kind"],
    primaryType: keyof typeof CONSENT_TYPES | SignedActionType | "RegisterKey",
    fields: Record<string, unknown>,
    options: SignOptions,
    extra: Partial<SignedConsent>,
    keyDomain?: ReturnType<typeof keyDirectoryDomain>,
  ): Promise<SignedConsent> {
    const signer = await addressOf(this.wallet);
    // The ledger judges the deadline by its own clock, the latest block's time: the default hour counts from it.
    const now = options.deadline === undefined ? await latestTime(this.contracts) : Math.floor(Date.now() / 1000);
    const deadline = toUnixSeconds(options.deadline, "deadline", now + 3600);
    const nonce = options.nonce ?? (await this.nextNonce(signer));
    const ledger = this.contracts.deployment.ledger;
    let signature: string;
    try {
      const domain = keyDomain ?? consentDomain(this.contracts.chainId, ledger);
      signature = await this.wallet.signTypedData({
        account: await accountOf(this.wallet),
        domain: { ...domain, verifyingContract: at(domain.verifyingContract as string) },
        types: { [primaryType]: { ...CONSENT_TYPES, ...ACTION_TYPES, ...KEY_DIRECTORY_TYPES }[primaryType] },
        primaryType,
        message: { signer, ...fields, nonce, deadline },
      } as never);
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

  /**
   * Reads a FHIR R4 Consent as the grant, research policy or emergency opt-out it amounts to, with
   * `summary` to show the patient before `applyFhirConsent` signs it (the ethers entry's, on the same
   * reader). Throws UnsupportedFhirConsentError for what the ledger cannot hold exactly.
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

  private async patientOf(options: OnBehalf): Promise<string> {
    return options.patient ? requireAddress(options.patient, "patient") : addressOf(this.wallet);
  }
}

/** What the relay flow reads of the chain, through viem: the ledger's and KeyDirectory's events and nonces. */
function viemRelayChain(contracts: ViemLedgerContracts): RelayChain<TransactionReceipt> {
  const addresses = { ledger: contracts.deployment.ledger, keys: contracts.deployment.keys };
  return {
    addresses,
    receipt: (hash) =>
      contracts.client.getTransactionReceipt({ hash: at(hash) }).catch((error: unknown) => {
        if ((error as { name?: string })?.name === "TransactionReceiptNotFoundError") return null;
        throw error;
      }),
    blockNumber: async () => Number(await contracts.client.getBlockNumber()),
    facts: (receipt) => ({
      blockNumber: Number(receipt.blockNumber),
      // viem gives addresses as the node does (lowercase); the message names them checksummed, as ethers does.
      to: receipt.to ? getAddress(receipt.to) : null,
      succeeded: receipt.status === "success",
    }),
    events: (receipt, target) =>
      parseEventLogs({
        abi: target === "keys" ? keyDirectoryAbi : consentLedgerAbi,
        logs: receipt.logs.filter((log) => log.address.toLowerCase() === addresses[target].toLowerCase()),
      }).map((log) => ({ name: log.eventName, args: log.args as Record<string, unknown> })),
    nonceBitmapAt: (target, signer, word, blockNumber) =>
      (target === "keys" ? contracts.keys : contracts.ledger).read.nonceBitmap([at(signer), word], {
        blockNumber: BigInt(blockNumber),
      }),
    toLedgerError,
  };
}
