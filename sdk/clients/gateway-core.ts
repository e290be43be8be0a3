/**
 * Talking to a custodian gateway (gateway/ in this repository) over HTTP: log in by signing an EIP-712
 * challenge, deposit data keys as a provider, and, as a reader, fetch a record's ciphertext and its data
 * key wrapped to your encryption key, then verify and open it against the chain in one call.
 *
 * One client for both entries: it needs of a wallet only a typed-data signer (the login), and of the
 * chain only its id, the ledger's address and a record opener (verification against the chain, then
 * decryption). The ethers entry (sdk/clients/gateway.ts) and the viem entry (sdk/viem/gateway.ts) give
 * their own; nothing here imports either library at run time.
 *
 * Browser-safe: `fetch` only, no Node built-ins. The gateway is not trusted for integrity: every record is
 * checked against the chain (the opener) before it is decrypted, and a login challenge is signed only if
 * it names this chain's ledger, your account and the gateway you are talking to.
 */
import type { TypedDataDomain, TypedDataField } from "ethers";

import { purposeCode, requireAddress, requireBytes32 } from "../args";
import type { PurposeName } from "../codes";
import { getAddress } from "../core/hex";
import { bytesToBase64, bytesToHex, hexToBytes } from "../crypto/bytes";
import { recordIdOf, type ParsedRecordContext, type RecordContext } from "../crypto/envelope";
import {
  isEnvelopeV2,
  openRecordRange,
  openRecordStream,
  toReadableStream,
  type ByteSource,
} from "../crypto/envelope-v2";
import type { SegmentCrypto } from "../crypto/segment-crypto";
import { unwrapDataKey } from "../crypto/key-wrap";
import type { EncryptionKeyPair } from "../crypto/keys";
import {
  AccessDeniedError,
  AccessNotConfirmedError,
  ConsentLedgerError,
  IntegrityError,
  InvalidArgumentError,
} from "../errors";
import type { BlobStore, StreamingBlobStore } from "../storage/blob-store";
import type { KeyCustodian, PublishedRecord } from "./provider-rules";
import type { BatchMembership, OpenedRecord, OpenWithKeyInput, OpenWrappedInput } from "./record-rules";

/**
 * What signs the gateway's login (EIP-712, ethers' argument order): an ethers Signer as it is, a viem
 * WalletClient through viemTypedDataSigner (sdk/viem/gateway.ts).
 */
export interface TypedDataSigner {
  getAddress(): Promise<string>;
  signTypedData(
    domain: TypedDataDomain,
    types: Record<string, TypedDataField[]>,
    message: Record<string, unknown>,
  ): Promise<string>;
}

/**
 * What checks a fetched record against the chain and opens it: each entry's ResearcherClient (the
 * same rules, sdk/clients/records.ts, read through either library).
 */
export interface RecordOpener {
  /** Verifies the envelope against the chain, unwraps the data key and decrypts (ResearcherClient.openRecord). */
  openRecord(input: OpenWrappedInput): Promise<OpenedRecord>;
  /** The same with a data key already in hand (rebuilt from custodians' shares). */
  openRecordWithKey(input: OpenWithKeyInput): Promise<OpenedRecord>;
  /** A streamed record's header against the chain (verifyContextOnChain). */
  verifyContext(recordId: string, context: RecordContext, options: { batch?: BatchMembership }): Promise<unknown>;
}

/** What a GatewayClient needs of a library: the login signer, the chain and ledger, the record opener. */
export interface GatewayParts {
  signer: TypedDataSigner;
  /** Either entry's connected contracts: their chain id and the ledger's address (read when a login is checked). */
  chain: { readonly chainId: bigint; readonly deployment: { readonly ledger: string } };
  opener: RecordOpener;
}

/** The gateway answered with an error; `status` and `code` are its HTTP status and error name. */
export class GatewayError extends ConsentLedgerError {
  override name = "GatewayError";
  /** On a 429: how many seconds the gateway asked to wait (its Retry-After). */
  retryAfterSeconds?: number;
  constructor(
    readonly status: number,
    readonly code: string,
    reason: string,
    options: { hint?: string; details?: string; cause?: unknown } = {},
  ) {
    super(`The gateway refused: ${reason}`, options);
  }
}

/** The gateway did not accept the login or the session (HTTP 401). */
export class GatewayAuthenticationError extends GatewayError {
  override name = "GatewayAuthenticationError";
}

