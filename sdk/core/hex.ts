/**
 * Addresses, hex and Keccak-256 without ethers or viem: what the rules shared by both entries need
 * (argument checks, record contexts, request ids), on @noble/hashes. Each function is checked against
 * ethers' own in test/sdk/core-hex.test.ts.
 */
import { keccak_256 } from "@noble/hashes/sha3.js";

import { bytesToHex, utf8Encode } from "../crypto/bytes";

export const ZERO_ADDRESS = "0x0000000000000000000000000000000000000000";
export const ZERO_HASH = "0x0000000000000000000000000000000000000000000000000000000000000000";

/** Keccak-256 of bytes, or of a 0x-hex string's bytes, as 0x-hex. */
export function keccak256(data: Uint8Array): string {
  return bytesToHex(keccak_256(data));
}

/** Keccak-256 of a string's UTF-8 bytes (ethers' `id`, viem's `keccak256(toBytes(text))`). */
export function keccak256Utf8(text: string): string {
  return keccak256(utf8Encode(text));
}

/** Whether `value` is a 0x-prefixed hex string, of exactly `bytes` bytes when given. */
export function isHexString(value: unknown, bytes?: number): boolean {
  if (typeof value !== "string" || !/^0x[0-9a-fA-F]*$/.test(value)) return false;
  return bytes === undefined || value.length === 2 + 2 * bytes;
}

/** The EIP-55 checksum form of a 20-byte hex address given without checksum (any case). */
function checksum(lowerHex40: string): string {
  const hash = keccak_256(utf8Encode(lowerHex40));
  let out = "0x";
  for (let i = 0; i < 40; i++) {
    const nibble = (hash[i >> 1] >> (i % 2 === 0 ? 4 : 0)) & 15;
    out += nibble >= 8 ? lowerHex40[i].toUpperCase() : lowerHex40[i];
  }
  return out;
}

/**
 * The checksummed (EIP-55) form of an address: 40 hex digits, 0x-prefixed or not, all one case or
 * mixed case that is a valid checksum; throws otherwise (as ethers' getAddress does, without ICAP).
 */
export function getAddress(value: string): string {
  if (typeof value !== "string" || !/^(0x)?[0-9a-fA-F]{40}$/.test(value))
    throw new Error(`invalid address: ${String(value)}`);
  const body = value.startsWith("0x") ? value.slice(2) : value;
  const result = checksum(body.toLowerCase());
  const mixed = /[A-F].*[a-f]|[a-f].*[A-F]/.test(body);
  if (mixed && result !== `0x${body}`) throw new Error(`bad address checksum: ${value}`);
  return result;
}

export function isAddress(value: unknown): value is string {
  try {
    getAddress(value as string);
    return true;
  } catch {
    return false;
  }
}
