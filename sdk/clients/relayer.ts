/**
 * The client side of a consent relayer (gateway/relayer.ts): it takes a SignedConsent and submits it
 * from its own funded account, so the patient's account (a pseudonym) never holds ether. Anything with
 * `submit` can stand in (a relayer of the patient's choosing, an in-process one in a test).
 */
import type { PendingTransaction } from "../chain/transactions";
import { ConsentLedgerError, InvalidArgumentError } from "../errors";
import { isKeyDirectoryKind } from "./consent-types";
import { isLoopbackHost } from "./gateway-core";
import { requestIdOf } from "./request-rules";
import type { SignedConsent } from "./types";

/** Options of a PatientClient (either entry's). */
export interface PatientClientOptions {
  /**
   * Send every action that has a signed form (grant, revoke, approve, deny, the policy, delegates, the
   * emergency opt-out, cancelling a nonce, registering the encryption key) as a signed message through
   * this relayer (its account pays the gas), never as a transaction from the signer: a pseudonym never
   * needs ether, so no funding flow links it to anyone. With a relayer, a batch grant (which has no
   * signed form) is refused with NoSignedFormError unless `allowDirect` is set, rather than sent from
   * (and so needing ether in) the signer's account.
   */
  relayer?: ConsentRelayer;
  /** With a relayer: send the actions that have no signed form as ordinary transactions (needs ether). */
  allowDirect?: boolean;
}

/**
 * An action has no signed (relayable) form on today's ledger, and the client was told to relay: sending it
 * as a transaction would need ether in the account, which is the funding link the relayer avoids.
 */
export class NoSignedFormError extends ConsentLedgerError {
  override name = "NoSignedFormError";
  constructor(readonly action: string) {
    super(`The ledger has no signed form of "${action}", so it cannot go through the relayer`, {
      hint:
        "Send the items one by one (each grant has a signed form), or send it directly (PatientClient option " +
        "allowDirect, from an account with ether; for a pseudonym that funding is visible on chain and can link it).",
    });
  }
}

/** What a relayer answered for a submitted consent: the transaction it sent. */
export interface RelayedConsent {
  transactionHash: string;
  /** The relayer's account (the transaction's `from`). */
  relayer: string;
  /** The gas the relayer reserved for it. */
  gasLimit: string;
}

/** Anything that submits signed consents: RelayerClient (HTTP), or an in-process relayer. */
export interface ConsentRelayer {
  submit(signed: SignedConsent): Promise<RelayedConsent>;
  /**
   * Every hash the relayer sent for the message first sent as `hash` (it replaces a transaction not mined
   * in time by one with higher fees, at the same nonce). Optional: without it only `hash` is watched. What
   * it names is not taken on trust: the mined one is checked against the chain like the first.
   */
  transactionsOf?(hash: string): Promise<string[]>;
}

/** What a relayer says became of a relayed message: every hash it sent for it, and which was mined. */
export interface RelayStatus {
  state: "pending" | "mined" | "reverted" | "superseded";
  hashes: string[];
  minedHash: string | null;
}

/** What a relayer tells about itself: its account, chain, ledger and limits. */
export interface RelayerInfo {
  relayer: string;
  chainId: number;
  ledger: string;
  limits: {
    perSignerPerMinute: number;
    perIpPerMinute: number;
    bodyLimitBytes: number;
    maxGasPerMessage: string;
    dailyGasBudget: string;
  };
  /** Fee bumping: a transaction not mined after bumpAfterMs is replaced with fees raised by feeBumpPercent. */
  fees?: { bumpAfterMs: number; feeBumpPercent: number; maxFeePerGasCeiling: string };
  gasLeftToday: string;
}

/**
 * The relayer refused a message: `code` is its stable error name (InvalidSignature, SignatureExpired,
 * NonceAlreadyUsed, WouldRevert, GasLimitExceeded, RateLimited, DailyGasBudgetExhausted, ...), `status`
 * its HTTP status. Nothing was sent: a refused message costs the patient nothing and may be signed again.
 */
export class RelayerError extends ConsentLedgerError {
  override name = "RelayerError";
  constructor(
    readonly code: string,
    readonly status: number,
    reason: string,
    readonly retryAfterSeconds?: number,
  ) {
    super(`The relayer refused the message: ${code}`, {
      details: reason,
      hint: retryAfterSeconds !== undefined ? `Try again in ${retryAfterSeconds} s.` : reason,
    });
  }
}