/** The gateway's EIP-712 login: domain {name, version, chainId, verifyingContract: the ledger} and message type. */
export const GATEWAY_LOGIN_DOMAIN_NAME = "ConsentLedgerGateway";
export const GATEWAY_LOGIN_DOMAIN_VERSION = "1";
export const GATEWAY_LOGIN_PRIMARY_TYPE = "GatewayLogin";
export const GATEWAY_LOGIN_TYPES: Readonly<Record<string, readonly TypedDataField[]>> = {
  [GATEWAY_LOGIN_PRIMARY_TYPE]: [
    { name: "account", type: "address" },
    { name: "gateway", type: "string" },
    { name: "nonce", type: "bytes32" },
    { name: "issuedAt", type: "uint64" },
    { name: "expiresAt", type: "uint64" },
  ],
};

export interface GatewayChallenge {
  domain: { name: string; version: string; chainId: number; verifyingContract: string };
  types: Record<string, TypedDataField[]>;
  primaryType: string;
  message: { account: string; gateway: string; nonce: string; issuedAt: number; expiresAt: number };
}

/** A data key the gateway released to you. */
export interface KeyRelease {
  recordId: string;
  /** 96 bytes: the data key wrapped to your registered X25519 key, bound to the record id. */
  wrappedKey: Uint8Array;
  basis: "Consent" | "Emergency";
  purpose: PurposeName;
  /** The gateway's journal id of this release. */
  releaseId: number;
  /** Whether a newer version of the record has been anchored. */
  superseded: boolean;
  /** The block whose state allowed the release (check it with eth_call at that block). */
  checkedBlock: number;
  /** Unix seconds, the release's time in the on-chain access log. */
  releasedAt: number;
  /** For a record anchored in a batch: its root and proof, to verify it on chain. */
  batch?: { root: string; proof: string[] };
}

/** One custodian's share of a record's data key, released to you. */
export interface ShareRelease {
  recordId: string;
  /** The custodian that released it (its account). */
  custodian: string;
  /** The custodian set the share belongs to, and the custodian's position in it (1-based). */
  setId: number;
  position: number;
  /** 97 bytes: the share wrapped to your registered X25519 key, bound to the record id. */
  wrappedShare: Uint8Array;
  basis: "Consent" | "Emergency";
  purpose: PurposeName;
  releaseId: number;
  checkedBlock: number;
  releasedAt: number;
}

export interface GatewayHealth {
  status: "ok" | "degraded";
  chainId: number;
  custodian: string;
  /** Blocks the gateway waits for before what allows a release counts (0: at once). */
  confirmations: number;
  latestBlock: number | null;
  pendingLogEntries: number;
}

export interface GatewayClientOptions {
  /** Where depositKey reads each record's envelope from (the provider's blob store). */
  store?: BlobStore;
  /** The account to log in as, when the signer signs for a contract wallet (ERC-1271); default: the signer's. */
  account?: string;
  /** Another fetch (a test, a proxy-aware one); default globalThis.fetch. */
  fetch?: typeof fetch;
  /** Per-request timeout in ms; default 30 s. */
  timeoutMs?: number;
  /** How long a streamed upload (depositRecordStream) may take in all, in ms; default 1 hour. */
  uploadTimeoutMs?: number;
  /**
   * depositKey streams a v2 envelope larger than this (PUT /records/:recordId) when the store streams
   * (StreamingBlobStore), instead of sending it in one JSON body; default 8 MiB. Batched records always
   * go as JSON (their proof travels with them).
   */
  streamAboveBytes?: number;
  /** AES-GCM and SHA-256 for opening streams (fetchRecordStream); WebCrypto when omitted. */
  crypto?: SegmentCrypto;
}

const HINTS: Record<string, string> = {
  Unauthenticated: "Log in again (authenticate()); the signer must sign for the account the gateway challenged.",
  AccessDenied:
    "The chain gives you no access to this record for this purpose: ask the patient for consent (requestAccess).",
  AccessNotConfirmed:
    "The chain allows this, but too recently for this gateway, which waits for confirmations: try again after as many blocks as the reason says.",
  EncryptionKeyMissing:
    "Register your encryption key: researcher.registerEncryptionKey(await researcher.deriveEncryptionKey()).",
  EncryptionKeyInvalid: "Register your encryption key again: the one in KeyDirectory is not a usable X25519 key.",
  RecordNotFound: "This gateway does not hold that record: ask its provider which custodian keeps its key.",
  RecordNotAnchored: "Anchor the record (or its batch) first, and deposit once the anchor is mined.",
  NotRecordProvider: "Only the provider that anchored a record may deposit its key.",
  NotInCustodianSet:
    "The chain does not put this custodian in the record's custodian set (at this position): assign the record to the set first, or ask another custodian.",
  ShareNotForThisCustodian: "Wrap the share to this custodian's key as registered in KeyDirectory.",
  HeldAsShare:
    "This custodian holds only a share of this record's key: gather shares from its custodian set (CustodianSetClient).",
  ProviderNotServed: "Deposit at your own custodian's gateway, or ask this gateway's operator to accept your records.",
  ChainUnavailable: "The gateway cannot reach its node right now: try again shortly.",
  CustodianNotAccredited:
    "The gateway's custodian is not accredited now: no key can be released until it is reinstated.",
  TooManyRequests: "Slow down: sign one of your open challenges, or wait for them to expire.",
  RateLimited:
    "This account made more requests than the gateway allows per minute: wait as long as the reason says, " +
    "or ask the gateway's operator for a higher --rate-limit.",
  KeyConflict: "This record is already held with another data key.",
};

