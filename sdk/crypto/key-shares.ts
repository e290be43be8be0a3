/**
 * Splitting a record's 32-byte data key into n shares, any k of which rebuild it and fewer reveal
 * nothing (Shamir's secret sharing over GF(2^8), by the audited `shamir-secret-sharing` package; no
 * field arithmetic here). Each share is 33 bytes: the 32 bytes of the key's polynomials at one point,
 * then that point's x coordinate.
 */
import { combine, split } from "shamir-secret-sharing";

import { InvalidArgumentError } from "../errors";
import { AES_KEY_BYTES } from "./aes-gcm";
import { KEY_SHARE_BYTES } from "./key-wrap";

/** The most shares a key may be split into (the package's limit is 255; CustodianSets allows 16). */
export const MAX_KEY_SHARES = 255;

/** Splits `dataKey` into `shares` shares with threshold `threshold` (2 <= threshold <= shares <= 255). */
export async function splitDataKey(dataKey: Uint8Array, shares: number, threshold: number): Promise<Uint8Array[]> {
  if (!(dataKey instanceof Uint8Array) || dataKey.length !== AES_KEY_BYTES)
    throw new InvalidArgumentError("data key", `expected ${AES_KEY_BYTES} bytes`);
  if (!Number.isInteger(shares) || shares < 2 || shares > MAX_KEY_SHARES)
    throw new InvalidArgumentError("shares", `expected a whole number from 2 to ${MAX_KEY_SHARES}, got ${shares}`);
  if (!Number.isInteger(threshold) || threshold < 2 || threshold > shares)
    throw new InvalidArgumentError(
      "threshold",
      `expected a whole number from 2 to ${shares} (the share count), got ${threshold}`,
    );
  return split(dataKey, shares, threshold);
}

/**
 * The key that `shares` rebuild. Shamir's scheme cannot tell a wrong key: fewer shares than the
 * threshold, or shares of different keys, give some 32 bytes. Check the result against the record
 * (a v2 envelope commits to its key) before trusting it.
 */
export async function combineKeyShares(shares: readonly Uint8Array[]): Promise<Uint8Array> {
  if (shares.length < 2) throw new InvalidArgumentError("shares", `at least 2 are needed, got ${shares.length}`);
  const xs = new Set<number>();
  for (const [index, share] of shares.entries()) {
    if (!(share instanceof Uint8Array) || share.length !== KEY_SHARE_BYTES)
      throw new InvalidArgumentError(`shares[${index}]`, `expected ${KEY_SHARE_BYTES} bytes`);
    const x = share[KEY_SHARE_BYTES - 1];
    if (x === 0 || xs.has(x))
      throw new InvalidArgumentError(`shares[${index}]`, `its x coordinate ${x} is zero or repeated`);
    xs.add(x);
  }
  return combine([...shares]);
}