/**
 * The transaction a relayer named does not carry the patient's signed message: it is not to the ledger,
 * lacks the ledger's event for this message (patient, grantee or request, actor = signer, terms), or the
 * signer's nonce is not used at its block, or it was never mined. The relayer (or something on the path)
 * may be holding the signed message back: it stays valid, and anyone holding it can still submit it,
 * until its deadline. To be sure it never takes effect, use its nonce first: relay a message with the
 * same nonce through another relayer, or cancel the nonce (`cancelSignature`, relayed through another
 * relayer, or sent by the signer with ether), or wait until the deadline passes. The nonce is on the
 * contract the message is for: KeyDirectory's for registerKey, withdrawKey and invalidateKeyNonces (its
 * own bitmap, which no ledger cancellation touches), the ledger's for every other kind.
 */
export class RelayNotConfirmedError extends ConsentLedgerError {
  override name = "RelayNotConfirmedError";
  constructor(
    readonly action: string,
    readonly transactionHash: string,
    readonly problem: string,
    readonly signer: string,
    readonly nonce: bigint,
    readonly deadline: number,
    /** The signed message's kind: it decides which contract's nonce cancels it. */
    readonly kind?: SignedConsent["kind"],
  ) {
    const keyDirectory = isKeyDirectoryKind(kind);
    const where = keyDirectory ? "KeyDirectory's" : "the ledger's";
    super(`The relayer's transaction does not ${action}: ${problem}`, {
      details: `transaction ${transactionHash}; signed message of ${signer}, ${where} nonce ${nonce}, deadline ${new Date(deadline * 1000).toISOString()}`,
      hint:
        `The signed message stays valid until its deadline (${new Date(deadline * 1000).toISOString()}) and whoever holds it can still submit it. ` +
        `To make sure it never takes effect, use ${where} nonce ${nonce} first: relay a new message with that nonce through another relayer, ` +
        (keyDirectory
          ? "or cancel it in KeyDirectory with cancelSignature(signedMessage) (KeyDirectory.invalidateNonces, or its signed InvalidateNonces relayed through a relayer you trust); " +
            "cancelling the ledger's nonce does not stop it."
          : "or cancel it with cancelSignature (itself relayed, through a relayer you trust, or sent by the signer with ether)."),
    });
  }
}

export interface RelayerClientOptions {
  /** The fetch to use (defaults to the global one). */
  fetch?: typeof fetch;
  /** Milliseconds before a request is abandoned; default 30 s. */
  timeoutMs?: number;
}

/** Talks to a relayer over HTTP: POST {url}/relay/consent, GET {url}/relay. */
export class RelayerClient implements ConsentRelayer {
  readonly url: string;
  private readonly fetch: typeof fetch;
  private readonly timeoutMs: number;

  constructor(url: string, options: RelayerClientOptions = {}) {
    let parsed: URL;
    try {
      parsed = new URL(url);
    } catch (cause) {
      throw new InvalidArgumentError("relayer URL", `${url} is not a URL`, { cause });
    }
    if (parsed.protocol !== "https:" && parsed.protocol !== "http:")
      throw new InvalidArgumentError("relayer URL", `${url} is not http(s)`);
    // The relayer's answer (which transaction carries the patient's signed message) is checked against the
    // chain, but a signed message seen in plain text on the way can be held back by anyone on the path.
    if (parsed.protocol === "http:" && !isLoopbackHost(parsed.hostname))
      throw new InvalidArgumentError("relayer URL", `plain http:// is refused for ${parsed.hostname}: use https://`, {
        hint: "Plain HTTP is accepted only on loopback (localhost, 127.0.0.0/8, [::1]), for development.",
      });
    this.url = parsed.toString().replace(/\/$/, "");
    this.fetch = options.fetch ?? globalThis.fetch.bind(globalThis);
    this.timeoutMs = options.timeoutMs ?? 30_000;
  }

  /** The relayer's account, chain, ledger and limits. */
  async info(): Promise<RelayerInfo> {
    return (await this.call("GET", "/relay")) as RelayerInfo;
  }

  /** Submits a signed consent; resolves once the relayer has sent it (not mined). */
  async submit(signed: SignedConsent): Promise<RelayedConsent> {
    return (await this.call("POST", "/relay/consent", signed)) as RelayedConsent;
  }