const SESSION_MARGIN_MS = 30_000;
const STREAM_ABOVE_BYTES = 8 * 1024 * 1024;

function isStreamingStore(store: BlobStore): store is StreamingBlobStore {
  return typeof (store as Partial<StreamingBlobStore>).putStream === "function";
}

/** A web ReadableStream of any byte source (fetch's streaming body). */
function readableOf(source: ByteSource): ReadableStream<Uint8Array> {
  if (typeof (source as ReadableStream<Uint8Array>).getReader === "function")
    return source as ReadableStream<Uint8Array>;
  if (typeof (source as AsyncIterable<Uint8Array>)[Symbol.asyncIterator] === "function")
    return toReadableStream(source as AsyncIterable<Uint8Array>);
  const iterable = source as Iterable<Uint8Array>;
  return toReadableStream(
    (async function* () {
      yield* iterable;
    })(),
  );
}
const DEPOSIT_RETRIES = 5;

/** Whether `hostname` (as URL parses it) names this machine. */
export function isLoopbackHost(hostname: string): boolean {
  const host = hostname.toLowerCase();
  return host === "localhost" || host.endsWith(".localhost") || /^127(\.\d{1,3}){3}$/.test(host) || host === "[::1]";
}

/**
 * A custodian gateway, as one account (researcher, provider, patient) sees it. Each entry's
 * GatewayClient is this class with that library's parts (sdk/clients/gateway.ts, sdk/viem/gateway.ts).
 */
export class GatewayClientBase implements KeyCustodian {
  /** The gateway's base URL, without a trailing slash. */
  readonly baseUrl: string;
  private readonly origin: string;
  private readonly fetchFn: typeof fetch;
  private session?: { token: string; account: string; expiresAt: number };
  private loggingIn?: Promise<{ token: string; account: string; expiresAt: number }>;
  /** The login signer, the chain and ledger, and the record opener this client uses. */
  protected readonly parts: GatewayParts;

  constructor(
    baseUrl: string,
    parts: GatewayParts,
    private readonly options: GatewayClientOptions = {},
  ) {
    this.parts = parts;
    let parsed: URL;
    try {
      parsed = new URL(baseUrl);
    } catch (cause) {
      throw new InvalidArgumentError("baseUrl", `${JSON.stringify(baseUrl)} is not a URL`, { cause });
    }
    if (parsed.protocol !== "http:" && parsed.protocol !== "https:")
      throw new InvalidArgumentError("baseUrl", "must be http(s)");
    // Session tokens, wrapped keys and shares travel in these requests: plain HTTP only where nothing
    // leaves the machine.
    if (parsed.protocol === "http:" && !isLoopbackHost(parsed.hostname))
      throw new InvalidArgumentError("baseUrl", `plain http:// is refused for ${parsed.hostname}: use https://`, {
        hint: "Plain HTTP is accepted only on loopback (localhost, 127.0.0.0/8, [::1]), for development.",
      });
    this.baseUrl = parsed.toString().replace(/\/+$/, "");
    this.origin = parsed.origin;
    const fetchFn = options.fetch ?? (globalThis as { fetch?: typeof fetch }).fetch;
    if (!fetchFn)
      throw new ConsentLedgerError("This runtime has no fetch", {
        hint: "Use Node 18+ or a browser, or pass options.fetch.",
      });
    this.fetchFn = fetchFn;
    if (options.account !== undefined) requireAddress(options.account, "account");
  }

  /**
   * Logs in: asks for a challenge, checks it names this chain's ledger, this account and this gateway,
   * signs it (EIP-712) and exchanges it for a session token, kept for later calls.
   */
  async authenticate(): Promise<{ account: string; expiresAt: Date }> {
    this.loggingIn ??= this.login().finally(() => {
      this.loggingIn = undefined;
    });
    const session = await this.loggingIn;
    return { account: session.account, expiresAt: new Date(session.expiresAt) };
  }

