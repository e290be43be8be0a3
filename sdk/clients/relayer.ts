/**
 * The client side of a consent relayer (gateway/relayer.ts): it takes a SignedConsent and submits it
 * from its own funded account, so the patient's account (a pseudonym) never holds ether. Anything with
 * `submit` can stand in (a relayer of the patient's choosing, an in-process one in a test).
 */
import { ConsentLedgerError, InvalidArgumentError } from "../errors";
import type { SignedConsent } from "./types";

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