  /** What became of the message first sent as `hash`: every hash sent for it (fee bumps), which was mined. */
  async status(hash: string): Promise<RelayStatus> {
    if (!/^0x[0-9a-fA-F]{64}$/.test(hash)) throw new InvalidArgumentError("hash", `${hash} is not a transaction hash`);
    return (await this.call("GET", `/relay/tx/${hash}`)) as RelayStatus;
  }

  async transactionsOf(hash: string): Promise<string[]> {
    const { hashes } = await this.status(hash);
    return Array.isArray(hashes) ? hashes.filter((held) => typeof held === "string") : [];
  }

  private async call(method: string, path: string, body?: unknown): Promise<unknown> {
    let response: Response;
    try {
      response = await this.fetch(this.url + path, {
        method,
        headers: body === undefined ? {} : { "content-type": "application/json" },
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: AbortSignal.timeout(this.timeoutMs),
      });
    } catch (cause) {
      throw new ConsentLedgerError(`The relayer at ${this.url} did not answer`, {
        hint: "Check the relayer URL and that it is running.",
        cause,
      });
    }
    const text = await response.text();
    let json: Record<string, unknown> | undefined;
    try {
      json = JSON.parse(text) as Record<string, unknown>;
    } catch {
      json = undefined;
    }
    if (!response.ok) {
      const retry = response.headers.get("retry-after");
      throw new RelayerError(
        typeof json?.error === "string" ? json.error : `HTTP${response.status}`,
        response.status,
        typeof json?.reason === "string" ? json.reason : text.slice(0, 200),
        retry === null ? undefined : Number(retry),
      );
    }
    if (json === undefined)
      throw new ConsentLedgerError(`The relayer at ${this.url} answered something that is not JSON`, {
        details: text.slice(0, 200),
      });
    return json;
  }
}

/** The id of the request a signed approve/deny is about (what its signature covers). */
export function signedRequestIdOf(signed: SignedConsent): string | undefined {
  const r = signed.request;
  return r
    ? requestIdOf({ ...r, terms: { ...r.terms, acceptedObligations: BigInt(r.terms.acceptedObligations) } })
    : undefined;
}

/** A ledger event decoded by either library: its name and its arguments by name. */
export interface DecodedLedgerEvent {
  name: string;
  args: Record<string, unknown>;
}

/** The event each signed setting (actBySig) and KeyDirectory message emits, and the argument naming the signer. */
const SETTING_EVENTS: Record<string, [string, string]> = {
  setPolicy: ["PolicySet", "patient"],
  clearPolicy: ["PolicyCleared", "patient"],
  appointDelegate: ["DelegateAppointed", "patient"],
  removeDelegate: ["DelegateRemoved", "patient"],
  setEmergencyOptOut: ["EmergencyOptOutSet", "patient"],
  invalidateNonces: ["NoncesInvalidated", "signer"],
  registerKey: ["EncryptionKeyRegistered", "account"],
  withdrawKey: ["EncryptionKeyWithdrawn", "account"],
  invalidateKeyNonces: ["NoncesInvalidated", "signer"],
};

/** The contract a signed message is submitted to: KeyDirectory for its kinds, else the ledger. */
export function relayTargetOf(signed: SignedConsent): "ledger" | "keys" {
  return isKeyDirectoryKind(signed.kind) ? "keys" : "ledger";
}

/**
 * Whether `events` (the target contract's, from one receipt, decoded by either library with their
 * arguments by name) hold the event `signed` makes: same patient, grantee or request id, actor = the
 * signer, same terms; for a setting or a key registration, the event its direct call emits, naming the
 * signer, with every signed field among its arguments (the policy's inside its struct).
 */
