/**
 * The "invisible salamanders" construction (Dodis et al. 2018; Albertini et al. 2020) against AES-GCM:
 * one ciphertext and tag that authenticate under two different keys (with the same nonce and additional
 * data), so they decrypt to two different plaintexts. GHASH is linear in each ciphertext block, so one
 * free block solves one equation in GF(2^128). Test-only attack code, with node:crypto's AES as the block
 * cipher; it is how the tests show v1 is not key-committing and v2 refuses the second key.
 */
import { createCipheriv } from "node:crypto";

const R = 0xe1n << 120n;
const MASK = (1n << 128n) - 1n;

const toInt = (block: Uint8Array): bigint => BigInt(`0x${Buffer.from(block).toString("hex") || "0"}`);
const toBlock = (value: bigint): Buffer => Buffer.from(value.toString(16).padStart(32, "0"), "hex");

/** Multiplication in GCM's GF(2^128) (NIST SP 800-38D, algorithm 1, bit-reflected). */
function mul(x: bigint, y: bigint): bigint {
  let z = 0n;
  let v = y;
  for (let i = 127; i >= 0; i--) {
    if ((x >> BigInt(i)) & 1n) z ^= v;
    v = v & 1n ? (v >> 1n) ^ R : v >> 1n;
  }
  return z & MASK;
}

function pow(x: bigint, e: bigint): bigint {
  let result = 1n << 127n; // the field's one in GCM's bit order
  let base = x;
  while (e > 0n) {
    if (e & 1n) result = mul(result, base);
    base = mul(base, base);
    e >>= 1n;
  }
  return result;
}

const inverse = (x: bigint): bigint => pow(x, (1n << 128n) - 2n);

function aesBlock(key: Uint8Array, block: Uint8Array): Buffer {
  const cipher = createCipheriv("aes-256-ecb", key, null);
  cipher.setAutoPadding(false);
  return cipher.update(block);
}

function blocksOf(bytes: Uint8Array): bigint[] {
  const out: bigint[] = [];
  for (let i = 0; i < bytes.length; i += 16) {
    const block = Buffer.alloc(16);
    Buffer.from(bytes.subarray(i, i + 16)).copy(block);
    out.push(toInt(block));
  }
  return out;
}

function ghash(h: bigint, aad: Uint8Array, ciphertext: Uint8Array): bigint {
  const lengths = Buffer.alloc(16);
  lengths.writeBigUInt64BE(BigInt(aad.length * 8), 0);
  lengths.writeBigUInt64BE(BigInt(ciphertext.length * 8), 8);
  let y = 0n;
  for (const x of [...blocksOf(aad), ...blocksOf(ciphertext), toInt(lengths)]) y = mul(y ^ x, h);
  return y;
}

/**
 * A 32-byte ciphertext with its 16-byte tag (48 bytes) that AES-256-GCM authenticates under both `key1`
 * and `key2`, with the 12-byte `nonce` and `aad`.
 */
export function salamander(key1: Uint8Array, key2: Uint8Array, nonce: Uint8Array, aad: Uint8Array): Buffer {
  const j0 = Buffer.concat([Buffer.from(nonce), Buffer.from([0, 0, 0, 1])]);
  const h1 = toInt(aesBlock(key1, Buffer.alloc(16)));
  const h2 = toInt(aesBlock(key2, Buffer.alloc(16)));
  const s1 = toInt(aesBlock(key1, j0));
  const s2 = toInt(aesBlock(key2, j0));
  const ciphertext = Buffer.alloc(32, 0x5a); // block 0 fixed, block 1 solved for
  ciphertext.fill(0, 16);
  // The free block is second to last before the length block: its coefficient is H^2.
  const g1 = ghash(h1, aad, ciphertext);
  const g2 = ghash(h2, aad, ciphertext);
  const free = mul(s1 ^ g1 ^ s2 ^ g2, inverse(mul(h1, h1) ^ mul(h2, h2)));
  toBlock(free).copy(ciphertext, 16);
  const tag = toBlock(s1 ^ ghash(h1, aad, ciphertext));
  return Buffer.concat([ciphertext, tag]);
}
