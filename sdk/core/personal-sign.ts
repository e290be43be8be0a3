/**
 * EIP-191 personal messages without ethers or viem: the hash a wallet signs for `personal_sign`, and the
 * address a signature of it (or of any digest, such as an EIP-712 one) recovers to, on @noble/curves. Accepts what ethers' verifyMessage accepts (a
 * 65-byte signature with v 27/28 or 0/1 and s below 2^255, or a 64-byte EIP-2098 one); checked against
 * ethers in test/sdk/personal-sign.test.ts.
 */
import { secp256k1 } from "@noble/curves/secp256k1.js";
import { keccak_256 } from "@noble/hashes/sha3.js";

import { bytesToHex, concatBytes, hexToBytes, utf8Encode } from "../crypto/bytes";
import { InvalidArgumentError } from "../errors";
import { getAddress } from "./hex";

const SECP256K1_N = secp256k1.Point.CURVE().n;

/** keccak256("\x19Ethereum Signed Message:\n" + length + message): what a wallet signs for a personal message. */
export function personalMessageHash(message: string | Uint8Array): Uint8Array {
  const bytes = typeof message === "string" ? utf8Encode(message) : message;
  return keccak_256(concatBytes(utf8Encode(`\x19Ethereum Signed Message:\n${bytes.length}`), bytes));
}

/** The checksummed address whose key signed the personal message `message` as `signature`; throws on a malformed signature. */
export function recoverMessageAddress(message: string | Uint8Array, signature: string): string {
  return recoverAddress(personalMessageHash(message), signature);
}

/** The checksummed address whose key signed the 32-byte `digest` as `signature`; throws on a malformed signature. */
export function recoverAddress(digest: Uint8Array, signature: string): string {
  const bytes = hexToBytes(signature, { argument: "signature" });
  let recovery: number;
  let s: bigint;
  const r = BigInt(bytesToHex(bytes.subarray(0, 32)));
  if (bytes.length === 65) {
    const v = bytes[64];
    if (v !== 0 && v !== 1 && v !== 27 && v !== 28)
      throw new InvalidArgumentError("signature", `its v is ${v}, not 27 or 28`);
    recovery = v >= 27 ? v - 27 : v;
    s = BigInt(bytesToHex(bytes.subarray(32, 64)));
  } else if (bytes.length === 64) {
    const yParityAndS = BigInt(bytesToHex(bytes.subarray(32, 64)));
    recovery = Number(yParityAndS >> 255n);
    s = yParityAndS & ((1n << 255n) - 1n);
  } else {
    throw new InvalidArgumentError("signature", `expected 65 or 64 bytes, got ${bytes.length}`);
  }
  // The top bit of s is EIP-2098's yParity: a 65-byte signature with it set is refused (as ethers does).
  if (r === 0n || r >= SECP256K1_N || s === 0n || s >= SECP256K1_N || s >> 255n !== 0n)
    throw new InvalidArgumentError("signature", "r or s is out of range for secp256k1");
  const point = new secp256k1.Signature(r, s).addRecoveryBit(recovery).recoverPublicKey(digest);
  return getAddress(bytesToHex(keccak_256(point.toBytes(false).subarray(1)).subarray(12)));
}