export function carriesSignedConsent(signed: SignedConsent, events: readonly DecodedLedgerEvent[]): boolean {
  const same = (a: unknown, b: unknown) => String(a).toLowerCase() === String(b).toLowerCase();
  const signer = signed.signer;
  const patient = signed.patient ?? signed.request?.terms.patient;
  const fieldsMatch = (args: Record<string, unknown>) =>
    Object.entries(signed.fields ?? {}).every(([name, value]) => {
      const policy = (args.policy ?? {}) as Record<string, unknown>;
      // RegisterKey's and WithdrawKey's seenKey is a condition, not part of the event: the nonce check covers it.
      if (!(name in policy) && !(name in args)) return name === "seenKey";
      const actual = name in policy ? policy[name] : args[name];
      return typeof value === "boolean"
        ? actual === value
        : same(typeof actual === "bigint" ? actual.toString() : actual, value);
    });
  return events.some(({ name, args }) => {
    const setting = SETTING_EVENTS[signed.kind];
    if (setting) return name === setting[0] && same(args[setting[1]], signer) && fieldsMatch(args);
    switch (signed.kind) {
      case "grant": {
        const grant = signed.grant;
        return (
          name === "ConsentGranted" &&
          grant !== undefined &&
          same(args.patient, patient) &&
          same(args.grantee, grant.grantee) &&
          same(args.actor, signer) &&
          BigInt(args.dataClasses as bigint) === BigInt(grant.dataClasses) &&
          BigInt(args.purposes as bigint) === BigInt(grant.purposes) &&
          BigInt(args.validFrom as bigint) === BigInt(grant.validFrom) &&
          BigInt(args.validUntil as bigint) === BigInt(grant.validUntil)
        );
      }
      case "revoke":
        return (
          name === "ConsentRevoked" &&
          same(args.patient, patient) &&
          same(args.grantee, signed.grantee) &&
          same(args.actor, signer)
        );
      case "approve":
      case "deny":
        // The request id is the hash of the researcher, opening time and every term: it binds them all.
        return (
          name === (signed.kind === "approve" ? "RequestApproved" : "RequestDenied") &&
          same(args.requestId, signedRequestIdOf(signed)) &&
          same(args.patient, patient) &&
          same(args.actor, signer)
        );
      default:
        return false;
    }
  });
}

/**
 * Another transaction, in the reverted one's block or shortly before, that carries out `signed`: the
 * signer's nonce used as of that block and the message's event in its logs. Null otherwise.
 */
async function landedElsewhere<R>(
  chain: RelayChain<R>,
  signed: SignedConsent,
  reverted: string,
  blockNumber: number,
): Promise<R | null> {
  if (!chain.transactionsNaming) return null;
  const target = relayTargetOf(signed);
  const nonce = BigInt(signed.nonce);
  const bitmap = await chain.nonceBitmapAt(target, signed.signer, nonce >> 8n, blockNumber);
  if (((bitmap >> (nonce & 0xffn)) & 1n) === 0n) return null;
  const hashes = await chain.transactionsNaming(
    target,
    signed.signer,
    Math.max(0, blockNumber - LANDED_LOOKBACK_BLOCKS),
    blockNumber,
  );
  for (const hash of hashes) {
    if (hash.toLowerCase() === reverted.toLowerCase()) continue;
    const receipt = await chain.receipt(hash);
    if (receipt && chain.facts(receipt).succeeded && carriesSignedConsent(signed, chain.events(receipt, target)))
      return receipt;
  }
  return null;
}

/** What the relay flow reads of the chain, through either library. */
export interface RelayChain<R> {
  /** The ledger's and KeyDirectory's addresses (a key registration goes to KeyDirectory). */
  addresses: { ledger: string; keys: string };
  /** The transaction's receipt, or null while it is not mined. */
  receipt(hash: string): Promise<R | null>;
  blockNumber(): Promise<number>;
  /** The receipt's block, recipient and success. */
  facts(receipt: R): { blockNumber: number; to: string | null; succeeded: boolean };
  /** The receipt's logs emitted by `target`, decoded, arguments by name (others and undecodable ones left out). */
  events(receipt: R, target: "ledger" | "keys"): DecodedLedgerEvent[];
  /** `target`.nonceBitmap(signer, word) as of `blockNumber`. */
  nonceBitmapAt(target: "ledger" | "keys", signer: string, word: bigint, blockNumber: number): Promise<bigint>;
  /** What a failed read becomes (each library's toLedgerError). */
  toLedgerError(error: unknown, action: string): Error;
  /**
   * Hashes of the transactions between two blocks with a log of `target` naming `signer` (in a topic
   * or its data): where a copy of a relayed call that landed first is looked for. Optional.
   */
  transactionsNaming?(target: "ledger" | "keys", signer: string, fromBlock: number, toBlock: number): Promise<string[]>;
}

/** How many blocks before a reverted relayed transaction a copy that took its nonce is looked for. */
const LANDED_LOOKBACK_BLOCKS = 64;

/**
 * Hands a signed action to the relayer, and waits for its transaction like a direct one. The relayer's
 * word is not taken: the receipt must be a transaction to the ledger carrying this message's event
 * (patient, grantee or request, actor = signer, terms), with the signer's nonce used at that block;
 * otherwise RelayNotConfirmedError. Both entries' PatientClient relay through this.
 */