  /**
   * KeyCustodian: deposits a just-published record's envelope and data key, so the gateway can release
   * it. The envelope is read from `options.store` at `record.cid`.
   */
  async depositKey(record: PublishedRecord): Promise<void> {
    if (!this.options.store) {
      throw new InvalidArgumentError("store", "GatewayClient needs the provider's blob store to deposit a record", {
        hint: "Construct it as new GatewayClient(url, signer, contracts, { store }) with the store the ProviderClient writes to.",
      });
    }
    const store = this.options.store;
    if (
      !record.batch &&
      isStreamingStore(store) &&
      (await store.sizeOf(record.cid)) > (this.options.streamAboveBytes ?? STREAM_ABOVE_BYTES)
    ) {
      const head = store.getStream(record.cid, { start: 0, end: 4 });
      const magic: number[] = [];
      for await (const part of head) magic.push(...part);
      if (isEnvelopeV2(Uint8Array.from(magic))) {
        await this.retryUnanchored(() =>
          this.depositRecordStream({
            recordId: record.recordId,
            dataKey: record.dataKey,
            envelope: store.getStream(record.cid),
          }),
        );
        return;
      }
    }
    const envelope = await store.get(record.cid);
    const body = {
      recordId: requireBytes32(record.recordId, "recordId"),
      dataKey: bytesToHex(record.dataKey),
      envelope: bytesToBase64(envelope),
      batch: record.batch
        ? { root: record.batch.root, proof: record.batch.proof, patient: record.patient, dataClass: record.dataClass }
        : undefined,
    };
    await this.retryUnanchored(() => this.json("POST", "/records", body, true));
  }

