/**
 * Every error the SDK throws is a ConsentLedgerError: a short message that says what went wrong and what
 * to do, optional details, and the cause that led to it. Catch the base class, or a subclass to act on
 * one kind of failure. Modelled on viem's BaseError.
 */
export class ConsentLedgerError extends Error {
  override name = "ConsentLedgerError";
  /** One line: what failed. */
  readonly shortMessage: string;
  /** What to do about it. */
  readonly hint?: string;
  /** Technical detail: values that failed, a server's answer. */
  readonly details?: string;

  constructor(shortMessage: string, options: { hint?: string; details?: string; cause?: unknown } = {}) {
    const lines = [shortMessage];
    if (options.hint) lines.push(options.hint);
    if (options.details) lines.push(`Details: ${options.details}`);
    super(lines.join("\n"), options.cause === undefined ? undefined : { cause: options.cause });
    this.shortMessage = shortMessage;
    this.hint = options.hint;
    this.details = options.details;
  }

  /** The deepest cause in the chain, or the first one `predicate` accepts. */
  walk(predicate?: (error: unknown) => boolean): unknown {
    return walkCauses(this, predicate);
  }
}

function walkCauses(start: unknown, predicate?: (error: unknown) => boolean): unknown {
  let current = start;
  for (;;) {
    if (predicate?.(current)) return current;
    const next = (current as { cause?: unknown } | undefined)?.cause;
    if (next === undefined || next === null) return predicate ? undefined : current;
    current = next;
  }
}

/**
 * A short, safe description of any value for an error message: never throws, whatever the value
 * (a BigInt, a cycle, an object whose toString is not a function), and never prints a long input whole.
 */
export function describeValue(value: unknown): string {
  switch (typeof value) {
    case "string":
      return JSON.stringify(value.length > 80 ? `${value.slice(0, 77)}...` : value);
    case "number":
    case "boolean":
    case "bigint":
    case "undefined":
      return String(value);
    case "symbol":
      return "a symbol";
    case "function":
      return "a function";
    default:
      if (value === null) return "null";
      if (value instanceof Date) return Number.isNaN(value.getTime()) ? "an invalid Date" : value.toISOString();
      return Array.isArray(value) ? `an array of ${value.length}` : "an object";
  }
}

/** An argument is malformed: a bad address, an unknown code, a value out of range. */
export class InvalidArgumentError extends ConsentLedgerError {
  override name = "InvalidArgumentError";
  constructor(
    readonly argument: string,
    problem: string,
    options: { hint?: string; details?: string; cause?: unknown } = {},
  ) {
    super(`Invalid ${argument}: ${problem}`, options);
  }
}

/** A code name or number is not in the ledger's code tables. */
export class UnknownCodeError extends InvalidArgumentError {
  override name = "UnknownCodeError";
  constructor(
    readonly table: string,
    readonly value: string | number,
    known: readonly string[],
  ) {
    super(table, `unknown code ${describeValue(value)}`, { hint: `Use one of: ${known.join(", ")}.` });
  }
}

/** Bytes that should be an envelope, a wrapped key or a stored blob are not in the expected format. */
export class FormatError extends ConsentLedgerError {
  override name = "FormatError";
  constructor(
    readonly what: string,
    problem: string,
    options: { hint?: string; details?: string; cause?: unknown } = {},
  ) {
    super(`Malformed ${what}: ${problem}`, options);
  }
}

/**
 * A record's ciphertext does not match what the chain anchored (hash, patient, class, version or
 * version chain). The data was changed or swapped: do not use it.
 */
export class IntegrityError extends ConsentLedgerError {
  override name = "IntegrityError";
  constructor(
    readonly recordId: string,
    problem: string,
    options: { hint?: string; details?: string; cause?: unknown } = {},
  ) {
    super(`Record ${recordId} failed its integrity check: ${problem}`, {
      hint: options.hint ?? "The stored ciphertext was altered or swapped; fetch it again from a trusted copy.",
      details: options.details,
      cause: options.cause,
    });
  }
}

/** Authenticated decryption failed: a wrong key, or ciphertext or header altered. */
export class DecryptionError extends ConsentLedgerError {
  override name = "DecryptionError";
}

/** A wrapped data key was not wrapped to the key pair given. */
export class WrongRecipientKeyError extends DecryptionError {
  override name = "WrongRecipientKeyError";
}

/** A blob store failed to read or write. */
export class StorageError extends ConsentLedgerError {
  override name = "StorageError";
}

/**
 * The store could not be reached at all (a network failure, not an answer about the blob): a reader
 * should say so and offer to retry, rather than draw a conclusion about what the blob holds.
 */
export class StoreUnavailableError extends StorageError {
  override name = "StoreUnavailableError";
}

/** No blob with this CID is in the store. */
export class BlobNotFoundError extends StorageError {
  override name = "BlobNotFoundError";
  constructor(readonly cid: string) {
    super(`No blob ${cid} in this store`, {
      hint: "Check the pointer, or read from the store the record was published to.",
    });
  }
}

/** A contract call reverted; `errorName` and `args` are its decoded custom error. */
export class ContractRevertError extends ConsentLedgerError {
  override name = "ContractRevertError";
  constructor(
    readonly errorName: string,
    readonly args: readonly unknown[],
    options: { hint?: string; details?: string; cause?: unknown } = {},
  ) {
    super(`The ledger refused: ${errorName}(${args.map(String).join(", ")})`, options);
  }
}

/** The wallet or node is on another chain than the deployment expects. */
export class NetworkMismatchError extends ConsentLedgerError {
  override name = "NetworkMismatchError";
  constructor(
    readonly expectedChainId: bigint,
    readonly actualChainId: bigint,
  ) {
    super(`Connected to chain ${actualChainId}, but the deployment is on chain ${expectedChainId}`, {
      hint: "Switch the wallet or --rpc URL to the deployment's network.",
    });
  }
}

/** No Consent Ledger deployment is known for this chain. */
export class DeploymentNotFoundError extends ConsentLedgerError {
  override name = "DeploymentNotFoundError";
  constructor(readonly chainId: bigint) {
    super(`No Consent Ledger deployment is known on chain ${chainId}`, {
      hint: "Deploy with `npm run deploy -- --network <name>`, or pass the contract addresses explicitly.",
    });
  }
}

/** The chain says the caller may not read this record now. */
export class AccessDeniedError extends ConsentLedgerError {
  override name = "AccessDeniedError";
}

/**
 * The chain allows the read, but too recently for a gateway that waits for confirmations: the same call
 * succeeds once what allows it is deep enough (unless it is revoked meanwhile).
 */
export class AccessNotConfirmedError extends AccessDeniedError {
  override name = "AccessNotConfirmedError";
}