export async function relayThrough<R, T>(
  relayer: ConsentRelayer,
  chain: RelayChain<R>,
  action: string,
  signed: SignedConsent,
  decode: (receipt: R) => T | Promise<T>,
  timeoutMs = 600_000,
): Promise<PendingTransaction<T>> {
  const relayed = await relayer.submit(signed);
  const hash = String(relayed?.transactionHash);
  return {
    hash,
    async wait(confirmations = 1) {
      const unconfirmed = (problem: string) =>
        new RelayNotConfirmedError(
          action,
          hash,
          problem,
          signed.signer,
          BigInt(signed.nonce),
          signed.deadline,
          signed.kind,
        );
      if (!/^0x[0-9a-fA-F]{64}$/.test(hash))
        throw unconfirmed(`the relayer answered ${JSON.stringify(hash).slice(0, 80)}, not a transaction hash`);
      let receipt: R | null;
      try {
        // The relayer may replace its transaction (higher fees, same nonce): any hash it names is
        // watched, and the one mined is checked below like the first.
        receipt = await relayedReceipt(chain, relayer, hash, confirmations, timeoutMs);
      } catch (error) {
        throw chain.toLedgerError(error, action);
      }
      if (!receipt) throw unconfirmed("it was not mined (dropped, or never sent)");
      let facts = chain.facts(receipt);
      if (!facts.succeeded) {
        // Someone may have copied the relayed call from the mempool and landed it first: the relayer's
        // copy then reverts, but the action happened, in their transaction (checked below like any).
        const landed = await landedElsewhere(chain, signed, hash, facts.blockNumber).catch(() => null);
        if (landed) {
          receipt = landed;
          facts = chain.facts(landed);
        }
      }
      if (!facts.succeeded)
        throw new ConsentLedgerError(`The relayed transaction to ${action} reverted`, {
          hint: "The ledger's state changed between the relayer's check and the block; sign again.",
          details: hash,
        });
      const target = relayTargetOf(signed);
      const address = chain.addresses[target];
      if (!facts.to || facts.to.toLowerCase() !== address.toLowerCase())
        throw unconfirmed(`it is a transaction to ${facts.to ?? "no contract"}, not to ${address}`);
      if (!carriesSignedConsent(signed, chain.events(receipt, target)))
        throw unconfirmed(`its logs hold no ledger event of this ${signed.kind} by ${signed.signer}`);
      const nonce = BigInt(signed.nonce);
      const bitmap = await chain.nonceBitmapAt(target, signed.signer, nonce >> 8n, facts.blockNumber);
      if (((bitmap >> (nonce & 0xffn)) & 1n) === 0n)
        throw unconfirmed(`nonce ${nonce} of ${signed.signer} is unused at block ${facts.blockNumber}`);
      return decode(receipt);
    },
  };
}

/**
 * The receipt of a relayed message's transaction, once it has `confirmations`: the first hash, or any
 * replacement the relayer names (`transactionsOf`, asked every few seconds while none is mined); null if
 * none is mined within `timeoutMs`. Polling: any node answers eth_getTransactionReceipt, not every
 * provider waits for one. The caller checks the receipt against the signed message.
 */
export async function relayedReceipt<R>(
  chain: Pick<RelayChain<R>, "receipt" | "blockNumber" | "facts">,
  relayer: ConsentRelayer,
  hash: string,
  confirmations: number,
  timeoutMs = 600_000,
): Promise<R | null> {
  const until = Date.now() + timeoutMs;
  const hashes = new Set([hash.toLowerCase()]);
  let askedAt = Date.now();
  for (let pause = 50; Date.now() < until; pause = Math.min(pause * 2, 2_000)) {
    for (const held of hashes) {
      const receipt = await chain.receipt(held);
      if (!receipt) continue;
      if (confirmations <= 1 || (await chain.blockNumber()) - chain.facts(receipt).blockNumber + 1 >= confirmations)
        return receipt;
    }
    if (relayer.transactionsOf && Date.now() - askedAt >= 2_000) {
      askedAt = Date.now();
      // A relayer that cannot answer now is asked again later; the first hash is still watched.
      const named = await relayer.transactionsOf(hash).catch(() => []);
      // Bounded: a relayer cannot make the client poll an endless list.
      for (const held of named)
        if (hashes.size < 32 && typeof held === "string" && /^0x[0-9a-fA-F]{64}$/.test(held))
          hashes.add(held.toLowerCase());
    }
    await new Promise((resolve) => setTimeout(resolve, pause));
  }
  return null;
}