  /** Runs a deposit, again a few times while the gateway's node has not seen the anchor's block yet. */
  private async retryUnanchored(deposit: () => Promise<unknown>): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      try {
        await deposit();
        return;
      } catch (error) {
        if (!(error instanceof GatewayError && error.code === "RecordNotAnchored") || attempt >= DEPOSIT_RETRIES)
          throw error;
        await new Promise((resolve) => setTimeout(resolve, 250 * attempt));
      }
    }
  }

  /**
   * Deposits a v2 record of any size (up to the gateway's limit) as a stream: PUT /records/:recordId
   * with the envelope as the body, read from `envelope` (a Node stream, a web ReadableStream, any async
   * iterable) as it is sent, never held whole. The gateway checks the record id, the key commitment and
   * every segment as the bytes pass and keeps nothing that fails: GatewayError 422 WrongDataKey,
   * SegmentInvalid (naming the segment) or IntegrityError, 413 PayloadTooLarge. The stream is read once:
   * no retry here. In a browser, a streamed request body needs HTTP/2 (Chromium).
   */
  async depositRecordStream(input: {
    recordId: string;
    dataKey: Uint8Array;
    envelope: ByteSource;
  }): Promise<{ recordId: string; cid: string; stored: boolean }> {
    const recordId = requireBytes32(input.recordId, "recordId");
    if (!(input.dataKey instanceof Uint8Array) || input.dataKey.length !== 32)
      throw new InvalidArgumentError("dataKey", "expected the record's 32-byte data key");
    const path = `/records/${recordId}`;
    const token = await this.token();
    const controller = new AbortController();
    const timer = setTimeout(
      () => controller.abort(new Error("upload timeout")),
      this.options.uploadTimeoutMs ?? 3_600_000,
    );
    let response: Response;
    try {
      response = await this.fetchFn(`${this.baseUrl}${path}`, {
        method: "PUT",
        headers: {
          authorization: `Bearer ${token}`,
          "content-type": "application/octet-stream",
          "x-data-key": bytesToHex(input.dataKey),
        },
        body: readableOf(input.envelope),
        duplex: "half",
        // Any other redirect mode makes fetch send a clone of the request, whose teed body keeps every
        // chunk sent until the request ends: the whole record in memory.
        redirect: "error",
        signal: controller.signal,
      } as RequestInit);
    } catch (cause) {
      // A refusal closes the connection while the body is still being sent, and fetch then reports the
      // broken pipe, not the answer: the same request with an empty body is told what the refusal was.
      const probe = await this.fetchFn(`${this.baseUrl}${path}`, {
        method: "PUT",
        headers: {
          authorization: `Bearer ${token}`,
          "content-type": "application/octet-stream",
          "x-data-key": bytesToHex(input.dataKey),
        },
        body: new Uint8Array(0),
        signal: AbortSignal.timeout(this.options.timeoutMs ?? 30_000),
      }).catch(() => undefined);
      if (probe?.ok) {
        // Answered before the body was read: the record is held already (with this key).
        const answer = (await probe.json().catch(() => undefined)) as
          { recordId: string; cid: string; stored: boolean } | undefined;
        if (answer && typeof answer.cid === "string") return answer;
      } else if (probe) {
        const refusal = await this.errorOf(probe, path);
        if (!(refusal instanceof GatewayError && refusal.code === "InvalidRequest")) throw refusal;
      }
      throw new GatewayError(0, "GatewayUnreachable", `no answer from ${this.baseUrl} to PUT ${path}`, {
        hint: "Check the gateway URL and that the gateway is running.",
        cause,
      });
    } finally {
      clearTimeout(timer);
    }
    if (!response.ok) throw await this.errorOf(response, path);
    try {
      return (await response.json()) as { recordId: string; cid: string; stored: boolean };
    } catch (cause) {
      throw new GatewayError(response.status, "MalformedAnswer", `its answer to PUT ${path} is not JSON`, { cause });
    }
  }

  /**
   * Deposits one key share of a record with this gateway's custodian (custodian sets: see
   * CustodianSetClient, which calls this). The share is wrapped to the custodian's registered key, so
   * it never crosses the wire in the clear; the envelope goes with it, so every custodian of the set
   * holds a copy of the ciphertext.
   */
  async depositShare(input: {
    recordId: string;
    setId: bigint | number;
    position: number;
    wrappedShare: Uint8Array;
    envelope: Uint8Array;
  }): Promise<{ recordId: string; cid: string; stored: boolean }> {
    const body = {
      recordId: requireBytes32(input.recordId, "recordId"),
      setId: Number(input.setId),
      position: input.position,
      wrappedShare: bytesToHex(input.wrappedShare),
      envelope: bytesToBase64(input.envelope),
    };
    for (let attempt = 1; ; attempt++) {
      try {
        return (await this.json("POST", "/shares", body, true)) as { recordId: string; cid: string; stored: boolean };
      } catch (error) {
        // The gateway's node may not have the anchor's or the assignment's block yet.
        const waiting =
          error instanceof GatewayError && (error.code === "RecordNotAnchored" || error.code === "NotInCustodianSet");
        if (!waiting || attempt >= DEPOSIT_RETRIES) throw error;
        await new Promise((resolve) => setTimeout(resolve, 250 * attempt));
      }
    }
  }

  /**
   * Asks this custodian for its share of the record's key for `purpose`; it asks the chain first, and
   * releases the share wrapped to your registered key, bound to the record.
   */
  async requestShare(recordId: string, purpose: PurposeName | number): Promise<ShareRelease> {
    const id = requireBytes32(recordId, "recordId");
    const answer = (await this.json("POST", `/records/${id}/share`, { purpose: purposeCode(purpose) }, true)) as Record<
      string,
      unknown
    >;
    const malformed = (problem: string) =>
      new GatewayError(200, "MalformedAnswer", `its share release for ${id} is malformed: ${problem}`, {
        details: JSON.stringify(answer).slice(0, 500),
      });
    if (typeof answer.recordId !== "string" || answer.recordId.toLowerCase() !== id)
      throw malformed("another record id");
    let wrappedShare: Uint8Array;
    try {
      wrappedShare = hexToBytes(String(answer.wrappedShare), { argument: "wrappedShare", length: 97 });
    } catch (cause) {
      throw malformed(`wrappedShare is not 97 bytes of hex (${(cause as Error).message})`);
    }
    if (answer.basis !== "Consent" && answer.basis !== "Emergency") throw malformed(`basis ${String(answer.basis)}`);
    return {
      recordId: id,
      custodian: getAddress(String(answer.custodian)),
      setId: Number(answer.setId),
      position: Number(answer.position),
      wrappedShare,
      basis: answer.basis,
      purpose: answer.purpose as PurposeName,
      releaseId: Number(answer.releaseId),
      checkedBlock: Number(answer.checkedBlock),
      releasedAt: Number(answer.releasedAt),
    };
  }

  /**
   * Asks this custodian to erase its share of a record it no longer guards (after a re-share to a set
   * without it). The custodian checks the chain first: it erases only when it is no longer in the
   * record's set.
   */
  async withdrawShare(recordId: string): Promise<{ recordId: string; withdrawn: boolean }> {
    const id = requireBytes32(recordId, "recordId");
    return (await this.json("POST", `/records/${id}/share/withdraw`, {}, true)) as {
      recordId: string;
      withdrawn: boolean;
    };
  }

  /** The record's envelope, as the gateway stores it (unverified: fetchRecord verifies it). */
  async fetchCiphertext(recordId: string): Promise<Uint8Array> {
    const id = requireBytes32(recordId, "recordId");
    const response = await this.request("GET", `/records/${id}/ciphertext`, undefined, true);
    return new Uint8Array(await response.arrayBuffer());
  }

  /**
   * The record's envelope as a stream (unverified: fetchRecordStream verifies it). The per-request
   * timeout covers the answer's headers, not the time to read the body.
   */
  async fetchCiphertextStream(recordId: string): Promise<ReadableStream<Uint8Array>> {
    const id = requireBytes32(recordId, "recordId");
    const response = await this.request("GET", `/records/${id}/ciphertext`, undefined, true, {}, { streamed: true });
    if (!response.body)
      throw new GatewayError(
        response.status,
        "MalformedAnswer",
        `its answer to GET /records/${id}/ciphertext has no body`,
      );
    return response.body;
  }

  /**
   * A v2 record of any size, verified and decrypted as it streams from the gateway: asks for the
   * wrapped key, then reads the ciphertext; the header is checked against the chain (the anchored
   * patient, provider, class, version) and against the data key's commitment before any plaintext, each
   * segment as it arrives, and the record id over everything at the end (IntegrityError then: a
   * consumer that must not act on another record's plaintext waits for the stream to end).
   */
  async fetchRecordStream(input: {
    recordId: string;
    purpose: PurposeName | number;
    keyPair: EncryptionKeyPair;
  }): Promise<{ plaintext: AsyncGenerator<Uint8Array>; release: KeyRelease }> {
    const recordId = requireBytes32(input.recordId, "recordId");
    const release = await this.requestKey(recordId, input.purpose);
    const dataKey = await unwrapDataKey(release.wrappedKey, input.keyPair, recordId);
    const body = await this.fetchCiphertextStream(recordId);
    const opener = this.parts.opener;
    const crypto = this.options.crypto;
    async function* plaintext(): AsyncGenerator<Uint8Array> {
      try {
        yield* openRecordStream(
          body,
          dataKey,
          { recordId },
          {
            crypto,
            onHeader: async (header) =>
              void (await opener.verifyContext(recordId, header.context, { batch: release.batch })),
          },
        );
      } finally {
        dataKey.fill(0);
      }
    }
    return { plaintext: plaintext(), release };
  }

  /** Asks for the record's data key for `purpose`; the gateway asks the chain first. */
  async requestKey(recordId: string, purpose: PurposeName | number): Promise<KeyRelease> {
    const id = requireBytes32(recordId, "recordId");
    const code = purposeCode(purpose);
    const answer = (await this.json("POST", `/records/${id}/key`, { purpose: code }, true)) as Record<string, unknown>;
    const malformed = (problem: string) =>
      new GatewayError(200, "MalformedAnswer", `its key release for ${id} is malformed: ${problem}`, {
        details: JSON.stringify(answer).slice(0, 500),
      });
    if (typeof answer.recordId !== "string" || answer.recordId.toLowerCase() !== id)
      throw malformed("another record id");
    let wrappedKey: Uint8Array;
    try {
      wrappedKey = hexToBytes(String(answer.wrappedKey), { argument: "wrappedKey", length: 96 });
    } catch (cause) {
      throw malformed(`wrappedKey is not 96 bytes of hex (${(cause as Error).message})`);
    }
    if (answer.basis !== "Consent" && answer.basis !== "Emergency") throw malformed(`basis ${String(answer.basis)}`);
    return {
      recordId: id,
      wrappedKey,
      basis: answer.basis,
      purpose: answer.purpose as PurposeName,
      releaseId: Number(answer.releaseId),
      superseded: Boolean(answer.superseded),
      checkedBlock: Number(answer.checkedBlock),
      releasedAt: Number(answer.releasedAt),
      batch: answer.batch as KeyRelease["batch"],
    };
  }

  /**
   * Fetches the ciphertext, checks it hashes to `recordId` (so a damaged or swapped copy is refused
   * before any key is released to you), asks for the wrapped key, then verifies the envelope against
   * the chain and decrypts it (the opener: ResearcherClient.openRecord): IntegrityError if the gateway served other
   * bytes than those anchored, WrongRecipientKeyError if the key was not wrapped to `keyPair`.
   */
  async fetchRecord(input: {
    recordId: string;
    purpose: PurposeName | number;
    keyPair: EncryptionKeyPair;
  }): Promise<OpenedRecord & { release: KeyRelease }> {
    const recordId = requireBytes32(input.recordId, "recordId");
    const envelope = await this.fetchCiphertext(recordId);
    const actual = await recordIdOf(envelope);
    if (actual !== recordId) {
      throw new IntegrityError(recordId, `the ciphertext hashes to ${actual}`, {
        hint: "The gateway served other bytes than the anchored record: no key was requested. Tell the gateway's operator.",
      });
    }
    const release = await this.requestKey(recordId, input.purpose);
    const opened = await this.parts.opener.openRecord({
      envelope,
      wrappedKey: release.wrappedKey,
      keyPair: input.keyPair,
      expectedRecordId: release.recordId,
      batch: release.batch,
    });
    return { ...opened, release };
  }

  /**
   * Plaintext bytes [offset, offset + length) of a v2 record, without fetching the rest: the record's
   * segment index, the wrapped key, then only the segments holding the range (HTTP Range requests).
   * Everything is verified against `recordId` (the index must hash to it, each segment to its index
   * entry) and the data key's commitment before anything is decrypted (openRecordRange).
   */
  async fetchRecordRange(input: {
    recordId: string;
    purpose: PurposeName | number;
    keyPair: EncryptionKeyPair;
    offset: number;
    length: number;
  }): Promise<{ plaintext: Uint8Array; context: ParsedRecordContext; release: KeyRelease }> {
    const recordId = requireBytes32(input.recordId, "recordId");
    const index = new Uint8Array(
      await (await this.request("GET", `/records/${recordId}/index`, undefined, true)).arrayBuffer(),
    );
    const release = await this.requestKey(recordId, input.purpose);
    const dataKey = await unwrapDataKey(release.wrappedKey, input.keyPair, recordId);
    try {
      const fetchBytes = async (start: number, end: number): Promise<Uint8Array> => {
        const response = await this.request("GET", `/records/${recordId}/ciphertext`, undefined, true, {
          range: `bytes=${start}-${end - 1}`,
        });
        return new Uint8Array(await response.arrayBuffer());
      };
      const range = await openRecordRange({
        index,
        fetch: fetchBytes,
        dataKey,
        expected: { recordId },
        offset: input.offset,
        length: input.length,
      });
      return { ...range, release };
    } finally {
      dataKey.fill(0);
    }
  }

  /** What the gateway holds about a record: its CID, patient, class, version and batch proof. */
  async recordInfo(recordId: string): Promise<Record<string, unknown>> {
    return (await this.json("GET", `/records/${requireBytes32(recordId, "recordId")}`, undefined, true)) as Record<
      string,
      unknown
    >;
  }

  /** A release-batch manifest the gateway published (public). */
  async fetchManifest(cid: string): Promise<unknown> {
    return this.json("GET", `/manifests/${encodeURIComponent(cid)}`, undefined, false);
  }

  /**
   * A GA4GH Passport visa (ControlledAccessGrants JWT) for `patient`'s dataset, issued to the logged-in
   * researcher while their research consent stands (docs/ga4gh-visas.md). Refused (403 NoResearchConsent)
   * otherwise.
   */
  async requestVisa(
    patient: string,
  ): Promise<{ visa: string; dataset: string; expiresAt: string; dataClasses: string[]; checkedBlock: number }> {
    return (await this.json("POST", "/ga4gh/visas", { patient: requireAddress(patient, "patient") }, true)) as {
      visa: string;
      dataset: string;
      expiresAt: string;
      dataClasses: string[];
      checkedBlock: number;
    };
  }

  /** The gateway's health (public). */
  async health(): Promise<GatewayHealth> {
    return (await this.json("GET", "/health", undefined, false)) as GatewayHealth;
  }

  // ---------------------------------------------------------------------------------------------

  private async login(): Promise<{ token: string; account: string; expiresAt: number }> {
    const account = getAddress(this.options.account ?? (await this.parts.signer.getAddress()));
    const challenge = (await this.json("POST", "/auth/challenge", { address: account }, false)) as GatewayChallenge;
    this.checkChallenge(challenge, account);
    const types = { ...challenge.types };
    delete types.EIP712Domain;
    let signature: string;
    try {
      signature = await this.parts.signer.signTypedData(challenge.domain, types, challenge.message);
    } catch (cause) {
      throw new ConsentLedgerError("The wallet did not sign the gateway login", {
        hint: "Approve the signature request: it costs nothing and sends no transaction.",
        cause,
      });
    }
    const answer = (await this.json("POST", "/auth/verify", { nonce: challenge.message.nonce, signature }, false)) as {
      token: string;
      account: string;
      expiresAt: string;
    };
    const session = {
      token: answer.token,
      account: getAddress(answer.account),
      expiresAt: Date.parse(answer.expiresAt),
    };
    if (session.account !== account || !session.token || !Number.isFinite(session.expiresAt)) {
      throw new GatewayAuthenticationError(
        200,
        "MalformedAnswer",
        "its login answer is malformed or names another account",
      );
    }
    this.session = session;
    return session;
  }

  /** Refuses to sign a challenge for another chain, ledger, account or gateway (a relayed login). */
  private checkChallenge(challenge: GatewayChallenge, account: string): void {
    const problem = (what: string) =>
      new GatewayAuthenticationError(200, "SuspiciousChallenge", `its login challenge ${what}; it was not signed`, {
        hint: "Check the gateway URL: a gateway may only ask you to log in to itself, on this chain.",
      });
    const { domain, message } = challenge ?? ({} as GatewayChallenge);
    if (!domain || !message) throw problem("is malformed");
    if (domain.name !== GATEWAY_LOGIN_DOMAIN_NAME || domain.version !== GATEWAY_LOGIN_DOMAIN_VERSION)
      throw problem(`has domain ${domain.name} v${domain.version}`);
    const chain = this.parts.chain;
    if (BigInt(domain.chainId) !== chain.chainId) throw problem(`is for chain ${domain.chainId}`);
    if (String(domain.verifyingContract).toLowerCase() !== chain.deployment.ledger.toLowerCase()) {
      throw problem(`names ledger ${domain.verifyingContract}`);
    }
    if (challenge.primaryType !== GATEWAY_LOGIN_PRIMARY_TYPE || !challenge.types?.[GATEWAY_LOGIN_PRIMARY_TYPE])
      throw problem("has other types");
    if (String(message.account).toLowerCase() !== account.toLowerCase())
      throw problem(`is for account ${message.account}`);
    if (message.gateway !== this.origin) throw problem(`names gateway ${message.gateway}, not ${this.origin}`);
    if (message.expiresAt * 1000 <= Date.now()) throw problem("has expired already");
  }

  private async token(): Promise<string> {
    if (!this.session || this.session.expiresAt - SESSION_MARGIN_MS <= Date.now()) await this.authenticate();
    return (this.session as { token: string }).token;
  }

  private async json(method: "GET" | "POST", path: string, body: unknown, authenticated: boolean): Promise<unknown> {
    const response = await this.request(method, path, body, authenticated);
    try {
      return await response.json();
    } catch (cause) {
      throw new GatewayError(response.status, "MalformedAnswer", `its answer to ${method} ${path} is not JSON`, {
        cause,
      });
    }
  }

  /** One HTTP exchange; with `authenticated`, logs in when needed and once more on a 401. */
  private async request(
    method: "GET" | "POST",
    path: string,
    body: unknown,
    authenticated: boolean,
    extraHeaders: Record<string, string> = {},
    mode: { streamed?: boolean } = {},
  ): Promise<Response> {
    for (let attempt = 1; ; attempt++) {
      const headers: Record<string, string> = { ...extraHeaders };
      if (body !== undefined) headers["content-type"] = "application/json";
      if (authenticated) headers.authorization = `Bearer ${await this.token()}`;
      let response: Response;
      // A streamed answer is timed to its headers only: its body may take as long as it is big.
      const controller = new AbortController();
      const timer = setTimeout(() => controller.abort(new Error("timeout")), this.options.timeoutMs ?? 30_000);
      try {
        response = await this.fetchFn(`${this.baseUrl}${path}`, {
          method,
          headers,
          body: body === undefined ? undefined : JSON.stringify(body),
          signal: mode.streamed ? controller.signal : AbortSignal.timeout(this.options.timeoutMs ?? 30_000),
        });
      } catch (cause) {
        throw new GatewayError(0, "GatewayUnreachable", `no answer from ${this.baseUrl} to ${method} ${path}`, {
          hint: "Check the gateway URL and that the gateway is running.",
          cause,
        });
      } finally {
        clearTimeout(timer);
      }
      if (response.ok) return response;
      if (response.status === 401 && authenticated && attempt === 1) {
        this.session = undefined;
        continue;
      }
      throw await this.errorOf(response, path);
    }
  }

  private async errorOf(response: Response, path: string): Promise<ConsentLedgerError> {
    const text = await response.text().catch(() => "");
    let code = "HttpError";
    let reason = `HTTP ${response.status} on ${path}`;
    try {
      const parsed = JSON.parse(text) as { error?: unknown; reason?: unknown };
      if (typeof parsed.error === "string") code = parsed.error;
      if (typeof parsed.reason === "string") reason = parsed.reason;
    } catch {
      if (text) reason = `${reason}: ${text.slice(0, 200)}`;
    }
    const details = `HTTP ${response.status} ${code}`;
    if (response.status === 403) {
      const Denied = code === "AccessNotConfirmed" ? AccessNotConfirmedError : AccessDeniedError;
      return new Denied(reason, { hint: HINTS[code] ?? HINTS.AccessDenied, details });
    }
    if (code === "StoredCiphertextCorrupt") {
      const recordId = /0x[0-9a-fA-F]{64}/.exec(path)?.[0] ?? path;
      return new IntegrityError(recordId, reason, {
        hint: "Fetch the record from another copy; tell the gateway's operator.",
        details,
      });
    }
    if (response.status === 401)
      return new GatewayAuthenticationError(response.status, code, reason, {
        hint: HINTS[code] ?? HINTS.Unauthenticated,
        details,
      });
    const error = new GatewayError(response.status, code, reason, { hint: HINTS[code], details });
    const retryAfter = Number(response.headers.get("retry-after"));
    if (response.status === 429 && Number.isFinite(retryAfter) && retryAfter >= 0) error.retryAfterSeconds = retryAfter;
    return error;
  }
}
